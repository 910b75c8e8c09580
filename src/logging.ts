import { DefaultLogger, type LogEntry, type LogLevel, Runtime, type RuntimeOptions } from '@temporalio/worker';
import { OpgraphError } from './dsl/errors.ts';

let installed = false;

/**
 * Installs the Temporal runtime's logger once per process, at `OPGRAPH_LOG_LEVEL` (default WARN,
 * so worker lifecycle chatter stays out of the way; INFO shows op logs), with `options` (e.g. the
 * Prometheus endpoint, src/telemetry/metrics.ts). Each entry prints as one line (see `logLine`).
 */
export function installRuntimeLogger(
  level: string = process.env.OPGRAPH_LOG_LEVEL ?? 'WARN',
  options: Omit<RuntimeOptions, 'logger'> = {},
): void {
  if (installed) return;
  installed = true;
  installRuntime({ ...options, logger: oneLineLogger(level) });
}

/**
 * `Runtime.install`, once per process. A runtime that already exists (the embedding app installed
 * its own) is kept — unless `options` ask for telemetry it cannot have any more: then an error.
 */
export function installRuntime(options: RuntimeOptions): void {
  try {
    Runtime.install(options);
  } catch (err) {
    if (options.telemetryOptions?.metrics) {
      throw new OpgraphError(
        `cannot serve Prometheus metrics: this process's Temporal runtime was created before (${(err as Error).message}); install it with telemetryOptions first.`,
        { cause: err },
      );
    }
  }
}

/** The SDK's logger at `level` (TRACE…ERROR, else WARN), writing each entry as one line to stderr. */
export function oneLineLogger(level: string): DefaultLogger {
  const normalized = level.toUpperCase();
  const valid: LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];
  return new DefaultLogger(valid.includes(normalized as LogLevel) ? (normalized as LogLevel) : 'WARN', (entry) => {
    process.stderr.write(`${logLine(entry)}\n`);
  });
}

/**
 * Attributes the SDK adds to every activity/workflow entry that say nothing a reader needs on one
 * line (the step key, job and run id that ctx.log adds stay; the Web UI has the rest).
 */
const NOISE = new Set([
  'taskToken',
  'namespace',
  'taskQueue',
  'isLocal',
  'sdkComponent',
  'workflowRunId',
  'workflowType',
  'activityType',
  'activityId',
  'attempt',
  'workflowId',
  'runId',
]);

/** `2026-11-23T19:00:00.000Z INFO  [job k2] message key=value …` — one entry, one line. */
export function logLine(entry: LogEntry): string {
  const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  const meta = { ...(entry.meta ?? {}) } as Record<string, unknown>;
  const where = typeof meta.stepKey === 'string' ? `[${typeof meta.job === 'string' ? `${meta.job} ` : ''}${meta.stepKey}] ` : '';
  if (where) {
    delete meta.stepKey;
    delete meta.job;
  }
  const attributes = Object.entries(meta)
    .filter(([key, value]) => !NOISE.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${compact(value)}`);
  const message = entry.message.replace(/\s*\n\s*/g, ' ⏎ ');
  return `${time} ${entry.level.padEnd(5)} ${where}${message}${attributes.length ? ` ${attributes.join(' ')}` : ''}`;
}

function compact(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(`${value.name}: ${value.message}`.replace(/\s*\n\s*/g, ' ⏎ '));
  if (typeof value === 'string') return /^[\w.:/@-]*$/.test(value) && value !== '' ? value : JSON.stringify(value);
  try {
    const text = JSON.stringify(value) ?? String(value);
    return text.length > 300 ? `${text.slice(0, 300)}…` : text;
  } catch {
    return String(value);
  }
}
