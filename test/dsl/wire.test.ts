/**
 * The `kind` tags of the wire unions (src/dsl/wire.ts): records of histories and stores written
 * before the tags get their kind from the field only their variant has; tagged records pass through;
 * zod parses always yield tagged records. Pure: no server.
 */
import { describe, expect, it } from 'vitest';
import { OpTaskResult, ScopeResult, ShardWorkflowInput, StepRecord, TaskOutput } from '../../src/dsl/protocol.ts';
import { outputKind, shardItemsKind, tagOutput, tagShardItems, type WireOutput, type WireShardItems } from '../../src/dsl/wire.ts';

const ref = { $opgraphRef: 1 as const, store: 'fs', key: 'ab/abcdef.json', bytes: 1234, sha256: 'abcdef' };

const legacyOutputs: [WireOutput, TaskOutput['kind']][] = [
  [{ name: 'result', value: 3 }, 'value'],
  [{ name: 'result', value: null }, 'value'],
  [{ name: 'result', items: [['a', 1]] }, 'items'],
  [{ name: 'result', items: [] }, 'items'],
  [{ name: 'result', itemsRef: ref, count: 7 }, 'itemsRef'],
];

describe('step outputs', () => {
  it.each(legacyOutputs)('an untagged %j is a %s output', (output, kind) => {
    const before = JSON.stringify(output);
    expect(outputKind(output)).toBe(kind);
    const tagged = tagOutput(output);
    expect(tagged).toEqual({ ...output, kind });
    expect(tagged).not.toBe(output);
    expect(JSON.stringify(output), 'the record itself is not changed').toBe(before);
  });

  it('a tagged output passes through as it is', () => {
    const outputs: TaskOutput[] = [
      { kind: 'value', name: 'a', value: 1 },
      { kind: 'items', name: 'b', items: [['k', 2]] },
      { kind: 'itemsRef', name: 'c', itemsRef: ref, count: 1 },
    ];
    for (const output of outputs) {
      expect(outputKind(output)).toBe(output.kind);
      expect(tagOutput(output)).toBe(output);
    }
  });

  it('a `kind` the record has is trusted over its fields; an unknown one is no kind', () => {
    expect(outputKind({ kind: 'items', name: 'a', value: 1 })).toBe('items');
    expect(outputKind({ kind: 'list', name: 'a', value: 1 })).toBeUndefined();
    expect(outputKind({ kind: null, name: 'a', value: 1 })).toBeUndefined();
    expect(outputKind({ name: 'a' })).toBeUndefined();
    // `kind: undefined` is what an untagged record has.
    expect(outputKind({ kind: undefined, name: 'a', value: 1 })).toBe('value');
  });

  it('an untagged record with several payload fields is read as the untagged union read it: value first', () => {
    expect(outputKind({ name: 'a', value: 1, items: [] })).toBe('value');
    expect(outputKind({ name: 'a', items: [], itemsRef: ref })).toBe('items');
    expect(TaskOutput.parse({ name: 'a', value: 1, items: [] })).toEqual({ kind: 'value', name: 'a', value: 1 });
  });

  it.each(legacyOutputs)('zod parses an untagged %j to a tagged %s output', (output, kind) => {
    expect(TaskOutput.parse(output)).toEqual({ ...output, kind });
  });

  it('zod parses tagged outputs unchanged, and untagged ones nested in results and records', () => {
    const tagged: TaskOutput = { kind: 'items', name: 'r', items: [['k', { x: 1 }]] };
    expect(TaskOutput.parse(tagged)).toEqual(tagged);
    expect(OpTaskResult.parse({ outputs: [{ name: 'r', value: 1 }] })).toEqual({ outputs: [{ kind: 'value', name: 'r', value: 1 }] });
    const record = { node: 'n', mappingKeys: [], status: 'SUCCESS', outputs: [{ name: 'r', itemsRef: ref, count: 2 }] };
    expect(StepRecord.parse(record).outputs).toEqual([{ kind: 'itemsRef', name: 'r', itemsRef: ref, count: 2 }]);
    // A stored part written before the tags.
    const part = ScopeResult.parse({ steps: { 'n[a]': { ...record, mappingKeys: ['a'], outputs: [{ name: 'r', value: 'v' }] } } });
    expect(part.steps['n[a]']?.outputs).toEqual([{ kind: 'value', name: 'r', value: 'v' }]);
  });

  it('zod rejects an unknown or mismatched kind, and an untagged record with no payload field', () => {
    for (const bad of [
      { kind: 'list', name: 'r', value: 1 },
      { kind: 'items', name: 'r', value: 1 },
      { kind: 'value', name: 'r' },
      { name: 'r' },
      { name: 'r', count: 1 },
    ]) {
      expect(TaskOutput.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});

describe('shard items', () => {
  const inline: [string, unknown][] = [['0', 1]];

  it('untagged items get their kind from their field; tagged ones pass through', () => {
    const legacy: [WireShardItems, 'inline' | 'ref'][] = [
      [{ inline }, 'inline'],
      [{ ref }, 'ref'],
    ];
    for (const [items, kind] of legacy) {
      expect(shardItemsKind(items)).toBe(kind);
      expect(tagShardItems(items)).toEqual({ ...items, kind });
      expect(items).not.toHaveProperty('kind');
    }
    const tagged = { kind: 'ref' as const, ref };
    expect(tagShardItems(tagged)).toBe(tagged);
    expect(shardItemsKind({ kind: 'stored', ref })).toBeUndefined();
  });

  it('zod parses a shard input with untagged items to tagged items', () => {
    const input = {
      kind: 'shard',
      runId: 'r',
      plan: { planVersion: 1, job: 'j', nodes: [] },
      runConfig: {},
      dim: ['a:result'],
      outerKeys: [],
      source: { node: 'a', output: 'result' },
      stage: 0,
      start: 0,
      end: 1,
      items: { inline },
      bindings: {},
      priorParts: [],
      priorNodes: [],
    };
    expect(ShardWorkflowInput.parse(input).items).toEqual({ kind: 'inline', inline });
    expect(ShardWorkflowInput.parse({ ...input, items: { ref } }).items).toEqual({ kind: 'ref', ref });
    expect(ShardWorkflowInput.safeParse({ ...input, items: { kind: 'stored', ref } }).success).toBe(false);
  });
});
