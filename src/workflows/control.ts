/**
 * Live control of running maps, in workflows: the job workflow takes `pause` / `resume` / `resize`
 * as Temporal Updates (validated: unknown maps, bad windows and finished maps are refused with the
 * choices there are), and every workflow forwards a change to the child and shard workflows that run
 * some of that map's keys, as a signal. Nothing here issues a command until a map is controlled.
 */
import { defineSignal, defineUpdate, getExternalWorkflowHandle, isCancellation, log, setHandler, sleep } from '@temporalio/workflow';
import { ApplicationFailure } from '@temporalio/workflow';
import { MAP_CONTROL } from '../dsl/constants.ts';
import { EVENTS } from '../dsl/limits.ts';
import type { JobPlan } from '../dsl/plan.ts';
import type { MapControl, MapControlState, MapControls } from '../engine/control.ts';
import { findMap, mapName, mapsOf, windowProblem, type MapAction, type MapControlReport, type MapControlRequest } from '../engine/maps.ts';
import { keysOf, type ProgressCounter } from '../engine/progress.ts';
import type { WorkflowBudget } from '../engine/budget.ts';
import { mapControlsProblem } from './guards.ts';

export const pauseMapUpdate = defineUpdate<MapControlReport, [MapControlRequest]>(MAP_CONTROL.pause);
export const resumeMapUpdate = defineUpdate<MapControlReport, [MapControlRequest]>(MAP_CONTROL.resume);
export const resizeMapUpdate = defineUpdate<MapControlReport, [MapControlRequest]>(MAP_CONTROL.resize);
export const mapControlSignal = defineSignal<[MapControlState]>(MAP_CONTROL.forward);

/** Failure type of a refused map-control update. */
export const MAP_CONTROL_REFUSED = 'OpgraphMapControlRefused';

/** Signals to other workflows in flight at once, over all targets (each target has at most one). */
const SIGNALS_IN_FLIGHT = 100;
/** A target that did not take a signal (not started yet) is tried again after this long, while it runs. */
const RETRY_MS = 1_000;

function refuse(message: string): never {
  throw ApplicationFailure.create({ type: MAP_CONTROL_REFUSED, message, nonRetryable: true });
}

/** The planned window of `dim` in a workflow running `plan` (a shard's plan holds its share). */
function plannedWindow(plan: JobPlan, dim: string): number {
  return mapsOf(plan).find((m) => m.id === dim)?.maxConcurrency ?? 0;
}

/**
 * Sends map controls to the child and shard workflows that run some of a map's keys: at most one
 * signal in flight per target (later changes wait and go together, newest state wins) and at most
 * SIGNALS_IN_FLIGHT overall, so a run never nears Temporal's limit on pending signals.
 */
export class ControlForwarder {
  private readonly pending = new Map<string, Record<string, MapControl>>();
  private readonly sending = new Set<string>();
  private readonly live = new Set<string>();
  private inFlight = 0;
  private readonly slotWaiters: (() => void)[] = [];
  constructor(private readonly budget: WorkflowBudget) {}

  /** `target` runs now: changes may be sent to it until `forget`. */
  follow(target: string): void {
    this.live.add(target);
  }

  forget(target: string): void {
    this.live.delete(target);
    this.pending.delete(target);
  }

  send(target: string, dim: string, control: MapControl): void {
    if (!this.live.has(target)) return;
    const queued = this.pending.get(target) ?? {};
    queued[dim] = control;
    this.pending.set(target, queued);
    if (!this.sending.has(target)) void this.flush(target);
  }

  private async flush(target: string): Promise<void> {
    this.sending.add(target);
    try {
      for (let batch = this.take(target); batch; batch = this.take(target)) await this.deliver(target, batch);
    } finally {
      this.sending.delete(target);
    }
  }

  private take(target: string): Record<string, MapControl> | undefined {
    const batch = this.pending.get(target);
    this.pending.delete(target);
    return this.live.has(target) ? batch : undefined;
  }

  /** Signals `target`; one that is not running yet (its start still in flight) is tried again while it is followed. */
  private async deliver(target: string, batch: Record<string, MapControl>): Promise<void> {
    for (;;) {
      await this.slot();
      try {
        this.budget.reserveEvents(EVENTS.signal);
        await getExternalWorkflowHandle(target).signal(mapControlSignal, batch);
        return;
      } catch (err) {
        if (isCancellation(err)) return;
        if (!this.live.has(target)) return;
        log.info(`map control not delivered to ${target} yet (${(err as Error).message}); trying again in ${RETRY_MS / 1000}s`);
      } finally {
        this.release();
      }
      await sleep(RETRY_MS).catch(() => undefined);
      if (!this.live.has(target)) return;
      // Newer changes queued meanwhile go along (newest state wins).
      Object.assign(batch, this.pending.get(target));
      this.pending.delete(target);
    }
  }

  private async slot(): Promise<void> {
    if (this.inFlight < SIGNALS_IN_FLIGHT) {
      this.inFlight++;
      return;
    }
    await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
  }

  private release(): void {
    const next = this.slotWaiters.shift();
    if (next) next();
    else this.inFlight--;
  }
}

/** Every workflow: shows its maps' controls in its progress (query and the UI's current details). */
export function reportControls(controls: MapControls, plan: JobPlan, progress: ProgressCounter): void {
  const show = (dim: string, control: MapControl) => {
    const planned = plannedWindow(plan, dim);
    progress.mapControlled(dim, { paused: control.paused, maxConcurrency: control.maxConcurrency ?? planned, planned });
  };
  for (const map of mapsOf(plan)) {
    const control = controls.get(map.id);
    if (control) show(map.id, control);
  }
  controls.watch(show);
}

/** Child and shard workflows: take the changes their parent forwards (applied as they come; signals cannot be refused). */
export function followControls(controls: MapControls): void {
  setHandler(mapControlSignal, (state: MapControlState) => {
    const problem = mapControlsProblem(state);
    if (problem) {
      log.warn(`ignored a malformed map control: ${problem}`);
      return;
    }
    for (const [dim, control] of Object.entries(state)) controls.set(dim, control);
  });
}

/** What the job workflow's map-control updates need; `plan` is undefined while a run started by name resolves it. */
export interface JobControlContext {
  readonly plan: () => JobPlan | undefined;
  readonly controls: () => MapControls | undefined;
  readonly progress: () => ProgressCounter | undefined;
  readonly budget: () => WorkflowBudget | undefined;
}

/** The parts a control needs, once the run knows its plan. */
interface Ready {
  readonly plan: JobPlan;
  readonly controls: MapControls;
  readonly budget: WorkflowBudget;
  readonly progress: ProgressCounter | undefined;
}

function ready(context: JobControlContext): Ready | undefined {
  const plan = context.plan();
  const controls = context.controls();
  const budget = context.budget();
  return plan && controls && budget ? { plan, controls, budget, progress: context.progress() } : undefined;
}

/** The job workflow: pause / resume / resize updates, each with a validator. */
export function acceptControls(context: JobControlContext): void {
  const handlers: Record<MapAction, typeof pauseMapUpdate> = { pause: pauseMapUpdate, resume: resumeMapUpdate, resize: resizeMapUpdate };
  for (const [action, update] of Object.entries(handlers) as [MapAction, typeof pauseMapUpdate][]) {
    setHandler(update, (request) => apply(context, action, request), {
      validator: (request: unknown) => validate(context, action, request),
      description: `${action} a running map of this job: ${action === 'resize' ? '{ map, maxConcurrency }' : '{ map }'}`,
    });
  }
}

function validate(context: JobControlContext, action: MapAction, raw: unknown): void {
  const run = ready(context);
  if (!run) refuse('this run is still resolving its plan (it was started by job name); try again in a moment');
  const { plan, controls, budget } = run;
  const request = raw as Partial<MapControlRequest> | null;
  if (typeof request !== 'object' || request === null || typeof request.map !== 'string') {
    refuse(
      `a ${action} request needs { map: "<map name>"${action === 'resize' ? ', maxConcurrency: <n>' : ''} }; got ${JSON.stringify(raw)}`,
    );
  }
  const map = findMap(plan, request.map);
  if ('problem' in map) refuse(map.problem);
  if (map.insideBatch) {
    const batch = map.outer.find((o) => plan.dimensions?.[o]?.mode === 'batch') ?? '';
    refuse(
      `map "${map.name}" runs inside the batch activities of map "${mapName(batch)}" (mode 'batch'), where its window is fixed; control "${mapName(batch)}" instead`,
    );
  }
  const top = map.outer[0] ?? map.id;
  if (controls.isFinished(top)) {
    const open = mapsOf(plan).filter((m) => !controls.isFinished(m.outer[0] ?? m.id) && !m.insideBatch);
    refuse(
      `map "${map.name}" has finished${top === map.id ? '' : ` (the map it is nested in, "${mapName(top)}", has)`}: there is nothing left to ${action}; ${
        open.length > 0 ? `maps still to run or running: ${open.map((m) => m.name).join(', ')}` : 'no map of this run is still running'
      }`,
    );
  }
  if (action === 'resize') {
    const problem = windowProblem(request.maxConcurrency);
    if (problem) refuse(`cannot resize map "${map.name}": ${problem}`);
  }
  // Forwarding costs this workflow's history a few events per workflow told: keep it within the budget.
  const targets = controls.followers(map.id);
  const events = targets * EVENTS.signal + EVENTS.update;
  if (targets > 0 && events > budget.freeEvents) {
    refuse(
      `${action} of map "${map.name}" would signal ${targets} workflows running its keys (~${events} history events) and this run's history has room for ${budget.freeEvents}; control the map it is nested in ("${mapName(top)}") instead`,
    );
  }
}

function apply(context: JobControlContext, action: MapAction, request: MapControlRequest): MapControlReport {
  const run = ready(context);
  const map = run && findMap(run.plan, request.map);
  if (!run || !map || 'problem' in map) throw ApplicationFailure.nonRetryable(`no map "${request.map}"`, MAP_CONTROL_REFUSED);
  const { controls, budget, progress } = run;
  const before = controls.get(map.id);
  const wasPaused = before?.paused ?? false;
  const previous = before?.maxConcurrency ?? map.maxConcurrency;
  const paused = action === 'pause' ? true : action === 'resume' ? false : wasPaused;
  const maxConcurrency = action === 'resize' ? (request.maxConcurrency ?? previous) : previous;
  budget.reserveEvents(EVENTS.update);
  const targets = controls.followers(map.id);
  controls.set(map.id, maxConcurrency === map.maxConcurrency ? { paused } : { paused, maxConcurrency });
  const keys = progress ? keysOf(progress.state, map.id) : undefined;
  return {
    map: map.name,
    dimension: map.id,
    action,
    paused,
    maxConcurrency,
    previousMaxConcurrency: previous,
    wasPaused,
    ...(keys ? keys : {}),
    forwarded: targets,
  };
}
