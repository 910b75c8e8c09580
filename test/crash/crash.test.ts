/**
 * Durability under real crashes: "a crash anywhere resumes where it stopped, per key, and nothing
 * is lost". Workers run as child processes and are SIGKILLed; the dev server of the second test is
 * SIGKILLed and restarted on the same SQLite file and port. The ledger (test/crash/fixtures.ts)
 * records every op body that ran, in which process and when.
 */
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runChaos } from '../../scripts/chaos.ts';
import { launchRun } from '../../src/client/run.ts';
import { findFreePort, startDevServer, type DevServer } from '../../src/server/devServer.ts';
import {
  countByStep,
  CRASH_BATCH_SIZE,
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
} from './fixtures.ts';
import {
  awaitRunWithin,
  jobWorkflowTaskTimeouts,
  ledgerSummary,
  removeTempDir,
  runWorkerKillScenario,
  tempLedger,
  waitFor,
  type WorkerKillReport,
  WorkerProcess,
} from './scenario.ts';

const MINUTE = 60_000;

function workerKillLine(r: WorkerKillReport): string {
  const batches = r.batches.length
    ? `, batches at the kill: ${['recorded', 'in flight', 'not started'].map((s) => `${r.batches.filter((b) => b.state === s).length} ${s}`).join(', ')}; ` +
      `in flight: ${r.batches
        .filter((b) => b.state === 'in flight')
        .map(
          (b) =>
            `#${b.index} attempt ${b.attempt}, A started ${JSON.stringify(b.startsByA)}, after the kill ${JSON.stringify(b.startsAfterKill)}`,
        )
        .join('; ')}`
    : '';
  return (
    `[crash] worker kill (${r.mode} mode): ${r.doneAtKillSignal}/${r.count} done at SIGKILL, A finished ${r.doneBeforeKill.length} ` +
    `(${r.recordedBeforeKill.length} recorded by the server), in flight ${r.inFlightAtKill.length}, ` +
    `re-executed ${Object.keys(r.reExecuted).length} ${JSON.stringify(r.reExecuted)}${batches}, timings ${JSON.stringify(r.timings)}, ` +
    `longest stall ${r.longestGapAfterRestartMs} ms, job workflow tasks timed out ${r.workflowTaskTimeouts.job.at.length}`
  );
}

describe('durability: real processes killed mid-run', () => {
  let connection: Connection;
  let client: Client;
  const address = inject('temporalAddress');
  const bundlePath = inject('workflowBundlePath');

  beforeAll(async () => {
    connection = await Connection.connect({ address });
    client = new Client({ connection });
  });
  afterAll(async () => connection?.close());

  it(
    'worker SIGKILLed at half the keys: a new worker finishes the run; finished steps never re-run, in-flight ones at most once more',
    async () => {
      const report = await runWorkerKillScenario({ client, address, bundlePath, count: 200, killAtFraction: 0.5, log: console.log });
      console.log(
        `[crash] worker kill: ${report.doneAtKillSignal}/200 done at SIGKILL, A finished ${report.doneBeforeKill.length} ` +
          `(${report.recordedBeforeKill.length} recorded by the server), in flight ${report.inFlightAtKill.length}, ` +
          `re-executed ${JSON.stringify(report.reExecuted)}, timings ${JSON.stringify(report.timings)}, longest stall ${report.longestGapAfterRestartMs} ms, ` +
          `timed-out workflow tasks ${JSON.stringify({ ...report.workflowTaskTimeouts, job: report.workflowTaskTimeouts.job.at.map((t) => t - report.killedAt) })}`,
      );

      expect(report.result).toEqual(expectedTotal(200));
      expect(report.doneAtKillSignal).toBeGreaterThanOrEqual(100);
      expect(report.doneAtKillSignal).toBeLessThan(200);
      // Steps whose completion the server had recorded before the kill ran exactly once.
      // (Under load a few completions lag behind their `done` line; most must have reached the server.)
      expect(report.recordedBeforeKill.length).toBeGreaterThanOrEqual(50);
      for (const step of report.recordedBeforeKill) expect({ step, starts: report.starts[step] }).toEqual({ step, starts: 1 });
      // A step whose `done` line beat the SIGKILL but whose completion had not reached the server
      // may run once more (Temporal is at-least-once); the report counts them as doneButReRun.
      for (const step of report.doneBeforeKill) {
        const starts = report.starts[step];
        if (report.recordedBeforeKill.includes(step)) expect({ step, starts }).toEqual({ step, starts: 1 });
        else expect(starts).toBeLessThanOrEqual(2);
      }
      // In flight at the kill (start without done): at most once more.
      for (const step of report.inFlightAtKill) expect(report.starts[step]).toBeLessThanOrEqual(2);
      // Steps the killed worker never started ran exactly once.
      for (const [step, starts] of Object.entries(report.starts)) {
        if (!report.inFlightAtKill.includes(step) && !report.doneBeforeKill.includes(step))
          expect({ step, starts }).toEqual({ step, starts: 1 });
      }
      expect(report.totalWorkStarts).toBe(200 + Object.keys(report.reExecuted).length);
      expect(report.violations).toEqual([]);
    },
    4 * MINUTE,
  );

  it(
    'worker SIGKILLed at half the keys, activity mode: a new worker finishes the run; steps the server recorded never re-run, in-flight ones at most once more',
    async () => {
      const report = await runWorkerKillScenario({
        client,
        address,
        bundlePath,
        mode: 'activity',
        count: 200,
        killAtFraction: 0.5,
        log: console.log,
      });
      console.log(workerKillLine(report));

      expect(report.violations).toEqual([]);
      expect(report.result).toEqual(expectedTotal(200));
      expect(report.doneAtKillSignal).toBeGreaterThanOrEqual(100);
      expect(report.doneAtKillSignal).toBeLessThan(200);
      // The kill hit steps in flight (the scenario waits for one), and most finished steps had reached the server.
      expect(report.inFlightAtKill.length).toBeGreaterThanOrEqual(1);
      expect(report.recordedBeforeKill.length).toBeGreaterThanOrEqual(50);
      // Each key is an activity of the job workflow: the unit of re-execution is the step.
      // Recorded by the server before the kill: ran exactly once.
      for (const step of report.recordedBeforeKill) expect({ step, starts: report.starts[step] }).toEqual({ step, starts: 1 });
      // Done in A but its completion not yet recorded, or in flight at the kill: at most once more.
      for (const step of [...report.doneBeforeKill, ...report.inFlightAtKill]) expect(report.starts[step]).toBeLessThanOrEqual(2);
      // Not started by the killed worker: exactly once.
      for (const [step, starts] of Object.entries(report.starts)) {
        if (!report.inFlightAtKill.includes(step) && !report.doneBeforeKill.includes(step))
          expect({ step, starts }).toEqual({ step, starts: 1 });
      }
      expect(report.totalWorkStarts).toBe(200 + Object.keys(report.reExecuted).length);
    },
    2 * MINUTE,
  );

  it(
    `worker SIGKILLed at half the keys, batch mode (${CRASH_BATCH_SIZE} keys per batch): finished batches never re-run; a batch in flight re-runs all its keys (or none), at most once more each`,
    async () => {
      const report = await runWorkerKillScenario({
        client,
        address,
        bundlePath,
        mode: 'batch',
        count: 200,
        killAtFraction: 0.5,
        log: console.log,
      });
      console.log(workerKillLine(report));

      expect(report.violations).toEqual([]);
      expect(report.result).toEqual(expectedTotal(200));
      expect(report.doneAtKillSignal).toBeGreaterThanOrEqual(100);
      expect(report.doneAtKillSignal).toBeLessThan(200);
      const { batches } = report;
      expect(batches.map((b) => b.index)).toEqual(Array.from({ length: 200 / CRASH_BATCH_SIZE }, (_, i) => i));
      const inFlight = batches.filter((b) => b.state === 'in flight');
      // The kill hit a batch in flight (the scenario waits for a running key), and finished batches had reached the server.
      expect(inFlight.length).toBeGreaterThanOrEqual(1);
      expect(batches.filter((b) => b.state === 'recorded').length).toBeGreaterThanOrEqual(5);
      for (const b of batches) {
        const starts = b.steps.map((s) => report.starts[s]);
        if (b.state === 'recorded') {
          // Completion recorded by the server before the kill: never re-runs; each key ran once.
          expect({ batch: b.index, starts }).toEqual({ batch: b.index, starts: b.steps.map(() => 1) });
        } else if (b.state === 'not started') {
          // Not started by the killed worker: each key runs once, in the new worker.
          expect({ batch: b.index, starts, afterKill: b.startsAfterKill }).toEqual({
            batch: b.index,
            starts: b.steps.map(() => 1),
            afterKill: b.steps.map(() => 1),
          });
        } else {
          // In flight: Temporal retries the batch activity at most once, and that attempt runs all of its keys
          // again (also those A had finished), each exactly once; if the completion was already on its way, none.
          expect(b.attempt).toBeLessThanOrEqual(2);
          const again = b.attempt > 1 ? 1 : 0;
          expect({ batch: b.index, afterKill: b.startsAfterKill }).toEqual({ batch: b.index, afterKill: b.steps.map(() => again) });
          for (const n of starts) expect(n).toBeLessThanOrEqual(2);
        }
      }
      // Keys that ran twice: those A had started in the batches Temporal retried.
      const reRunKeys = inFlight.filter((b) => b.attempt > 1).reduce((sum, b) => sum + b.startsByA.filter((n) => n > 0).length, 0);
      expect(Object.keys(report.reExecuted).length).toBe(reRunKeys);
      expect(report.totalWorkStarts).toBe(200 + reRunKeys);
    },
    2 * MINUTE,
  );

  it(
    'dev server SIGKILLed mid-run and restarted on the same db file and port: the run completes, every key collected once',
    async () => {
      const dir = dirname(tempLedger('server-kill'));
      const ledger = join(dir, 'ledger.txt');
      const dbFilename = join(dir, 'temporal.db');
      const port = await findFreePort();
      let server: DevServer | undefined = await startDevServer({ dbFilename, port });
      const serverAddress = server.address;
      const workers: WorkerProcess[] = [];
      let serverConnection: Connection | undefined;
      try {
        const taskQueue = `crash-server-${randomUUID()}`;
        const worker = await WorkerProcess.start({ address: serverAddress, taskQueue, bundlePath });
        workers.push(worker);
        serverConnection = await Connection.connect({ address: serverAddress });
        const serverClient = new Client({ connection: serverConnection });
        const run = await launchRun(serverClient, crashJob, { runConfig: crashRunConfig({ ledger, count: 200 }), taskQueue });

        await waitFor('100/200 work steps done', () => workDoneCount(readLedger(ledger)) >= 100, 3 * MINUTE);
        const killedPid = server.pid;
        const killedAt = Date.now();
        process.kill(killedPid, 'SIGKILL');
        await server.stop(); // only waits for the exit: the process is already dying
        server = undefined;
        const doneAtKill = workDoneCount(readLedger(ledger));
        // Stay down a while: long enough for polls, heartbeats and completions to fail.
        await new Promise((r) => setTimeout(r, 5_000));
        const aliveDuringOutage = worker.exit === undefined;

        server = await startDevServer({ dbFilename, port });
        const restartedAt = Date.now();
        expect(server.address).toBe(serverAddress);
        expect(server.pid).not.toBe(killedPid);

        // The worker is expected to ride out the outage; if it died, a new one is started (and the test fails below).
        const workerSurvivedOutage = worker.exit === undefined;
        if (!workerSurvivedOutage) {
          console.log(`[crash] worker died while the server was down (${JSON.stringify(worker.exit)}):\n${worker.output()}`);
          workers.push(await WorkerProcess.start({ address: serverAddress, taskQueue, bundlePath }));
        }

        const result = await awaitRunWithin(run, 3 * MINUTE, () => ledgerSummary(readLedger(ledger)));
        const finishedAt = Date.now();
        const lines = readLedger(ledger);
        const counts = countByStep(lines);
        const reExecuted = [...counts].filter(([, c]) => c.starts > 1).map(([k, c]) => `${k}×${c.starts}`);
        const firstAfterRestart = lines.find((l) => l.at >= restartedAt);
        const timeouts = await jobWorkflowTaskTimeouts(serverClient, run);
        console.log(
          `[crash] server kill: ${doneAtKill}/200 done at SIGKILL, server down ${restartedAt - killedAt} ms, ` +
            `worker survived: ${workerSurvivedOutage} (alive after 5 s outage: ${aliveDuringOutage}), ` +
            `first op start after restart +${firstAfterRestart ? firstAfterRestart.at - restartedAt : '–'} ms, ` +
            `run finished ${finishedAt - restartedAt} ms after restart, re-executed: ${reExecuted.join(', ') || 'none'}, ` +
            `job workflow tasks timed out: ${timeouts.scheduleToStart} schedule-to-start, ${timeouts.startToClose} start-to-close`,
        );

        expect(result.success).toBe(true);
        const total = (await result.outputFor(TOTAL)) as Total;
        // No key missing or duplicated in the collect, in yield order, and the right sum.
        expect(total).toEqual(expectedTotal(200));
        expect(new Set(total.keys).size).toBe(200);
        expect(result.stepKeysOf(WORK)).toEqual(expectedTotal(200).keys.map((k) => `${WORK}[${k}]`));
        // Every key's body finished; nothing ran more than twice (once more after the outage at most).
        for (const key of expectedTotal(200).keys) {
          const c = counts.get(`${WORK}[${key}]`);
          expect(c?.dones ?? 0).toBeGreaterThanOrEqual(1);
          expect(c?.starts ?? 0).toBeLessThanOrEqual(2);
        }
        expect(counts.get(FAN_OUT)?.starts).toBe(1);
        expect(workerSurvivedOutage).toBe(true);
      } finally {
        await Promise.all(workers.map((w) => w.stop()));
        await serverConnection?.close().catch(() => undefined);
        await server?.stop();
        removeTempDir(ledger);
      }
    },
    4 * MINUTE,
  );

  it(
    `dev server SIGKILLed while a sharded map runs (activity mode, ${CRASH_SHARD_SIZE} keys per shard) and restarted on the same db file and port: the run completes with the exact total, every key collected once`,
    async () => {
      const count = 100;
      const shards = count / CRASH_SHARD_SIZE;
      const dir = dirname(tempLedger('server-kill-sharded'));
      const ledger = join(dir, 'ledger.txt');
      const dbFilename = join(dir, 'temporal.db');
      const port = await findFreePort();
      let server: DevServer | undefined = await startDevServer({ dbFilename, port });
      const serverAddress = server.address;
      const workers: WorkerProcess[] = [];
      let serverConnection: Connection | undefined;
      try {
        const taskQueue = `crash-server-sharded-${randomUUID()}`;
        const worker = await WorkerProcess.start({ address: serverAddress, taskQueue, bundlePath });
        workers.push(worker);
        serverConnection = await Connection.connect({ address: serverAddress });
        const serverClient = new Client({ connection: serverConnection });
        const run = await launchRun(serverClient, crashShardedJob, { runConfig: crashRunConfig({ ledger, count }), taskQueue });

        // Kill once half the keys are done and keys are running in shard workflows.
        const shardOf = (stepKey: string) => Math.floor(Number(/_(\d+)\]$/.exec(stepKey)?.[1]) / CRASH_SHARD_SIZE);
        const running = (lines: ReturnType<typeof readLedger>) =>
          [...countByStep(lines)].filter(([k, c]) => k.startsWith(`${WORK}[`) && c.starts > c.dones).map(([k]) => k);
        await waitFor(
          `${count / 2}/${count} work steps done, keys running`,
          () => {
            const lines = readLedger(ledger);
            return workDoneCount(lines) >= count / 2 && running(lines).length > 0;
          },
          2 * MINUTE,
        );
        // The ledger as the server dies (read after stop(), keys running at the kill may already have finished).
        const atKill = readLedger(ledger);
        const killedPid = server.pid;
        const killedAt = Date.now();
        process.kill(killedPid, 'SIGKILL');
        await server.stop();
        server = undefined;
        const doneAtKill = workDoneCount(atKill);
        const shardsRunningAtKill = [...new Set(running(atKill).map(shardOf))].sort();
        const doneByShardAtKill = Array.from({ length: shards }, () => 0);
        for (const step of new Set(atKill.filter((l) => l.event === 'done' && l.stepKey.startsWith(`${WORK}[`)).map((l) => l.stepKey)))
          doneByShardAtKill[shardOf(step)]! += 1;
        await new Promise((r) => setTimeout(r, 5_000));
        const aliveDuringOutage = worker.exit === undefined;

        server = await startDevServer({ dbFilename, port });
        const restartedAt = Date.now();
        expect(server.address).toBe(serverAddress);
        expect(server.pid).not.toBe(killedPid);
        const workerSurvivedOutage = worker.exit === undefined;
        if (!workerSurvivedOutage) {
          console.log(`[crash] worker died while the server was down (${JSON.stringify(worker.exit)}):\n${worker.output()}`);
          workers.push(await WorkerProcess.start({ address: serverAddress, taskQueue, bundlePath }));
        }

        const result = await awaitRunWithin(run, 2 * MINUTE, () => ledgerSummary(readLedger(ledger)));
        const finishedAt = Date.now();
        const lines = readLedger(ledger);
        const counts = countByStep(lines);
        const reExecuted = [...counts].filter(([, c]) => c.starts > 1).map(([k, c]) => `${k}×${c.starts}`);
        const history = await serverClient.workflow.getHandle(run.workflowId).fetchHistory();
        const shardChildren = (history.events ?? []).filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes).length;
        console.log(
          `[crash] server kill, sharded map: ${doneAtKill}/${count} done at SIGKILL, keys running in shards ${JSON.stringify(shardsRunningAtKill)} of ${shards}, keys done per shard ${JSON.stringify(doneByShardAtKill)}, ` +
            `server down ${restartedAt - killedAt} ms, worker survived: ${workerSurvivedOutage} (alive after 5 s outage: ${aliveDuringOutage}), ` +
            `shard workflows started by the job: ${shardChildren}, run finished ${finishedAt - restartedAt} ms after restart, ` +
            `re-executed: ${reExecuted.join(', ') || 'none'}`,
        );

        expect(doneAtKill).toBeGreaterThanOrEqual(count / 2);
        expect(doneAtKill).toBeLessThan(count);
        expect(shardsRunningAtKill.length).toBeGreaterThanOrEqual(1);
        // The map ran in shard workflows (children of the job), one per CRASH_SHARD_SIZE keys.
        expect(shardChildren).toBe(shards);
        expect(result.success).toBe(true);
        const total = (await result.outputFor(TOTAL)) as Total;
        // No key missing or duplicated in the collect, in yield order, and the right sum.
        expect(total).toEqual(expectedTotal(count));
        expect(new Set(total.keys).size).toBe(count);
        expect(result.stepKeysOf(WORK)).toEqual(expectedTotal(count).keys.map((k) => `${WORK}[${k}]`));
        // Every key's body finished; nothing ran more than twice (once more after the outage at most).
        for (const key of expectedTotal(count).keys) {
          const c = counts.get(`${WORK}[${key}]`);
          expect({ key, done: (c?.dones ?? 0) >= 1, twiceAtMost: (c?.starts ?? 0) <= 2 }).toEqual({ key, done: true, twiceAtMost: true });
        }
        expect(counts.get(FAN_OUT)?.starts).toBe(1);
        expect(counts.get(TOTAL)?.starts).toBe(1);
        expect(workerSurvivedOutage).toBe(true);
      } finally {
        await Promise.all(workers.map((w) => w.stop()));
        await serverConnection?.close().catch(() => undefined);
        await server?.stop();
        removeTempDir(ledger);
      }
    },
    2 * MINUTE,
  );

  it(
    'worker SIGKILLed while the fan-out op is still yielding: the op re-runs and only the successful attempt’s keys are mapped',
    async () => {
      const ledger = tempLedger('fanout-kill');
      const taskQueue = `crash-fanout-${randomUUID()}`;
      const count = 30;
      const workers: WorkerProcess[] = [];
      try {
        const a = await WorkerProcess.start({ address, taskQueue, bundlePath });
        workers.push(a);
        const run = await launchRun(client, crashJob, { runConfig: crashRunConfig({ ledger, count, yieldDelayMs: 150 }), taskQueue });
        // Kill once attempt 1 has yielded a few keys (it needs ~4.5 s for all 30).
        await waitFor('the fan-out to yield 5 keys', () => readLedger(ledger).filter((l) => l.event === 'yield').length >= 5, 3 * MINUTE);
        const killedAt = Date.now();
        await a.kill('SIGKILL');
        const atKill = readLedger(ledger);
        expect(atKill.some((l) => l.stepKey === FAN_OUT && l.event === 'done')).toBe(false);
        const yieldedByA = atKill.filter((l) => l.event === 'yield').map((l) => l.extra);

        const b = await WorkerProcess.start({ address, taskQueue, bundlePath });
        workers.push(b);
        const result = await awaitRunWithin(run, 3 * MINUTE, () => ledgerSummary(readLedger(ledger)));
        const lines = readLedger(ledger);
        const fanOut = lines.filter((l) => l.stepKey === FAN_OUT);
        const secondStart = fanOut.find((l) => l.event === 'start' && l.pid === b.pid);
        const secondDone = fanOut.find((l) => l.event === 'done');
        const timeouts = await jobWorkflowTaskTimeouts(client, run);
        console.log(
          `[crash] fan-out kill: attempt 1 yielded ${yieldedByA.length}/${count} keys before SIGKILL; ` +
            `attempt 2 started ${secondStart ? secondStart.at - killedAt : '–'} ms after the kill and finished at +${secondDone ? secondDone.at - killedAt : '–'} ms; ` +
            `job workflow tasks timed out at +${timeouts.at.map((t) => t - killedAt).join(', +') || '–'} ms ` +
            `(${timeouts.scheduleToStart} schedule-to-start, ${timeouts.startToClose} start-to-close); run finished ${Date.now() - killedAt} ms after the kill`,
        );

        // Attempt 1 (killed worker) started and yielded some keys but never finished; attempt 2 ran to the end.
        expect(fanOut.filter((l) => l.event === 'start').map((l) => [l.pid, l.extra])).toEqual([
          [a.pid, 'a1'],
          [b.pid, 'a2'],
        ]);
        expect(fanOut.filter((l) => l.event === 'done').map((l) => [l.pid, l.extra])).toEqual([[b.pid, 'a2']]);
        expect(yieldedByA.length).toBeGreaterThanOrEqual(5);
        expect(yieldedByA.length).toBeLessThan(count);
        expect(yieldedByA.every((k) => k?.startsWith('a1_'))).toBe(true);

        expect(result.success).toBe(true);
        const expected = expectedTotal(count, 2);
        expect(await result.outputFor(TOTAL)).toEqual(expected);
        expect([...((await result.outputFor(FAN_OUT)) as Map<string, unknown>).keys()]).toEqual(expected.keys);
        expect(result.stepKeysOf(WORK)).toEqual(expected.keys.map((k) => `${WORK}[${k}]`));
        // No mapped step of the killed attempt ever ran; each key of attempt 2 ran exactly once.
        const workStarts = lines.filter((l) => l.event === 'start' && l.stepKey.startsWith(`${WORK}[`)).map((l) => l.stepKey);
        expect([...workStarts].sort()).toEqual(expected.keys.map((k) => `${WORK}[${k}]`).sort());
      } finally {
        await Promise.all(workers.map((w) => w.stop()));
        removeTempDir(ledger);
      }
    },
    4 * MINUTE,
  );

  it(
    'chaos: two rounds of the worker kill at random points (10–90% of keys done) all pass',
    async () => {
      const outcome = await runChaos({ client, address, bundlePath, rounds: 2, count: 200, log: (line) => console.log(`[chaos] ${line}`) });
      console.log(`[chaos] ${outcome.summary}`);
      expect(outcome.rounds.map((r) => r.error ?? r.report?.violations)).toEqual([[], []]);
      for (const round of outcome.rounds) {
        expect(round.report?.result).toEqual(expectedTotal(200));
        expect(round.killAtFraction).toBeGreaterThanOrEqual(0.1);
        expect(round.killAtFraction).toBeLessThanOrEqual(0.9);
      }
      expect(outcome.failed).toBe(0);
    },
    6 * MINUTE,
  );
});
