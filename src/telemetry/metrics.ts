/**
 * Prometheus metrics through the Temporal SDK's runtime: the worker's own (`temporal_*`) and opgraph's
 * (`opgraph_*`, recorded with the SDK's metric meter) on one `/metrics` endpoint.
 */
import type { MetricMeter, MetricTags } from '@temporalio/common';
import type { TelemetryOptions } from '@temporalio/worker';
import { OpgraphError } from '../dsl/errors.ts';

/** Every interface, so Prometheus on another host (or outside a container) can scrape. */
export const DEFAULT_METRICS_HOST = '0.0.0.0';

/**
 * `--metrics-port` / `OPGRAPH_METRICS_PORT`: `9464` (on every interface) or `host:port`, as the
 * runtime's Prometheus exporter binds it.
 */
export function metricsBindAddress(value: string, flag = '--metrics-port'): string {
  const trimmed = value.trim();
  const match = /^(?:(.+):)?(\d+)$/.exec(trimmed);
  const port = match ? Number(match[2]) : Number.NaN;
  if (!match || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new OpgraphError(`${flag} must be a port (1-65535) or host:port, e.g. 9464 or 127.0.0.1:9464; got "${value}"`);
  }
  return `${match[1] ?? DEFAULT_METRICS_HOST}:${port}`;
}

/** The address with its port moved by `offset` (worker process n of `--processes` gets port + n - 1). */
export function offsetBindAddress(bindAddress: string, offset: number): string {
  const at = bindAddress.lastIndexOf(':');
  return `${bindAddress.slice(0, at)}:${Number(bindAddress.slice(at + 1)) + offset}`;
}

/** The runtime's telemetry options: the Prometheus endpoint at `bindAddress`. */
export function prometheusTelemetry(bindAddress: string): TelemetryOptions {
  return { metrics: { prometheus: { bindAddress } } };
}

/** opgraph's instruments on a meter (the activity's, which tags namespace, task queue and activity type). */
export interface OpMetrics {
  /** A step attempt succeeded. */
  succeeded(tags: MetricTags): void;
  /** A step failed for good (no retry left, or a failure that is never retried). */
  failed(tags: MetricTags): void;
  /** A step attempt failed and its op's RetryPolicy runs it again. */
  retried(tags: MetricTags): void;
  /** A mapping key of a map started (+1) or finished (-1) a step on this worker. */
  keysInFlight(delta: number, tags: MetricTags): void;
  /** Bytes of op output written to the value store. */
  bytesStored(bytes: number, tags: MetricTags): void;
}

export const METRIC_NAMES = {
  succeeded: 'opgraph_steps_succeeded_total',
  failed: 'opgraph_steps_failed_total',
  retried: 'opgraph_steps_retried_total',
  keysInFlight: 'opgraph_map_keys_in_flight',
  bytesStored: 'opgraph_bytes_stored_total',
} as const;

export function opMetrics(meter: MetricMeter): OpMetrics {
  const succeeded = meter.createCounter(METRIC_NAMES.succeeded, '', 'Step attempts that succeeded, by job and op');
  const failed = meter.createCounter(METRIC_NAMES.failed, '', 'Steps that failed with no retry left, by job and op');
  const retried = meter.createCounter(METRIC_NAMES.retried, '', "Step attempts that failed and are retried per the op's RetryPolicy");
  const bytes = meter.createCounter(METRIC_NAMES.bytesStored, 'bytes', 'Bytes of op output written to the value store, by job and op');
  // Optional in the MetricMeter interface; the runtime's meter has it (a Prometheus gauge).
  const inFlight = meter.createUpDownCounter?.(
    METRIC_NAMES.keysInFlight,
    '',
    'Mapping keys of a map with a step running on this worker, by job, map and op',
  );
  return {
    succeeded: (tags) => succeeded.add(1, tags),
    failed: (tags) => failed.add(1, tags),
    retried: (tags) => retried.add(1, tags),
    keysInFlight: (delta, tags) => inFlight?.add(delta, tags),
    bytesStored: (n, tags) => {
      if (n > 0) bytes.add(n, tags);
    },
  };
}
