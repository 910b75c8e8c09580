/**
 * Port of the "Dynamic fanout" example: shared/seeds/example-dynamic-fanout.txt
 * (project_mini/defs/dynamic_fanout/dynamic_fanout.py).
 *
 * input_records (5 records) → trigger_sub_pipelines (one DynamicOutput per record, key = record id)
 * → a sub-pipeline per record (extract 10–30 units, process each unit, aggregate) → collect →
 * collect_sub_pipeline_results → final_report. Three ways to process a record's units:
 *
 * - Option A (seed): sequentially inside the per-record op `sub_pipeline_process_record_option_a`.
 * - Option B (seed): in parallel inside the per-record op `sub_pipeline_process_record_option_b`, on a
 *   pool of worker threads (the seed's multiprocessing.Pool).
 * - Option C (beyond Dagster, which cannot nest dynamic outputs): a nested map. Inside the per-record
 *   scope, `sub_pipeline_extract_units_option_c` yields one DynamicOutput per unit, `process_unit`
 *   runs once per unit as its own durable, individually retried step
 *   (`main_pipeline_results.process_unit[record_3,unit_7]`), and the collected unit results are
 *   aggregated per record by `sub_pipeline_aggregate_record_option_c`.
 * All three produce the same final report.
 *
 * The seed's assets become ops: `input_records` (an asset with a required config) is the first op;
 * the graph-backed asset `main_pipeline_results` is a graph with that name (so its ops' node ids are
 * `main_pipeline_results.<op>`, as in Dagster); the `final_report` asset is the last op.
 *
 * Determinism: the seed sizes each record with Python's `hash(record["id"])`, which Python salts
 * per process. `pythonStrHash` reproduces CPython 3.11+'s string hash (SipHash-1-3) with
 * PYTHONHASHSEED=0, so the unit counts are exactly what the seed computes under PYTHONHASHSEED=0
 * (11, 15, 27, 25 and 28 units: 106 in all) and a run's report is the same every time.
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { DynamicOut, DynamicOutput, type Handle, graph, job, op, type RunConfig } from 'opgraph';
import { mapInWorkerThreads } from './letters.ts';

// =============================================================================================
// Data shapes (the seed's dict[str, Any] values)
// =============================================================================================

export interface DataRecord {
  id: string;
  data_path: string;
}
export interface ProcessingUnit {
  unit_data: string;
  properties: number[];
}
export interface UnitResult {
  processed: boolean;
  result: string;
}
export interface AggregatedOutput {
  record_id: string;
  aggregated_output: string;
  output_data: UnitResult[];
}
export interface SubPipelineResult {
  record_id: string;
  sub_pipeline_result: AggregatedOutput;
  units_processed: number;
  original_record: DataRecord;
}
export interface CollectedResult extends SubPipelineResult {
  collection_timestamp: string;
  processed_by_main_pipeline: boolean;
}
export interface FinalReport {
  pipeline_summary: {
    total_records_processed: number;
    total_units_processed: number;
    average_units_per_record: number;
  };
  detailed_results: CollectedResult[];
  report_generated_at: string;
  pipeline_status: string;
}

// =============================================================================================
// Generic data processing pipeline configuration
// =============================================================================================

/** The seed's `DataProcessingConfig(dg.Config)`: input_data_path is required. */
export const DataProcessingConfig = z.object({
  input_data_path: z.string(),
  processing_threshold: z.number().default(0.5),
});

/** Run config for every fan-out job: the seed's input_records asset requires `input_data_path`. */
export const fanoutRunConfig: RunConfig = { ops: { input_records: { config: { input_data_path: 'path/to/data' } } } };

// =============================================================================================
// Helper functions for the domain logic
// =============================================================================================

/** Extract 10-30 processing units from a single data record. */
export function extractProcessingUnits(record: DataRecord): ProcessingUnit[] {
  const numUnits = Math.min(30, Math.max(10, pyMod(pythonStrHash(record.id), 20n) + 10));
  return Array.from({ length: numUnits }, (_, i) => ({ unit_data: `unit_${i}`, properties: [i * 10, i * 10, 50, 50] }));
}

/**
 * Process a single data unit (the expensive computation): `f"processed_{unit_data}"` formats the
 * whole unit dict the way Python prints it. Self-contained (no outside references), because option B
 * ships it to worker threads as source text.
 */
export function processSingleUnit(unitData: ProcessingUnit): UnitResult {
  function repr(value: unknown): string {
    if (typeof value === 'string') {
      const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
      const escaped = value.replace(/\\/g, '\\\\').replace(quote === "'" ? /'/g : /"/g, `\\${quote}`);
      return `${quote}${escaped}${quote}`;
    }
    if (typeof value === 'number') return String(value);
    if (typeof value === 'boolean') return value ? 'True' : 'False';
    if (value === null || value === undefined) return 'None';
    if (Array.isArray(value)) return `[${value.map((v) => repr(v)).join(', ')}]`;
    return `{${Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${repr(k)}: ${repr(v)}`)
      .join(', ')}}`;
  }
  return { processed: true, result: `processed_${repr(unitData)}` };
}

/** Combine unit processing results into the final record output. */
export function aggregateUnitResults(record: DataRecord, unitResults: UnitResult[]): AggregatedOutput {
  return {
    record_id: record.id,
    aggregated_output: `combined_result_from_${unitResults.length}_units`,
    output_data: unitResults,
  };
}

function subPipelineResult(record: DataRecord, unitResults: UnitResult[]): SubPipelineResult {
  return {
    record_id: record.id,
    sub_pipeline_result: aggregateUnitResults(record, unitResults),
    units_processed: unitResults.length,
    original_record: record,
  };
}

// =============================================================================================
// Main pipeline: input records
// =============================================================================================

/** MAIN PIPELINE: load multiple related data records for processing (the seed's asset). */
export const inputRecords = op({ name: 'input_records', config: DataProcessingConfig }, async (): Promise<DataRecord[]> => {
  // Replace with your actual data loading logic
  return Array.from({ length: 5 }, (_, i) => ({ id: `record_${i}`, data_path: `path/to/data_${i}.dat` }));
});

// =============================================================================================
// Sub-pipeline operations
// =============================================================================================

/** MAIN PIPELINE: launch a sub-pipeline for each record individually (first layer of parallelization). */
export const triggerSubPipelines = op(
  { name: 'trigger_sub_pipelines', out: new DynamicOut<DataRecord>() },
  async function* (ctx, inputRecords: DataRecord[]) {
    ctx.log.info(`Launching ${inputRecords.length} sub-pipelines based on input count`);
    // Each record triggers one sub-pipeline
    for (const record of inputRecords) {
      yield new DynamicOutput(record, { mappingKey: record.id });
    }
  },
);

/** Option A: the record's units are processed sequentially, inside the op. */
export const subPipelineProcessRecordOptionA = op(
  { name: 'sub_pipeline_process_record_option_a' },
  async (ctx, record: DataRecord): Promise<SubPipelineResult> => {
    ctx.log.info(`Sub-pipeline processing record: ${record.id}`);
    // Step 1: extract processing units from the record (10-30 units)
    const processingUnits = extractProcessingUnits(record);
    ctx.log.info(`Extracted ${processingUnits.length} units from ${record.id}`);
    // Step 2: process each unit — sequentially, as the seed specifies
    const unitResults: UnitResult[] = [];
    processingUnits.forEach((unit, i) => {
      ctx.log.info(`Processing unit ${i + 1}/${processingUnits.length} for ${record.id}`);
      unitResults.push(processSingleUnit(unit));
    });
    // Step 3: aggregate results to create the final record output
    const result = subPipelineResult(record, unitResults);
    ctx.log.info(`Sub-pipeline completed for ${record.id}: aggregated ${unitResults.length} unit results`);
    return result;
  },
);

/**
 * Option B: the record's units are processed in parallel inside the op, on
 * min(cpu count - 1, units) worker threads. (The seed's Python passes a function nested in the op
 * to Pool.map, which multiprocessing cannot pickle — "Can't pickle local object" — so as written it
 * fails; this port does what it intends, with a self-contained function. It also keeps at least one
 * thread where the seed's `cpu_count() - 1` would be 0 on a one-CPU machine.)
 */
export const subPipelineProcessRecordOptionB = op(
  { name: 'sub_pipeline_process_record_option_b' },
  async (ctx, record: DataRecord): Promise<SubPipelineResult> => {
    ctx.log.info(`Sub-pipeline processing record: ${record.id}`);
    const processingUnits = extractProcessingUnits(record);
    ctx.log.info(`Extracted ${processingUnits.length} units from ${record.id}`);
    let unitResults: UnitResult[];
    if (processingUnits.length > 1) {
      const numThreads = Math.max(1, Math.min(availableParallelism() - 1, processingUnits.length));
      unitResults = await mapInWorkerThreads(processSingleUnit, processingUnits, { threads: numThreads, signal: ctx.signal });
    } else {
      unitResults = processingUnits.map((unit) => processSingleUnit(unit));
    }
    const result = subPipelineResult(record, unitResults);
    ctx.log.info(`Sub-pipeline completed for ${record.id}: aggregated ${unitResults.length} unit results`);
    return result;
  },
);

/** Option C, step 1: one DynamicOutput per unit, keyed by the unit's name (`unit_7`). */
export const subPipelineExtractUnitsOptionC = op(
  { name: 'sub_pipeline_extract_units_option_c', out: new DynamicOut<ProcessingUnit>() },
  async function* (ctx, record: DataRecord) {
    ctx.log.info(`Sub-pipeline processing record: ${record.id}`);
    const processingUnits = extractProcessingUnits(record);
    ctx.log.info(`Extracted ${processingUnits.length} units from ${record.id}`);
    for (const unit of processingUnits) yield new DynamicOutput(unit, { mappingKey: unit.unit_data });
  },
);

/** Option C, step 2: one unit, as its own step (`process_unit[record_3,unit_7]`). */
export const processUnit = op({ name: 'process_unit' }, async (ctx, unit: ProcessingUnit): Promise<UnitResult> => {
  ctx.log.info(`Processing ${unit.unit_data} for ${ctx.mappingKeys[0]}`);
  return processSingleUnit(unit);
});

/** Option C, step 3: the record's collected unit results (in unit order), aggregated as in A and B. */
export const subPipelineAggregateRecordOptionC = op(
  { name: 'sub_pipeline_aggregate_record_option_c' },
  async (ctx, record: DataRecord, unitResults: UnitResult[]): Promise<SubPipelineResult> => {
    const result = subPipelineResult(record, unitResults);
    ctx.log.info(`Sub-pipeline completed for ${record.id}: aggregated ${unitResults.length} unit results`);
    return result;
  },
);

/** MAIN PIPELINE: "the individual results are then collected for additional processing". */
export const collectSubPipelineResults = op(
  { name: 'collect_sub_pipeline_results' },
  async (ctx, subPipelineResults: SubPipelineResult[]): Promise<CollectedResult[]> => {
    ctx.log.info(`Collecting results from ${subPipelineResults.length} sub-pipelines`);
    ctx.log.info('Main pipeline waited for ALL sub-pipelines to complete before proceeding');
    // Additional processing on collected results
    return subPipelineResults.map((result) => ({
      ...result,
      collection_timestamp: '2025-08-25T10:00:00Z',
      processed_by_main_pipeline: true,
    }));
  },
);

/** MAIN PIPELINE: "generate a comprehensive final report" (the seed's final_report asset). */
export const finalReport = op({ name: 'final_report' }, async (_ctx, mainPipelineResults: CollectedResult[]): Promise<FinalReport> => {
  const totalUnits = mainPipelineResults.reduce((sum, result) => sum + result.units_processed, 0);
  return {
    pipeline_summary: {
      total_records_processed: mainPipelineResults.length,
      total_units_processed: totalUnits,
      average_units_per_record: mainPipelineResults.length > 0 ? totalUnits / mainPipelineResults.length : 0,
    },
    detailed_results: mainPipelineResults,
    report_generated_at: '2025-08-25T10:00:00Z',
    pipeline_status: 'completed_successfully',
  };
});

// =============================================================================================
// Main pipeline as a graph (the seed's graph-backed asset), one job per option
// =============================================================================================

type SubPipeline = (record: Handle<DataRecord>) => Handle<SubPipelineResult>;

/** Option C's per-record sub-pipeline: a nested fan-out over the record's units. */
const subPipelineOptionC: SubPipeline = (record) => {
  const unitResults = subPipelineExtractUnitsOptionC(record).map(processUnit).collect();
  return subPipelineAggregateRecordOptionC(record, unitResults);
};

/** COMPLETE MAIN PIPELINE: one sub-pipeline per record, all collected before the results go on. */
function mainPipelineResults(subPipeline: SubPipeline) {
  return graph({ name: 'main_pipeline_results' }, (records: Handle<DataRecord[]>) => {
    // Launch sub-pipelines (one per input record)
    const subPipelineTriggers = triggerSubPipelines(records);
    // Execute sub-pipelines in parallel (first layer of parallelization)
    const subPipelineResults = subPipelineTriggers.map(subPipeline);
    // Collect ALL results before proceeding (fan-in / synchronization barrier)
    const collectedResults = subPipelineResults.collect();
    // Perform additional processing and return final results
    return collectSubPipelineResults(collectedResults);
  });
}

function fanoutJob(name: string, subPipeline: SubPipeline) {
  const main = mainPipelineResults(subPipeline);
  return job({ name }, () => {
    finalReport(main(inputRecords()));
  });
}

export const dynamicFanoutOptionA = fanoutJob('dynamic_fanout_option_a', (record) => subPipelineProcessRecordOptionA(record));
export const dynamicFanoutOptionB = fanoutJob('dynamic_fanout_option_b', (record) => subPipelineProcessRecordOptionB(record));
export const dynamicFanoutOptionC = fanoutJob('dynamic_fanout_option_c', subPipelineOptionC);

// =============================================================================================
// Python's str hash with PYTHONHASHSEED=0, and Python's modulo
// =============================================================================================

const MASK64 = (1n << 64n) - 1n;

function rotl(x: bigint, b: bigint): bigint {
  return ((x << b) | (x >> (64n - b))) & MASK64;
}

/** CPython's siphash13 (Python/pyhash.c) with the key zeroed, as PYTHONHASHSEED=0 leaves it. */
function siphash13(data: Uint8Array, k0 = 0n, k1 = 0n): bigint {
  let v0 = k0 ^ 0x736f6d6570736575n;
  let v1 = k1 ^ 0x646f72616e646f6dn;
  let v2 = k0 ^ 0x6c7967656e657261n;
  let v3 = k1 ^ 0x7465646279746573n;
  const round = () => {
    v0 = (v0 + v1) & MASK64;
    v2 = (v2 + v3) & MASK64;
    v1 = rotl(v1, 13n) ^ v0;
    v3 = rotl(v3, 16n) ^ v2;
    v0 = rotl(v0, 32n);
    v2 = (v2 + v1) & MASK64;
    v0 = (v0 + v3) & MASK64;
    v1 = rotl(v1, 17n) ^ v2;
    v3 = rotl(v3, 21n) ^ v0;
    v2 = rotl(v2, 32n);
  };
  const word = (offset: number, length: number) => {
    let m = 0n;
    for (let i = length - 1; i >= 0; i--) m = (m << 8n) | BigInt(data[offset + i] ?? 0);
    return m;
  };
  const full = data.length - (data.length % 8);
  for (let offset = 0; offset < full; offset += 8) {
    const m = word(offset, 8);
    v3 ^= m;
    round();
    v0 ^= m;
  }
  const b = ((BigInt(data.length) << 56n) | word(full, data.length % 8)) & MASK64;
  v3 ^= b;
  round();
  v0 ^= b;
  v2 ^= 0xffn;
  round();
  round();
  round();
  return v0 ^ v1 ^ v2 ^ v3;
}

/**
 * `hash(s)` for a str in CPython 3.11+ run with PYTHONHASHSEED=0: SipHash-1-3 over the string's
 * compact representation (1, 2 or 4 bytes per code point, little-endian), as a signed 64-bit value.
 */
export function pythonStrHash(s: string): bigint {
  if (s.length === 0) return 0n;
  const codePoints = Array.from(s, (ch) => ch.codePointAt(0) ?? 0);
  const max = Math.max(...codePoints);
  const width = max < 0x100 ? 1 : max < 0x10000 ? 2 : 4;
  const bytes = new Uint8Array(codePoints.length * width);
  codePoints.forEach((cp, i) => {
    for (let j = 0; j < width; j++) bytes[i * width + j] = (cp >> (8 * j)) & 0xff;
  });
  const hash = BigInt.asIntN(64, siphash13(bytes));
  return hash === -1n ? -2n : hash;
}

/** Python's `a % n` for n > 0: never negative. */
function pyMod(a: bigint, n: bigint): number {
  return Number(((a % n) + n) % n);
}
