/**
 * OpenTelemetry tracing the Temporal way: @temporalio/interceptors-opentelemetry in the client and the
 * activities, and its trace header passed on by the workflows (bundled: src/workflows/tracing.ts), so
 * one run is one trace.
 * Spans are exported over OTLP/HTTP when the standard OTEL_* variables ask for it, and nowhere otherwise.
 */
import type { ClientInterceptors } from '@temporalio/client';
import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { WorkerOptions } from '@temporalio/worker';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { envDetectorSync, Resource } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  NodeTracerProvider,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import { OpgraphError } from '../dsl/errors.ts';

export const DEFAULT_SERVICE_NAME = 'opgraph';

interface Tracing {
  /** The global provider when spans are exported; undefined when tracing is off. */
  readonly provider: NodeTracerProvider | undefined;
}

let tracing: Tracing | undefined;

/**
 * Which exporters the environment asks for: `OTEL_TRACES_EXPORTER` (`otlp`, `console`, `none`; a
 * list), else `otlp` when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is
 * set; none when `OTEL_SDK_DISABLED=true` or nothing is set.
 */
export function traceExportersFromEnv(env: NodeJS.ProcessEnv = process.env): ('otlp' | 'console')[] {
  const value = (name: string) => env[name]?.trim() || undefined;
  if (value('OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return [];
  const listed = value('OTEL_TRACES_EXPORTER');
  const names = listed
    ? listed.split(',').map((name) => name.trim().toLowerCase())
    : value('OTEL_EXPORTER_OTLP_ENDPOINT') || value('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT')
      ? ['otlp']
      : [];
  if (names.includes('none')) return [];
  const exporters = names.map((name) => {
    if (name === 'otlp' || name === 'console') return name;
    throw new OpgraphError(
      `OTEL_TRACES_EXPORTER="${listed}": opgraph exports traces with "otlp" (OTLP over HTTP) or "console"; got "${name}".`,
    );
  });
  const protocol = value('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? value('OTEL_EXPORTER_OTLP_PROTOCOL');
  if (exporters.includes('otlp') && protocol === 'grpc') {
    throw new OpgraphError(
      'OTEL_EXPORTER_OTLP_PROTOCOL=grpc: opgraph exports traces over OTLP/HTTP; point OTEL_EXPORTER_OTLP_ENDPOINT at the collector\'s HTTP port (usually 4318) and unset the protocol or set it to "http/json".',
    );
  }
  return [...new Set(exporters)];
}

function exporterFor(name: 'otlp' | 'console'): SpanExporter {
  // The OTLP exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT / _HEADERS / _TIMEOUT itself.
  return name === 'otlp' ? new OTLPTraceExporter() : new ConsoleSpanExporter();
}

/**
 * Sets up this process's tracing once: `processor` when given (tests: an in-memory exporter), else
 * the exporters the environment asks for; with neither, spans are dropped. Resource: service name
 * `opgraph` unless `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES` say otherwise.
 */
export function installTracing(processor?: SpanProcessor): void {
  if (tracing) return;
  const processors = processor ? [processor] : traceExportersFromEnv().map((name) => new BatchSpanProcessor(exporterFor(name)));
  const resource = Resource.default()
    .merge(new Resource({ 'service.name': DEFAULT_SERVICE_NAME }))
    .merge(envDetectorSync.detect());
  if (processors.length === 0) {
    tracing = { provider: undefined };
    return;
  }
  const provider = new NodeTracerProvider({ resource, spanProcessors: processors });
  // Global provider, W3C propagation and the AsyncLocalStorage context manager, so the activity
  // span is the active span inside op code (src/activities/observe.ts adds opgraph's attributes to it).
  provider.register();
  tracing = { provider };
}

function current(): void {
  installTracing();
}

/** Worker options that trace activities: each runs in a span of the trace its header names. */
export function workerTracingOptions(): Pick<WorkerOptions, 'interceptors'> {
  current();
  return {
    interceptors: {
      activity: [
        (ctx) => ({
          inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
          outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
        }),
      ],
    },
  };
}

/** Client interceptors that open a run's trace and pass its context to the workflow in headers. */
export function clientTracingInterceptors(): ClientInterceptors {
  current();
  return { workflow: [new OpenTelemetryWorkflowClientInterceptor()] };
}

/** Exports the spans still buffered (call before a short-lived process exits). */
export async function flushTracing(): Promise<void> {
  await tracing?.provider?.forceFlush();
}
