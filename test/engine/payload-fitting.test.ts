/**
 * Activity inputs fitted to the payload budget (the interpreter's fitInputs): a collect of many
 * inline values that together exceed PAYLOAD.activityInput goes to the store in chunks, each
 * within PAYLOAD.chunk bytes; runs recorded before the payload budget keep the old decision,
 * measured in characters.
 */
import { describe, expect, it } from 'vitest';
import { DynamicOut, DynamicOutput, job, op } from '../../src/dsl/index.ts';
import { PAYLOAD } from '../../src/dsl/limits.ts';
import type { StoredRef } from '../../src/dsl/protocol.ts';
import { jsonBytes, jsonChars, PAYLOAD_BUDGET_PATCH } from '../../src/engine/payload.ts';
import { FakeEngine, type FakeOptions, isRef, items, keyed, value } from './fakeEngine.ts';

const keys = op({ name: 'keys', out: new DynamicOut<number>() }, async function* () {
  yield new DynamicOutput(0, '0');
});
const piece = op({ name: 'piece' }, async (_ctx, x: number) => String(x));
const gather = op({ name: 'gather' }, async (_ctx, xs: string[], label: string) => `${label}${xs.length}`);
const label = op({ name: 'label' }, async () => 'n=');

const collectJob = job({ name: 'payload_collect' }, () => {
  gather(keys().map(piece, { mode: 'activity' }).collect(), label());
});

/** `count` values of `chars` copies of `char` (each prefixed with its index, so order shows). */
function engine(count: number, char: string, chars: number, patched: FakeOptions['patched'] = {}): FakeEngine {
  return new FakeEngine({
    patched,
    ops: {
      keys: () => items(keyed(count)),
      piece: (t) => value(`${String(t.inputs.x).padStart(3, '0')}${char.repeat(chars)}`),
      label: () => value('n='),
      gather: (t) => value(t.inputs.xs),
    },
  });
}

function gatherInputs(fake: FakeEngine): Record<string, unknown> {
  const attempt = fake.world.attempts.find((a) => a.node === 'gather');
  if (!attempt) throw new Error('gather did not run');
  return attempt.rawInputs;
}

function chunksOf(raw: unknown): StoredRef[] {
  const refs = (raw as { $opgraphConcat?: unknown }).$opgraphConcat;
  if (!Array.isArray(refs)) throw new Error(`not a $opgraphConcat: ${JSON.stringify(raw).slice(0, 200)}`);
  return refs as StoredRef[];
}

const expectedValues = (count: number, char: string, chars: number) =>
  Array.from({ length: count }, (_, i) => `${String(i).padStart(3, '0')}${char.repeat(chars)}`);

describe('activity inputs over the payload budget', () => {
  it('a collect of 40 × ~10 KB values goes to the store in $opgraphConcat chunks of at most PAYLOAD.chunk bytes', async () => {
    const fake = engine(40, 'x', 10_000);
    const result = await fake.run(collectJob.plan);
    expect(jsonBytes(expectedValues(40, 'x', 10_000))).toBeGreaterThan(PAYLOAD.activityInput);
    const raw = gatherInputs(fake);
    const chunks = chunksOf(raw.xs);
    expect(chunks.length).toBe(2);
    for (const ref of chunks) {
      expect(isRef(ref)).toBe(true);
      expect(ref.bytes).toBeLessThanOrEqual(PAYLOAD.chunk);
    }
    // The small input stays inline.
    expect(raw.label).toBe('n=');
    // What the op sees: the whole list, in yield order.
    expect(result.steps.gather?.outputs).toEqual(value(expectedValues(40, 'x', 10_000)));
    expect(jsonBytes(raw)).toBeLessThan(PAYLOAD.activityInput);
  });

  it('inputs under the budget stay inline and nothing is stored', async () => {
    const fake = engine(10, 'x', 10_000);
    await fake.run(collectJob.plan);
    expect(gatherInputs(fake).xs).toEqual(expectedValues(10, 'x', 10_000));
    expect(fake.world.stored).toEqual([]);
    expect(fake.world.patchedAsked).not.toContain(PAYLOAD_BUDGET_PATCH);
  });
});

describe('legacy char-based decision (patched false for opgraph-payload-budget)', () => {
  // 'é' is one character but two UTF-8 bytes: 40 values are ~400 KB but only ~200 K characters.
  const small = () => expectedValues(40, 'é', 5_000);

  it('the sizes really differ between bytes and characters', () => {
    expect(jsonBytes(small())).toBeGreaterThan(PAYLOAD.activityInput);
    expect(jsonChars(small())).toBeLessThan(256 * 1024);
  });

  it('patched: bytes decide, the list is stored in chunks within PAYLOAD.chunk', async () => {
    const fake = engine(40, 'é', 5_000);
    const result = await fake.run(collectJob.plan);
    const chunks = chunksOf(gatherInputs(fake).xs);
    expect(chunks.length).toBe(2);
    for (const ref of chunks) expect(ref.bytes).toBeLessThanOrEqual(PAYLOAD.chunk);
    expect(fake.world.patchedAsked).toContain(PAYLOAD_BUDGET_PATCH);
    expect(result.steps.gather?.outputs).toEqual(value(small()));
  });

  it('not patched: characters decide, under 256 Ki characters the list stays inline', async () => {
    const fake = engine(40, 'é', 5_000, { [PAYLOAD_BUDGET_PATCH]: false });
    await fake.run(collectJob.plan);
    expect(gatherInputs(fake).xs).toEqual(small());
    expect(fake.world.stored).toEqual([]);
  });

  it('not patched, over 256 Ki characters: chunks of up to 384 Ki characters (fewer, larger chunks than by bytes)', async () => {
    const legacy = engine(80, 'é', 5_000, { [PAYLOAD_BUDGET_PATCH]: false });
    await legacy.run(collectJob.plan);
    const legacyChunks = chunksOf(gatherInputs(legacy).xs);
    const current = engine(80, 'é', 5_000);
    await current.run(collectJob.plan);
    const currentChunks = chunksOf(gatherInputs(current).xs);
    // By bytes: 39 + 39 + 2 values (each ~10 KB); by characters: 78 + 2 (each ~5 K characters).
    expect(currentChunks.length).toBe(3);
    expect(legacyChunks.length).toBe(2);
    for (const ref of currentChunks) expect(ref.bytes).toBeLessThanOrEqual(PAYLOAD.chunk);
    expect(legacyChunks[0]?.bytes).toBeGreaterThan(PAYLOAD.chunk);
    const chunkJson = (fake: FakeEngine, ref: StoredRef | undefined) => fake.world.stored.find((s) => s.ref.key === ref?.key)?.json ?? '';
    expect(chunkJson(legacy, legacyChunks[0]).length).toBeLessThanOrEqual(384 * 1024);
  });

  it('not patched for opgraph-store-large-inputs either: a list the legacy code would store stays inline', async () => {
    const fake = engine(80, 'é', 5_000, { [PAYLOAD_BUDGET_PATCH]: false, 'opgraph-store-large-inputs': false });
    await fake.run(collectJob.plan);
    expect(gatherInputs(fake).xs).toEqual(expectedValues(80, 'é', 5_000));
  });
});

describe('values shared by every key of a map', () => {
  const shared = op({ name: 'shared' }, async () => 'x');
  const useShared = op({ name: 'use_shared' }, async (_ctx, x: number, s: string) => `${x}${s}`);
  const sharedJob = job({ name: 'payload_shared' }, () => {
    const s = shared();
    gather(
      keys()
        .map((x) => useShared(x, s))
        .collect(),
      label(),
    );
  });
  const run = (count: number, patched: FakeOptions['patched'] = {}) => {
    const fake = new FakeEngine({
      patched,
      ops: {
        keys: () => items(keyed(count)),
        shared: () => value('s'.repeat(10_000)),
        use_shared: (t) => value((t.inputs.s as string).length),
        label: () => value('n='),
        gather: (t) => value((t.inputs.xs as number[]).length),
      },
    });
    return fake;
  };

  it('adding up over the keys (200 × 10 KB > PAYLOAD.sharedPerDimension): stored once, each key gets the reference', async () => {
    const fake = run(200);
    const result = await fake.run(sharedJob.plan);
    const inputs = fake.world.attempts.filter((a) => a.node === 'use_shared').map((a) => a.rawInputs.s);
    expect(inputs).toHaveLength(200);
    expect(inputs.every(isRef)).toBe(true);
    expect(new Set(inputs.map((r) => (r as StoredRef).key)).size).toBe(1);
    expect(fake.world.stored.filter((s) => s.json === JSON.stringify('s'.repeat(10_000)))).toHaveLength(1);
    // Each op still sees the value.
    expect(fake.allSteps(result)['use_shared[k7]']?.outputs).toEqual(value(10_000));
  });

  it('few keys: the value stays inline', async () => {
    const fake = run(10);
    await fake.run(sharedJob.plan);
    const inputs = fake.world.attempts.filter((a) => a.node === 'use_shared').map((a) => a.rawInputs.s);
    expect(inputs.every((s) => s === 's'.repeat(10_000))).toBe(true);
  });

  it('not patched (a history from before): the value stays inline for every key', async () => {
    const fake = run(200, { [PAYLOAD_BUDGET_PATCH]: false });
    await fake.run(sharedJob.plan);
    const inputs = fake.world.attempts.filter((a) => a.node === 'use_shared').map((a) => a.rawInputs.s);
    expect(inputs.every((s) => s === 's'.repeat(10_000))).toBe(true);
  });
});
