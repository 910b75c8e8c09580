/**
 * Live control of running maps (DESIGN §4 "pause / resume / resize of a running map"): a map may be
 * paused (no new key starts; keys in flight finish), resumed, and its window (`maxConcurrency`)
 * changed. One `MapControls` per workflow holds the state of every map it was told about; a map's
 * window reads it through a gate (src/engine/window.ts), and workflows that run some of a map's keys
 * elsewhere (a child running a key whose scope holds a nested map, a shard running a slice of the
 * map) get the state in their input and every later change forwarded (a signal in Temporal).
 *
 * A map never controlled has no entry anywhere: its workflows issue exactly the commands they did
 * before controls existed. Deterministic, host-neutral: no timers, no Temporal.
 */
import type { DimensionRequest } from './types.ts';

/** A map's control state; a field left out means "as planned". */
export interface MapControl {
  readonly paused: boolean;
  /** The map's window when resized (for a shard: its share of the window). */
  readonly maxConcurrency?: number;
}

/** Per dimension id, as carried in a child's or shard's input and in forwarded changes. */
export type MapControlState = Readonly<Record<string, MapControl>>;

type Listener = (dim: string, control: MapControl) => void;

/** The control state of the maps one workflow knows about, and who follows its changes. */
export class MapControls {
  private readonly states = new Map<string, MapControl>();
  private readonly listeners = new Set<Listener>();
  /** Workflows running some of this workflow's keys elsewhere, with the maps they run keys of. */
  private readonly feeds = new Set<{ readonly dims: ReadonlySet<string>; readonly send: Listener }>();
  /** Top-level dimensions of this workflow whose keys have all run (reported by the job's interpreter). */
  private readonly finished = new Set<string>();

  constructor(initial?: MapControlState) {
    for (const [dim, control] of Object.entries(initial ?? {})) this.states.set(dim, control);
  }

  get(dim: string): MapControl | undefined {
    return this.states.get(dim);
  }

  /** Whether any map is controlled here at all. */
  get controlled(): boolean {
    return this.states.size > 0;
  }

  /** Sets a map's state: its windows here react, then every workflow running some of its keys is told (in the order they started). */
  set(dim: string, control: MapControl): void {
    this.states.set(dim, control);
    for (const listener of [...this.listeners]) listener(dim, control);
    for (const feed of [...this.feeds]) if (feed.dims.has(dim)) feed.send(dim, control);
  }

  /** How many workflows running some of `dim`'s keys elsewhere would be told of a change. */
  followers(dim: string): number {
    let count = 0;
    for (const feed of this.feeds) if (feed.dims.has(dim)) count++;
    return count;
  }

  /** Calls `listener` on every later change; the returned function stops it. */
  watch(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  markFinished(dim: string): void {
    this.finished.add(dim);
  }

  isFinished(dim: string): boolean {
    return this.finished.has(dim);
  }

  /**
   * What a workflow running some of this workflow's keys elsewhere is told: the state of `dims` at
   * its start (undefined when none is controlled, so uncontrolled inputs stay as they were) and
   * each later change of them. `share` turns a state into the receiver's view (a shard's window).
   */
  feed(dims: ReadonlySet<string>, share: (dim: string, control: MapControl) => MapControl = (_d, c) => c): ControlFeed {
    let initial: Record<string, MapControl> | undefined;
    for (const dim of dims) {
      const control = this.states.get(dim);
      if (control) (initial ??= {})[dim] = share(dim, control);
    }
    return {
      initial,
      follow: (send) => {
        if (dims.size === 0) return () => {};
        const feed = { dims, send: (dim: string, control: MapControl) => send(dim, share(dim, control)) };
        this.feeds.add(feed);
        return () => this.feeds.delete(feed);
      },
    };
  }
}

/** A child's or shard's view of the controls of the maps it runs keys of. */
export interface ControlFeed {
  /** The state at its start, for its input; undefined when none of its maps is controlled. */
  readonly initial: MapControlState | undefined;
  /** Calls `send` with each later change, until the returned function is called. */
  follow(send: (dim: string, control: MapControl) => void): () => void;
}

/** A window shared by `sharing` shards in flight: each gets its part, as runShards splits the planned window. */
export function windowShare(window: number, sharing: number): number {
  return Math.max(1, Math.ceil(window / Math.max(1, sharing)));
}

/** Dimensions whose keys a child of `request` (one key of its dimension) runs below itself. */
export function dimensionsInChild(request: DimensionRequest): Set<string> {
  return dimensionsFrom(request, request.dim.length);
}

/** Dimensions whose keys a shard of `request` runs: its own dimension and those below it. */
export function dimensionsInShard(request: DimensionRequest): Set<string> {
  return dimensionsFrom(request, request.dim.length - 1);
}

function dimensionsFrom(request: DimensionRequest, level: number): Set<string> {
  const dims = new Set<string>();
  for (const node of request.plan.nodes) for (const dim of node.dim.slice(level)) dims.add(dim);
  return dims;
}

/** The feed for a shard of `request`, `sharing` the map's window with the other shards in flight. */
export function shardFeed(controls: MapControls, request: DimensionRequest, sharing: number): ControlFeed {
  const own = request.dim[request.dim.length - 1];
  return controls.feed(dimensionsInShard(request), (dim, control) =>
    dim === own && control.maxConcurrency !== undefined
      ? { ...control, maxConcurrency: windowShare(control.maxConcurrency, sharing) }
      : control,
  );
}
