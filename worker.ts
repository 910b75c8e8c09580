/**
 * A long-running opgraph worker: `npm run worker` (or `tsx worker.ts`).
 * OPGRAPH_DEFINITIONS = module exporting `defs` (default: the examples); TEMPORAL_ADDRESS = server;
 * OPGRAPH_TASK_QUEUE = task queue (default `opgraph`); OPGRAPH_METRICS_PORT = Prometheus endpoint.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createWorker, DEFAULT_TASK_QUEUE, Definitions } from 'opgraph';
import { installRuntimeLogger } from './src/logging.ts';
import { metricsBindAddress, prometheusTelemetry } from './src/telemetry/metrics.ts';
import { flushTracing } from './src/telemetry/tracing.ts';

// OPGRAPH_METRICS_PORT (port or host:port): the runtime's Prometheus endpoint, as `opgraph worker --metrics-port`.
const metricsPort = process.env.OPGRAPH_METRICS_PORT?.trim();
installRuntimeLogger(
  process.env.OPGRAPH_LOG_LEVEL ?? 'INFO',
  metricsPort ? { telemetryOptions: prometheusTelemetry(metricsBindAddress(metricsPort, 'OPGRAPH_METRICS_PORT')) } : {},
);
const modulePath = resolve(process.env.OPGRAPH_DEFINITIONS ?? 'examples/definitions.ts');
const loaded = (await import(pathToFileURL(modulePath).href)) as { defs?: unknown; default?: unknown };
const definitions = loaded.defs ?? loaded.default;
if (!(definitions instanceof Definitions)) {
  throw new Error(`${modulePath} must export \`defs\` (or a default export): new Definitions({ jobs: [...] })`);
}
const taskQueue = process.env.OPGRAPH_TASK_QUEUE ?? DEFAULT_TASK_QUEUE;
const worker = await createWorker({ definitions, taskQueue });
console.log(`opgraph worker: ${definitions.jobs.size} job(s) [${[...definitions.jobs.keys()].join(', ')}] on task queue "${taskQueue}"`);
await worker.run();
await flushTracing();
