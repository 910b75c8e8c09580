import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diskUsage } from '../../examples/disk-usage.ts';
import { SAMPLE_FILES_DIR } from '../../examples/process-directory.ts';
import { TemporalHarness } from './harness.ts';

/** The README's "Writing your own job" example does what the README says. */
describe('README example: disk_usage', () => {
  let harness: TemporalHarness;
  beforeAll(async () => {
    harness = await TemporalHarness.connect();
  });
  afterAll(async () => harness?.close());

  it('sizes the sample files through a graph, and skips total_2 when no file is large', async () => {
    const result = await harness.run(diskUsage, {
      runConfig: { ops: { sizes: { ops: { list_files: { config: { dir: SAMPLE_FILES_DIR } } } } } },
    });
    expect(result.success).toBe(true);
    expect(await result.outputFor('total')).toBe(306);
    expect(result.stepStatus('total_2')).toBe('SKIPPED');
    expect(result.stepStatus('sizes.size[f0_README_md]')).toBe('SUCCESS');
    expect((await result.outputFor('sizes.size')) as Map<string, number>).toHaveProperty('size', 6);
  });
});
