import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/** The rule that keeps workflow-bundled code free of Node APIs must really fire. */
describe('lint: src/dsl and src/workflows stay deterministic', () => {
  const eslint = new ESLint({ cwd: process.cwd() });
  const lint = async (filePath: string, code: string) => {
    const [result] = await eslint.lintText(code, { filePath });
    return (result?.messages ?? []).map((m) => m.ruleId);
  };

  it.each([
    ['src/workflows/retry.ts', "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n", 'no-restricted-imports'],
    ['src/dsl/keys.ts', "import * as os from 'os';\nexport const x = os;\n", 'no-restricted-imports'],
    ['src/workflows/retry.ts', "import { Context } from '@temporalio/activity';\nexport const x = Context;\n", 'no-restricted-imports'],
    ['src/dsl/keys.ts', 'export const x = process.env.HOME;\n', 'no-restricted-globals'],
  ])('%s rejects %j', async (file, code, rule) => {
    expect(await lint(file, code)).toContain(rule);
  });

  it('allows the same import outside the deterministic zone', async () => {
    expect(await lint('src/activities/json.ts', "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n")).not.toContain(
      'no-restricted-imports',
    );
  });
});

describe('lint: workflow code keeps zod out of the bundle', () => {
  const eslint = new ESLint({ cwd: process.cwd() });
  it('rejects a value import of a schema module in src/workflows, allows a type import', async () => {
    const lint = async (code: string) => ((await eslint.lintText(code, { filePath: 'src/workflows/retry.ts' }))[0]?.messages ?? []).map((m) => m.ruleId);
    expect(await lint("import { ScopeResult } from '../dsl/protocol.ts';\nexport const x = ScopeResult;\n")).toContain('@typescript-eslint/no-restricted-imports');
    expect(await lint("import type { ScopeResult } from '../dsl/protocol.ts';\nexport type X = ScopeResult;\n")).not.toContain('@typescript-eslint/no-restricted-imports');
  });
});
