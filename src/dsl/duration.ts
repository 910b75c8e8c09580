import { OpgraphError } from './errors.ts';

/** Milliseconds, or a string such as `'250ms'`, `'30s'`, `'5m'`, `'2h'`, `'1d'`. */
export type Duration = number | string;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function durationMs(value: Duration, what: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value > 0) return Math.round(value);
  } else {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(value);
    const amount = match?.[1];
    const unit = match?.[2];
    if (amount !== undefined && unit !== undefined) {
      const ms = Math.round(Number(amount) * (UNIT_MS[unit] ?? 0));
      if (ms > 0) return ms;
    }
  }
  throw new OpgraphError(
    `${what} must be a positive number of milliseconds or a string like '30s', '5m', '2h'; got ${JSON.stringify(value)}`,
  );
}
