/** Runs the keys of one dimension per its mode, within the map's window and the workflow's budget. */
import { BUDGET, EVENTS, stepEvents } from '../dsl/limits.ts';
import type { DimensionOptions } from '../dsl/plan.ts';
import type { ScopeResult } from '../dsl/protocol.ts';
import { childScope, keyNodes } from './geometry.ts';
import { dimensionBytes, keyBytes } from './inputSize.ts';
import type { ProgressSink } from './progress.ts';
import { Lanes, settleKey, waitsHere } from './redrive.ts';
import { hasUntoleratedFailure } from './tolerance.ts';
import type { DimensionRequest, KeyedScope, ScopeContext, ScopeEngine } from './types.ts';
import { forEachWindowed, mapGate, type WindowGate } from './window.ts';

/**
 * Inline keys (mode 'activity') without a promise per layer: the SDK captures a stack trace for every
 * promise workflow code creates, and a key's async layers (window lane, key scope, step, inputs, fit,
 * attempt) made that most of the workflow's CPU on big maps (bench/RESULTS.md, "Workflow CPU per key").
 * Fewer promises means fewer microtask ticks, so commands may come in another order than runs
 * recorded before it: those replay the async path.
 */
export const LEAN_KEYS_PATCH = 'opgraph-lean-inline-keys';

/**
 * Runs the given keys of one dimension per its mode — a child workflow per key, the key's steps as
 * activities of this workflow, or batches of keys per activity — within the map's sliding window
 * (`maxConcurrency`, a share of the budget) and the workflow's budget of pending commands.
 * `finished` receives each key's result with its index.
 */
export async function runKeyed(
  scope: Pick<ScopeContext, 'runId' | 'runConfig'>,
  engine: ScopeEngine,
  progress: ProgressSink,
  /** Runs one key's scope right here (mode 'activity'): the interpreter, passed in to keep this module below it. `lean`: see LEAN_KEYS_PATCH. */
  runInline: (scope: ScopeContext, lean: boolean) => Promise<ScopeResult>,
  request: DimensionRequest,
  keyed: readonly KeyedScope[],
  options: DimensionOptions,
  progressLabel: string,
  finished: (index: number, result: ScopeResult) => void,
): Promise<void> {
  const mode = options.mode ?? 'child';
  const perRequest = dimensionBytes(request.plan, scope.runConfig);
  const planned = options.maxConcurrency ?? BUDGET.defaultMapConcurrency;
  // The map's window, live-controlled where the host can (pause / resume / resize), fixed elsewhere.
  const dim = request.dim[request.dim.length - 1] ?? '';
  const window: number | WindowGate = engine.controls
    ? mapGate(engine.controls, dim, planned, (ready) => engine.waitUntil(ready))
    : planned;
  const done = (index: number, result: ScopeResult, countSteps: boolean) => {
    finished(index, result);
    if (countSteps) progress.childSteps(result.steps);
    progress.childFinished(
      progressLabel,
      Object.values(result.steps).some((r) => r.status === 'FAILURE'),
    );
  };
  // With onStepFailure 'wait' (job workflow only), a key that failed waits outside the window (its
  // siblings go on) and runs again, in the window's lanes for redriven keys, on each redrive.
  const waiting: Promise<void>[] = [];
  const redriveLanes = new Lanes(typeof window === 'number' ? () => window : () => window.limit(), (ready) => engine.waitUntil(ready));
  const settle = (
    index: number,
    item: KeyedScope,
    first: ScopeResult,
    events: number,
    again: (item: KeyedScope) => Promise<ScopeResult>,
  ) => {
    if (!waitsHere(engine, request, options, () => hasUntoleratedFailure(first), mode === 'activity'))
      return done(index, first, mode !== 'activity');
    waiting.push(
      settleKey(
        engine,
        first,
        events,
        (reusedParts, drive) => redriveLanes.run(() => again({ ...item, reusedParts, drive })),
        // Inline keys' steps were counted as they ended: the ones that run again are counted again.
        (result) => mode === 'activity' && progress.stepsRedriven?.(result.steps),
      ).then((result) => done(index, result, mode !== 'activity')),
    );
  };
  // A redriven inline key: its steps again, and the slice that loads what it keeps.
  const inlineEvents = keyNodes(request).reduce<number>((sum, node) => sum + stepEvents(node), EVENTS.activity);
  const runChild = (item: KeyedScope) => engine.budget.run('child', () => engine.runChild(request, item), perRequest + keyBytes(item));
  if (mode === 'batch') {
    const size = options.batchSize ?? BUDGET.defaultBatchSize;
    const batches = Array.from({ length: Math.ceil(keyed.length / size) }, (_, b) => keyed.slice(b * size, (b + 1) * size));
    await forEachWindowed(batches, window, async (batch, b) => {
      batch.forEach(() => progress.childStarted(progressLabel));
      const bytes = perRequest + batch.reduce((sum, item) => sum + keyBytes(item), 0);
      const batchResults = await engine.budget.run('activity', () => engine.runBatch(request, batch, b), bytes);
      // A redriven key runs alone, in a batch activity of its own.
      const again = (item: KeyedScope) =>
        engine.budget
          .run('activity', () => engine.runBatch(request, [item], b), perRequest + keyBytes(item))
          .then((results) => results[0] ?? { steps: {} });
      batchResults.forEach((result, i) => settle(b * size + i, batch[i] as KeyedScope, result, 2 * EVENTS.activity, again));
    });
  } else if (mode === 'activity' && engine.patched(LEAN_KEYS_PATCH)) {
    // The key's steps run as activities of this very workflow: no child, lower overhead.
    const inline = (again: KeyedScope) => runInline(childScope(scope, request, again), true);
    await forEachWindowed(keyed, window, (item, index) => {
      progress.childStarted(progressLabel);
      return inline(item).then((result) => settle(index, item, result, inlineEvents, inline));
    });
  } else {
    await forEachWindowed(keyed, window, async (item, index) => {
      progress.childStarted(progressLabel);
      if (mode === 'activity') {
        const inline = (again: KeyedScope) => runInline(childScope(scope, request, again), false);
        settle(index, item, await inline(item), inlineEvents, inline);
      } else {
        settle(index, item, await runChild(item), EVENTS.child + EVENTS.activity, runChild);
      }
    });
  }
  await Promise.all(waiting);
}
