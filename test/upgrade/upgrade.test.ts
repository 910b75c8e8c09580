/**
 * Upgrade drill (test/upgrade/drill.ts): runs of every shape in test/upgrade/jobs.ts are started on a worker built
 * from test/upgrade/BASELINE, that worker is SIGKILLed mid-run, and a worker built from the working tree finishes
 * them — each with its exact result and no nondeterminism in any workflow of the run. `npm run upgrade-drill` runs
 * the same drill with its own dev server.
 */
import { describe, expect, inject, it } from 'vitest';
import { runUpgradeDrill } from './drill.ts';

describe('upgrade drill: runs in flight on the baseline finish on the working tree', () => {
  it('every shape crosses the upgrade with its exact result and no nondeterminism', { timeout: 300_000 }, async () => {
    const report = await runUpgradeDrill({
      address: inject('temporalAddress'),
      headBundlePath: inject('workflowBundlePath'),
      log: (line) => console.log(line),
    });
    for (const note of report.notes) console.log(`[drill] note: ${note}`);
    for (const s of report.shapes) {
      expect({ shape: s.shape, status: s.status, actual: s.actual, nondeterminism: s.nondeterminism }).toEqual({
        shape: s.shape,
        status: 'SUCCESS',
        actual: s.expected,
        nondeterminism: [],
      });
      // The run was mid-way at the kill: both workers completed workflow tasks of it.
      expect(s.atKill.closed).toBe(false);
      expect(s.workflowTasks.baseline).toBeGreaterThan(0);
      expect(s.workflowTasks.head).toBeGreaterThan(0);
    }
    expect(report.shapes.map((s) => s.shape).sort()).toEqual(
      [
        'seed (dynamic_graph)',
        'nested fan-out',
        'stages',
        'sharded map',
        'activity mode',
        'batch mode',
        'retry after a delay',
        'long op',
      ].sort(),
    );
    // The retry's durable timer was pending and the long op running when the baseline worker died.
    expect(report.shapes.find((s) => s.shape === 'retry after a delay')?.atKill.timerPending).toBe(true);
    expect(report.shapes.find((s) => s.shape === 'long op')?.atKill.longOpRunning).toBe(true);
    expect(report.problems).toEqual([]);
  });
});
