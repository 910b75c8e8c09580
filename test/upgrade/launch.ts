/**
 * Starts one run of every drill shape, the way runs in flight were started: the drill executes the copy of this
 * file in the baseline worktree, so the plans and workflow inputs are the baseline's.
 *
 *   node --import tsx test/upgrade/launch.ts --address HOST:PORT --task-queue NAME
 *
 * Prints one JSON line: `[{ "shape", "jobName", "runId", "workflowId" }, …]` in SHAPES order. Uses only the
 * baseline's public API (launchRun from the package root).
 */
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { launchRun } from '../../src/index.ts';
import { SHAPES } from './jobs.ts';

const { values } = parseArgs({ options: { address: { type: 'string' }, 'task-queue': { type: 'string' } } });
if (!values.address || !values['task-queue']) {
  console.error('usage: launch.ts --address HOST:PORT --task-queue NAME');
  process.exit(2);
}

const connection = await Connection.connect({ address: values.address });
try {
  const client = new Client({ connection });
  const launched = [];
  for (const s of SHAPES) {
    const run = await launchRun(client, s.job, { taskQueue: values['task-queue'] });
    launched.push({ shape: s.shape, jobName: run.jobName, runId: run.runId, workflowId: run.workflowId });
  }
  console.log(JSON.stringify(launched));
} finally {
  await connection.close();
}
