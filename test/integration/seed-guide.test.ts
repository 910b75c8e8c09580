/**
 * The Dagster guide's "Advanced mapping examples" (shared/seeds/dagster-dynamic-graphs-guide.txt),
 * ported in examples/guide-advanced.ts, run on the suite's real Temporal server. Expected values are
 * what the Python jobs produce (reference/dagster-semantics.md §7, scenarios 3–7).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chained, chainedAlt, guideAdvancedJobs, multiple, otherArg, returnDynamicJob } from '../../examples/guide-advanced.ts';
import type { JobResult } from '../../src/client/result.ts';
import { awaitRun, launchRun, type LaunchedRun } from '../../src/client/run.ts';
import type { JobDefinition } from '../../src/dsl/job.ts';
import { TemporalHarness } from './harness.ts';

type Runs = Record<string, { run: LaunchedRun; result: JobResult }>;

const sorted = (keys: Iterable<string>) => [...keys].sort();

describe('Dagster guide: advanced mapping examples on a real Temporal server', () => {
  let harness: TemporalHarness;
  let runs: Runs;

  const resultOf = (job: JobDefinition): JobResult => {
    const entry = runs[job.name];
    if (!entry) throw new Error(`no run for ${job.name}`);
    return entry.result;
  };

  /** Activity types scheduled by one workflow, in order. */
  const scheduledActivities = async (workflowId: string): Promise<string[]> => {
    const history = await harness.client.workflow.getHandle(workflowId).fetchHistory();
    return (history.events ?? []).flatMap((e) => {
      const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
      return name ? [name] : [];
    });
  };

  beforeAll(async () => {
    harness = await TemporalHarness.connect();
    // One worker serves all five jobs; the runs go concurrently.
    runs = await harness.withWorker(guideAdvancedJobs, async (taskQueue) => {
      const done = await Promise.all(
        guideAdvancedJobs.map(async (job) => {
          const run = await launchRun(harness.client, job, { taskQueue });
          return [job.name, { run, result: await awaitRun(run) }] as const;
        }),
      );
      return Object.fromEntries(done);
    });
  });
  afterAll(async () => harness?.close());

  describe('return_dynamic: DynamicOutputs returned as a list', () => {
    it('gives {"1": "foo"} from get_pages()', async () => {
      const result = resultOf(returnDynamicJob);
      expect(result.success).toBe(true);
      expect(await result.outputFor('return_dynamic')).toEqual(new Map([['1', 'foo']]));
      expect(result.stepStatuses()).toEqual({ return_dynamic: 'SUCCESS' });
    });
  });

  describe('chained: dynamic_values().map(echo).map(echo).map(echo)', () => {
    it('sums the collected values: process == 1', async () => {
      const result = resultOf(chained);
      expect(result.success).toBe(true);
      expect(await result.outputFor('process')).toBe(1);
    });

    it('auto-aliases the three echos echo, echo_2, echo_3, each fed by the previous one', () => {
      expect(chained.plan.nodes.map((n) => ({ id: n.id, op: n.op, dim: n.dim, inputs: n.inputs }))).toEqual([
        { id: 'dynamic_values', op: 'dynamic_values', dim: [], inputs: [] },
        {
          id: 'echo',
          op: 'echo',
          dim: ['dynamic_values:result'],
          inputs: [{ name: 'x', source: { kind: 'item', node: 'dynamic_values', output: 'result' } }],
        },
        {
          id: 'echo_2',
          op: 'echo',
          dim: ['dynamic_values:result'],
          inputs: [{ name: 'x', source: { kind: 'output', node: 'echo', output: 'result' } }],
        },
        {
          id: 'echo_3',
          op: 'echo',
          dim: ['dynamic_values:result'],
          inputs: [{ name: 'x', source: { kind: 'output', node: 'echo_2', output: 'result' } }],
        },
        {
          id: 'process',
          op: 'process',
          dim: [],
          inputs: [{ name: 'results', source: { kind: 'collect', node: 'echo_3', output: 'result' } }],
        },
      ]);
    });

    it('runs one step per echo per key: echo[num_0], echo_2[num_0], echo_3[num_1], …', async () => {
      const result = resultOf(chained);
      expect(sorted(Object.keys(result.stepStatuses()))).toEqual(
        sorted(['dynamic_values', 'process', ...['echo', 'echo_2', 'echo_3'].flatMap((node) => [`${node}[num_0]`, `${node}[num_1]`])]),
      );
      expect(new Set(Object.values(result.stepStatuses()))).toEqual(new Set(['SUCCESS']));
      expect(result.stepKeysOf('echo_2')).toEqual(['echo_2[num_0]', 'echo_2[num_1]']);
      for (const node of ['echo', 'echo_2', 'echo_3']) {
        const values = (await result.outputFor(node)) as Map<string, number>;
        // Yield order.
        expect([...values]).toEqual([
          ['num_0', 0],
          ['num_1', 1],
        ]);
      }
      expect([...((await result.outputFor('dynamic_values')) as Map<string, number>)]).toEqual([
        ['num_0', 0],
        ['num_1', 1],
      ]);
    });
  });

  describe('chained_alt: the same chain through one _for_each callable', () => {
    it('traces to the same plan as chained (apart from the job name)', () => {
      expect(chainedAlt.plan.nodes).toEqual(chained.plan.nodes);
      expect({ ...chainedAlt.plan, job: 'chained' }).toEqual(chained.plan);
    });

    it('produces the same results and steps as chained', async () => {
      const alt = resultOf(chainedAlt);
      const base = resultOf(chained);
      expect(alt.success).toBe(true);
      expect(await alt.outputFor('process')).toBe(1);
      expect(alt.stepStatuses()).toEqual(base.stepStatuses());
      for (const node of ['dynamic_values', 'echo', 'echo_2', 'echo_3', 'process']) {
        expect(await alt.outputFor(node)).toEqual(await base.outputFor(node));
      }
    });
  });

  describe('other_arg: a static output passed alongside each item', () => {
    it('adds one() to every value: add == {num_0: 1, num_1: 2}', async () => {
      const result = resultOf(otherArg);
      expect(result.success).toBe(true);
      expect(await result.outputFor('add')).toEqual(
        new Map([
          ['num_0', 1],
          ['num_1', 2],
        ]),
      );
      expect(await result.outputFor('one')).toBe(1);
    });

    it('runs one exactly once, outside the map: step key "one", no "one[...]"', async () => {
      const result = resultOf(otherArg);
      expect(sorted(Object.keys(result.stepStatuses()))).toEqual(sorted(['one', 'dynamic_values', 'add[num_0]', 'add[num_1]']));
      expect(result.stepKeysOf('one')).toEqual(['one']);
      expect(otherArg.plan.nodes.find((n) => n.id === 'one')?.dim).toEqual([]);
      expect(otherArg.plan.nodes.find((n) => n.id === 'add')?.inputs).toEqual([
        { name: 'a', source: { kind: 'item', node: 'dynamic_values', output: 'result' } },
        { name: 'b', source: { kind: 'output', node: 'one', output: 'result' } },
      ]);
    });

    it('schedules the one activity once in the whole run (job workflow and per-key children)', async () => {
      const workflowId = runs[otherArg.name]?.run.workflowId ?? '';
      const top = await scheduledActivities(workflowId);
      const children = await Promise.all(['num_0', 'num_1'].map((k) => scheduledActivities(`${workflowId}/dynamic_values[${k}]`)));
      expect(sorted(top)).toEqual(['dynamic_values', 'one']);
      expect(children).toEqual([['add'], ['add']]);
    });
  });

  describe('multiple: two dynamic outputs, unpacked by position and by name', () => {
    it('names the nodes as Dagster does, aliasing the second invocation', () => {
      expect(multiple.plan.nodes.map((n) => ({ id: n.id, op: n.op, dim: n.dim, inputs: n.inputs }))).toEqual([
        { id: 'multiple_dynamic_values', op: 'multiple_dynamic_values', dim: [], inputs: [] },
        {
          id: 'process',
          op: 'process',
          dim: [],
          inputs: [{ name: 'results', source: { kind: 'collect', node: 'multiple_dynamic_values', output: 'values' } }],
        },
        {
          id: 'echo',
          op: 'echo',
          dim: ['multiple_dynamic_values:negatives'],
          inputs: [{ name: 'x', source: { kind: 'item', node: 'multiple_dynamic_values', output: 'negatives' } }],
        },
        {
          id: 'process_2',
          op: 'process',
          dim: [],
          inputs: [{ name: 'results', source: { kind: 'collect', node: 'echo', output: 'result' } }],
        },
        { id: 'multiple_dynamic_values_2', op: 'multiple_dynamic_values', dim: [], inputs: [] },
        {
          id: 'process_3',
          op: 'process',
          dim: [],
          inputs: [{ name: 'results', source: { kind: 'collect', node: 'multiple_dynamic_values_2', output: 'values' } }],
        },
        {
          id: 'echo_2',
          op: 'echo',
          dim: ['multiple_dynamic_values_2:negatives'],
          inputs: [{ name: 'x', source: { kind: 'item', node: 'multiple_dynamic_values_2', output: 'negatives' } }],
        },
        {
          id: 'process_4',
          op: 'process',
          dim: [],
          inputs: [{ name: 'results', source: { kind: 'collect', node: 'echo_2', output: 'result' } }],
        },
      ]);
    });

    it('gives process == 1, process_2 == -1, process_3 == 1, process_4 == -1', async () => {
      const result = resultOf(multiple);
      expect(result.success).toBe(true);
      expect(await result.outputFor('process')).toBe(1);
      expect(await result.outputFor('process_2')).toBe(-1);
      expect(await result.outputFor('process_3')).toBe(1);
      expect(await result.outputFor('process_4')).toBe(-1);
    });

    it('yields both outputs with their own keys, and maps echo over the negatives only', async () => {
      const result = resultOf(multiple);
      for (const node of ['multiple_dynamic_values', 'multiple_dynamic_values_2']) {
        expect(await result.outputFor(node, 'values')).toEqual(
          new Map([
            ['num_0', 0],
            ['num_1', 1],
          ]),
        );
        expect(await result.outputFor(node, 'negatives')).toEqual(
          new Map([
            ['neg_0', 0],
            ['neg_1', -1],
          ]),
        );
      }
      for (const node of ['echo', 'echo_2']) {
        expect(await result.outputFor(node)).toEqual(
          new Map([
            ['neg_0', 0],
            ['neg_1', -1],
          ]),
        );
      }
      expect(result.stepKeysOf('echo')).toEqual(['echo[neg_0]', 'echo[neg_1]']);
      expect(result.stepKeysOf('echo_2')).toEqual(['echo_2[neg_0]', 'echo_2[neg_1]']);
      expect(sorted(Object.keys(result.stepStatuses()))).toEqual(
        sorted([
          'multiple_dynamic_values',
          'multiple_dynamic_values_2',
          'process',
          'process_2',
          'process_3',
          'process_4',
          'echo[neg_0]',
          'echo[neg_1]',
          'echo_2[neg_0]',
          'echo_2[neg_1]',
        ]),
      );
      expect(new Set(Object.values(result.stepStatuses()))).toEqual(new Set(['SUCCESS']));
    });
  });
});
