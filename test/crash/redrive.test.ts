/**
 * Redrive in place survives a worker SIGKILL (issue 11): three keys of a 40-key map fail and wait;
 * the fix is deployed (a flag file removed) and the run is redriven; the worker is killed while the
 * redriven keys run, and a new worker finishes the run. The ledger (written by the op bodies, read
 * from outside) proves which steps ran: the 37 keys that succeeded never ran again, each failed
 * key ran once failing and then once more (twice, at most, when the kill caught it in flight).
 */
import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { redrive } from '../../src/client/redrive.ts';
import { launchRun } from '../../src/client/run.ts';
import type { RunProgress } from '../../src/engine/progress.ts';
import { countByStep, crashRedriveConfig, crashRedriveJob, expectedTotal, FLAKY_WORK, readLedger, TOTAL, type Total } from './fixtures.ts';
import { awaitRunWithin, ledgerSummary, removeTempDir, tempLedger, waitFor, WorkerProcess } from './scenario.ts';

const COUNT = 40;
const FAILING = ['a1_3', 'a1_17', 'a1_30'];

describe('redrive in place: a worker SIGKILLed in the middle of a redrive', () => {
  let connection: Connection;
  let client: Client;
  const address = inject('temporalAddress');
  const bundlePath = inject('workflowBundlePath');

  beforeAll(async () => {
    connection = await Connection.connect({ address });
    client = new Client({ connection });
  });
  afterAll(async () => connection?.close());

  it('the redriven keys finish on a new worker; no succeeded step runs again', async () => {
    const ledger = tempLedger('redrive-kill');
    const brokenFlag = join(dirname(ledger), 'broken');
    writeFileSync(brokenFlag, 'the bug is not fixed yet\n');
    const taskQueue = `crash-redrive-${randomUUID()}`;
    const workers: WorkerProcess[] = [];
    try {
      const a = await WorkerProcess.start({ address, taskQueue, bundlePath });
      workers.push(a);
      const run = await launchRun(client, crashRedriveJob, {
        taskQueue,
        runConfig: crashRedriveConfig({ ledger, count: COUNT, brokenFlag, failing: FAILING, fixedMs: 4_000 }),
      });
      const workDone = () => countByStep(readLedger(ledger), (l) => l.stepKey.startsWith(`${FLAKY_WORK}[`) && l.event === 'done').size;
      await waitFor('the 37 other keys done', () => workDone() === COUNT - FAILING.length, 120_000, 200);
      for (const deadline = Date.now() + 60_000; ;) {
        const progress = await run.handle.query<RunProgress>('progress').catch(() => undefined);
        if (progress?.waiting?.steps === FAILING.length) break;
        if (Date.now() > deadline) throw new Error(`3 failed steps never waited: ${JSON.stringify(progress)}`);
        await new Promise((r) => setTimeout(r, 250));
      }

      // The fix is deployed; redrive; kill the worker while the redriven keys run (each takes 4 s now).
      rmSync(brokenFlag);
      const startsBefore = readLedger(ledger).length;
      await redrive(client, run.workflowId);
      await waitFor(
        'a redriven key running',
        () =>
          readLedger(ledger)
            .slice(startsBefore)
            .some((l) => l.event === 'start' && FAILING.some((k) => l.stepKey === `${FLAKY_WORK}[${k}]`)),
        60_000,
      );
      await a.kill('SIGKILL');
      const b = await WorkerProcess.start({ address, taskQueue, bundlePath });
      workers.push(b);
      const result = await awaitRunWithin(run, 180_000, () => ledgerSummary(readLedger(ledger)));

      expect(result.success).toBe(true);
      expect(await result.outputFor(TOTAL)).toEqual(expectedTotal(COUNT) satisfies Total);
      const starts = countByStep(readLedger(ledger));
      const redriven: Record<string, number> = {};
      for (let i = 0; i < COUNT; i++) {
        const step = `${FLAKY_WORK}[a1_${i}]`;
        const n = starts.get(step)?.starts ?? 0;
        if (FAILING.includes(`a1_${i}`)) {
          // One failing run, then the redrive: once, or twice when the kill caught it in flight.
          redriven[step] = n;
          expect(n).toBeGreaterThanOrEqual(2);
          expect(n).toBeLessThanOrEqual(3);
        } else {
          expect({ step, starts: n }).toEqual({ step, starts: 1 });
        }
      }
      expect(starts.get(TOTAL)?.starts).toBe(1);
      console.log(
        `[crash] redrive kill: worker A killed mid-redrive, step runs of the 3 redriven keys ${JSON.stringify(redriven)}, 37 others ran once`,
      );
    } finally {
      for (const worker of workers) await worker.stop().catch(() => undefined);
      removeTempDir(ledger);
    }
  }, 300_000);
});
