/**
 * Records replay histories: runs replay cases on a fresh dev server and saves the job workflow's
 * history plus those of its first children and grandchildren, into a NEW folder
 * test/replay/histories/<label>/ (never over an earlier recording: every history ever committed
 * keeps replaying in CI).
 * `npx tsx scripts/record-histories.ts <label> [case …]` — run it when the interpreter's commands
 * changed on purpose (behind `patched()`), with the cases that exercise the change.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import proto from '@temporalio/proto';
import { Client, Connection } from '@temporalio/client';
import { reexecuteRun } from '../src/client/reexecute.ts';
import { awaitRun, launchRun } from '../src/client/run.ts';
import { Definitions } from '../src/dsl/job.ts';
import { installRuntimeLogger } from '../src/logging.ts';
import { startDevServer } from '../src/server/devServer.ts';
import { connectNative, createWorker } from '../src/worker/createWorker.ts';
import { type ReplayCase, replayCases } from '../test/replay/jobs.ts';

const [label, ...only] = process.argv.slice(2);
if (!label || !/^[A-Za-z0-9_.-]+$/.test(label)) {
  console.error('usage: npx tsx scripts/record-histories.ts <label> [case …]   (cases: ' + replayCases.map((c) => c.name).join(', ') + ')');
  process.exit(2);
}
const OUT_DIR = join(import.meta.dirname, '..', 'test', 'replay', 'histories', label);
if (existsSync(OUT_DIR)) {
  console.error(`${OUT_DIR} exists: earlier recordings are kept as they are; choose a new label`);
  process.exit(2);
}
const cases = only.length > 0 ? replayCases.filter((c) => only.includes(c.name)) : replayCases;
const CHILDREN_PER_LEVEL = 2;
/** File → workflow id: the replayer needs the id the history ran under (child ids derive from it). */
const index: Record<string, string> = {};

async function main(): Promise<void> {
  installRuntimeLogger();
  mkdirSync(OUT_DIR, { recursive: true });
  const server = await startDevServer();
  const native = await connectNative(server.address);
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const taskQueue = 'record-histories';
  const worker = await createWorker({ definitions: new Definitions({ jobs: cases.map((c) => c.job) }), connection: native, taskQueue });
  try {
    await worker.runUntil(async () => {
      for (const replayCase of cases) {
        const workflowId = await record(client, taskQueue, replayCase);
        const saved = await saveTree(
          client,
          workflowId,
          replayCase.name,
          0,
          replayCase.allChildren ? Number.POSITIVE_INFINITY : CHILDREN_PER_LEVEL,
        );
        console.log(`${replayCase.name}: ${saved} histories`);
      }
    });
    writeFileSync(join(OUT_DIR, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
  } finally {
    await connection.close();
    await native.close();
    await server.stop();
  }
}

/** Runs one case to its end (success, failure or cancellation); returns the job workflow's id. */
async function record(client: Client, taskQueue: string, replayCase: ReplayCase): Promise<string> {
  const runId = `replay-${replayCase.name}`;
  if (replayCase.byName) {
    const workflowId = `${replayCase.job.name}-${runId}`;
    await client.workflow.execute(replayCase.job.name, { taskQueue, workflowId, args: replayCase.runConfig ? [replayCase.runConfig] : [] });
    return workflowId;
  }
  const run = await launchRun(client, replayCase.job, {
    taskQueue,
    runId,
    ...(replayCase.runConfig ? { runConfig: replayCase.runConfig } : {}),
  });
  if (replayCase.cancelAfterMs !== undefined) {
    await new Promise((resolve) => setTimeout(resolve, replayCase.cancelAfterMs));
    await run.handle.cancel();
    await run.handle.result().catch(() => undefined);
    return run.workflowId;
  }
  await replayCase.onStarted?.(run.handle, client);
  const result = await awaitRun(run);
  console.log(`${replayCase.name}: ${result.status}`);
  if (!replayCase.reexecute) return run.workflowId;
  // The case is the re-execution: record its histories (the parent's are another case's).
  const child = await reexecuteRun(client, run.workflowId, { ...replayCase.reexecute, runId: `${runId}-reexecuted` });
  const again = await awaitRun(child);
  console.log(
    `${replayCase.name}: re-executed ${again.status}, ${again.reusedStepKeys().length} steps reused, ${again.ranStepKeys().length} ran`,
  );
  return child.workflowId;
}

/** Saves a workflow's history and, two levels deep, its first `perLevel` children's. */
async function saveTree(client: Client, workflowId: string, name: string, depth: number, perLevel: number): Promise<number> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  // Binary protobuf: exactly what the server returned, what the replayer decodes.
  writeFileSync(join(OUT_DIR, `${name}.pb`), proto.temporal.api.history.v1.History.encode(history).finish());
  index[`${name}.pb`] = workflowId;
  if (depth >= 2) return 1;
  const children: string[] = [];
  for await (const child of client.workflow.list({ query: `ParentWorkflowId = '${workflowId}'` })) children.push(child.workflowId);
  let saved = 1;
  for (const [i, child] of children.sort().slice(0, perLevel).entries()) {
    saved += await saveTree(client, child, `${name}.child${i}`, depth + 1, perLevel);
  }
  return saved;
}

await main();
