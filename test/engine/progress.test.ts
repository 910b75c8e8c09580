/**
 * Live progress names the step keys that retry (with their attempt and last error) and the ones
 * that failed for good, as it happens, bounded per node; the CLI's lines show them.
 */
import { describe, expect, it } from 'vitest';
import { plainLine, progressItems } from '../../src/cli/progress.ts';
import { DynamicOut, job, op, RetryPolicy } from '../../src/dsl/index.ts';
import { doomedNodes } from '../../src/engine/doomed.ts';
import { ScopeInterpreter } from '../../src/engine/interpreter.ts';
import { NAMED_KEYS, ProgressCounter, progressMarkdown, type RunProgress } from '../../src/engine/progress.ts';
import { FakeEngine, items, jobScope, keyed, value } from './fakeEngine.ts';

const keys = op({ name: 'keys', out: new DynamicOut<number>() }, async function* () {});
const work = op({ name: 'work', retryPolicy: new RetryPolicy({ maxRetries: 3, delay: 2 }) }, async (_ctx, x: number) => x);
const total = op({ name: 'total' }, async (_ctx, xs: number[]) => xs.length);
const progressJob = job({ name: 'progress_job' }, () => {
  total(keys().map(work, { mode: 'activity' }).collect());
});

function snapshot(counter: ProgressCounter): RunProgress {
  return structuredClone(counter.state);
}

async function runWithProgress(fake: FakeEngine, counter: ProgressCounter) {
  const interpreter = new ScopeInterpreter(jobScope(progressJob.plan), fake, counter);
  interpreter.reserveOwnSteps();
  return interpreter.run();
}

describe('progress names retrying and failed keys live', () => {
  it('a key on its second attempt is named retrying with the last error; a key that failed for good is named as it fails', async () => {
    const seen: RunProgress[] = [];
    let k1OnSecond: RunProgress | undefined;
    const counter = new ProgressCounter(
      'progress_job',
      'run1',
      progressJob.plan.nodes.map((n) => n.id),
    );
    counter.plan = progressJob.plan;
    const fake = new FakeEngine({
      ops: {
        keys: () => items(keyed(4)),
        work: async (t) => {
          const key = t.mappingKeys[0];
          // k3 ends only once k2 failed for good: the run is still running then.
          for (let i = 0; key === 'k3' && i < 1000 && !counter.state.nodes.work?.failed; i++) await new Promise((r) => setImmediate(r));
          if (key === 'k1' && t.attempt === 1) throw new Error('flaky once');
          if (key === 'k2') {
            if (t.attempt === 4) seen.push(snapshot(counter)); // k2 on its last attempt
            throw new Error('always broken');
          }
          if (key === 'k1') k1OnSecond = snapshot(counter); // k1 on attempt 2
          seen.push(snapshot(counter));
          return value(1);
        },
        total: () => value(0),
      },
    });
    const result = await runWithProgress(fake, counter);
    expect(result.steps['work[k2]']?.status).toBe('FAILURE');

    expect(k1OnSecond?.nodes.work?.retryingKeys).toContainEqual({
      stepKey: 'work[k1]',
      attempt: 2,
      of: 4,
      error: 'OpUserError: flaky once',
    });
    const items1 = progressItems(progressJob.plan, k1OnSecond).map(plainLine);
    expect(items1.find((l) => l.startsWith('work[*]'))).toContain('work[k1]: attempt 2 of 4, last error: OpUserError: flaky once');
    expect(progressMarkdown(k1OnSecond as RunProgress)).toContain('work[k1]: attempt 2 of 4');

    // A snapshot taken after k2 failed for good, while the run still runs.
    const afterK2 = seen.find((s) => s.nodes.work?.failed === 1);
    expect(afterK2, 'a snapshot after k2 failed for good, while the run still runs').toBeDefined();
    expect(afterK2?.nodes.work?.failedKeys).toEqual([{ stepKey: 'work[k2]', error: 'OpUserError: always broken' }]);
    expect(progressItems(progressJob.plan, afterK2).map(plainLine).join('\n')).toContain('1 failed (work[k2]: OpUserError: always broken)');
    // The collect's consumer can no longer run: abandoned while the run still runs (k3 has not ended).
    expect(k1OnSecond?.doomed).toBeUndefined();
    expect(afterK2?.doomed).toEqual(['total']);
    expect(progressItems(progressJob.plan, afterK2).map(plainLine)).toContain('total: abandoned');
    expect(afterK2?.nodes.total?.abandoned).toBe(0);
    const k2Last = seen.find((s) => s.nodes.work?.retryingKeys?.some((r) => r.stepKey === 'work[k2]' && r.attempt === 4));
    expect(k2Last, 'k2 named on its 4th and last attempt').toBeDefined();

    // At the end nothing is left retrying.
    expect(counter.state.nodes.work?.retrying).toBe(0);
    expect(counter.state.nodes.work?.retryingKeys).toEqual([]);
  });

  it('names at most NAMED_KEYS keys per node, then "+N more"', async () => {
    const counter = new ProgressCounter(
      'progress_job',
      'run1',
      progressJob.plan.nodes.map((n) => n.id),
    );
    let during: RunProgress | undefined;
    const fake = new FakeEngine({
      ops: {
        keys: () => items(keyed(20)),
        work: (t) => {
          if (t.mappingKeys[0] === 'k19' && t.attempt === 1) during = snapshot(counter);
          throw new Error('boom');
        },
        total: () => value(0),
      },
    });
    await runWithProgress(fake, counter);
    const work = counter.state.nodes.work;
    expect(work?.failed).toBe(20);
    expect(work?.failedKeys).toHaveLength(NAMED_KEYS);
    expect(progressItems(progressJob.plan, counter.state).map(plainLine).join('\n')).toContain('; +12 more)');
    expect(during).toBeDefined();
  });
});

describe('doomedNodes', () => {
  const double = op({ name: 'double' }, async (_ctx, x: number) => x * 2);
  const after = op({ name: 'after' }, async (_ctx, x: number) => x);
  const chain = job({ name: 'doom_chain' }, () => {
    after(total(keys().map(work).map(double).collect()));
  });

  it('a failed mapped step dooms what collects from its map, and what follows that', () => {
    expect(doomedNodes(chain.plan, 'work').sort()).toEqual(['after', 'total']);
    expect(doomedNodes(chain.plan, 'double').sort()).toEqual(['after', 'total']);
  });

  it('an unmapped failure needs nothing here (its consumers are abandoned at once)', () => {
    expect(doomedNodes(chain.plan, 'total')).toEqual([]);
  });

  it("with onStepFailure 'wait' nothing is doomed: what follows waits for a redrive", () => {
    expect(doomedNodes({ ...chain.plan, onStepFailure: { mode: 'wait' } }, 'work')).toEqual([]);
  });

  it('a map with toleratedFailures dooms nothing (its collect may still run)', () => {
    const tolerant = job({ name: 'doom_tolerant' }, () => {
      total(
        keys()
          .map(work, { toleratedFailures: { count: 1 } })
          .collect(),
      );
    });
    expect(doomedNodes(tolerant.plan, 'work')).toEqual([]);
  });
});
