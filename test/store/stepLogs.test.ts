import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listStepJournals, stepJournalName, type StepJournal } from '../../src/store/stepLogs.ts';
import { FileSystemStore } from '../../src/store/store.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function journal(stepKey: string, state: 'running' | 'succeeded' | 'failed'): StepJournal {
  return {
    runId: 'r1',
    stepKey,
    node: 'work',
    mappingKeys: [stepKey],
    attempts: [{ attempt: 1, state, startedAt: 1, workflowId: 'wf', workflowRunId: 'run', activityId: '1', logs: [], droppedLines: 0 }],
  };
}

describe('listStepJournals for a view that polls', () => {
  it('reads a succeeded step’s journal once; running and failed ones on every call', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opgraph-journals-'));
    dirs.push(dir);
    const store = new FileSystemStore(dir);
    const reads: string[] = [];
    const getNamed = store.getNamed.bind(store);
    store.getNamed = (name: string) => {
      reads.push(name);
      return getNamed(name);
    };
    for (const [key, state] of [
      ['a', 'succeeded'],
      ['b', 'running'],
      ['c', 'failed'],
    ] as const) {
      await store.putNamed(stepJournalName('r1', key), JSON.stringify(journal(key, state)));
    }
    const succeeded = new Map<string, StepJournal>();
    const first = await listStepJournals(store, 'r1', succeeded);
    expect(first.map((j) => j.stepKey).sort()).toEqual(['a', 'b', 'c']);
    expect(reads).toHaveLength(3);

    // b succeeds meanwhile: read once more, then kept.
    await store.putNamed(stepJournalName('r1', 'b'), JSON.stringify(journal('b', 'succeeded')));
    reads.length = 0;
    const second = await listStepJournals(store, 'r1', succeeded);
    expect(reads.sort()).toEqual([stepJournalName('r1', 'b'), stepJournalName('r1', 'c')].sort());
    expect(second.find((j) => j.stepKey === 'b')?.attempts[0]?.state).toBe('succeeded');

    reads.length = 0;
    const third = await listStepJournals(store, 'r1', succeeded);
    expect(reads).toEqual([stepJournalName('r1', 'c')]);
    expect(third).toHaveLength(3);
    // Without the map, every journal is read.
    reads.length = 0;
    await listStepJournals(store, 'r1');
    expect(reads).toHaveLength(3);
  });
});
