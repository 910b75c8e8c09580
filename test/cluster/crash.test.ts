/**
 * Crashes on the real Temporal server (npm run test:cluster): a worker SIGKILLed mid-run on the
 * suite's cluster, and the Temporal server process SIGKILLed mid-run and restarted on the same
 * PostgreSQL database (its own cluster, so other test files keep their server). The ledger
 * (test/crash/fixtures.ts) records every op body that ran.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchRun } from '../../src/client/run.ts';
import { startCluster, type TemporalCluster } from '../../src/server/cluster.ts';
import {
  countByStep,
  CRASH_SHARD_SIZE,
  crashJob,
  crashRunConfig,
  crashShardedJob,
  expectedTotal,
  FAN_OUT,
  readLedger,
  TOTAL,
  type Total,
  WORK,
  workDoneCount,
} from '../crash/fixtures.ts';
import {
  awaitRunWithin,
  jobWorkflowTaskTimeouts,
  ledgerSummary,
  removeTempDir,
  runWorkerKillScenario,
  tempLedger,
  waitFor,
  WorkerProcess,
} from '../crash/scenario.ts';

const MINUTE = 60_000;

describe('durability on the PostgreSQL-backed Temporal server', () => {
  const address = inject('temporalAddress');
  const bundlePath = inject('workflowBundlePath');
  let connection: Connection;
  let client: Client;
  beforeAll(async () => {
    connection = await Connection.connect({ address });
    client = new Client({ connection });
  });
  afterAll(async () => connection?.close());

  it(
    'worker SIGKILLed at half the keys: a new worker finishes the run; steps the server recorded never re-run, in-flight ones at most once more',
    async () => {
      const report = await runWorkerKillScenario({ client, address, bundlePath, count: 200, killAtFraction: 0.5, log: console.log });
      console.log(
        `[cluster crash] worker kill: ${report.doneAtKillSignal}/200 done at SIGKILL, ${report.recordedBeforeKill.length} recorded by the server, ` +
          `in flight ${report.inFlightAtKill.length}, re-executed ${JSON.stringify(report.reExecuted)}, timings ${JSON.stringify(report.timings)}`,
      );
      expect(report.violations).toEqual([]);
      expect(report.result).toEqual(expectedTotal(200));
      expect(report.doneAtKillSignal).toBeGreaterThanOrEqual(100);
      expect(report.doneAtKillSignal).toBeLessThan(200);
      expect(report.recordedBeforeKill.length).toBeGreaterThanOrEqual(50);
      for (const step of report.recordedBeforeKill) expect({ step, starts: report.starts[step] }).toEqual({ step, starts: 1 });
      for (const step of [...report.doneBeforeKill, ...report.inFlightAtKill]) expect(report.starts[step]).toBeLessThanOrEqual(2);
      for (const [step, starts] of Object.entries(report.starts)) {
        if (!report.inFlightAtKill.includes(step) && !report.doneBeforeKill.includes(step))
          expect({ step, starts }).toEqual({ step, starts: 1 });
      }
      expect(report.totalWorkStarts).toBe(200 + Object.keys(report.reExecuted).length);
    },
    4 * MINUTE,
  );

  /** SIGKILLs the cluster's server once `ready` holds, keeps it down 5 s, restarts it on the same database and ports. */
  async function serverKillRun(o: {
    name: string;
    job: typeof crashJob;
    count: number;
    ready: (ledger: string) => boolean;
    what: string;
  }): Promise<{
    cluster: TemporalCluster;
    ledger: string;
    outcome: string;
    result: Awaited<ReturnType<typeof awaitRunWithin>>;
    serverClient: Client;
    workflowId: string;
    workerSurvived: boolean;
    doneAtKill: number;
    cleanup: () => Promise<void>;
  }> {
    const ledgerPath = tempLedger(o.name);
    const cluster = await startCluster({ onProgress: (line) => console.log(`[${o.name}] ${line}`) });
    const workers: WorkerProcess[] = [];
    let serverConnection: Connection | undefined;
    const cleanup = async (): Promise<void> => {
      await Promise.all(workers.map((w) => w.stop()));
      await serverConnection?.close().catch(() => undefined);
      await cluster.stop();
      removeTempDir(ledgerPath);
    };
    try {
      const taskQueue = `${o.name}-${randomUUID()}`;
      const worker = await WorkerProcess.start({ address: cluster.address, taskQueue, bundlePath });
      workers.push(worker);
      serverConnection = await Connection.connect({ address: cluster.address });
      const serverClient = new Client({ connection: serverConnection });
      const run = await launchRun(serverClient, o.job, { runConfig: crashRunConfig({ ledger: ledgerPath, count: o.count }), taskQueue });

      await waitFor(o.what, () => o.ready(ledgerPath), 3 * MINUTE);
      const killedPid = cluster.serverPid();
      const killedAt = Date.now();
      await cluster.killServer('SIGKILL');
      const doneAtKill = workDoneCount(readLedger(ledgerPath));
      // Down long enough for polls, heartbeats and completions to fail.
      await new Promise((r) => setTimeout(r, 5_000));
      await cluster.restartServer();
      const restartedAt = Date.now();
      expect(cluster.serverPid()).not.toBe(killedPid);
      const workerSurvived = worker.exit === undefined;
      if (!workerSurvived) {
        console.log(`[${o.name}] worker died while the server was down (${JSON.stringify(worker.exit)}):\n${worker.output()}`);
        workers.push(await WorkerProcess.start({ address: cluster.address, taskQueue, bundlePath }));
      }
      const result = await awaitRunWithin(run, 3 * MINUTE, () => ledgerSummary(readLedger(ledgerPath)));
      const counts = countByStep(readLedger(ledgerPath));
      const reExecuted = [...counts].filter(([, c]) => c.starts > 1).map(([k, c]) => `${k}×${c.starts}`);
      const timeouts = await jobWorkflowTaskTimeouts(serverClient, run);
      const outcome =
        `${doneAtKill}/${o.count} done at SIGKILL, server down ${restartedAt - killedAt} ms (restart included), worker survived: ${workerSurvived}, ` +
        `run finished ${Date.now() - restartedAt} ms after the restart, re-executed: ${reExecuted.join(', ') || 'none'}, ` +
        `job workflow tasks timed out: ${timeouts.scheduleToStart} schedule-to-start, ${timeouts.startToClose} start-to-close`;
      return {
        cluster,
        ledger: ledgerPath,
        outcome,
        result,
        serverClient,
        workflowId: run.workflowId,
        workerSurvived,
        doneAtKill,
        cleanup,
      };
    } catch (err) {
      await cleanup();
      throw err;
    }
  }

  function expectEveryKeyOnce(ledger: string, result: Awaited<ReturnType<typeof awaitRunWithin>>, total: Total, count: number): void {
    expect(result.success).toBe(true);
    // No key missing or duplicated in the collect, in yield order, and the right sum.
    expect(total).toEqual(expectedTotal(count));
    expect(new Set(total.keys).size).toBe(count);
    expect(result.stepKeysOf(WORK)).toEqual(expectedTotal(count).keys.map((k) => `${WORK}[${k}]`));
    const counts = countByStep(readLedger(ledger));
    // Every key's body finished; nothing ran more than twice (once more after the outage at most).
    for (const key of expectedTotal(count).keys) {
      const c = counts.get(`${WORK}[${key}]`);
      expect({ key, done: (c?.dones ?? 0) >= 1, twiceAtMost: (c?.starts ?? 0) <= 2 }).toEqual({ key, done: true, twiceAtMost: true });
    }
    expect(counts.get(FAN_OUT)?.starts).toBe(1);
    expect(counts.get(TOTAL)?.starts).toBe(1);
  }

  it(
    'Temporal server SIGKILLed mid-run (child mode, 200 keys) and restarted on the same PostgreSQL: the run completes, every key collected once',
    async () => {
      const count = 200;
      const run = await serverKillRun({
        name: 'cluster-server-kill',
        job: crashJob,
        count,
        ready: (ledger) => workDoneCount(readLedger(ledger)) >= count / 2,
        what: `${count / 2}/${count} work steps done`,
      });
      try {
        console.log(`[cluster crash] server kill: ${run.outcome}`);
        expect(run.doneAtKill).toBeLessThan(count);
        expectEveryKeyOnce(run.ledger, run.result, (await run.result.outputFor(TOTAL)) as Total, count);
        expect(run.workerSurvived).toBe(true);
      } finally {
        await run.cleanup();
      }
    },
    5 * MINUTE,
  );

  it(
    `Temporal server SIGKILLed while a sharded map runs (activity mode, ${CRASH_SHARD_SIZE} keys per shard, shard workflows spread over the history shards) and restarted: the exact total, every key once`,
    async () => {
      const count = 100;
      const running = (ledger: string): number =>
        [...countByStep(readLedger(ledger))].filter(([k, c]) => k.startsWith(`${WORK}[`) && c.starts > c.dones).length;
      const run = await serverKillRun({
        name: 'cluster-server-kill-sharded',
        job: crashShardedJob,
        count,
        ready: (ledger) => workDoneCount(readLedger(ledger)) >= count / 2 && running(ledger) > 0,
        what: `${count / 2}/${count} work steps done, keys running`,
      });
      try {
        console.log(`[cluster crash] server kill, sharded map: ${run.outcome}`);
        const history = await run.serverClient.workflow.getHandle(run.workflowId).fetchHistory();
        const shardChildren = (history.events ?? []).filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes).length;
        expect(shardChildren).toBe(count / CRASH_SHARD_SIZE);
        expectEveryKeyOnce(run.ledger, run.result, (await run.result.outputFor(TOTAL)) as Total, count);
        expect(run.workerSurvived).toBe(true);
      } finally {
        await run.cleanup();
      }
    },
    5 * MINUTE,
  );
});
