/**
 * The DynamicOut example of Dagster's API reference (shared/seeds/dagster-dynamic-api-reference.txt),
 * ported in examples/process-directory.ts: one step per file of a real directory, then the total size.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defs } from '../../examples/definitions.ts';
import { clean, mappingKeysFor, processDirectory } from '../../examples/process-directory.ts';
import type { JobResult } from '../../src/client/result.ts';
import { launchRun } from '../../src/client/run.ts';
import { RunConfigError } from '../../src/dsl/errors.ts';
import { TemporalHarness } from './harness.ts';

/** The shipped sample files, located from this test file (not from the example's own constant). */
const SAMPLE_DIR = fileURLToPath(new URL('../../examples/data/sample-files', import.meta.url));

/** Mapping key → [file name, size in bytes], in sorted file-name order. */
const EXPECTED: [string, string, number][] = [
  ['README_md', 'README.md', 57],
  ['a_b_json', 'a.b.json', 34],
  ['a_b_json_2', 'a_b.json', 39],
  ['notes_v2_txt', 'notes v2.txt', 65],
  ['report_2024_csv', 'report-2024.csv', 75],
  ['summary__final__txt', 'summary (final).txt', 36],
];
const EXPECTED_TOTAL = 306;

describe('mapping keys from file names', () => {
  it('replaces every character outside [A-Za-z0-9_] with "_"', () => {
    expect(clean('report-2024.csv')).toBe('report_2024_csv');
    expect(clean('notes v2.txt')).toBe('notes_v2_txt');
    expect(clean('a.b.json')).toBe('a_b_json');
    expect(clean('résumé.pdf')).toBe('r_sum__pdf');
  });

  it('keeps keys unique with _2, _3… suffixes, even against an earlier suffixed key', () => {
    expect(mappingKeysFor(['a.b.json', 'a_b.json', 'a-b.json', 'a_b_json_2'])).toEqual([
      'a_b_json',
      'a_b_json_2',
      'a_b_json_3',
      'a_b_json_2_2',
    ]);
  });

  it('keeps keys within 200 characters, suffix included', () => {
    const long = 'x'.repeat(250);
    const keys = mappingKeysFor([`${long}.a`, `${long}.b`]);
    expect(keys.map((k) => k.length)).toEqual([200, 200]);
    expect(keys[1]?.endsWith('_2')).toBe(true);
    expect(new Set(keys).size).toBe(2);
  });
});

describe('process_directory (seed: API reference) on a real Temporal server', () => {
  let harness: TemporalHarness;
  let result: JobResult;
  let tempDir: string;

  beforeAll(async () => {
    harness = await TemporalHarness.connect();
    tempDir = await mkdtemp(join(tmpdir(), 'opgraph-process-directory-'));
    result = await harness.run(processDirectory, {
      runConfig: { ops: { files_in_directory: { config: { path: SAMPLE_DIR } } } },
    });
  });
  afterAll(async () => {
    await harness?.close();
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
  });

  it('succeeds and totals the sizes of the six sample files: summarize_directory == 306', async () => {
    expect(result.success).toBe(true);
    expect(await result.outputFor('summarize_directory')).toBe(EXPECTED_TOTAL);
  });

  it('yields one path per file, keyed by the cleaned file name, in sorted order', async () => {
    const files = (await result.outputFor('files_in_directory')) as Map<string, string>;
    expect([...files]).toEqual(EXPECTED.map(([key, name]) => [key, join(SAMPLE_DIR, name)]));
  });

  it('runs process_file once per file and returns each size', async () => {
    const sizes = (await result.outputFor('process_file')) as Map<string, number>;
    expect([...sizes]).toEqual(EXPECTED.map(([key, , size]) => [key, size]));
    expect(result.stepKeysOf('process_file')).toEqual(EXPECTED.map(([key]) => `process_file[${key}]`));
    expect(Object.keys(result.stepStatuses()).sort()).toEqual(
      ['files_in_directory', 'summarize_directory', ...EXPECTED.map(([key]) => `process_file[${key}]`)].sort(),
    );
    expect(new Set(Object.values(result.stepStatuses()))).toEqual(new Set(['SUCCESS']));
  });

  it('defaults to the shipped sample directory when run config gives no path (as in examples/definitions.ts)', async () => {
    const job = defs.getJob('process_directory');
    expect(job).toBe(processDirectory);
    const byDefault = await harness.run(job);
    expect(byDefault.success).toBe(true);
    expect(await byDefault.outputFor('summarize_directory')).toBe(EXPECTED_TOTAL);
    expect(await byDefault.outputFor('process_file')).toEqual(await result.outputFor('process_file'));
  });

  it('reads the directory named by run config: only its files, not its subdirectories', async () => {
    await writeFile(join(tempDir, 'one.txt'), 'abc');
    await writeFile(join(tempDir, 'two-2.txt'), 'hello world');
    await mkdir(join(tempDir, 'nested.dir'));
    await writeFile(join(tempDir, 'nested.dir', 'ignored.txt'), 'not listed: os.walk top level only');
    const other = await harness.run(processDirectory, {
      runConfig: { ops: { files_in_directory: { config: { path: tempDir } } } },
    });
    expect(other.success).toBe(true);
    expect(await other.outputFor('process_file')).toEqual(
      new Map([
        ['one_txt', 3],
        ['two_2_txt', 11],
      ]),
    );
    expect(await other.outputFor('summarize_directory')).toBe(14);
  });

  it('rejects run config that fails the config schema before the run starts', async () => {
    const cases: unknown[] = [{ path: 42 }, { path: '' }, { directory: SAMPLE_DIR }];
    for (const [i, config] of cases.entries()) {
      const workflowId = `process_directory-bad-config-${i}-${Date.now()}`;
      const launching = launchRun(harness.client, processDirectory, {
        runConfig: { ops: { files_in_directory: { config } } },
        workflowId,
        taskQueue: 'no-worker-needed',
      });
      await expect(launching).rejects.toBeInstanceOf(RunConfigError);
      await expect(launching).rejects.toThrow(/ops\.files_in_directory\.config/);
      // Nothing was started on the server.
      await expect(harness.client.workflow.getHandle(workflowId).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    }
  });

  it('rejects config for a node the job does not have', async () => {
    const launching = launchRun(harness.client, processDirectory, {
      runConfig: { ops: { files_in_dir: { config: { path: SAMPLE_DIR } } } },
      taskQueue: 'no-worker-needed',
    });
    await expect(launching).rejects.toBeInstanceOf(RunConfigError);
    await expect(launching).rejects.toThrow(/no node named "files_in_dir"/);
  });
});
