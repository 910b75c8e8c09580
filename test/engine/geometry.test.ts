/** src/engine/geometry.ts: which nodes of a plan run in which scope, on a real traced plan with stages and a nested dimension. */
import { describe, expect, it } from 'vitest';
import { DynamicOut, DynamicOutput, job, op } from '../../src/dsl/index.ts';
import type { PlanNode } from '../../src/dsl/plan.ts';
import type { StepRecord } from '../../src/dsl/protocol.ts';
import {
  childScope,
  dimensionRequestOf,
  dimensionsBelow,
  earlierStageNodes,
  failedScope,
  inStage,
  keyedScope,
  keyNodes,
  ownNodes,
  recordsOfKey,
  sameDim,
  stageAt,
  stageCount,
  stageNodes,
  startsWith,
  subPlan,
  subtreeOf,
} from '../../src/engine/geometry.ts';
import type { DimensionRequest } from '../../src/engine/types.ts';

const keys = op({ name: 'keys', out: new DynamicOut<number>() }, async function* () {
  yield new DynamicOutput(0, '0');
});
const inner = op({ name: 'inner', out: new DynamicOut<number>() }, async function* (_ctx, x: number) {
  yield new DynamicOutput(x, '0');
});
const work = op({ name: 'work' }, async (_ctx, x: number) => x);
const plus = op({ name: 'plus' }, async (_ctx, x: number, y: number) => x + y);
const total = op({ name: 'total' }, async (_ctx, xs: number[]) => xs.length);

/**
 * keys ─▶ work ─▶ inner ─▶ deep (nested)      per key: per_key = total(deep.collect())
 *          └─▶ total = total(work.collect()) ─▶ plus(work, total) (stage 1) ─▶ final
 * alone: static, input from run config.
 */
const plan = job({ name: 'geometry' }, () => {
  const r = keys().map((i) => {
    const w = work(i);
    total.alias('per_key')(inner(w).map(work.alias('deep')).collect());
    return w;
  });
  const s = total(r.collect());
  total.alias('final')(r.map((v) => plus(v, s)).collect());
  work.alias('alone')();
}).plan;

const D = 'keys:result';
const I = 'inner:result';
const ids = (nodes: readonly PlanNode[]) => nodes.map((n) => n.id);
function node(id: string): PlanNode {
  const found = plan.nodes.find((n) => n.id === id);
  if (!found) throw new Error(`no node ${id}`);
  return found;
}

describe('the traced plan', () => {
  it('has the dims and stages the tests below rely on', () => {
    expect(Object.fromEntries(plan.nodes.map((n) => [n.id, [n.dim, n.stages]]))).toEqual({
      keys: [[], []],
      work: [[D], [0]],
      inner: [[D], [0]],
      deep: [
        [D, I],
        [0, 0],
      ],
      per_key: [[D], [0]],
      total: [[], []],
      plus: [[D], [1]],
      final: [[], []],
      alone: [[], []],
    });
  });
});

describe('dims and stages', () => {
  it('sameDim / startsWith', () => {
    expect(sameDim([], [])).toBe(true);
    expect(sameDim([D], [D])).toBe(true);
    expect(sameDim([D], [D, I])).toBe(false);
    expect(sameDim([D, I], [I, D])).toBe(false);
    expect(startsWith([D, I], [D])).toBe(true);
    expect(startsWith([D, I], [])).toBe(true);
    expect(startsWith([D], [D, I])).toBe(false);
    expect(startsWith([I], [D])).toBe(false);
  });

  it('stageAt: the stage within the dimension at a level, 0 where it does not split', () => {
    expect(stageAt(node('plus'), 0)).toBe(1);
    expect(stageAt(node('work'), 0)).toBe(0);
    expect(stageAt(node('deep'), 1)).toBe(0);
    expect(stageAt(node('keys'), 0)).toBe(0);
    expect(stageAt(node('plus'), 3)).toBe(0);
  });

  it('inStage: every node takes part in the top level; below it, only its stage', () => {
    for (const n of plan.nodes) expect(inStage(n, [], 0)).toBe(true);
    expect(inStage(node('plus'), [D], 1)).toBe(true);
    expect(inStage(node('plus'), [D], 0)).toBe(false);
    expect(inStage(node('work'), [D], 0)).toBe(true);
    expect(inStage(node('work'), [D], 1)).toBe(false);
    expect(inStage(node('deep'), [D, I], 0)).toBe(true);
  });

  it('stageCount: 2 for the split dimension, 1 for the nested one', () => {
    expect(stageCount(subtreeOf(plan.nodes, [], D), 0)).toBe(2);
    expect(stageCount(subtreeOf(plan.nodes, [D], I), 1)).toBe(1);
    expect(stageCount([], 0)).toBe(1);
  });
});

describe('nodes of a scope', () => {
  const subtree = subtreeOf(plan.nodes, [], D);

  it('subtreeOf: every node mapped over the dimension, any depth, any stage', () => {
    expect(ids(subtree)).toEqual(['work', 'inner', 'deep', 'per_key', 'plus']);
    expect(ids(subtreeOf(plan.nodes, [D], I))).toEqual(['deep']);
    expect(subtreeOf(plan.nodes, [], I)).toEqual([]);
  });

  it('ownNodes: the scope’s own steps in its stage', () => {
    expect(ids(ownNodes(plan.nodes, [], 0))).toEqual(['keys', 'total', 'final', 'alone']);
    expect(ids(ownNodes(subtree, [D], 0))).toEqual(['work', 'inner', 'per_key']);
    expect(ids(ownNodes(subtree, [D], 1))).toEqual(['plus']);
    expect(ids(ownNodes(subtree, [D, I], 0))).toEqual(['deep']);
  });

  it('stageNodes: own steps and those of dimensions below, in the stage', () => {
    expect(ids(stageNodes(subtree, [D], 0))).toEqual(['work', 'inner', 'deep', 'per_key']);
    expect(ids(stageNodes(subtree, [D], 1))).toEqual(['plus']);
    expect(stageNodes(plan.nodes, [], 0)).toHaveLength(plan.nodes.length);
  });

  it('dimensionsBelow: the dimensions directly below a scope, in plan order', () => {
    expect(dimensionsBelow(plan.nodes, [])).toEqual([D]);
    expect(dimensionsBelow(subtree, [D])).toEqual([I]);
    expect(dimensionsBelow(stageNodes(subtree, [D], 1), [D])).toEqual([]);
    expect(dimensionsBelow(subtree, [D, I])).toEqual([]);
  });

  it('earlierStageNodes: dimension-level nodes of earlier stages (not deeper ones)', () => {
    expect(earlierStageNodes(subtree, [D], 0)).toEqual([]);
    expect(ids(earlierStageNodes(subtree, [D], 1))).toEqual(['work', 'inner', 'per_key']);
  });

  it('subPlan / keyNodes: a dimension request’s plan and the nodes one key runs', () => {
    const sub = subPlan(plan, subtree);
    expect(sub.job).toBe('geometry');
    expect(ids(sub.nodes)).toEqual(ids(subtree));
    expect(sub.nodes).not.toBe(subtree);
    const request = (stage: number): DimensionRequest => ({
      plan: sub,
      dim: [D],
      source: { node: 'keys', output: 'result' },
      outerKeys: [],
      stage,
    });
    expect(ids(keyNodes(request(0)))).toEqual(['work', 'inner', 'per_key']);
    expect(ids(keyNodes(request(1)))).toEqual(['plus']);
  });
});

describe('keys and scopes', () => {
  const request: DimensionRequest = {
    plan: subPlan(plan, subtreeOf(plan.nodes, [D], I)),
    dim: [D, I],
    source: { node: 'inner', output: 'result' },
    outerKeys: ['k1'],
    stage: 0,
  };

  it('recordsOfKey: one key’s records of the given nodes', () => {
    const rec = (id: string, keys: string[]): StepRecord => ({ node: id, mappingKeys: keys, status: 'SUCCESS' });
    const records = {
      'work[a]': rec('work', ['a']),
      'work[b]': rec('work', ['b']),
      'inner[a]': rec('inner', ['a']),
      'per_key[a]': rec('per_key', ['a']),
    };
    expect(recordsOfKey(records, ['work', 'inner'], ['a'])).toEqual({ 'work[a]': records['work[a]'], 'inner[a]': records['inner[a]'] });
    expect(recordsOfKey(records, ['work'], ['c'])).toEqual({});
  });

  it('keyedScope: shared bindings plus the key’s item under the dimension id', () => {
    const shared = { 'total:result': { state: 'value' as const, value: 3 } };
    const item = keyedScope(I, 'j2', 20, shared, {});
    expect(item).toEqual({
      key: 'j2',
      bindings: { 'total:result': { state: 'value', value: 3 }, [I]: { state: 'value', value: 20 } },
      prior: {},
    });
    expect(shared).toEqual({ 'total:result': { state: 'value', value: 3 } });
  });

  it('childScope: the key’s scope, with the outer keys first', () => {
    const item = keyedScope(I, 'j2', 20, {}, {});
    expect(childScope({ runId: 'r', runConfig: { alone: { inputs: {} } } }, request, item)).toEqual({
      runId: 'r',
      plan: request.plan,
      runConfig: { alone: { inputs: {} } },
      dim: [D, I],
      keys: ['k1', 'j2'],
      bindings: item.bindings,
      stage: 0,
      prior: {},
    });
  });

  it('dimensionRequestOf: only the request’s fields of a larger input', () => {
    const input = { ...request, runId: 'r', items: [], start: 0 };
    expect(dimensionRequestOf(input)).toEqual(request);
  });

  it('failedScope: every step of the key’s stage blamed', () => {
    const error = { type: 'TimeoutError', message: 'child timed out' };
    expect(failedScope(request, 'j2', error)).toEqual({
      steps: { 'deep[k1,j2]': { node: 'deep', mappingKeys: ['k1', 'j2'], status: 'FAILURE', error } },
    });
    const top: DimensionRequest = {
      plan: subPlan(plan, subtreeOf(plan.nodes, [], D)),
      dim: [D],
      source: { node: 'keys', output: 'result' },
      outerKeys: [],
      stage: 1,
    };
    expect(Object.keys(failedScope(top, 'k0', error).steps)).toEqual(['plus[k0]']);
  });
});
