/**
 * The maps of a plan as people name them (`load_pieces`, `split:extra`), and the checks a request to
 * pause, resume or resize one must pass. Pure: the job workflow's update validators, the client and
 * the CLI all use it.
 */
import { MAP_OPTION_BOUNDS, BUDGET } from '../dsl/limits.ts';
import { parseDimensionId } from '../dsl/keys.ts';
import type { FanOutMode, JobPlan } from '../dsl/plan.ts';

/** One map (dynamic dimension) of a plan. */
export interface MapInfo {
  /** Dimension id, `load_pieces:result`. */
  readonly id: string;
  /** How people name it: the fan-out node, plus `:output` when the output is not `result`. */
  readonly name: string;
  /** Enclosing maps, outermost first (empty for a map of the job's top level). */
  readonly outer: readonly string[];
  readonly mode: FanOutMode;
  /** The window it was planned with. */
  readonly maxConcurrency: number;
  /** Nested in a batch-mode map: its keys run inside batch activities, where windows are fixed. */
  readonly insideBatch: boolean;
}

/** `load_pieces` for `load_pieces:result`, else the id itself (`split:extra`). */
export function mapName(dim: string): string {
  const { node, output } = parseDimensionId(dim);
  return output === 'result' ? node : dim;
}

/** Every map of `plan`, outer maps before the maps nested in them, in plan order. */
export function mapsOf(plan: JobPlan): MapInfo[] {
  const maps = new Map<string, MapInfo>();
  for (const node of plan.nodes) {
    node.dim.forEach((id, level) => {
      if (maps.has(id)) return;
      const outer = node.dim.slice(0, level);
      const options = plan.dimensions?.[id] ?? {};
      maps.set(id, {
        id,
        name: mapName(id),
        outer,
        mode: options.mode ?? 'child',
        maxConcurrency: options.maxConcurrency ?? BUDGET.defaultMapConcurrency,
        insideBatch: outer.some((o) => plan.dimensions?.[o]?.mode === 'batch'),
      });
    });
  }
  return [...maps.values()];
}

/** `load_pieces, split:extra, inner (in load_pieces)`: the maps to choose from, for messages. */
export function mapChoices(maps: readonly MapInfo[]): string {
  return maps.map((m) => (m.outer.length > 0 ? `${m.name} (in ${m.outer.map(mapName).join(' → ')})` : m.name)).join(', ');
}

/** The map `name` means (a name as above, or a dimension id), or why there is none. */
export function findMap(plan: JobPlan, name: string): MapInfo | { problem: string } {
  const maps = mapsOf(plan);
  const wanted = name.trim();
  const found = maps.find((m) => m.name === wanted || m.id === wanted);
  if (found) return found;
  if (maps.length === 0)
    return { problem: `job "${plan.job}" has no maps (no DynamicOut of it is mapped), so there is nothing to control` };
  return { problem: `job "${plan.job}" has no map "${wanted}"; its maps: ${mapChoices(maps)}` };
}

/** Why `maxConcurrency` is not a window a map may be resized to, or undefined. */
export function windowProblem(maxConcurrency: unknown): string | undefined {
  const max = MAP_OPTION_BOUNDS.maxConcurrency;
  if (typeof maxConcurrency === 'number' && Number.isSafeInteger(maxConcurrency) && maxConcurrency >= 1 && maxConcurrency <= max)
    return undefined;
  return `maxConcurrency must be a whole number from 1 to ${max} (a map's window is a share of its workflow's budget); got ${JSON.stringify(maxConcurrency)}`;
}

export type MapAction = 'pause' | 'resume' | 'resize';

/** What the client sends with each map-control update. */
export interface MapControlRequest {
  /** The map: its name (`load_pieces`, `split:extra`) or dimension id. */
  readonly map: string;
  /** The new window (resize only). */
  readonly maxConcurrency?: number;
}

/** What a map-control update answers: the map's state after it. */
export interface MapControlReport {
  readonly map: string;
  readonly dimension: string;
  readonly action: MapAction;
  readonly paused: boolean;
  /** Its window now, and before this request. */
  readonly maxConcurrency: number;
  readonly previousMaxConcurrency: number;
  readonly wasPaused: boolean;
  /** Keys (or batches) of it running now and waiting to start, where the job workflow runs them itself. */
  readonly inFlight?: number;
  readonly waiting?: number;
  /** Workflows told about the change (children or shards running its keys). */
  readonly forwarded: number;
}
