/**
 * A standalone opgraph worker for the crash-test job, meant to be SIGKILLed by tests.
 *
 *   npx tsx test/crash/workerProcess.ts --address 127.0.0.1:7233 --task-queue crash-1 [--bundle /path/bundle.js]
 *
 * (or the env vars TEMPORAL_ADDRESS, OPGRAPH_TASK_QUEUE, OPGRAPH_WORKFLOW_BUNDLE). Prints `READY <pid>`
 * on stdout once the worker is polling; exits when stdin closes (the parent died) so no worker is
 * ever orphaned; SIGTERM / SIGINT shut it down gracefully.
 */
import { parseArgs } from 'node:util';
import { installRuntimeLogger } from '../../src/logging.ts';
import { createWorker } from '../../src/worker/createWorker.ts';
import { crashDefs } from './fixtures.ts';

const { values } = parseArgs({
  options: {
    address: { type: 'string' },
    'task-queue': { type: 'string' },
    bundle: { type: 'string' },
    'max-activities': { type: 'string' },
  },
});
const address = values.address ?? process.env.TEMPORAL_ADDRESS;
const taskQueue = values['task-queue'] ?? process.env.OPGRAPH_TASK_QUEUE;
const bundlePath = values.bundle ?? process.env.OPGRAPH_WORKFLOW_BUNDLE;
const maxActivities = values['max-activities'] ?? process.env.OPGRAPH_MAX_ACTIVITIES;
if (!address || !taskQueue) {
  console.error('usage: workerProcess.ts --address HOST:PORT --task-queue NAME [--bundle PATH] [--max-activities N]');
  process.exit(2);
}

installRuntimeLogger(process.env.OPGRAPH_LOG_LEVEL ?? 'WARN');
const worker = await createWorker({
  definitions: crashDefs,
  address,
  taskQueue,
  ...(bundlePath ? { workflowBundle: { codePath: bundlePath } } : {}),
  ...(maxActivities ? { maxConcurrentActivityTaskExecutions: Number(maxActivities) } : {}),
});

// The parent holds our stdin open; when it goes away (even SIGKILLed), so do we.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();

const running = worker.run();
console.log(`READY ${process.pid}`);
try {
  await running;
  console.log('STOPPED');
  process.exit(0);
} catch (err) {
  console.error(`WORKER FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
}
