/**
 * Sliding windows: a map's keys (or batches, or shards) run with at most `limit` pending at once,
 * started in item order. A window is fixed (a number) or controlled through a gate: paused (no new
 * item starts; those in flight finish), resumed, resized while it runs.
 */
import type { MapControls } from './control.ts';

/** A controllable window. */
export interface WindowGate {
  /** Most items pending at once now (at least 1). */
  limit(): number;
  /** No new item starts while paused. */
  paused(): boolean;
  /** Resolves once `ready()` holds (in a workflow: Temporal's `condition()`); only called while the gate holds a lane back. */
  wait(ready: () => boolean): Promise<void>;
  /** Calls `changed` when the gate's state changes (so a window that grew adds lanes); returns the unsubscribe. */
  onChange(changed: () => void): () => void;
}

/**
 * Runs `fn` over `items` with at most `window` calls pending at once (a sliding window), in item order.
 * With a gate that is never paused or resized this issues exactly what a fixed window does, tick for
 * tick: the gate is only waited on when it holds a lane back.
 */
export async function forEachWindowed<T>(
  items: readonly T[],
  window: number | WindowGate,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  const gate = typeof window === 'number' ? undefined : window;
  const initial = typeof window === 'number' ? window : window.limit();
  let next = 0;
  let active = 0;
  const open = (): boolean => gate === undefined || (!gate.paused() && active < Math.max(1, gate.limit()));
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      while (!open()) {
        await gate?.wait(() => open() || next >= items.length);
        if (next >= items.length) return;
      }
      const index = next++;
      active++;
      try {
        await fn(items[index] as T, index);
      } finally {
        active--;
      }
    }
  };
  const lanes = Array.from({ length: Math.min(Math.max(1, initial), items.length) }, lane);
  // A window that grows while it runs needs more lanes: started at once, in the gate's change.
  const stop = gate?.onChange(() => {
    while (lanes.length < Math.min(gate.limit(), items.length) && next < items.length) lanes.push(lane());
  });
  try {
    let awaited = lanes.length;
    await Promise.all(lanes);
    while (lanes.length > awaited) {
      const added = lanes.slice(awaited);
      awaited = lanes.length;
      await Promise.all(added);
    }
  } finally {
    stop?.();
  }
}

/** The gate of dimension `dim`'s window in a workflow with `controls`: its planned window unless resized, paused when paused. */
export function mapGate(controls: MapControls, dim: string, planned: number, wait: (ready: () => boolean) => Promise<void>): WindowGate {
  return {
    limit: () => controls.get(dim)?.maxConcurrency ?? planned,
    paused: () => controls.get(dim)?.paused ?? false,
    wait,
    onChange: (changed) => controls.watch((d) => d === dim && changed()),
  };
}

/** A gate that only pauses (a fixed number of lanes, e.g. shards in flight), with dimension `dim`. */
export function pauseGate(controls: MapControls, dim: string, limit: number, wait: (ready: () => boolean) => Promise<void>): WindowGate {
  return { ...mapGate(controls, dim, limit, wait), limit: () => limit };
}
