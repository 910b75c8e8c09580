/**
 * Batch mode under the payload budget: many keys' mid-sized outputs share one activity result, a
 * few keys return megabytes, and every key shares a large value — the run succeeds with the right
 * values, no payload in the run's history nears Temporal's 512 KiB warning, and the worker logs no
 * payload warning (TMPRL1103).
 */
import { DefaultLogger, makeTelemetryFilterString, Runtime } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamicOut, DynamicOutput, job, op } from '../../src/index.ts';
import { PAYLOAD, TEMPORAL } from '../../src/dsl/limits.ts';
import { TemporalHarness } from './harness.ts';

// Forward the SDK core's own warnings to a logger this test reads (before any worker starts).
const warnings: string[] = [];
Runtime.install({
  logger: new DefaultLogger('WARN', (entry) => {
    warnings.push(entry.message);
  }),
  telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN', other: 'WARN' }), forward: {} } },
});

const KEYS = 100;
const emit = op({ name: 'bp_emit', out: new DynamicOut<number>() }, async function* () {
  for (let i = 0; i < KEYS; i++) yield new DynamicOutput(i, `k${i}`);
});
const emitFew = op({ name: 'bp_emit_few', out: new DynamicOut<number>() }, async function* () {
  for (let i = 0; i < 4; i++) yield new DynamicOutput(i, `m${i}`);
});
/** 25 KB per key: 100 keys make 2.5 MB in one batch, over Temporal's 2 MiB payload limit if returned inline. */
const pad25k = op({ name: 'bp_pad_25k' }, async (_ctx, i: number) => `${i}:${'x'.repeat(25_000)}`);
/** 1 MB per key: each over the store threshold on its own. */
const pad1m = op({ name: 'bp_pad_1m' }, async (_ctx, i: number) => `${i}:${'y'.repeat(1_000_000)}`);
/** 20 KB that every key of a batch receives. */
const shared = op({ name: 'bp_shared' }, async () => 'z'.repeat(20_000));
const useShared = op({ name: 'bp_use_shared' }, async (_ctx, i: number, s: string) => s.length + i);
const lengths = op({ name: 'bp_lengths' }, async (_ctx, xs: string[]) => xs.map((x) => x.length));
const firsts = op({ name: 'bp_firsts' }, async (_ctx, xs: string[]) => xs.map((x) => x.split(':')[0]).join(','));
const total = op({ name: 'bp_total' }, async (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0));
const everything = op({ name: 'bp_everything' }, async (_ctx, a: string[], b: string[], c: number[]) => a.length + b.length + c.length);

const batchPayloads = job({ name: 'batch_payloads' }, () => {
  const mid = emit().map(pad25k, { mode: 'batch', batchSize: KEYS }).collect();
  const big = emitFew().map(pad1m, { mode: 'batch', batchSize: 4 }).collect();
  const s = shared();
  const withShared = emit()
    .map((i) => useShared(i, s), { mode: 'batch', batchSize: KEYS })
    .collect();
  lengths(mid);
  firsts(mid);
  lengths.alias('bp_big_lengths')(big);
  total(withShared);
  everything(mid, big, withShared);
});

describe('batch mode under the payload budget', () => {
  let harness: TemporalHarness;
  beforeAll(async () => {
    harness = await TemporalHarness.connect();
  });
  afterAll(async () => harness?.close());

  it('25 KB × 100 keys in one batch, 1 MB outputs, shared values and a collect of everything: right values, no payload near the limits', async () => {
    const { run, result } = await harness.runWithHandle(batchPayloads);
    expect(result.failures).toEqual([]);
    const keys = Array.from({ length: KEYS }, (_, i) => i);
    expect(await result.outputFor('bp_lengths')).toEqual(keys.map((i) => `${i}:`.length + 25_000));
    expect(await result.outputFor('bp_firsts')).toBe(keys.join(','));
    expect(await result.outputFor('bp_big_lengths')).toEqual([0, 1, 2, 3].map((i) => `${i}:`.length + 1_000_000));
    expect(await result.outputFor('bp_total')).toBe(KEYS * 20_000 + (KEYS * (KEYS - 1)) / 2);
    expect(await result.outputFor('bp_everything')).toBe(KEYS + 4 + KEYS);

    expect(warnings.filter((w) => w.includes('TMPRL1103'))).toEqual([]);

    // Every payload the run put in its history: activity inputs and results, the run's own result.
    const history = await run.handle.fetchHistory();
    const sizes: number[] = [];
    for (const event of history.events ?? []) {
      const payloads = [
        ...(event.activityTaskScheduledEventAttributes?.input?.payloads ?? []),
        ...(event.activityTaskCompletedEventAttributes?.result?.payloads ?? []),
        ...(event.workflowExecutionCompletedEventAttributes?.result?.payloads ?? []),
      ];
      for (const payload of payloads) sizes.push(payload.data?.length ?? 0);
    }
    expect(sizes.length).toBeGreaterThan(10);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(PAYLOAD.batchResult + 16 * 1024);
    expect(Math.max(...sizes)).toBeLessThan(TEMPORAL.payloadWarn);
  }, 120_000);
});
