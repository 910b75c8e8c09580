/**
 * Step journals inside a batch activity are written only when there is something to read: a quiet
 * success costs no store write (a batch run may have a million keys); log lines or a failure do.
 */
import type { Context } from '@temporalio/activity';
import { describe, expect, it } from 'vitest';
import { StepJournalWriter } from '../../src/activities/stepJournal.ts';
import { BATCH_ACTIVITY } from '../../src/dsl/constants.ts';
import type { OpTaskInput } from '../../src/dsl/protocol.ts';
import type { ValueStore } from '../../src/store/types.ts';

function countingStore(): { store: ValueStore; writes: string[]; reads: string[] } {
  const writes: string[] = [];
  const reads: string[] = [];
  const named = new Map<string, string>();
  const store = {
    putNamed: async (name: string, json: string) => {
      writes.push(name);
      named.set(name, json);
    },
    getNamed: async (name: string) => {
      reads.push(name);
      return named.get(name);
    },
    listNamed: async () => [...named.keys()],
  } as unknown as ValueStore;
  return { store, writes, reads };
}

const task = (stepKey: string): OpTaskInput => ({
  runId: 'r1',
  job: 'j',
  node: 'work',
  op: 'work',
  stepKey,
  mappingKeys: ['k'],
  inputs: {},
  attempt: 1,
});
const context = (activityType: string) =>
  ({ info: { activityType, activityId: 'a1', workflowExecution: { workflowId: 'wf', runId: 'run' } } }) as unknown as Context;

describe('step journals', () => {
  it('in a batch activity: a quiet success writes nothing; logged lines and failures are written', async () => {
    const { store, writes, reads } = countingStore();
    await new StepJournalWriter(task('work[k1]'), context(BATCH_ACTIVITY), store).finish('succeeded');
    expect({ writes: writes.length, reads: reads.length }).toEqual({ writes: 0, reads: 0 });

    const logged = new StepJournalWriter(task('work[k2]'), context(BATCH_ACTIVITY), store);
    logged.log('info', 'hello');
    await logged.finish('succeeded');
    await new StepJournalWriter(task('work[k3]'), context(BATCH_ACTIVITY), store).finish('failed', {
      type: 'OpUserError',
      message: 'boom',
    });
    expect(new Set(writes).size).toBe(2);
  });

  it('in an op activity: the attempt is written as it starts and as it ends (the run page shows it running)', async () => {
    const { store, writes } = countingStore();
    await new StepJournalWriter(task('work[k1]'), context('work'), store).finish('succeeded');
    expect(writes.length).toBe(2);
  });
});
