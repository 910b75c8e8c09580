/**
 * Tolerated failures per map (`.map(fn, { toleratedFailures: { count } | { ratio } })`), with Step
 * Functions' ToleratedFailureCount / ToleratedFailurePercentage semantics: a map fails when more of
 * its keys failed than `count`, or when failed / total > `ratio`. Pure (no zod, no Node APIs): the
 * definition check, the interpreter in the workflow bundle and the client all read these rules.
 */

/** How many failed keys a map tolerates: a count, or a ratio of its keys (exactly one of the two). */
export type ToleratedFailures =
  { readonly count: number; readonly ratio?: undefined } | { readonly ratio: number; readonly count?: undefined };

/** Whether `failed` of `total` keys is more than the tolerance allows. Zero keys never exceed. */
export function exceedsTolerance(tolerance: ToleratedFailures, failed: number, total: number): boolean {
  if (tolerance.count !== undefined) return failed > tolerance.count;
  return total > 0 && failed / total > tolerance.ratio;
}

/** The most failed keys the tolerance allows for a map of `total` keys. */
export function allowedFailures(tolerance: ToleratedFailures, total: number): number {
  if (tolerance.count !== undefined) return tolerance.count;
  let allowed = Math.floor(tolerance.ratio * total);
  // Float rounding of ratio * total: settle on the largest n with n / total ≤ ratio.
  while (allowed < total && !exceedsTolerance(tolerance, allowed + 1, total)) allowed++;
  while (allowed > 0 && exceedsTolerance(tolerance, allowed, total)) allowed--;
  return Math.min(allowed, total);
}

/** `{ count: 3 }` / `{ ratio: 0.1 }`, as the user wrote it. */
export function toleranceText(tolerance: ToleratedFailures): string {
  return tolerance.count !== undefined ? `{ count: ${tolerance.count} }` : `{ ratio: ${tolerance.ratio} }`;
}

/** One line about a map's failed keys against its tolerance: `map over "keys" (fan-out step keys): 5 of 40 keys failed, …`. */
export function toleranceMessage(map: string, tolerance: ToleratedFailures, failed: number, total: number): string {
  const allowed = allowedFailures(tolerance, total);
  const head = `map over "${map}": ${failed} of ${total} key${total === 1 ? '' : 's'} failed`;
  return exceedsTolerance(tolerance, failed, total)
    ? `${head}, more than its toleratedFailures ${toleranceText(tolerance)} allows (at most ${allowed})`
    : `${head}, within its toleratedFailures ${toleranceText(tolerance)} (at most ${allowed})`;
}

/** What is wrong with a `toleratedFailures` option as given (empty when it is fine), each with its fix. */
export function toleratedFailuresProblems(value: unknown): { message: string; fix: string }[] {
  const shape = 'give exactly one of toleratedFailures: { count: n } (n failed keys, an integer ≥ 0) or { ratio: r } (0 ≤ r ≤ 1)';
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return [{ message: `toleratedFailures must be an object, got ${describe(value)}`, fix: shape }];
  }
  const fields = value as Record<string, unknown>;
  const given = Object.keys(fields).filter((k) => fields[k] !== undefined);
  const unknown = given.filter((k) => k !== 'count' && k !== 'ratio');
  if (unknown.length > 0) {
    return [
      {
        message: `toleratedFailures has unknown key${unknown.length === 1 ? '' : 's'} ${unknown.map((k) => `"${k}"`).join(', ')}`,
        fix: shape,
      },
    ];
  }
  if (given.length !== 1) {
    return [
      {
        message: given.length === 0 ? 'toleratedFailures gives neither count nor ratio' : 'toleratedFailures gives both count and ratio',
        fix: shape,
      },
    ];
  }
  const { count, ratio } = fields;
  if (count !== undefined && !(typeof count === 'number' && Number.isSafeInteger(count) && count >= 0)) {
    return [
      {
        message: `toleratedFailures.count must be an integer ≥ 0, got ${describe(count)}`,
        fix: 'use a whole number of keys, e.g. { count: 3 }; { count: 0 } tolerates none (the default)',
      },
    ];
  }
  if (ratio !== undefined && !(typeof ratio === 'number' && Number.isFinite(ratio) && ratio >= 0 && ratio <= 1)) {
    return [
      {
        message: `toleratedFailures.ratio must be a number from 0 to 1, got ${describe(ratio)}`,
        fix: 'give a fraction of the keys, e.g. { ratio: 0.05 } for 5%; { ratio: 1 } tolerates every key failing',
      },
    ];
  }
  return [];
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  return typeof value;
}

/** How messages and results name one map: its fan-out's step key, with the output unless it is `result` (`keys`, `inner[a]`, `split:evens`). */
export function mapLabel(fanOut: { node: string; output: string }, outerKeys: readonly string[]): string {
  const key = outerKeys.length === 0 ? fanOut.node : `${fanOut.node}[${outerKeys.join(',')}]`;
  return fanOut.output === 'result' ? key : `${key}:${fanOut.output}`;
}
