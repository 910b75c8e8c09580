import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { dynamicGraph } from '../../examples/dynamic-graph.ts';
import {
  createProgressView,
  PlainProgressPrinter,
  plainLine,
  plainMode,
  progressItems,
  TtyProgressPrinter,
  ttyLines,
} from '../../src/cli/progress.ts';
import type { DimensionProgress, NodeProgress, RunProgress } from '../../src/workflows/progress.ts';
import { failOne } from './fixtures/defs.ts';

const node = (counts: Partial<NodeProgress> = {}): NodeProgress => ({
  running: 0,
  succeeded: 0,
  failed: 0,
  skipped: 0,
  abandoned: 0,
  ...counts,
});
const dim = (counts: Partial<DimensionProgress> = {}): DimensionProgress => ({ total: 0, running: 0, done: 0, failed: 0, ...counts });

/** Snapshots of a dynamic_graph run, as the job workflow's `progress` query answers them. */
function snapshot(nodes: Record<string, Partial<NodeProgress>>, dimensions: Record<string, Partial<DimensionProgress>> = {}): RunProgress {
  return {
    job: 'dynamic_graph',
    runId: 'r1',
    nodes: {
      load_pieces: node(nodes.load_pieces),
      compute_piece: node(nodes.compute_piece),
      merge_and_analyze: node(nodes.merge_and_analyze),
    },
    dimensions: Object.fromEntries(Object.entries(dimensions).map(([k, v]) => [k, dim(v)])),
  };
}

const started = snapshot({});
const loading = snapshot({ load_pieces: { running: 1 } });
const fannedOut = snapshot({ load_pieces: { succeeded: 1 } }, { 'load_pieces:result': { total: 50, running: 50 } });
const half = snapshot(
  { load_pieces: { succeeded: 1 }, compute_piece: { succeeded: 25 } },
  { 'load_pieces:result': { total: 50, running: 25, done: 25 } },
);
const finished = snapshot(
  { load_pieces: { succeeded: 1 }, compute_piece: { succeeded: 50 }, merge_and_analyze: { succeeded: 1 } },
  { 'load_pieces:result': { total: 50, done: 50 } },
);

describe('progress in pipe mode (plain lines)', () => {
  it('prints only what changed, throttled, and everything left at the end', () => {
    const printer = new PlainProgressPrinter(dynamicGraph.plan, 1_000, 1_000);
    expect(printer.update(started, 1_050)).toEqual([]); // pending steps are not news
    expect(printer.update(loading, 1_100)).toEqual(['[0.1s] load_pieces: running']);
    expect(printer.update(fannedOut, 1_500)).toEqual([]); // within 1 s of the last batch
    expect(printer.update(fannedOut, 2_200)).toEqual([
      '[1.2s] load_pieces: succeeded',
      '[1.2s] map over load_pieces [--------------------] 0/50 keys done, 50 running, 0 failed',
    ]);
    expect(printer.update(half, 3_300)).toEqual([
      '[2.3s] map over load_pieces [##########----------] 25/50 keys done, 25 running, 0 failed',
      '[2.3s] compute_piece[*]: 25 succeeded',
    ]);
    expect(printer.update(half, 4_400)).toEqual([]); // nothing new
    expect(printer.update(finished, 4_500, true)).toEqual([
      '[3.5s] map over load_pieces [####################] 50/50 keys done, 0 running, 0 failed',
      '[3.5s] compute_piece[*]: 50 succeeded',
      '[3.5s] merge_and_analyze: succeeded',
    ]);
  });

  it('shows failed keys, failed mapped steps and abandoned steps', () => {
    const printer = new PlainProgressPrinter(failOne.plan, 0, 1_000);
    const failed: RunProgress = {
      job: 'fail_one',
      runId: 'r2',
      nodes: { cli_keys: node({ succeeded: 1 }), maybe_fail: node({ succeeded: 2, failed: 1 }), cli_gather: node({ abandoned: 1 }) },
      dimensions: { 'cli_keys:result': dim({ total: 3, done: 3, failed: 1 }) },
    };
    expect(printer.update(failed, 1_000, true)).toEqual([
      '[1.0s] cli_keys: succeeded',
      '[1.0s] map over cli_keys [####################] 3/3 keys done, 0 running, 1 failed',
      '[1.0s] maybe_fail[*]: 2 succeeded, 1 failed',
      '[1.0s] cli_gather: abandoned',
    ]);
  });

  it('says what a dimension waits for, and when it never ran', () => {
    const waiting = progressItems(dynamicGraph.plan, loading).find((i) => i.kind === 'dimension');
    expect(waiting).toMatchObject({ label: 'load_pieces', state: 'waiting' });
    const printer = new PlainProgressPrinter(failOne.plan, 0, 0);
    const fanOutFailed: RunProgress = {
      job: 'fail_one',
      runId: 'r3',
      nodes: { cli_keys: node({ failed: 1 }), maybe_fail: node(), cli_gather: node({ abandoned: 1 }) },
      dimensions: {},
    };
    expect(printer.update(fanOutFailed, 10)).toEqual([
      '[0.0s] cli_keys: failed',
      '[0.0s] map over cli_keys not run (cli_keys did not succeed)',
      '[0.0s] cli_gather: abandoned',
    ]);
  });

  it('shows each stage of a dimension that splits at a collect barrier', () => {
    const plan = {
      nodes: [
        { id: 'keys', dim: [] },
        { id: 'a', dim: ['keys:result'] },
        { id: 'total', dim: [] },
        { id: 'b', dim: ['keys:result'] },
      ],
    };
    const progress: RunProgress = {
      job: 'staged',
      runId: 'r4',
      nodes: { keys: node({ succeeded: 1 }), a: node({ succeeded: 3 }), total: node({ succeeded: 1 }), b: node({ succeeded: 1 }) },
      dimensions: { 'keys:result': dim({ total: 3, done: 3 }), 'keys:result (stage 2)': dim({ total: 3, done: 1, running: 2 }) },
    };
    expect(new PlainProgressPrinter(plan, 0, 0).update(progress, 0)).toEqual([
      '[0.0s] keys: succeeded',
      '[0.0s] map over keys [####################] 3/3 keys done, 0 running, 0 failed',
      '[0.0s] map over keys (stage 2) [######--------------] 1/3 keys done, 2 running, 0 failed',
      '[0.0s] a[*]: 3 succeeded',
      '[0.0s] b[*]: 1 succeeded',
      '[0.0s] total: succeeded',
    ]);
  });

  it('a plain view writes no ANSI escape sequences', () => {
    const chunks: string[] = [];
    const stream = Object.assign(
      new Writable({
        write(chunk: Buffer, _e, cb) {
          chunks.push(chunk.toString());
          cb();
        },
      }),
      { isTTY: false },
    );
    let now = 0;
    const view = createProgressView(stream, dynamicGraph.plan, 'dynamic_graph', { now: () => now, throttleMs: 1_000 });
    for (const [t, p] of [
      [100, loading],
      [1_200, fannedOut],
      [2_300, half],
    ] as const) {
      now = t;
      view.update(p);
    }
    now = 2_500;
    view.finish(finished, 'SUCCESS');
    const text = chunks.join('');
    expect(text).not.toContain('\x1b');
    expect(text.split('\n')).toEqual([
      '[0.1s] load_pieces: running',
      '[1.2s] load_pieces: succeeded',
      '[1.2s] map over load_pieces [--------------------] 0/50 keys done, 50 running, 0 failed',
      '[2.3s] map over load_pieces [##########----------] 25/50 keys done, 25 running, 0 failed',
      '[2.3s] compute_piece[*]: 25 succeeded',
      '[2.5s] map over load_pieces [####################] 50/50 keys done, 0 running, 0 failed',
      '[2.5s] compute_piece[*]: 50 succeeded',
      '[2.5s] merge_and_analyze: succeeded',
      '',
    ]);
  });
});

describe('progress in a terminal (redrawn in place)', () => {
  it('aligns the block and draws a bar per dimension', () => {
    expect(ttyLines(progressItems(dynamicGraph.plan, half))).toEqual([
      '✔ load_pieces           succeeded',
      '▸ map over load_pieces  [████████████░░░░░░░░░░░░] 25/50 keys done, 25 running, 0 failed',
      '    compute_piece[*]    25 succeeded',
      '○ merge_and_analyze     pending',
    ]);
  });

  it('moves the cursor back over the previous frame, and draws nothing when nothing changed', () => {
    const printer = new TtyProgressPrinter(dynamicGraph.plan, 'dynamic_graph · run r1', 0);
    const first = printer.frame(loading, 1_000, 80);
    expect(first.startsWith('\x1b[2Kdynamic_graph · run r1 · running 1.0s\n')).toBe(true);
    expect(first.match(/\n/g)).toHaveLength(5);
    expect(printer.frame(loading, 1_000, 80)).toBe('');
    const second = printer.frame(half, 2_000, 80);
    expect(second.startsWith('\x1b[5A\r\x1b[2K')).toBe(true);
    expect(second.endsWith('\x1b[J')).toBe(true);
    // Lines never wrap (that would break the cursor arithmetic).
    // eslint-disable-next-line no-control-regex -- stripping the escape sequences under test
    for (const line of second.split('\n')) expect([...line.replace(/\x1b\[[0-9]*[A-Za-z]|\r/g, '')].length).toBeLessThanOrEqual(79);
  });

  it('plain mode when not a TTY or when CI is set', () => {
    expect(plainMode({ isTTY: false }, {})).toBe(true);
    expect(plainMode({ isTTY: true }, {})).toBe(false);
    expect(plainMode({ isTTY: true }, { CI: 'true' })).toBe(true);
    expect(plainMode({ isTTY: true }, { CI: 'false' })).toBe(false);
  });
});

describe('progress after a cancel: running steps are cancelled, pending ones never started', () => {
  // Cancelled with 25 keys done, 20 running (3 of them inside compute_piece steps counted here) and 5 not started yet.
  const cancelledMidway = snapshot(
    { load_pieces: { succeeded: 1 }, compute_piece: { succeeded: 25, running: 3 } },
    { 'load_pieces:result': { total: 50, running: 20, done: 25 } },
  );

  it('the same snapshot reads running / pending while the run goes, cancelled / not started once it ended CANCELLED', () => {
    expect(ttyLines(progressItems(dynamicGraph.plan, cancelledMidway))).toEqual([
      '✔ load_pieces           succeeded',
      '▸ map over load_pieces  [████████████░░░░░░░░░░░░] 25/50 keys done, 20 running, 0 failed',
      '    compute_piece[*]    3 running, 25 succeeded',
      '○ merge_and_analyze     pending',
    ]);
    const lines = ttyLines(progressItems(dynamicGraph.plan, cancelledMidway, 'CANCELLED'));
    expect(lines).toEqual([
      '✔ load_pieces           succeeded',
      '⊗ map over load_pieces  [████████████░░░░░░░░░░░░] 25/50 keys done, 20 cancelled, 0 failed, 5 not started',
      '    compute_piece[*]    25 succeeded, 3 cancelled',
      '○ merge_and_analyze     not started',
    ]);
    for (const line of lines) expect(line).not.toMatch(/running|pending/);
    // Other endings leave the snapshot as it is.
    expect(progressItems(dynamicGraph.plan, cancelledMidway, 'FAILURE')).toEqual(progressItems(dynamicGraph.plan, cancelledMidway));
  });

  it('cancelled while the fan-out op ran: the op is cancelled, its map and everything after it never started', () => {
    expect(progressItems(dynamicGraph.plan, loading, 'CANCELLED').map(plainLine)).toEqual([
      'load_pieces: cancelled',
      'map over load_pieces not started (the run was cancelled before load_pieces finished)',
      'compute_piece[*]: 0 succeeded',
      'merge_and_analyze: not started',
    ]);
  });

  it('the final view prints the change in pipe mode, and titles a terminal block with the run’s status', () => {
    const printer = new PlainProgressPrinter(dynamicGraph.plan, 0, 0);
    expect(printer.update(cancelledMidway, 1_000)).toHaveLength(3);
    expect(printer.update(cancelledMidway, 2_000, true, 'CANCELLED')).toEqual([
      '[2.0s] map over load_pieces [##########----------] 25/50 keys done, 20 cancelled, 0 failed, 5 not started',
      '[2.0s] compute_piece[*]: 25 succeeded, 3 cancelled',
      '[2.0s] merge_and_analyze: not started',
    ]);
    const frame = new TtyProgressPrinter(dynamicGraph.plan, 'dynamic_graph · run r1', 0).frame(
      cancelledMidway,
      2_000,
      120,
      'cancelled',
      'CANCELLED',
    );
    expect(frame).toContain('dynamic_graph · run r1 · cancelled 2.0s\n');
    expect(frame).toContain('○ merge_and_analyze     not started\n');
  });
});

describe('progress of a paused or resized map', () => {
  const paused: RunProgress = {
    ...half,
    dimensions: { 'load_pieces:result': dim({ total: 50, running: 0, done: 12 }) },
    controls: { 'load_pieces:result': { paused: true, maxConcurrency: 10, planned: 50 } },
  };

  it('shows the state next to the bar, with keys in flight and waiting', () => {
    expect(ttyLines(progressItems(dynamicGraph.plan, paused))[1]).toBe(
      '▸ map over load_pieces  [█████░░░░░░░░░░░░░░░░░░░] 12/50 keys done, 0 running, 0 failed · paused (0 in flight, 38 waiting), window 50 → 10',
    );
    const resized = { ...paused, controls: { 'load_pieces:result': { paused: false, maxConcurrency: 10, planned: 50 } } };
    expect(plainLine(progressItems(dynamicGraph.plan, resized)[1]!)).toBe(
      'map over load_pieces [####----------------] 12/50 keys done, 0 running, 0 failed · window 50 → 10',
    );
    const sharded = { ...paused, controls: { 'load_pieces:result': { paused: true, maxConcurrency: 50, planned: 50, sharded: true } } };
    expect(plainLine(progressItems(dynamicGraph.plan, sharded)[1]!)).toMatch(/ · paused$/);
  });

  it('lists a paused map nested in another map under it', () => {
    const outer = { id: 'split', dim: [] };
    const plan = {
      nodes: [outer, { id: 'inner_load', dim: ['split:result'] }, { id: 'work', dim: ['split:result', 'inner_load:result'] }],
    };
    const progress: RunProgress = {
      job: 'nested',
      runId: 'r1',
      nodes: { split: node({ succeeded: 1 }) },
      dimensions: { 'split:result': dim({ total: 3, running: 3 }) },
      controls: { 'inner_load:result': { paused: true, maxConcurrency: 4, planned: 4 } },
    };
    expect(ttyLines(progressItems(plan, progress))).toEqual([
      '✔ split                  succeeded',
      '▸ map over split         [░░░░░░░░░░░░░░░░░░░░░░░░] 0/3 keys done, 3 running, 0 failed',
      '    map over inner_load  paused',
      '    inner_load[*]        0 succeeded',
      '    work[*]              0 succeeded',
    ]);
  });
});
