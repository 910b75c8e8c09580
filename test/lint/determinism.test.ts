import { rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/** The rules that keep the deterministic zones deterministic and the imports one-way must really fire. */
describe('lint: src/dsl, src/engine and src/workflows stay deterministic', () => {
  const eslint = new ESLint({ cwd: process.cwd() });
  const lint = async (filePath: string, code: string) => {
    const [result] = await eslint.lintText(code, { filePath });
    return (result?.messages ?? []).map((m) => m.ruleId);
  };

  it.each([
    ['src/workflows/guards.ts', "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n", 'no-restricted-imports'],
    ['src/engine/retry.ts', "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n", 'no-restricted-imports'],
    ['src/dsl/keys.ts', "import * as os from 'os';\nexport const x = os;\n", 'no-restricted-imports'],
    ['src/workflows/guards.ts', "import { Context } from '@temporalio/activity';\nexport const x = Context;\n", 'no-restricted-imports'],
    // The engine is host-neutral: not even @temporalio/workflow.
    ['src/engine/retry.ts', "import { sleep } from '@temporalio/workflow';\nexport const x = sleep;\n", 'no-restricted-imports'],
    ['src/dsl/keys.ts', "import { sleep } from '@temporalio/workflow';\nexport const x = sleep;\n", 'no-restricted-imports'],
    // One-way zones: the engine never imports its hosts; the Node host never imports the Temporal host.
    ['src/engine/retry.ts', "import { errorOf } from '../workflows/failures.ts';\nexport const x = errorOf;\n", 'no-restricted-imports'],
    ['src/engine/retry.ts', "import { runOp } from '../activities/runOp.ts';\nexport const x = runOp;\n", 'no-restricted-imports'],
    [
      'src/activities/fitting.ts',
      "import { errorOf } from '../workflows/failures.ts';\nexport const x = errorOf;\n",
      'no-restricted-imports',
    ],
    ['src/dsl/keys.ts', 'export const x = process.env.HOME;\n', 'no-restricted-globals'],
    ['src/engine/retry.ts', 'export const x = Buffer.from("a");\n', 'no-restricted-globals'],
  ])('%s rejects %j', async (file, code, rule) => {
    expect(await lint(file, code)).toContain(rule);
  });

  it('allows the same import outside the deterministic zone', async () => {
    expect(await lint('src/activities/json.ts', "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n")).not.toContain(
      'no-restricted-imports',
    );
  });

  it('rejects an import cycle, and only a cycle', async () => {
    // The rule reads the other module from disk: write a real pair that imports each other.
    const dir = 'src/engine';
    const a = join(dir, `__cycle_a_${process.pid}.ts`);
    const b = join(dir, `__cycle_b_${process.pid}.ts`);
    try {
      writeFileSync(a, `import { b } from './${basename(b)}';\nexport const a = (): unknown => b;\n`);
      writeFileSync(b, `import { a } from './${basename(a)}';\nexport const b = (): unknown => a;\n`);
      const [result] = await eslint.lintFiles([a]);
      expect((result?.messages ?? []).map((m) => m.ruleId)).toContain('import-x/no-cycle');
      writeFileSync(b, 'export const b = 1;\n');
      const [clean] = await new ESLint({ cwd: process.cwd() }).lintFiles([a]);
      expect((clean?.messages ?? []).map((m) => m.ruleId)).not.toContain('import-x/no-cycle');
    } finally {
      rmSync(a, { force: true });
      rmSync(b, { force: true });
    }
  });
});

describe('lint: workflow code keeps zod out of the bundle', () => {
  const eslint = new ESLint({ cwd: process.cwd() });
  it.each(['src/workflows/guards.ts', 'src/engine/retry.ts'])(
    '%s rejects a value import of a schema module, allows a type import',
    async (filePath) => {
      const lint = async (code: string) => ((await eslint.lintText(code, { filePath }))[0]?.messages ?? []).map((m) => m.ruleId);
      expect(await lint("import { ScopeResult } from '../dsl/protocol.ts';\nexport const x = ScopeResult;\n")).toContain(
        '@typescript-eslint/no-restricted-imports',
      );
      expect(await lint("import type { ScopeResult } from '../dsl/protocol.ts';\nexport type X = ScopeResult;\n")).not.toContain(
        '@typescript-eslint/no-restricted-imports',
      );
    },
  );

  it('the zod-free dsl modules workflow code imports (src/dsl/wire.ts) take only types from the schema modules', async () => {
    const filePath = 'src/dsl/wire.ts';
    const lint = async (code: string) => ((await eslint.lintText(code, { filePath }))[0]?.messages ?? []).map((m) => m.ruleId);
    expect(await lint("import { TaskOutput } from './protocol.ts';\nexport const x = TaskOutput;\n")).toContain(
      '@typescript-eslint/no-restricted-imports',
    );
    expect(await lint("import { z } from 'zod';\nexport const x = z;\n")).toContain('@typescript-eslint/no-restricted-imports');
    expect(await lint("import type { TaskOutput } from './protocol.ts';\nexport type X = TaskOutput;\n")).not.toContain(
      '@typescript-eslint/no-restricted-imports',
    );
  });
});
