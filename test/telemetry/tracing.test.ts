/**
 * OpenTelemetry tracing end to end on the suite's server: @temporalio/interceptors-opentelemetry's
 * client and activity interceptors, the trace header passed on by the workflows (src/workflows/tracing.ts),
 * spans collected by an in-memory exporter.
 * One run of the seed job is one trace with a span for every step key, carrying the job, step key
 * and mapping key.
 */
import type { Client } from '@temporalio/client';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dynamicFanoutOptionA, fanoutRunConfig } from '../../examples/fanout.ts';
import { SPAN_ATTRIBUTES } from '../../src/activities/observe.ts';
import { connectClient } from '../../src/client/connect.ts';
import type { JobResult } from '../../src/client/result.ts';
import { awaitRun, launchRun, type LaunchedRun } from '../../src/client/run.ts';
import { DynamicOut, DynamicOutput, job, op } from '../../src/index.ts';
import { installTracing, traceExportersFromEnv } from '../../src/telemetry/tracing.ts';
import { TemporalHarness } from '../integration/harness.ts';

const exporter = new InMemorySpanExporter();
// Before any client or worker of this process exists: they pick up the global provider.
installTracing(new SimpleSpanProcessor(exporter));

const split = op({ name: 'trace_split', out: new DynamicOut<string>() }, async function* () {
  for (const key of ['a', 'b', 'c']) yield new DynamicOutput(key, key);
});
const shout = op({ name: 'trace_shout' }, async (_ctx, part: string) => part.toUpperCase());
const join = op({ name: 'trace_join' }, async (_ctx, parts: string[]) => parts.join(''));
/** The same shape with its map in batch mode: all keys run inside one activity, each step in its own span. */
const batchJob = job({ name: 'trace_batch' }, () =>
  join(
    split()
      .map((part) => shout(part), { mode: 'batch', batchSize: 10 })
      .collect(),
  ),
);

let h: TemporalHarness;
let client: Client;

beforeAll(async () => {
  h = await TemporalHarness.connect();
  // opgraph's own client: it carries the tracing client interceptor (the harness' client does not).
  client = await connectClient(inject('temporalAddress'));
});

afterAll(async () => {
  await client?.connection.close();
  await h?.close();
});

async function runTraced(jobDef: typeof batchJob, runConfig?: typeof fanoutRunConfig): Promise<{ run: LaunchedRun; result: JobResult }> {
  return h.withWorker([jobDef], async (taskQueue) => {
    const run = await launchRun(client, jobDef, { taskQueue, ...(runConfig ? { runConfig } : {}) });
    return { run, result: await awaitRun(run) };
  });
}

/**
 * The spans in the trace of the run's client span, once every step key of the run has its span (a step's
 * span ends before its activity completes, so before the run does; the wait is for the exporter).
 */
async function spansOf(run: LaunchedRun, result: JobResult): Promise<ReadableSpan[]> {
  const expected = Object.keys(result.steps()).length;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const spans = exporter.getFinishedSpans();
    // The client interceptor's span (the workflow type is the job's name).
    const start = spans.find((s) => s.name === `StartWorkflow:${run.jobName}` && s.attributes.temporalWorkflowId === run.workflowId);
    const traceId = start?.spanContext().traceId;
    const inTrace = spans.filter((s) => s.spanContext().traceId === traceId);
    if (start && stepSpans(inTrace).size >= expected) return inTrace;
    if (Date.now() > deadline) {
      throw new Error(`no complete trace for ${run.workflowId} after 20 s; spans: ${spans.map((s) => s.name).join(', ')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function stepSpans(spans: readonly ReadableSpan[]): Map<string, ReadableSpan> {
  const byKey = new Map<string, ReadableSpan>();
  for (const span of spans) {
    const key = span.attributes[SPAN_ATTRIBUTES.stepKey];
    if (typeof key === 'string') byKey.set(key, span);
  }
  return byKey;
}

describe('tracing', () => {
  it('is off unless the OTEL_* variables ask for an exporter', () => {
    expect(traceExportersFromEnv({})).toEqual([]);
    expect(traceExportersFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toEqual(['otlp']);
    expect(traceExportersFromEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toEqual(['otlp']);
    expect(traceExportersFromEnv({ OTEL_TRACES_EXPORTER: 'console,otlp' })).toEqual(['console', 'otlp']);
    expect(traceExportersFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' })).toEqual([]);
    expect(traceExportersFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' })).toEqual([]);
    expect(() => traceExportersFromEnv({ OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(/"otlp" \(OTLP over HTTP\) or "console"; got "zipkin"/);
    expect(() => traceExportersFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(
      /exports traces over OTLP\/HTTP/,
    );
  });

  it('one run of the seed job is one trace, with a span for every step key carrying job, step key and mapping key', async () => {
    const { run, result } = await runTraced(dynamicFanoutOptionA, fanoutRunConfig);
    expect(result.success).toBe(true);
    const spans = await spansOf(run, result);

    // Every step key of the run (5 records through their own child workflows) has its span in this one trace.
    const stepKeys = Object.keys(result.steps());
    expect(stepKeys.filter((key) => key.includes('[record_'))).toHaveLength(5);
    expect(stepKeys).toContain('final_report');
    const byKey = stepSpans(spans);
    expect([...byKey.keys()].sort()).toEqual([...stepKeys].sort());

    // The per-record steps ran in the 5 child workflows: the trace went through them.
    const childRuns = new Set(
      [...byKey.entries()].filter(([key]) => key.includes('[record_')).map(([, span]) => span.attributes.temporalWorkflowId),
    );
    expect(childRuns.size).toBe(5);
    expect([...childRuns].every((id) => String(id).startsWith(`${run.workflowId}/`))).toBe(true);
    // Nothing of this run went to another trace.
    const elsewhere = exporter
      .getFinishedSpans()
      .filter((s) => s.attributes[SPAN_ATTRIBUTES.runId] === run.runId && s.spanContext().traceId !== spans[0]?.spanContext().traceId);
    expect(elsewhere.map((s) => s.name)).toEqual([]);

    const mapped = byKey.get('main_pipeline_results.sub_pipeline_process_record_option_a[record_3]');
    expect(mapped?.name).toBe('RunActivity:sub_pipeline_process_record_option_a');
    expect(mapped?.attributes).toMatchObject({
      [SPAN_ATTRIBUTES.job]: 'dynamic_fanout_option_a',
      [SPAN_ATTRIBUTES.op]: 'sub_pipeline_process_record_option_a',
      [SPAN_ATTRIBUTES.node]: 'main_pipeline_results.sub_pipeline_process_record_option_a',
      [SPAN_ATTRIBUTES.mappingKey]: 'record_3',
      [SPAN_ATTRIBUTES.runId]: run.runId,
      [SPAN_ATTRIBUTES.attempt]: 1,
    });
    const unmapped = byKey.get('input_records');
    expect(unmapped?.attributes[SPAN_ATTRIBUTES.job]).toBe('dynamic_fanout_option_a');
    expect(unmapped?.attributes[SPAN_ATTRIBUTES.mappingKey]).toBeUndefined();

    // Parent links hold the trace together: each step span's parent is a span of this trace.
    const ids = new Set(spans.map((s) => s.spanContext().spanId));
    for (const span of byKey.values()) expect(ids.has(span.parentSpanId ?? ''), span.name).toBe(true);
  });

  it('in batch mode each key runs in its own RunOp span under the batch activity', async () => {
    const { run, result } = await runTraced(batchJob);
    expect(await result.outputFor('trace_join')).toBe('ABC');
    const spans = await spansOf(run, result);
    const byKey = stepSpans(spans);
    expect([...byKey.keys()].sort()).toEqual(Object.keys(result.steps()).sort());
    const keyed = ['a', 'b', 'c'].map((key) => byKey.get(`trace_shout[${key}]`));
    const batch = spans.find((s) => s.name === 'RunActivity:__opgraph_batch');
    for (const [i, span] of keyed.entries()) {
      expect(span?.name).toBe('RunOp:trace_shout');
      expect(span?.attributes[SPAN_ATTRIBUTES.mappingKey]).toBe(['a', 'b', 'c'][i]);
      expect(span?.parentSpanId).toBe(batch?.spanContext().spanId);
    }
  });
});
