/**
 * Counterexamples found by the model-based tests (test/model/model.test.ts, npm run fuzz), each a
 * fixed job AST run in child, activity and batch modes against the reference evaluator.
 *
 * Fixed: an op with two DynamicOuts whose mapping keys repeat across the two outputs — Dagster
 * allows it, uniqueness is per (step, output) — and both outputs mapped. Child workflow ids
 * `<run>/<op>[<key>]` and batch activity ids `<op>[batch_0:k0..k1]` had no output name, so the two
 * dimensions collided (child keys failed; in batch mode the workflow task failed with
 * ScheduleActivityDuplicateId on every attempt and the run never finished). Ids now name the output
 * when it is not `result` (`<op>:<output>[<key>]`, gated with patched('opgraph-output-in-ids')).
 *
 * Fixed, every mode: inside a nested map, a chained inner map whose second op also takes a collect
 * of the OUTER dimension (a stage barrier on the outer dimension: plan stages [0,0] for the first
 * inner op, [1,0] for the second). The outer key's stage-2 scope was not given the first inner op's
 * per-key records: each inner step was ABANDONED with "internal error: "<op>:result" was not passed
 * into this scope". Keys now carry deeper earlier-stage records down (inline, or as stored parts
 * loaded when the key starts), gated with patched('opgraph-nested-stage-prior');
 * test/integration/nestedStages.test.ts runs every path the records take.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installRuntimeLogger } from '../../src/logging.ts';
import type { FanOutMode } from '../../src/dsl/plan.ts';
import { TemporalHarness } from '../integration/harness.ts';
import type { ModelJob } from './ast.ts';
import { makeCase, runCase, type GeneratedCase, type Mismatch } from './check.ts';

const F = { failOn: [], flakyOn: [], retries: 0 } as const;

interface Regression {
  readonly name: string;
  readonly model: ModelJob;
  /** Modes that still disagree with the reference (expected to fail until fixed). */
  readonly open: readonly FanOutMode[];
}

const regressions: Regression[] = [
  {
    // Minimal: emit yields k0,k1 on `result` and k0,k1 on `extra`; each output is mapped.
    name: 'two dynamic outputs sharing keys, both mapped',
    model: {
      nodes: [
        { kind: 'emit', n: 2, required: true, extraN: 2, ...F },
        { kind: 'fn', input: { node: 0 }, mul: 1, add: 1, skipOn: [], twoOutputs: false, ...F },
        { kind: 'fn', input: { node: 0, output: 'extra' }, mul: 1, add: 2, skipOn: [], twoOutputs: false, ...F },
      ],
    },
    open: [],
  },
  {
    // fuzz seed 20261123, job 15
    name: 'seed 20261123 #15: two dynamic outputs, a collect of the second',
    model: {
      nodes: [
        { kind: 'emit', n: 5, required: true, extraN: 4, failOn: [], flakyOn: [], retries: 2 },
        { kind: 'fn', input: { node: 0 }, mul: 3, add: 1, skipOn: [], twoOutputs: false, failOn: [], flakyOn: [], retries: 2 },
        { kind: 'fn', input: { node: 0, output: 'extra' }, mul: 3, add: 1, skipOn: [], twoOutputs: true, ...F },
        { kind: 'collect', of: { node: 0, output: 'extra' }, failOn: [], flakyOn: [], retries: 1 },
        { kind: 'fn', input: { node: 0 }, mul: 1, add: 6, skipOn: [], twoOutputs: false, ...F },
      ],
    },
    open: [],
  },
  {
    // fuzz seed 20261123, job 19
    name: 'seed 20261123 #19: two dynamic outputs mapped with a static extra input',
    model: {
      nodes: [
        { kind: 'const', value: 5 },
        { kind: 'const', value: 0 },
        { kind: 'emit', n: 5, required: true, extraN: 3, ...F },
        { kind: 'fn', input: { node: 2, output: 'extra' }, extra: { node: 0 }, mul: 4, add: 2, skipOn: [], twoOutputs: false, ...F },
        {
          kind: 'fn',
          input: { node: 2 },
          extra: { node: 0 },
          mul: 5,
          add: 2,
          skipOn: [8],
          twoOutputs: false,
          failOn: [],
          flakyOn: [],
          retries: 1,
        },
        { kind: 'emit', n: 1, required: true, failOn: [], flakyOn: [2], retries: 2 },
      ],
    },
    open: [],
  },
  {
    // fuzz seed 20261123, job 37: the collision inside a nested scope (child mode only; no batch map on it)
    name: 'seed 20261123 #37: nested fan-out with two dynamic outputs',
    model: {
      nodes: [
        { kind: 'emit', n: 5, required: false, ...F },
        { kind: 'collect', of: { node: 0 }, failOn: [], flakyOn: [], retries: 2 },
        {
          kind: 'nest',
          over: { node: 0 },
          body: [
            { kind: 'fn', input: { node: 'item' }, mul: 3, add: 5, skipOn: [], twoOutputs: false, ...F },
            { kind: 'emit', input: { node: 'item' }, n: 5, required: false, extraN: 2, ...F },
            {
              kind: 'fn',
              input: { node: 1 },
              extra: { node: 0 },
              mul: 8,
              add: 9,
              skipOn: [9],
              twoOutputs: true,
              failOn: [1],
              flakyOn: [4],
              retries: 0,
            },
            {
              kind: 'fn',
              input: { node: 1, output: 'extra' },
              extra: { node: 'outer', index: 1 },
              mul: 7,
              add: 8,
              skipOn: [],
              twoOutputs: false,
              failOn: [],
              flakyOn: [3],
              retries: 1,
            },
            { kind: 'collect', of: { node: 3 }, failOn: [], flakyOn: [], retries: 2 },
          ],
        },
        { kind: 'emit', n: 3, required: false, extraN: 3, failOn: [], flakyOn: [7], retries: 0 },
      ],
    },
    open: [],
  },
  {
    // Minimal form of fuzz seed 99 #253: an inner chained map whose second op takes a collect of
    // the outer dimension (so the outer dimension splits into stages): the stage-2 scope of each
    // outer key is not given the first inner op's outputs — "internal error: "<op>:result" was not
    // passed into this scope" — and every inner key is ABANDONED, in every mode.
    name: 'nested chained map with a stage barrier on the outer dimension',
    model: {
      nodes: [
        { kind: 'emit', n: 2, required: true, ...F },
        { kind: 'fn', input: { node: 0 }, mul: 1, add: 1, skipOn: [], twoOutputs: false, ...F },
        { kind: 'collect', of: { node: 1 }, ...F },
        {
          kind: 'nest',
          over: { node: 0 },
          body: [
            { kind: 'emit', input: { node: 'item' }, n: 2, required: true, ...F },
            { kind: 'fn', input: { node: 0 }, mul: 1, add: 2, skipOn: [], twoOutputs: false, ...F },
            { kind: 'fn', input: { node: 1 }, extra: { node: 'outer', index: 2 }, mul: 1, add: 3, skipOn: [], twoOutputs: false, ...F },
            { kind: 'collect', of: { node: 2 }, ...F },
          ],
        },
      ],
    },
    open: [],
  },
  {
    // fuzz seed 99, job 253 (npm run fuzz -- --runs 300 --seed 99 --no-two-dynamic-outputs)
    name: 'seed 99 #253: nested chained map using a collect of the outer dimension',
    model: {
      nodes: [
        { kind: 'emit', n: 4, required: false, failOn: [], flakyOn: [], retries: 0 },
        {
          kind: 'nest',
          over: { node: 0 },
          body: [
            { kind: 'fn', input: { node: 'item' }, mul: 3, add: 1, skipOn: [], twoOutputs: true, failOn: [], flakyOn: [7], retries: 0 },
            {
              kind: 'fn',
              input: { node: 0 },
              extra: { node: 'item' },
              mul: 8,
              add: 5,
              skipOn: [],
              twoOutputs: true,
              failOn: [],
              flakyOn: [],
              retries: 0,
            },
          ],
        },
        { kind: 'collect', of: { node: 1 }, failOn: [3], flakyOn: [2], retries: 0 },
        {
          kind: 'nest',
          over: { node: 1 },
          body: [
            { kind: 'emit', input: { node: 'item' }, n: 1, required: true, failOn: [], flakyOn: [3], retries: 0 },
            { kind: 'collect', of: { node: 0 }, failOn: [], flakyOn: [], retries: 2 },
          ],
        },
        { kind: 'fn', input: { node: 0 }, mul: 7, add: 3, skipOn: [], twoOutputs: false, failOn: [], flakyOn: [2], retries: 0 },
        { kind: 'const', value: 2 },
        {
          kind: 'nest',
          over: { node: 1 },
          body: [
            { kind: 'emit', input: { node: 'item' }, n: 4, required: true, failOn: [], flakyOn: [4], retries: 0 },
            { kind: 'fn', input: { node: 0 }, mul: 3, add: 2, skipOn: [], twoOutputs: false, failOn: [], flakyOn: [], retries: 0 },
            {
              kind: 'fn',
              input: { node: 1 },
              extra: { node: 'outer', index: 2 },
              mul: 9,
              add: 6,
              skipOn: [],
              twoOutputs: false,
              failOn: [9],
              flakyOn: [],
              retries: 1,
            },
            { kind: 'collect', of: { node: 2 }, failOn: [5], flakyOn: [], retries: 2 },
          ],
        },
      ],
    },
    open: [],
  },
];

const cases = regressions.map((r, i) => ({ ...r, case: makeCase(r.model, `mreg${i}`) }));
/** A hung run (batch mode above) counts as a mismatch after this long. */
const RUN_TIMEOUT_MS = 60_000;

describe('model-based regressions', () => {
  let harness: TemporalHarness;
  let taskQueueRun: <T>(body: (taskQueue: string) => Promise<T>) => Promise<T>;
  const results = new Map<string, Mismatch[]>();
  beforeAll(async () => {
    installRuntimeLogger(process.env.OPGRAPH_LOG_LEVEL ?? 'ERROR');
    harness = await TemporalHarness.connect();
    taskQueueRun = (body) =>
      harness.withWorker(
        cases.flatMap((c) => Object.values(c.case.jobs)),
        body,
      );
    await taskQueueRun(async (taskQueue) => {
      await Promise.all(
        cases.map(async (c: { case: GeneratedCase }) =>
          results.set(c.case.prefix, await runCase(harness.client, taskQueue, c.case, ['child', 'activity', 'batch'], RUN_TIMEOUT_MS)),
        ),
      );
    });
  }, 240_000);
  afterAll(async () => harness?.close());

  for (const c of cases) {
    for (const mode of ['child', 'activity', 'batch'] as const) {
      const test = c.open.includes(mode) ? it.fails : it;
      test(`${c.name} (${mode} mode) matches the reference`, () => {
        const mismatches = (results.get(c.case.prefix) ?? []).filter((m) => m.mode === mode);
        expect(mismatches, `job ${JSON.stringify(c.model)}`).toEqual([]);
      });
    }
  }
});
