/**
 * Which failures of a finished run its maps' `toleratedFailures` covered, read from the run's step
 * records and its plan. The rule is the interpreter's (src/engine/tolerance.ts, src/dsl/tolerance.ts):
 * a key of a map failed when it holds a FAILURE that no map inside it tolerated; a map within its
 * tolerance covers every failure of its keys. Records stored before their map decided carry no
 * mark, so the client counts again from all records, innermost maps first.
 */
import { parseDimensionId } from '../dsl/keys.ts';
import type { JobPlan } from '../dsl/plan.ts';
import type { StepRecord } from '../dsl/protocol.ts';
import { exceedsTolerance, mapLabel, type ToleratedFailures, toleranceMessage } from '../dsl/tolerance.ts';

/** One step failure: where, its stable type, the class of what the op threw, its message. */
export interface StepFailure {
  readonly stepKey: string;
  /** Stable failure type: `OpUserError` when the op's code threw, `OpValidationError`, `Timeout`… */
  readonly type: string;
  /** Class of what the op's code threw (`RangeError`, a user-defined class); absent for other failures. */
  readonly errorClass?: string;
  readonly message: string;
}

/** One failed key of a map: its mapping key and the failed steps it holds (its own and those of maps inside it). */
export interface FailedKey {
  readonly key: string;
  readonly failures: readonly StepFailure[];
}

/** The failed keys of one map with `toleratedFailures` (one per outer key for a nested map). */
export interface MapFailures {
  /** The map, named by its fan-out's step key: `keys`, `inner[a]` nested, `split:evens` for an output other than `result`. */
  readonly map: string;
  /** The fan-out op's node, its dynamic output, and the outer mapping keys of a nested map. */
  readonly node: string;
  readonly output: string;
  readonly outerKeys: readonly string[];
  readonly tolerance: ToleratedFailures;
  /** How many keys the map has. */
  readonly keys: number;
  /** The failed keys, in yield order. */
  readonly failedKeys: readonly FailedKey[];
  /** More failed keys than the tolerance allows: these failures failed the run. */
  readonly exceeded: boolean;
  /** `map over "keys": 3 of 40 keys failed, within its toleratedFailures { count: 3 } (at most 3)`. */
  readonly message: string;
}

export function stepFailure(stepKey: string, record: StepRecord): StepFailure {
  return {
    stepKey,
    type: record.error?.type ?? 'Error',
    ...(record.error?.errorClass ? { errorClass: record.error.errorClass } : {}),
    message: record.error?.message ?? '',
  };
}

/**
 * Every map with `toleratedFailures` that had failed keys, and the step keys of the failures they
 * tolerated. Without the plan, the marks the workflow left on the records are all there is.
 */
export function mapFailures(
  plan: JobPlan | undefined,
  steps: Readonly<Record<string, StepRecord>>,
): { maps: MapFailures[]; tolerated: ReadonlySet<string> } {
  const tolerated = new Set<string>();
  if (!plan) {
    for (const [key, record] of Object.entries(steps)) if (record.status === 'FAILURE' && record.tolerated) tolerated.add(key);
    return { maps: [], tolerated };
  }
  const dimOf = new Map(plan.nodes.map((n) => [n.id, n.dim]));
  const levelOf = (dim: string) => {
    const node = plan.nodes.find((n) => n.dim.includes(dim));
    return node ? node.dim.indexOf(dim) : -1;
  };
  const failures = Object.entries(steps).filter(([, r]) => r.status === 'FAILURE');
  const records = Object.values(steps);
  const maps: MapFailures[] = [];
  const withTolerance = Object.entries(plan.dimensions ?? {})
    .flatMap(([dim, options]) => (options.toleratedFailures ? [{ dim, level: levelOf(dim), tolerance: options.toleratedFailures }] : []))
    .filter((d) => d.level >= 0)
    .sort((a, b) => b.level - a.level);
  for (const { dim, level, tolerance } of withTolerance) {
    const source = parseDimensionId(dim);
    // The failures not tolerated deeper, by outer keys (one instance of the map each), then by this map's key.
    const byInstance = new Map<string, Map<string, [string, StepRecord][]>>();
    for (const [key, record] of failures) {
      if (tolerated.has(key) || dimOf.get(record.node)?.[level] !== dim) continue;
      const instance = record.mappingKeys.slice(0, level).join(',');
      const byKey = byInstance.get(instance) ?? new Map<string, [string, StepRecord][]>();
      byInstance.set(instance, byKey);
      const mappingKey = record.mappingKeys[level] ?? '';
      byKey.set(mappingKey, [...(byKey.get(mappingKey) ?? []), [key, record]]);
    }
    for (const fanOut of records) {
      if (fanOut.node !== source.node || fanOut.mappingKeys.length !== level || fanOut.status !== 'SUCCESS') continue;
      const byKey = byInstance.get(fanOut.mappingKeys.join(','));
      const produced = fanOut.outputs?.find((o) => o.name === source.output);
      if (!byKey || !produced || (produced.kind !== 'items' && produced.kind !== 'itemsRef')) continue;
      const total = produced.kind === 'items' ? produced.items.length : produced.count;
      const order = produced.kind === 'items' ? produced.items.map(([k]) => k).filter((k) => byKey.has(k)) : [...byKey.keys()];
      const exceeded = exceedsTolerance(tolerance, byKey.size, total);
      if (!exceeded) for (const entries of byKey.values()) for (const [key] of entries) tolerated.add(key);
      const map = mapLabel(source, fanOut.mappingKeys);
      maps.push({
        map,
        node: source.node,
        output: source.output,
        outerKeys: [...fanOut.mappingKeys],
        tolerance,
        keys: total,
        failedKeys: order.map((key) => ({ key, failures: (byKey.get(key) ?? []).map(([k, r]) => stepFailure(k, r)) })),
        exceeded,
        message: toleranceMessage(map, tolerance, byKey.size, total),
      });
    }
  }
  // Report in plan order: outer maps before the maps inside them.
  return { maps: maps.sort((a, b) => a.outerKeys.length - b.outerKeys.length), tolerated };
}
