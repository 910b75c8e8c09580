import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/commands.ts';
import { parseRunConfig, readRunConfigFile } from '../../src/cli/config.ts';
import { UsageError } from '../../src/cli/errors.ts';
import { captureIO } from './capture.ts';

const dir = mkdtempSync(join(tmpdir(), 'opgraph-cli-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const expected = { ops: { greeting: { config: { greeting: 'Hello', times: 2 } }, outer: { ops: { inner: { inputs: { x: [1, 2] } } } } } };

describe('run config files', () => {
  it('reads JSON', () => {
    expect(readRunConfigFile(file('a.json', JSON.stringify(expected)))).toEqual(expected);
  });

  it('reads YAML (.yaml and .yml) into the same structure', () => {
    const yaml = [
      'ops:',
      '  greeting:',
      '    config:',
      '      greeting: Hello',
      '      times: 2',
      '  outer:',
      '    ops:',
      '      inner:',
      '        inputs:',
      '          x: [1, 2]',
      '',
    ].join('\n');
    expect(readRunConfigFile(file('a.yaml', yaml))).toEqual(expected);
    expect(readRunConfigFile(file('a.yml', yaml))).toEqual(expected);
  });

  it('treats an empty file as {}', () => {
    expect(readRunConfigFile(file('empty.yaml', ''))).toEqual({});
    expect(readRunConfigFile(file('empty.json', '  \n'))).toEqual({});
  });

  it('names the file and the problem for invalid JSON', () => {
    const path = file('bad.json', '{ "ops": { "greeting": ');
    expect(() => readRunConfigFile(path)).toThrow(UsageError);
    expect(() => readRunConfigFile(path)).toThrow(new RegExp(`^run config file ${path} is not valid JSON: `));
  });

  it('names the file and the line for invalid YAML', () => {
    const path = file('bad.yaml', 'ops:\n  greeting:\n\tconfig: 1\n');
    expect(() => readRunConfigFile(path)).toThrow(
      `run config file ${path} is not valid YAML: Tabs are not allowed as indentation at line 3, column 1`,
    );
    const dup = file('dup.yaml', 'ops: {}\nops: {}\n');
    expect(() => readRunConfigFile(dup)).toThrow(/is not valid YAML: Map keys must be unique/);
  });

  it('rejects a file that is not an object, a missing file, and unknown extensions', () => {
    expect(() => parseRunConfig('[1, 2]', 'json', 'x.json')).toThrow(
      'run config file x.json must hold an object like { "ops": { "<node>": { "config": ... } } }, not a list',
    );
    expect(() => parseRunConfig('just a string', 'yaml', 'x.yaml')).toThrow(
      'must hold an object like { "ops": { "<node>": { "config": ... } } }, not a string',
    );
    expect(() => readRunConfigFile(join(dir, 'missing.json'))).toThrow(/^cannot read run config file .*missing\.json: ENOENT/);
    expect(() => readRunConfigFile(file('config.toml', 'a = 1'))).toThrow(/unknown extension "\.toml"; use \.json, \.yaml or \.yml/);
  });

  it('`opgraph run` exits 2 before starting anything when the config file is bad or fails the op schema', async () => {
    const broken = captureIO();
    const started = Date.now();
    expect(await runCli(['run', 'greet', '-m', 'test/cli/fixtures/defs.ts', '--config', file('broken.yaml', 'ops: [')], broken.io)).toBe(2);
    expect(broken.stderr()).toMatch(/^opgraph: run config file .*broken\.yaml is not valid YAML/);

    const schema = captureIO();
    const wrong = file('wrong.json', JSON.stringify({ ops: { greeting: { config: { greeting: 3 } } } }));
    expect(
      await runCli(['launch', 'greet', '-m', 'test/cli/fixtures/defs.ts', '-c', wrong], {
        ...schema.io,
        env: { TEMPORAL_ADDRESS: '127.0.0.1:1' },
      }),
    ).toBe(2);
    expect(schema.stderr()).toBe(
      [
        'opgraph: Run config for job "greet" is invalid:',
        '  - ops.greeting.config.greeting: Invalid input: expected string, received number (op "greeting" config schema)',
        '    fix: change ops.greeting.config.greeting to a value the op "greeting" config schema accepts',
        '  - ops.greeting.config.times: Invalid input: expected number, received undefined (op "greeting" config schema)',
        '    fix: add ops.greeting.config.times: the op "greeting" config schema requires it',
        '',
      ].join('\n'),
    );

    const unknownNode = captureIO();
    const typo = file('typo.yaml', 'ops:\n  greetin:\n    config: {}\n');
    expect(await runCli(['run', 'greet', '-m', 'test/cli/fixtures/defs.ts', '-c', typo], unknownNode.io)).toBe(2);
    expect(unknownNode.stderr()).toContain(
      'ops.greetin: job "greet" has no node named "greetin" (nodes: greeting)\n    fix: rename it to "greeting" (the closest node name), or remove ops.greetin',
    );
    // Nothing was started (no dev server, no worker bundle): these fail in well under a second each.
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
