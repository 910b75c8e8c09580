/**
 * The controllable sliding window (src/engine/window.ts) and map controls (src/engine/control.ts),
 * without Temporal: items are held until the test releases them.
 */
import { describe, expect, it } from 'vitest';
import { MapControls, shardFeed, windowShare } from '../../src/engine/control.ts';
import { findMap, mapsOf } from '../../src/engine/maps.ts';
import type { DimensionRequest } from '../../src/engine/types.ts';
import { forEachWindowed, mapGate } from '../../src/engine/window.ts';
import { DynamicOut, DynamicOutput, job, op } from '../../src/index.ts';

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Runs a window over `count` items whose calls stay pending until released; records the order of events. */
function harness(count: number, window: Parameters<typeof forEachWindowed>[1]) {
  const events: string[] = [];
  const holds = new Map<number, () => void>();
  let waits = 0;
  const done = forEachWindowed(
    Array.from({ length: count }, (_, i) => i),
    window,
    (i) => {
      events.push(`start ${i}`);
      return new Promise<void>((resolve) =>
        holds.set(i, () => {
          events.push(`end ${i}`);
          resolve();
        }),
      );
    },
  );
  return {
    events,
    done,
    running: () => [...holds.keys()],
    async release(i: number) {
      const release = holds.get(i);
      holds.delete(i);
      release?.();
      await tick();
    },
    countWait: () => waits++,
    get waits() {
      return waits;
    },
  };
}

/** A wait that re-checks on every timer tick (as condition() re-checks on every activation). */
function polling(onWait?: () => void) {
  return async (ready: () => boolean) => {
    onWait?.();
    while (!ready()) await tick();
  };
}

describe('forEachWindowed with a gate', () => {
  it('an uncontrolled gate starts and ends items exactly as a fixed window, never waiting', async () => {
    const fixed = harness(7, 3);
    let waited = 0;
    const gated = harness(
      7,
      mapGate(
        new MapControls(),
        'd',
        3,
        polling(() => waited++),
      ),
    );
    for (const h of [fixed, gated]) {
      await tick();
      for (const i of [1, 0, 2, 4, 3, 5, 6]) await h.release(i);
      await h.done;
    }
    expect(gated.events).toEqual(fixed.events);
    expect(waited).toBe(0);
  });

  it('paused: items in flight finish, none starts; resumed: the rest run', async () => {
    const controls = new MapControls();
    const h = harness(6, mapGate(controls, 'd', 2, polling()));
    await tick();
    expect(h.running()).toEqual([0, 1]);
    controls.set('d', { paused: true });
    await h.release(0);
    await h.release(1);
    await tick();
    expect(h.running()).toEqual([]);
    expect(h.events.filter((e) => e.startsWith('start'))).toEqual(['start 0', 'start 1']);
    controls.set('d', { paused: false });
    await tick();
    expect(h.running()).toEqual([2, 3]);
    for (const i of [2, 3, 4, 5]) await h.release(i);
    await h.done;
    expect(h.events.filter((e) => e.startsWith('start')).length).toBe(6);
  });

  it('resized up, more lanes start at once; resized down, finishing lanes are held back', async () => {
    const controls = new MapControls();
    const h = harness(10, mapGate(controls, 'd', 2, polling()));
    await tick();
    controls.set('d', { paused: false, maxConcurrency: 4 });
    await tick();
    expect(h.running()).toEqual([0, 1, 2, 3]);
    controls.set('d', { paused: false, maxConcurrency: 1 });
    for (const i of [0, 1, 2]) await h.release(i);
    expect(h.running()).toEqual([3]);
    await h.release(3);
    await tick();
    expect(h.running()).toEqual([4]);
    controls.set('d', { paused: false, maxConcurrency: 3 });
    await tick();
    expect(h.running()).toEqual([4, 5, 6]);
    for (const i of [4, 5, 6, 7, 8, 9]) await h.release(i);
    await h.done;
    expect(h.running()).toEqual([]);
  });

  it("ignores other maps' controls", async () => {
    const controls = new MapControls();
    const h = harness(3, mapGate(controls, 'd', 1, polling()));
    controls.set('other', { paused: true });
    for (const i of [0, 1, 2]) await h.release(i);
    await h.done;
    expect(h.events.length).toBe(6);
  });
});

describe('map controls', () => {
  const keys = op({ name: 'mc_keys', out: new DynamicOut<number>() }, async function* () {
    yield new DynamicOutput(1, 'a');
  });
  const inner = op({ name: 'mc_inner', out: new DynamicOut<number>() }, async function* (_ctx, x: number) {
    yield new DynamicOutput(x, 'b');
  });
  const extra = op({ name: 'mc_two', out: { result: new DynamicOut<number>(), extra: new DynamicOut<number>() } }, async function* () {
    yield new DynamicOutput(1, { mappingKey: 'a', outputName: 'extra' });
  });
  const inc = op({ name: 'mc_inc' }, async (_ctx, x: number) => x + 1);
  const total = op({ name: 'mc_total' }, async (_ctx, xs: number[]) => xs.length);
  const plan = job({ name: 'mc_job' }, () => {
    total(
      keys()
        .map((x) => total.alias('inner_total')(inner(x).map(inc).collect()), { maxConcurrency: 7 })
        .collect(),
    );
    const { result, extra: more } = extra();
    total.alias('t2')(result.map(inc.alias('inc2')).collect());
    total.alias('t3')(more.map(inc.alias('inc3'), { mode: 'batch' }).collect());
  }).plan;

  it('names maps by fan-out node (node:output for other outputs) and lists the choices', () => {
    expect(mapsOf(plan).map((m) => [m.name, m.outer, m.maxConcurrency])).toEqual([
      ['mc_keys', [], 7],
      ['mc_inner', ['mc_keys:result'], 500],
      ['mc_two', [], 500],
      ['mc_two:extra', [], 500],
    ]);
    expect(findMap(plan, 'mc_two:extra')).toMatchObject({ id: 'mc_two:extra', mode: 'batch' });
    expect(findMap(plan, 'mc_keys:result')).toMatchObject({ name: 'mc_keys' });
    expect(findMap(plan, 'nope')).toEqual({
      problem: 'job "mc_job" has no map "nope"; its maps: mc_keys, mc_inner (in mc_keys), mc_two, mc_two:extra',
    });
  });

  it('feeds a child only its nested maps and a shard its own map, splitting a resized window', () => {
    const controls = new MapControls({ 'mc_keys:result': { paused: true, maxConcurrency: 9 } });
    // A dimension's keys get the plan of its subtree only.
    const subtree = { ...plan, nodes: plan.nodes.filter((n) => n.dim[0] === 'mc_keys:result') };
    const request = {
      plan: subtree,
      dim: ['mc_keys:result'],
      source: { node: 'mc_keys', output: 'result' },
      outerKeys: [],
      stage: 0,
    } as DimensionRequest;
    const feed = shardFeed(controls, request, 2);
    expect(feed.initial).toEqual({ 'mc_keys:result': { paused: true, maxConcurrency: 5 } });
    const sent: unknown[] = [];
    const stop = feed.follow((dim, control) => sent.push([dim, control]));
    expect(controls.followers('mc_inner:result')).toBe(1);
    controls.set('mc_inner:result', { paused: true });
    controls.set('mc_two:result', { paused: true });
    stop();
    controls.set('mc_keys:result', { paused: false });
    expect(sent).toEqual([['mc_inner:result', { paused: true }]]);
    expect(controls.followers('mc_inner:result')).toBe(0);
    expect(new MapControls().feed(new Set(['mc_keys:result'])).initial).toBeUndefined();
    expect([windowShare(9, 2), windowShare(1, 2), windowShare(8, 1)]).toEqual([5, 1, 8]);
  });
});
