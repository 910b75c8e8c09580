/** Long-running commands: `opgraph worker` (against TEMPORAL_ADDRESS) and `opgraph dev` (dev server + UI + worker). */
import { availableParallelism } from 'node:os';
import { connectClient } from '../client/connect.ts';
import { DEFAULT_TASK_QUEUE } from '../connection.ts';
import { localDevServer, stopLocalDevServer } from '../execute.ts';
import { connectNative, createWorker } from '../worker/createWorker.ts';
import { workerHeartbeatRate, workerTiming, type WorkerTimingSettings } from '../worker/timing.ts';
import { loadDefinitions } from './definitions.ts';
import { EXIT, UsageError } from './errors.ts';
import { type CliIO, printer } from './io.ts';
import { startRunPage } from './runPage.ts';
import { installCliRuntime, requireServer } from './server.ts';
import { superviseProcesses } from './supervise.ts';
import { metricsBindAddress, offsetBindAddress } from '../telemetry/metrics.ts';

export interface WorkerCommandOptions {
  module: string;
  taskQueue?: string;
  /** Worker processes to run (default: one per core); CPU-bound ops then use every core. */
  processes?: string;
  /** Prometheus endpoint, `port` or `host:port` (process n of several serves port + n - 1). */
  metricsPort?: string;
  /** Worker timings as durations (src/worker/timing.ts); default from the environment, else 2 s / 1 s. */
  stickyTimeout?: string;
  heartbeatThrottle?: string;
  /** Heartbeats per second the worker's running ops share (src/activities/heartbeatPacer.ts). */
  heartbeatRate?: string;
}

/** Serves the module's jobs on TEMPORAL_ADDRESS until Ctrl+C / SIGTERM (then shuts down gracefully). */
export async function workerCommand(options: WorkerCommandOptions, io: CliIO): Promise<number> {
  const target = requireServer(io.env, 'worker');
  const processes = options.processes === undefined ? availableParallelism() : Number(options.processes);
  if (!Number.isInteger(processes) || processes < 1)
    throw new UsageError(`--processes must be a positive integer, got "${options.processes}"`);
  const metricsBindAddress = metricsOption(options.metricsPort);
  const timing = timingOption(options, io.env);
  if (processes > 1) return superviseWorkers(processes, options, metricsBindAddress, io);
  const definitions = await loadDefinitions(options.module, io.cwd);
  installCliRuntime({ ownSignals: false, defaultLevel: 'INFO', ...(metricsBindAddress ? { metricsBindAddress } : {}) });
  const taskQueue = options.taskQueue ?? DEFAULT_TASK_QUEUE;
  const native = await connectNative(target.address);
  try {
    const worker = await createWorker({ definitions, connection: native, namespace: target.namespace, taskQueue, timing });
    const jobs = [...definitions.jobs.keys()];
    printer(io.stderr)(
      `opgraph worker: ${jobs.length} job(s) [${jobs.join(', ')}] on task queue "${taskQueue}" at ${target.address} (namespace ${target.namespace})${metricsBindAddress ? `, metrics at http://${metricsBindAddress}/metrics` : ''}; Ctrl+C to stop`,
    );
    await worker.run();
    printer(io.stderr)('opgraph worker: stopped');
    return EXIT.ok;
  } finally {
    await native.close().catch(() => undefined);
  }
}

/**
 * Runs `processes` single-process workers as child processes on the same task queue (Temporal
 * spreads tasks across them), restarting any that dies (src/cli/supervise.ts), until Ctrl+C / SIGTERM.
 */
async function superviseWorkers(
  processes: number,
  options: WorkerCommandOptions,
  metricsBindAddress: string | undefined,
  io: CliIO,
): Promise<number> {
  const script = process.argv[1];
  if (!script) throw new UsageError('cannot find the opgraph entry script to start worker processes');
  const args = [...process.execArgv, script, 'worker', '--processes', '1', '--module', options.module];
  if (options.taskQueue) args.push('--task-queue', options.taskQueue);
  if (options.stickyTimeout) args.push('--sticky-timeout', options.stickyTimeout);
  if (options.heartbeatThrottle) args.push('--heartbeat-throttle', options.heartbeatThrottle);
  if (options.heartbeatRate) args.push('--heartbeat-rate', options.heartbeatRate);
  // Each process serves its own metrics: port, port + 1, … (one Prometheus target each).
  const argsFor = (slot: number): string[] =>
    metricsBindAddress ? [...args, '--metrics-port', offsetBindAddress(metricsBindAddress, slot - 1)] : args;
  return superviseProcesses({ processes, command: process.execPath, args: argsFor, cwd: io.cwd, env: io.env, log: printer(io.stderr) });
}

/** The worker timing flags, checked before anything starts (a usage error names the flag or variable). */
function timingOption(options: WorkerTimingSettings, env: NodeJS.ProcessEnv): WorkerTimingSettings {
  const timing = {
    stickyTimeout: options.stickyTimeout,
    heartbeatThrottle: options.heartbeatThrottle,
    heartbeatRate: options.heartbeatRate,
  };
  try {
    workerTiming(env, timing);
    workerHeartbeatRate(env, timing);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return timing;
}

function metricsOption(value: string | undefined): string | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  try {
    return metricsBindAddress(value);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export interface DevCommandOptions {
  module: string;
  taskQueue?: string;
  port?: string;
  uiPort?: string;
  ip?: string;
  dbFilename?: string;
  /** The Web UI's remote codec endpoint (`opgraph codec-server`). */
  uiCodecEndpoint?: string;
  /** false with --no-worker: the server only. */
  worker: boolean;
  /** Prometheus endpoint of the worker, `port` or `host:port`. */
  metricsPort?: string;
  stickyTimeout?: string;
  heartbeatThrottle?: string;
  /** Heartbeats per second the worker's running ops share (src/activities/heartbeatPacer.ts). */
  heartbeatRate?: string;
}

function parsePort(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`${flag} must be a port number (1-65535), got "${value}"`);
  return port;
}

/** A dev server with the Web UI and a worker for the module's jobs, until Ctrl+C. */
export async function devCommand(options: DevCommandOptions, io: CliIO): Promise<number> {
  const port = parsePort(options.port, '--port');
  const uiPort = parsePort(options.uiPort, '--ui-port');
  const definitions = options.worker ? await loadDefinitions(options.module, io.cwd) : undefined;
  const metricsBindAddress = metricsOption(options.metricsPort);
  const timing = timingOption(options, io.env);
  installCliRuntime({ ownSignals: false, defaultLevel: 'INFO', ...(metricsBindAddress ? { metricsBindAddress } : {}) });
  const out = printer(io.stdout);
  const server = await localDevServer({
    ui: true,
    ...(port === undefined ? {} : { port }),
    ...(uiPort === undefined ? {} : { uiPort }),
    ...(options.ip === undefined ? {} : { ip: options.ip }),
    ...(options.dbFilename === undefined ? {} : { dbFilename: options.dbFilename }),
    ...(options.uiCodecEndpoint === undefined ? {} : { uiCodecEndpoint: options.uiCodecEndpoint }),
  });
  const native = definitions ? await connectNative(server.address) : undefined;
  // The run page (as `opgraph view`) for every run on this server.
  const client = await connectClient(server.address, server.namespace);
  const runPage = await startRunPage({ client, namespace: server.namespace, ...(server.uiUrl ? { uiUrl: server.uiUrl } : {}) });
  try {
    const taskQueue = options.taskQueue ?? DEFAULT_TASK_QUEUE;
    const worker =
      definitions && native
        ? await createWorker({ definitions, connection: native, namespace: server.namespace, taskQueue, timing })
        : undefined;
    out('Temporal dev server is up.');
    out(`  Web UI:           ${server.uiUrl ?? '(none)'}`);
    out(`  Run pages:        ${runPage.url}/ (a run's graph, live: ${runPage.url}/runs/<workflowId>)`);
    out(`  TEMPORAL_ADDRESS: ${server.address}`);
    out(`  Namespace:        ${server.namespace}`);
    if (options.dbFilename) out(`  Database:         ${options.dbFilename}`);
    if (options.uiCodecEndpoint) out(`  UI codec server:  ${options.uiCodecEndpoint}`);
    if (worker && definitions) {
      out(`  Worker:           task queue "${taskQueue}", ${definitions.jobs.size} job(s) from ${options.module}`);
    }
    if (metricsBindAddress) out(`  Metrics:          http://${metricsBindAddress}/metrics`);
    out('');
    out('In another shell:');
    out(`  export TEMPORAL_ADDRESS=${server.address}${server.uiUrl ? ` TEMPORAL_UI_URL=${server.uiUrl}` : ''}`);
    out('  npx opgraph launch <job>      # or: npx opgraph run <job>');
    out('Press Ctrl+C to stop.');
    if (worker) {
      await worker.run(); // returns after Ctrl+C / SIGTERM (graceful shutdown)
    } else {
      // Nothing else keeps the event loop alive (the server child is unref'd).
      const keepAlive = setInterval(() => {}, 1 << 30);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      clearInterval(keepAlive);
    }
    printer(io.stderr)('Stopping the dev server …');
    return EXIT.ok;
  } finally {
    await runPage.close();
    await client.connection.close().catch(() => undefined);
    await native?.close().catch(() => undefined);
    await stopLocalDevServer();
  }
}
