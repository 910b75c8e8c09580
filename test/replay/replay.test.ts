import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { installRuntimeLogger } from '../../src/logging.ts';

const DIR = join(import.meta.dirname, 'histories');
/** Every recording: the first one at the top level, later ones one folder each (scripts/record-histories.ts). */
const folders = [
  '',
  ...readdirSync(DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort(),
];
const files = folders.flatMap((folder) =>
  readdirSync(join(DIR, folder))
    .filter((f) => f.endsWith('.pb'))
    .sort()
    .map((f) => (folder ? `${folder}/${f}` : f)),
);
const workflowIds: Record<string, string> = {};
for (const folder of folders) {
  const index = JSON.parse(readFileSync(join(DIR, folder, 'index.json'), 'utf8')) as Record<string, string>;
  for (const [file, id] of Object.entries(index)) workflowIds[folder ? `${folder}/${file}` : file] = id;
}

/**
 * Replays committed histories (seed examples, a failing job, nested and sharded runs) against
 * the current interpreter. A failure here means a change alters the commands runs in flight
 * issued: gate it with `patched()` (see src/workflows/temporalEngine.ts), then re-record with
 * `npx tsx scripts/record-histories.ts` and keep the old histories.
 */
describe('replay determinism', () => {
  it('has histories for the seeds, a failing, a nested and a sharded job', () => {
    for (const name of [
      'dynamic_graph',
      'chained',
      'other_arg',
      'multiple',
      'return_dynamic_job',
      'process_directory',
      'fanout_option_c',
      'failing',
      'modes',
    ]) {
      expect(files).toContain(`${name}.pb`);
    }
    expect(files.some((f) => f.startsWith('fanout_option_c.child0.child0'))).toBe(true);
    // A run whose maps were paused, resized and resumed (updates, signals to children and shards).
    expect(files).toContain('2026-11-24-map-control/controlled.pb');
  });

  it.each(files)('%s replays against the current workflow code', async (file) => {
    installRuntimeLogger();
    const history = proto.temporal.api.history.v1.History.decode(readFileSync(join(DIR, file)));
    const workflowId = workflowIds[file];
    expect(workflowId, `test/replay/histories/index.json has no workflow id for ${file}`).toBeDefined();
    await Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, history, workflowId);
  });
});
