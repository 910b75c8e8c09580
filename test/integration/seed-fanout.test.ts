import { createHash } from 'node:crypto';
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobResult } from '../../src/client/result.ts';
import type { LaunchedRun } from '../../src/client/run.ts';
import {
  dynamicFanoutOptionA,
  dynamicFanoutOptionB,
  dynamicFanoutOptionC,
  type FinalReport,
  fanoutRunConfig,
} from '../../examples/fanout.ts';
import { TemporalHarness } from './harness.ts';

/** Units per record under PYTHONHASHSEED=0 (`hash("record_i") % 20 + 10` in CPython 3.11). */
const UNITS = [11, 15, 27, 25, 28] as const;
const RECORDS = UNITS.map((_, i) => `record_${i}`);
const G = 'main_pipeline_results';

/**
 * The seed's option-A pipeline run in Python 3.11 (PYTHONHASHSEED=0, helpers and ops copied from
 * dynamic_fanout.py, without Dagster), its final report dumped with
 * `json.dumps(report, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`: length and sha256.
 */
const PYTHON_REPORT_JSON_LENGTH = 12_103;
const PYTHON_REPORT_SHA256 = 'c88d6217f1138205a90fd54b6a0a083c26e55ff60427f72e7aace9a6c82794d5';

/** JSON with sorted keys and no spaces: what Python's json.dumps(sort_keys=True, separators=(",", ":")) prints. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

async function listChildren(h: TemporalHarness, parentId: string, expected: number): Promise<WorkflowExecutionInfo[]> {
  const children: WorkflowExecutionInfo[] = [];
  // Visibility is updated asynchronously: poll briefly until all children are listed.
  for (let attempt = 0; attempt < 50; attempt++) {
    children.length = 0;
    for await (const wf of h.client.workflow.list({ query: `ParentWorkflowId = '${parentId}'` })) children.push(wf);
    if (children.length >= expected) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return children;
}

describe('seed "dynamic fanout": records with 10–30 units, options A, B and C', () => {
  let h: TemporalHarness;
  let a: { run: LaunchedRun; result: JobResult };
  let b: { run: LaunchedRun; result: JobResult };
  let c: { run: LaunchedRun; result: JobResult };
  const report = async (r: { result: JobResult }) => (await r.result.outputFor('final_report')) as FinalReport;

  beforeAll(async () => {
    h = await TemporalHarness.connect();
    const run = (job: typeof dynamicFanoutOptionA) => h.runWithHandle(job, { runConfig: fanoutRunConfig });
    [a, b, c] = await Promise.all([run(dynamicFanoutOptionA), run(dynamicFanoutOptionB), run(dynamicFanoutOptionC)]);
  });
  afterAll(async () => h?.close());

  it('all three runs succeed', () => {
    for (const r of [a, b, c]) {
      expect(r.result.failures).toEqual([]);
      expect(r.result.success).toBe(true);
    }
  });

  it("option A: the final report has the seed's exact values", async () => {
    const rep = await report(a);
    expect(rep.pipeline_summary).toEqual({ total_records_processed: 5, total_units_processed: 106, average_units_per_record: 21.2 });
    expect(rep.report_generated_at).toBe('2025-08-25T10:00:00Z');
    expect(rep.pipeline_status).toBe('completed_successfully');
    expect(rep.detailed_results.map((r) => r.record_id)).toEqual(RECORDS);
    expect(rep.detailed_results.map((r) => r.units_processed)).toEqual([...UNITS]);
    const rec3 = rep.detailed_results[3];
    expect(rec3).toMatchObject({
      record_id: 'record_3',
      units_processed: 25,
      original_record: { id: 'record_3', data_path: 'path/to/data_3.dat' },
      collection_timestamp: '2025-08-25T10:00:00Z',
      processed_by_main_pipeline: true,
      sub_pipeline_result: { record_id: 'record_3', aggregated_output: 'combined_result_from_25_units' },
    });
    expect(rec3?.sub_pipeline_result.output_data).toHaveLength(25);
    expect(rec3?.sub_pipeline_result.output_data[7]).toEqual({
      processed: true,
      result: "processed_{'unit_data': 'unit_7', 'properties': [70, 70, 50, 50]}",
    });
    // Byte for byte what the seed's Python produces.
    const json = canonicalJson(rep);
    expect(json.length).toBe(PYTHON_REPORT_JSON_LENGTH);
    expect(createHash('sha256').update(json).digest('hex')).toBe(PYTHON_REPORT_SHA256);
  });

  it('options B and C produce the identical final report', async () => {
    const expected = await report(a);
    expect(await report(b)).toEqual(expected);
    expect(await report(c)).toEqual(expected);
    expect(canonicalJson(await report(c))).toBe(canonicalJson(expected));
  });

  it('options A and B: one step per record for the sub-pipeline', () => {
    for (const [r, option] of [
      [a, 'a'],
      [b, 'b'],
    ] as const) {
      expect(r.result.stepStatuses()).toEqual({
        input_records: 'SUCCESS',
        [`${G}.trigger_sub_pipelines`]: 'SUCCESS',
        [`${G}.collect_sub_pipeline_results`]: 'SUCCESS',
        final_report: 'SUCCESS',
        ...Object.fromEntries(RECORDS.map((rec) => [`${G}.sub_pipeline_process_record_option_${option}[${rec}]`, 'SUCCESS'])),
      });
    }
  });

  it('option C: a nested step key process_unit[record,unit] for every unit of every record', async () => {
    const statuses = c.result.stepStatuses();
    const expected: Record<string, string> = {
      input_records: 'SUCCESS',
      [`${G}.trigger_sub_pipelines`]: 'SUCCESS',
      [`${G}.collect_sub_pipeline_results`]: 'SUCCESS',
      final_report: 'SUCCESS',
    };
    RECORDS.forEach((rec, i) => {
      expected[`${G}.sub_pipeline_extract_units_option_c[${rec}]`] = 'SUCCESS';
      expected[`${G}.sub_pipeline_aggregate_record_option_c[${rec}]`] = 'SUCCESS';
      for (let u = 0; u < (UNITS[i] ?? 0); u++) expected[`${G}.process_unit[${rec},unit_${u}]`] = 'SUCCESS';
    });
    expect(statuses).toEqual(expected);
    expect(Object.keys(statuses).filter((k) => k.startsWith(`${G}.process_unit[`))).toHaveLength(106);

    const units = (await c.result.outputFor(`${G}.process_unit`)) as Map<string, unknown>;
    expect(units.size).toBe(106);
    expect(units.get('record_3,unit_7')).toEqual({
      processed: true,
      result: "processed_{'unit_data': 'unit_7', 'properties': [70, 70, 50, 50]}",
    });
  });

  it('option C: one child workflow per record, and under it one grandchild workflow per unit', async () => {
    const jobId = c.run.workflowId;
    const children = await listChildren(h, jobId, RECORDS.length);
    const childId = (rec: string) => `${jobId}/${G}.trigger_sub_pipelines[${rec}]`;
    expect(children.map((w) => w.workflowId).sort()).toEqual(RECORDS.map(childId).sort());
    expect(new Set(children.map((w) => w.status.name))).toEqual(new Set(['COMPLETED']));

    for (const [i, rec] of RECORDS.entries()) {
      const n = UNITS[i] ?? 0;
      const grandchildren = await listChildren(h, childId(rec), n);
      const expectedIds = Array.from({ length: n }, (_, u) => `${childId(rec)}/${G}.sub_pipeline_extract_units_option_c[${rec},unit_${u}]`);
      expect(grandchildren.map((w) => w.workflowId).sort()).toEqual(expectedIds.sort());
      expect(new Set(grandchildren.map((w) => w.type))).toEqual(
        new Set([`dynamic_fanout_option_c/${G}.sub_pipeline_extract_units_option_c[*]`]),
      );
      expect(new Set(grandchildren.map((w) => w.status.name))).toEqual(new Set(['COMPLETED']));
    }

    // The unit's step runs as an activity of its grandchild workflow, with the nested step key as id.
    const grandchild = `${childId('record_3')}/${G}.sub_pipeline_extract_units_option_c[record_3,unit_7]`;
    const history = await h.client.workflow.getHandle(grandchild).fetchHistory();
    const activities = (history.events ?? []).flatMap((e) => {
      const scheduled = e.activityTaskScheduledEventAttributes;
      return scheduled ? [{ id: scheduled.activityId, type: scheduled.activityType?.name }] : [];
    });
    expect(activities).toEqual([{ id: `${G}.process_unit[record_3,unit_7]`, type: 'process_unit' }]);
  });
});
