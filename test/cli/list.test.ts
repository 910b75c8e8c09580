import { describe, expect, it } from 'vitest';
import { listLines, runCli } from '../../src/cli/commands.ts';
import { loadDefinitions } from '../../src/cli/definitions.ts';
import { captureIO } from './capture.ts';

describe('opgraph list', () => {
  it('lists every job of examples/definitions.ts with its node ids, fan-outs and mapped nodes', async () => {
    const { io, stdout } = captureIO();
    expect(await runCli(['list'], io)).toBe(0);
    const text = stdout();
    expect(
      text.startsWith(
        [
          'dynamic_graph',
          '  load_pieces        DynamicOut',
          '  compute_piece      mapped over load_pieces:result',
          '  merge_and_analyze',
          '',
        ].join('\n'),
      ),
    ).toBe(true);
    expect(text).toContain(
      [
        'chained',
        '  dynamic_values  DynamicOut',
        '  echo            mapped over dynamic_values:result',
        '  echo_2          op echo; mapped over dynamic_values:result',
        '  echo_3          op echo; mapped over dynamic_values:result',
        '  process',
        '',
      ].join('\n'),
    );
    const jobs = text.split('\n').filter((l) => l && !l.startsWith(' '));
    expect(jobs).toEqual([
      'dynamic_graph',
      'return_dynamic_job',
      'chained',
      'chained_alt',
      'other_arg',
      'multiple',
      'process_directory',
      'disk_usage',
      'dynamic_outputs',
      'python_parallelism',
      'dynamic_fanout_option_a',
      'dynamic_fanout_option_b',
      'dynamic_fanout_option_c',
    ]);
  });

  it('reads another module with -m', async () => {
    const { io, stdout } = captureIO();
    expect(await runCli(['list', '-m', 'test/cli/fixtures/defs.ts'], io)).toBe(0);
    expect(stdout()).toBe(
      [
        'fail_one',
        '  cli_keys    DynamicOut',
        '  maybe_fail  mapped over cli_keys:result',
        '  cli_gather',
        'greet',
        '  greeting',
        'slow',
        '  slow_keys        DynamicOut',
        '  wait_for_cancel  mapped over slow_keys:result',
        '  slow_gather',
        '',
      ].join('\n'),
    );
    expect(listLines(await loadDefinitions('test/cli/fixtures/defs.ts'))).toEqual(stdout().trimEnd().split('\n'));
  });

  it('exits 2 with a clear message for a missing module or one without `defs`', async () => {
    const missing = captureIO();
    expect(await runCli(['list', '-m', 'test/cli/fixtures/nope.ts'], missing.io)).toBe(2);
    expect(missing.stderr()).toMatch(/definitions module .*test\/cli\/fixtures\/nope\.ts does not exist; pass -m\/--module/);

    const wrong = captureIO();
    expect(await runCli(['list', '-m', 'test/cli/capture.ts'], wrong.io)).toBe(2);
    expect(wrong.stderr()).toMatch(
      /must export `defs` \(or a default export\) created with new Definitions\(\{ jobs: \[\.\.\.\] \}\); it exports: captureIO/,
    );
  });

  it('--help lists the commands; no command is a usage error', async () => {
    const help = captureIO();
    expect(await runCli(['--help'], help.io)).toBe(0);
    for (const command of ['run', 'worker', 'dev', 'launch', 'status', 'cancel', 'graph', 'list']) {
      expect(help.stdout()).toMatch(new RegExp(`\\n  ${command} `));
    }
    const runHelp = captureIO();
    expect(await runCli(['run', '--help'], runHelp.io)).toBe(0);
    expect(runHelp.stdout()).toContain('--no-worker');
    expect(runHelp.stdout()).toContain('-c, --config <file>');

    const none = captureIO();
    expect(await runCli([], none.io)).toBe(2);
    expect(none.stderr()).toContain('Usage: opgraph');
  });
});
