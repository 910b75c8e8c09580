/**
 * `opgraph run` end to end: bin/opgraph.js as a child process against the suite's dev server
 * (TEMPORAL_ADDRESS), with its in-process worker; stdout/stderr are pipes, so progress is plain lines.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TemporalHarness } from '../integration/harness.ts';
import { runOpgraph } from './spawn.ts';

const UI = 'http://ui.example:8233';
const FIXTURES = 'test/cli/fixtures/defs.ts';

describe('opgraph run (subprocess, suite server)', () => {
  let harness: TemporalHarness;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    harness = await TemporalHarness.connect();
    env = { TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_UI_URL: UI };
  });
  afterAll(async () => harness?.close());

  it('runs dynamic_graph: live progress lines, [4900,5000], the Web UI link, exit 0', async () => {
    const { code, stdout, stderr } = await runOpgraph(['run', 'dynamic_graph'], env);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^Run [0-9a-f-]{36} of job dynamic_graph SUCCEEDED in \d+\.\ds \(52 steps\)\.$/m);
    expect(stdout).toContain(
      '\nOutputs:\n  load_pieces: 50 dynamic outputs, keys 0, 1, 2, 3, …, 49\n  merge_and_analyze = [4900,5000]\n  compute_piece[*]: 50 mapped steps (50 succeeded)\n',
    );
    const link = /^Web UI: http:\/\/ui\.example:8233\/namespaces\/default\/workflows\/(dynamic_graph-[0-9a-f-]{36})$/m.exec(stdout);
    expect(link, stdout).not.toBeNull();

    const progress = stderr.split('\n').filter((l) => /^\[\d+\.\ds\] /.test(l));
    expect(progress.join('\n')).not.toContain('\x1b');
    expect(progress).toContainEqual(expect.stringMatching(/^\[\d+\.\ds\] load_pieces: succeeded$/));
    expect(progress).toContainEqual(
      expect.stringMatching(/^\[\d+\.\ds\] map over load_pieces \[#{20}\] 50\/50 keys done, 0 running, 0 failed$/),
    );
    expect(progress).toContainEqual(expect.stringMatching(/^\[\d+\.\ds\] compute_piece\[\*\]: 50 succeeded$/));
    expect(progress[progress.length - 1]).toMatch(/^\[\d+\.\ds\] merge_and_analyze: succeeded$/);
    // Lines are only printed on change: the final state of each appears once.
    expect(progress.filter((l) => l.endsWith('merge_and_analyze: succeeded'))).toHaveLength(1);

    const workflowId = link?.[1] ?? '';
    expect(stderr).toContain(`Running job dynamic_graph as workflow ${workflowId} (task queue "opgraph-cli-`);
    const description = await harness.client.workflow.getHandle(workflowId).describe();
    expect(description.status.name).toBe('COMPLETED');
    expect(description.type).toBe('dynamic_graph');
  }, 180_000);

  it('a failing job exits 1 and names the failed step key with its error', async () => {
    const { code, stdout, stderr } = await runOpgraph(['run', 'fail_one', '--module', FIXTURES], env);
    expect(code, stderr).toBe(1);
    expect(stdout).toMatch(/^Run [0-9a-f-]{36} of job fail_one FAILED after \d+\.\ds\.$/m);
    expect(stdout).toContain(
      [
        'Failed steps (1):',
        '  maybe_fail[b]: OpUserError (Error): [fail_one maybe_fail[b]] op "maybe_fail" raised Error (at test/cli/fixtures/defs.ts:17:26): bad key b',
        'Abandoned steps (1): cli_gather',
      ].join('\n'),
    );
    // The failed step's ctx.log lines, one line each (not the succeeded steps' without -v).
    expect(stdout).toMatch(/^Logs of failed steps:\n {2}\d\d:\d\d:\d\d\.\d{3} INFO {2}maybe_fail\[b\]#1 checking key b$/m);
    expect(stdout).not.toContain('checking key a');
    expect(stdout).toMatch(/^Web UI: http:\/\/ui\.example:8233\/namespaces\/default\/workflows\/fail_one-[0-9a-f-]{36}$/m);
    expect(stderr).toMatch(/^\[\d+\.\ds\] map over cli_keys \[#{20}\] 3\/3 keys done, 0 running, 1 failed$/m);
    // The failed key is named, with its error and the frame of the user's code, as soon as it fails.
    expect(stderr).toMatch(
      /^\[\d+\.\ds\] maybe_fail\[\*\]: (\d running, )?\d succeeded, 1 failed \(maybe_fail\[b\]: Error \(at test\/cli\/fixtures\/defs\.ts:17:26\): bad key b\)$/m,
    );
    expect(stderr).toMatch(/^\[\d+\.\ds\] cli_gather: abandoned$/m);
  }, 180_000);

  it('usage errors exit 2 without running anything', async () => {
    const unknown = await runOpgraph(['run', 'no_such_job'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('opgraph: unknown job "no_such_job" in examples/definitions.ts; known jobs: dynamic_graph,');
    const missingArg = await runOpgraph(['run'], env);
    expect(missingArg.code).toBe(2);
    expect(missingArg.stderr).toContain("error: missing required argument 'job'");
  }, 60_000);
});
