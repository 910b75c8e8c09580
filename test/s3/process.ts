/**
 * One process of the two-worker S3 test, run from its own working directory with only the
 * environment for the value store (OPGRAPH_STORAGE_URL + AWS_*):
 *
 *   node --import tsx test/s3/process.ts worker --address HOST:PORT --task-queue Q [--bundle PATH]
 *     a worker for s3Defs with one activity slot; prints `READY <pid>`; exits when stdin closes.
 *   node --import tsx test/s3/process.ts client --address HOST:PORT --task-queue Q
 *     runs s3_two_workers, reads the mapped outputs and the collect back, prints `RESULT <json>`.
 */
import { parseArgs } from 'node:util';
import { connectClient } from '../../src/client/connect.ts';
import { awaitRun, launchRun } from '../../src/client/run.ts';
import { installRuntimeLogger } from '../../src/logging.ts';
import { getDefaultStore } from '../../src/store/store.ts';
import { createWorker } from '../../src/worker/createWorker.ts';
import { type Processed, s3Defs, s3Job, sha, type Summary } from './fixtures.ts';

export interface ValueDigest {
  readonly index: number;
  readonly producer: string;
  readonly inputProducer: string;
  readonly inputSha: string;
  readonly chars: number;
  readonly sha: string;
}

export interface ClientReport {
  readonly status: string;
  readonly failures: unknown[];
  readonly cwd: string;
  readonly store: string;
  /** `$opgraphRef`s in the run's raw workflow result: the large values did not travel inline. */
  readonly refsInRawResult: number;
  readonly rawResultBytes: number;
  readonly mapped: [string, ValueDigest][];
  readonly collected: ValueDigest[];
  readonly summary: Summary;
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { address: { type: 'string' }, 'task-queue': { type: 'string' }, bundle: { type: 'string' } },
});
const [role] = positionals;
const address = values.address;
const taskQueue = values['task-queue'];
if ((role !== 'worker' && role !== 'client') || !address || !taskQueue) {
  console.error('usage: process.ts worker|client --address HOST:PORT --task-queue NAME [--bundle PATH]');
  process.exit(2);
}
installRuntimeLogger('ERROR');

const digest = (value: unknown): ValueDigest => {
  const p = value as Processed;
  return {
    index: p.index,
    producer: p.producer,
    inputProducer: p.inputProducer,
    inputSha: p.inputSha,
    chars: p.text.length,
    sha: sha(p.text),
  };
};

if (role === 'worker') {
  const worker = await createWorker({
    definitions: s3Defs,
    address,
    taskQueue,
    ...(values.bundle ? { workflowBundle: { codePath: values.bundle } } : {}),
    maxConcurrentActivityTaskExecutions: 1,
  });
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
  const running = worker.run();
  console.log(`READY ${process.pid} ${getDefaultStore().location}`);
  try {
    await running;
    process.exit(0);
  } catch (err) {
    console.error(`WORKER FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  }
} else {
  const client = await connectClient(address);
  try {
    const run = await launchRun(client, s3Job, { taskQueue });
    const raw = JSON.stringify(await run.handle.result());
    const result = await awaitRun(run);
    const mapped = (await result.outputFor('s3_processed.s3_process')) as Map<string, unknown>;
    const collected = (await result.outputFor('s3_processed')) as unknown[];
    const report: ClientReport = {
      status: result.status,
      failures: [...result.failures],
      cwd: process.cwd(),
      store: getDefaultStore().location,
      refsInRawResult: raw.split('"$opgraphRef"').length - 1,
      rawResultBytes: Buffer.byteLength(raw),
      mapped: [...mapped].map(([key, value]) => [key, digest(value)]),
      collected: collected.map(digest),
      summary: (await result.outputFor('s3_summarize')) as Summary,
    };
    console.log(`RESULT ${JSON.stringify(report)}`);
  } finally {
    await client.connection.close();
  }
  process.exit(0);
}
