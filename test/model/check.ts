/**
 * Runs a ModelJob's opgraph jobs on a real server and compares each run with the reference:
 * run success, every step status, and every output of every op (values and yield order).
 */
import type { Client } from '@temporalio/client';
import { awaitRun, launchRun, OutputNotFoundError, type JobDefinition, type JobResult } from '../../src/index.ts';
import type { FanOutMode } from '../../src/dsl/plan.ts';
import type { ModelJob } from './ast.ts';
import { buildJobs, MODES } from './build.ts';
import { evaluate, type Expected } from './reference.ts';

export interface GeneratedCase {
  readonly prefix: string;
  readonly model: ModelJob;
  readonly jobs: Record<FanOutMode, JobDefinition>;
  readonly expected: Expected;
}

export function makeCase(model: ModelJob, prefix: string): GeneratedCase {
  return { prefix, model, jobs: buildJobs(model, prefix).jobs, expected: evaluate(model, prefix) };
}

export interface Mismatch {
  readonly mode: FanOutMode;
  readonly what: string;
  readonly expected: unknown;
  readonly actual: unknown;
}

/** `outputFor` of a keyed node: a Map in yield order (or, before that change, a plain object). */
function entriesOf(value: unknown): unknown {
  if (value instanceof Map) return [...value.entries()];
  if (value && typeof value === 'object' && !Array.isArray(value)) return Object.entries(value);
  return value;
}

const sorted = (r: Record<string, string>) => Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

export async function compare(result: JobResult, expected: Expected, mode: FanOutMode): Promise<Mismatch[]> {
  const out: Mismatch[] = [];
  if (result.success !== expected.success) out.push({ mode, what: 'success', expected: expected.success, actual: result.success });
  const actualStatuses = sorted(result.stepStatuses());
  const expectedStatuses = sorted(expected.statuses);
  if (JSON.stringify(actualStatuses) !== JSON.stringify(expectedStatuses)) {
    const keys = [...new Set([...Object.keys(actualStatuses), ...Object.keys(expectedStatuses)])].sort();
    const diff = keys
      .filter((k) => actualStatuses[k] !== expectedStatuses[k])
      .map((k) => `${k}: ${expectedStatuses[k] ?? 'absent'} → ${actualStatuses[k] ?? 'absent'}`);
    out.push({ mode, what: 'stepStatuses', expected: expectedStatuses, actual: diff });
  }
  for (const [node, byOutput] of expected.outputs) {
    for (const [output, exp] of byOutput) {
      const want = exp.entries.length === 0 ? 'missing' : exp.keyed ? exp.entries : exp.entries[0]![1];
      let got: unknown;
      try {
        got = entriesOf(await result.outputFor(node, output));
      } catch (err) {
        got = err instanceof OutputNotFoundError ? 'missing' : `throws ${String(err)}`;
      }
      if (JSON.stringify(got) !== JSON.stringify(want))
        out.push({ mode, what: `outputFor(${node}, ${output})`, expected: want, actual: got });
    }
  }
  return out;
}

/** Runs every mode of `c` concurrently on `taskQueue`; the mismatches of all modes. */
/** How long one run may take before it counts as hung (generated jobs finish in a few seconds). */
export const RUN_TIMEOUT_MS = 60_000;

export async function runCase(
  client: Client,
  taskQueue: string,
  c: GeneratedCase,
  modes: readonly FanOutMode[] = MODES,
  runTimeoutMs = RUN_TIMEOUT_MS,
): Promise<Mismatch[]> {
  const all = await Promise.all(
    modes.map(async (mode) => {
      try {
        const run = await launchRun(client, c.jobs[mode], { taskQueue });
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), runTimeoutMs)));
        const result = await Promise.race([awaitRun(run), timedOut]).finally(() => clearTimeout(timer));
        if (result === 'timeout') {
          await run.handle.terminate('model test: run did not finish in time').catch(() => {});
          return [
            { mode, what: 'run', expected: 'a result', actual: `no result after ${runTimeoutMs / 1000}s (terminated ${run.workflowId})` },
          ];
        }
        return await compare(result, c.expected, mode);
      } catch (err) {
        return [{ mode, what: 'run', expected: 'a result', actual: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }];
      }
    }),
  );
  return all.flat();
}

/** Runs `cases` with at most `concurrency` in flight; calls `onDone` per case. */
export async function runCases(
  client: Client,
  taskQueue: string,
  cases: readonly GeneratedCase[],
  concurrency: number,
  onDone: (c: GeneratedCase, mismatches: Mismatch[]) => void = () => {},
  runTimeoutMs = RUN_TIMEOUT_MS,
): Promise<Map<string, Mismatch[]>> {
  const results = new Map<string, Mismatch[]>();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, cases.length) }, async () => {
      while (next < cases.length) {
        const c = cases[next++]!;
        const m = await runCase(client, taskQueue, c, MODES, runTimeoutMs);
        results.set(c.prefix, m);
        onDone(c, m);
      }
    }),
  );
  return results;
}
