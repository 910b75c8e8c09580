import { fileURLToPath } from 'node:url';
import {
  type BundleOptions,
  bundleWorkflowCode,
  NativeConnection,
  Worker,
  type NativeConnectionOptions,
  type WorkerOptions,
} from '@temporalio/worker';
import type { Definitions } from '../dsl/job.ts';
import { createOpActivities } from '../activities/index.ts';
import { DEFAULT_NAMESPACE, DEFAULT_TASK_QUEUE, nativeConnectionOptions, targetForAddress, temporalTargetFromEnv } from '../connection.ts';
import { OpgraphError } from '../dsl/errors.ts';
import { UNREACHABLE_HINT } from '../client/connect.ts';
import { getDefaultStore } from '../store/store.ts';
import { defaultDataConverter } from '../codec/index.ts';
import { workerTracingOptions } from '../telemetry/tracing.ts';
import { workerHeartbeatRate, workerTiming, type WorkerTimingSettings } from './timing.ts';
import { withoutWorkflowStackTraces } from './stackTraces.ts';

/** The interpreter's workflow module (bundled by the worker with webpack). */
export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/**
 * What the worker bundles: the interpreter and the tracing workflow interceptor (it passes the run's
 * trace context on to activities and children; src/workflows/tracing.ts). Tests bundle the same.
 */
export const INTERPRETER_BUNDLE: Pick<BundleOptions, 'workflowsPath' | 'workflowInterceptorModules'> = {
  workflowsPath: WORKFLOWS_PATH,
  workflowInterceptorModules: [fileURLToPath(new URL('../workflows/tracing.ts', import.meta.url))],
};

let bundle: Promise<{ code: string }> | undefined;

/** Bundles the interpreter once per process; workers created afterwards start in milliseconds. */
export function interpreterBundle(): Promise<{ code: string }> {
  bundle ??= bundleWorkflowCode({ ...INTERPRETER_BUNDLE, logger: quietBundlerLogger }).catch((err: unknown) => {
    bundle = undefined;
    throw err;
  });
  return bundle;
}

export interface CreateWorkerOptions extends Partial<Omit<WorkerOptions, 'activities' | 'workflowsPath' | 'taskQueue' | 'connection'>> {
  definitions: Definitions;
  connection?: NativeConnection;
  /** Used when no connection is given; default `TEMPORAL_ADDRESS`. */
  address?: string;
  taskQueue?: string;
  /**
   * Sticky-queue timeout and heartbeat throttle as durations (`opgraph worker --sticky-timeout`
   * / `--heartbeat-throttle`), else OPGRAPH_STICKY_TIMEOUT / OPGRAPH_HEARTBEAT_THROTTLE, else 2 s / 1 s
   * (src/worker/timing.ts). The Temporal options of the same names, when given, win. `heartbeatRate`
   * (`--heartbeat-rate`, OPGRAPH_HEARTBEAT_RATE, default 50/s) paces the running ops' heartbeats.
   */
  timing?: WorkerTimingSettings;
}

/** A Temporal worker that runs the interpreter workflows and every op of `definitions`. */
export async function createWorker(options: CreateWorkerOptions): Promise<Worker> {
  const { definitions, connection, address, taskQueue, timing, ...rest } = options;
  // Read before connecting: a malformed setting stops the worker with the flag or variable named.
  const timings = workerTiming(process.env, timing);
  const heartbeatRate = workerHeartbeatRate(process.env, timing);
  const target = temporalTargetFromEnv();
  const resolvedAddress = address ?? target?.address;
  if (!connection && !resolvedAddress) {
    throw new OpgraphError(
      'createWorker: no Temporal server to connect to. Pass { connection } or { address }, set TEMPORAL_ADDRESS, or use executeInProcess() / `npm start`, which start a local dev server.',
    );
  }
  // The value store from the environment (OPGRAPH_STORAGE_URL / OPGRAPH_STORAGE_DIR): a malformed URL, a
  // missing bucket or missing credentials stop the worker here, not its first large value.
  await getDefaultStore().check?.();
  const nativeConnection = connection ?? (await connectNative(resolvedAddress as string));
  const tracing = workerTracingOptions();
  const workflowBundle = rest.workflowBundle ?? (await interpreterBundle());
  return withoutWorkflowStackTraces(process.env, () =>
    Worker.create({
      namespace: target?.namespace ?? DEFAULT_NAMESPACE,
      // Payload encryption when OPGRAPH_CODEC_KEYS / OPGRAPH_CODEC_KEY_FILE are set (src/codec).
      dataConverter: defaultDataConverter(),
      // A dead worker's cached runs move on within the sticky timeout; a cancel reaches a running op
      // within the heartbeat throttle (README, "Reliability").
      ...timings,
      ...rest,
      interceptors: { ...rest.interceptors, activity: [...(tracing.interceptors?.activity ?? []), ...(rest.interceptors?.activity ?? [])] },
      connection: nativeConnection,
      taskQueue: taskQueue ?? DEFAULT_TASK_QUEUE,
      workflowBundle,
      activities: createOpActivities(definitions, { heartbeatRate }),
    }),
  );
}

/**
 * Connects a worker, failing within seconds with the address in the message when nothing answers.
 * `options` (e.g. from `nativeConnectionOptions(target)`) default to the environment's TLS / API-key
 * settings when `TEMPORAL_ADDRESS` is this address, else a plain-text connection.
 */
export async function connectNative(address: string, options?: NativeConnectionOptions): Promise<NativeConnection> {
  const resolved = options ?? nativeConnectionOptions(targetForAddress(address));
  try {
    return await NativeConnection.connect({ ...resolved, address });
  } catch (err) {
    throw new OpgraphError(`cannot reach the Temporal server at ${address}: ${(err as Error).message}. ${UNREACHABLE_HINT}`, {
      cause: err,
    });
  }
}

const quietBundlerLogger = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (message: string, meta?: Record<string, unknown>) => console.warn(message, meta ?? ''),
  error: (message: string, meta?: Record<string, unknown>) => console.error(message, meta ?? ''),
  log: () => {},
};
