/**
 * Port of the "Dynamic outputs vs Python parallelism" example:
 * shared/seeds/example-dynamic-outputs-vs-python-parallelism.txt.
 *
 * The same work — 26 one-second units, one per letter a..z, each returning the letter upper-cased —
 * done two ways:
 *
 * - Solution 1, dynamic outputs (seed job `dynamic_graph`, here `dynamic_outputs`): `load_pieces`
 *   yields one DynamicOutput per letter, `compute_piece` runs once per letter as its own durable
 *   step (its own child workflow and activity), `merge_and_analyze` gets the collected list.
 *   Full per-letter visibility and retry; per-step overhead.
 * - Solution 2, parallelism inside one op (seed job `python_parallelism`): one op runs the 26 units
 *   on a pool of `cpu count - 1` workers (the seed uses multiprocessing.Pool; here Node worker
 *   threads) and returns the list. One step, no per-letter visibility or retry.
 *
 * Names: op names are Temporal activity types, unique across all examples, and `dynamic-graph.ts`
 * already has different ops named `load_pieces`, `compute_piece`, `merge_and_analyze` and a job named
 * `dynamic_graph`. So this example's ops carry a `letters_` prefix and the seed's `dynamic_graph` job
 * is named `dynamic_outputs` (the seed's module name). `load_and_process_pieces` and
 * `python_parallelism` keep their seed names. Both seed modules define the same `merge_and_analyze`;
 * here both jobs share one op.
 */
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { z } from 'zod';
import { Definitions, DynamicOut, DynamicOutput, job, op } from 'opgraph';

/** `[chr(i) for i in range(ord("a"), ord("z") + 1)]`. */
function lettersAToZ(): string[] {
  return Array.from({ length: 26 }, (_, i) => String.fromCharCode('a'.charCodeAt(0) + i));
}

/** How Python prints a list of strings, for log lines that match the seed's. */
function pyStrList(items: readonly string[]): string {
  return `[${items.map((s) => `'${s}'`).join(', ')}]`;
}

// ---------------------------------------------------------------------------------------------
// Solution 1: dynamic outputs (seed: dynamic_vs_parallel/dynamic_outputs.py)
// ---------------------------------------------------------------------------------------------

export const loadPieces = op({ name: 'letters_load_pieces', out: new DynamicOut<string>() }, async function* (ctx) {
  const piecesToProcess = lettersAToZ(); // list a-z
  ctx.log.info(`Will process... ${pyStrList(piecesToProcess)}`);
  // creates an output per letter, chunking is also possible
  for (const piece of piecesToProcess) {
    yield new DynamicOutput(piece, { mappingKey: piece });
  }
});

/** `time.sleep(1)`, as a timer that cancellation (ctx.signal) interrupts, so a cancelled run stops at once. */
export const computePiece = op({ name: 'letters_compute_piece' }, async (ctx, pieceToCompute: string) => {
  await sleep(1000, undefined, { signal: ctx.signal });
  return pieceToCompute.toUpperCase();
});

/** Shared by both jobs, as in the seed. Returns nothing (Dagster: an Output of None). */
export const mergeAndAnalyze = op({ name: 'letters_merge_and_analyze' }, async (ctx, computedPieces: string[]) => {
  ctx.log.info(`Finished processing, result is ... ${pyStrList(computedPieces)}`);
  return;
});

export const dynamicOutputs = job({ name: 'dynamic_outputs' }, () => {
  const pieces = loadPieces();
  const results = pieces.map(computePiece);
  mergeAndAnalyze(results.collect());
});

// ---------------------------------------------------------------------------------------------
// Solution 2: parallelism inside one op (seed: dynamic_vs_parallel/python_parallelism.py)
// ---------------------------------------------------------------------------------------------

/** What a pooled function may use besides its item (it runs in a worker thread, with no closure). */
export interface WorkerTools {
  /** Blocks the worker thread for `ms` (Atomics.wait); throws at once when the op is cancelled. */
  sleep(ms: number): void;
}

/**
 * The seed's module-level `compute_piece`, run in a worker thread. The seed's unit is purely a sleep,
 * so what matters is that the 26 sleeps really run in parallel: each worker thread blocks itself for
 * one second with Atomics.wait (a real, thread-blocking sleep, like time.sleep in a pool process), so
 * N threads finish 26 units in ceil(26 / N) seconds — it is not Promise.all over timers on one thread.
 */
export function computePieceInWorker(pieceToCompute: string, tools: WorkerTools): string {
  tools.sleep(1000);
  return pieceToCompute.toUpperCase();
}

/** Pool size when not configured: the seed's `multiprocessing.cpu_count() - 1`, but at least 1. */
export function defaultPoolSize(): number {
  return Math.max(1, availableParallelism() - 1);
}

const LoadAndProcessConfig = z
  .object({
    /** Worker threads in the pool. Default: CPU count - 1 (at least 1), as the seed sizes its Pool. */
    num_threads: z.number().int().positive().optional(),
  })
  .optional();

export const loadAndProcessPieces = op({ name: 'load_and_process_pieces', config: LoadAndProcessConfig }, async (ctx) => {
  const piecesToProcess = lettersAToZ(); // list a-z
  ctx.log.info(`Will process... ${pyStrList(piecesToProcess)}`);
  const numThreads = ctx.opConfig?.num_threads ?? defaultPoolSize();
  // pool.map(compute_piece, pieces_to_process): results in input order.
  return mapInWorkerThreads(computePieceInWorker, piecesToProcess, { threads: numThreads, signal: ctx.signal });
});

export const pythonParallelism = job({ name: 'python_parallelism' }, () => {
  mergeAndAnalyze(loadAndProcessPieces());
});

export const defs = new Definitions({ jobs: [dynamicOutputs, pythonParallelism] });

// ---------------------------------------------------------------------------------------------
// A small worker-thread pool: the Node counterpart of multiprocessing.Pool(n).map(fn, items)
// ---------------------------------------------------------------------------------------------

/**
 * The worker's code: plain JavaScript evaluated in each thread (so it needs no TypeScript loader,
 * under tsx or vitest alike). It rebuilds the pooled function from its source text and runs items
 * as they arrive. `__name` is a no-op stand-in for the helper that tsx/esbuild's keepNames inserts
 * into function bodies.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const cancelled = new Int32Array(workerData.cancel);
const fn = new Function('__name', 'return (' + workerData.fn + ');')((f) => f);
const tools = {
  sleep(ms) {
    if (Atomics.wait(cancelled, 0, 0, ms) !== 'timed-out') throw new Error('cancelled');
  },
};
parentPort.on('message', ({ index, item }) => {
  try {
    parentPort.postMessage({ index, ok: true, value: fn(item, tools) });
  } catch (err) {
    parentPort.postMessage({ index, ok: false, error: err instanceof Error ? err.stack || err.message : String(err) });
  }
});
`;

type WorkerReply = { index: number; ok: true; value: unknown } | { index: number; ok: false; error: string };

export interface PoolOptions {
  /** Worker threads to start (capped at the number of items, at least 1). */
  threads: number;
  /** Aborting wakes every sleeping worker, stops the pool and rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Runs `fn(item)` for every item on `threads` worker threads; results in input order, like
 * `Pool.map`. `fn` must be self-contained — it is sent to the threads as source text, so it may use
 * only its arguments and globals (the counterpart of multiprocessing's rule that the function be
 * picklable, i.e. defined at module level).
 */
export async function mapInWorkerThreads<T, R>(
  fn: (item: T, tools: WorkerTools) => R,
  items: readonly T[],
  options: PoolOptions,
): Promise<R[]> {
  const { signal } = options;
  signal?.throwIfAborted();
  if (items.length === 0) return [];
  const cancel = new Int32Array(new SharedArrayBuffer(4));
  const size = Math.max(1, Math.min(options.threads, items.length));
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from(
    { length: size },
    () => new Worker(WORKER_SOURCE, { eval: true, workerData: { fn: fn.toString(), cancel: cancel.buffer } }),
  );
  let rejectAll: (reason: unknown) => void = () => {};
  const aborted = new Promise<never>((_, reject) => {
    rejectAll = reject;
  });
  const onAbort = () => {
    Atomics.store(cancel, 0, 1);
    Atomics.notify(cancel, 0);
    rejectAll(signal?.reason);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const drained = workers.map(
      (worker) =>
        new Promise<void>((resolve, reject) => {
          const feed = () => {
            if (next >= items.length) return resolve();
            const index = next++;
            worker.postMessage({ index, item: items[index] });
          };
          worker.on('message', (reply: WorkerReply) => {
            if (!reply.ok) return reject(new Error(`item ${reply.index} failed in a worker thread: ${reply.error}`));
            results[reply.index] = reply.value as R;
            feed();
          });
          worker.on('error', reject);
          worker.on('exit', (code) => reject(new Error(`a worker thread exited early (code ${code})`)));
          feed();
        }),
    );
    await Promise.race([Promise.all(drained), aborted]);
    return results;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
