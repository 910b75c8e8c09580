/** Where the CLI's commands find Temporal: TEMPORAL_ADDRESS, or an embedded dev server (with the Web UI). */
import { type LogLevel } from '@temporalio/worker';
import { temporalTargetFromEnv, type TemporalTarget } from '../connection.ts';
import { localDevServer, stopLocalDevServer } from '../execute.ts';
import { installRuntime, installRuntimeLogger, oneLineLogger } from '../logging.ts';
import { prometheusTelemetry } from '../telemetry/metrics.ts';
import { UsageError } from './errors.ts';

export interface CliTarget extends TemporalTarget {
  /** Base URL of the Temporal Web UI, when known (embedded server, or TEMPORAL_UI_URL). */
  readonly uiUrl: string | undefined;
  /** True when this process started the server (it stops when the command ends). */
  readonly embedded: boolean;
  stop(): Promise<void>;
}

/** TEMPORAL_UI_URL, without a trailing slash. */
export function uiUrlFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  return env.TEMPORAL_UI_URL?.trim().replace(/\/+$/, '') || undefined;
}

/** TEMPORAL_ADDRESS, or a usage error saying how to get a server. */
export function requireServer(env: NodeJS.ProcessEnv, command: string): TemporalTarget {
  const target = temporalTargetFromEnv(env);
  if (!target) {
    throw new UsageError(
      `\`opgraph ${command}\` needs a running Temporal server: set TEMPORAL_ADDRESS=host:port (and TEMPORAL_NAMESPACE if not "default"). ` +
        'Start one with `opgraph dev` (it prints the address), or use `opgraph run`, which starts its own.',
    );
  }
  return target;
}

/** TEMPORAL_ADDRESS when set; otherwise starts a local dev server with the Web UI for this process. */
export async function openTarget(env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<CliTarget> {
  const external = temporalTargetFromEnv(env);
  if (external) {
    return { ...external, uiUrl: uiUrlFromEnv(env), embedded: false, stop: async () => {} };
  }
  log('Starting a local Temporal dev server (set TEMPORAL_ADDRESS to use an existing one) …');
  const server = await localDevServer({ ui: true });
  log(`Temporal dev server at ${server.address}, Web UI at ${server.uiUrl ?? '(none)'}`);
  return {
    address: server.address,
    namespace: server.namespace,
    uiUrl: server.uiUrl,
    embedded: true,
    stop: stopLocalDevServer,
  };
}

/**
 * Installs the Temporal runtime (logger at OPGRAPH_LOG_LEVEL, default `defaultLevel`).
 * `ownSignals`: the command handles Ctrl+C itself (e.g. `run` cancels the run first), so the
 * runtime must not shut workers down on SIGINT/SIGTERM; otherwise the runtime's default applies
 * (workers shut down gracefully and `worker.run()` returns). `metricsBindAddress`: serve the
 * worker's and opgraph's Prometheus metrics there (`--metrics-port`).
 */
export function installCliRuntime(options: { ownSignals: boolean; defaultLevel?: LogLevel; metricsBindAddress?: string }): void {
  const level = (process.env.OPGRAPH_LOG_LEVEL ?? options.defaultLevel ?? 'WARN').toUpperCase();
  const telemetry = options.metricsBindAddress ? { telemetryOptions: prometheusTelemetry(options.metricsBindAddress) } : {};
  if (options.ownSignals) {
    installRuntime({ ...telemetry, logger: oneLineLogger(level), shutdownSignals: [] });
  }
  installRuntimeLogger(level, telemetry);
}
