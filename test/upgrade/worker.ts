/**
 * The upgrade drill's worker process. The drill runs this file twice: the copy in the baseline worktree (with that
 * tree's src/) and this one (the working tree), each serving ./jobs.ts from its own tree.
 *
 *   node --import tsx test/upgrade/worker.ts --address HOST:PORT --task-queue NAME --identity NAME [--bundle PATH]
 *
 * Uses only the public API of the baseline (createWorker from the package root). Prints `READY <pid>` once polling;
 * exits when stdin closes (the drill died) so no worker is ever orphaned; SIGTERM / SIGINT shut it down gracefully.
 */
import { parseArgs } from 'node:util';
import { createWorker } from '../../src/index.ts';
import { defs } from './jobs.ts';

const { values } = parseArgs({
  options: {
    address: { type: 'string' },
    'task-queue': { type: 'string' },
    identity: { type: 'string' },
    bundle: { type: 'string' },
  },
});
if (!values.address || !values['task-queue'] || !values.identity) {
  console.error('usage: worker.ts --address HOST:PORT --task-queue NAME --identity NAME [--bundle PATH]');
  process.exit(2);
}

const worker = await createWorker({
  definitions: defs,
  address: values.address,
  taskQueue: values['task-queue'],
  identity: values.identity,
  // A killed worker's sticky queue is abandoned quickly: its workflows' next tasks go to the shared queue.
  stickyQueueScheduleToStartTimeout: '2s',
  ...(values.bundle ? { workflowBundle: { codePath: values.bundle } } : {}),
});

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
