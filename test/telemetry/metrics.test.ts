/**
 * Prometheus metrics through the SDK runtime's telemetry options: the worker's own (`temporal_*`)
 * and opgraph's counters (`opgraph_*`, by job and op) on one endpoint, scraped during a run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awaitRun, DynamicOut, DynamicOutput, job, launchRun, op, RetryPolicy } from '../../src/index.ts';
import { PAYLOAD } from '../../src/dsl/limits.ts';
import { installRuntimeLogger } from '../../src/logging.ts';
import { FileSystemStore, getDefaultStore, setDefaultStore, type ValueStore } from '../../src/store/store.ts';
import { METRIC_NAMES, metricsBindAddress, offsetBindAddress, prometheusTelemetry } from '../../src/telemetry/metrics.ts';
import { TemporalHarness } from '../integration/harness.ts';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

const KEYS = ['k0', 'k1', 'k2', 'k3'];
/** Above the store threshold: goes to the value store. */
const BIG = 'x'.repeat(PAYLOAD.storeThreshold + 1024);

let releaseGate: () => void = () => {};
const gateOpen = new Promise<void>((resolve) => {
  releaseGate = resolve;
});

const fan = op({ name: 'metrics_fan', out: new DynamicOut<number>() }, async function* () {
  for (const [i, key] of KEYS.entries()) yield new DynamicOutput(i, key);
});
/** Every key waits here until the test has scraped the endpoint, so all four are in flight at once. */
const gate = op({ name: 'metrics_gate' }, async (_ctx, i: number) => {
  await gateOpen;
  return i === 0 ? BIG : String(i);
});
/** k1 fails on both attempts (retried once, then failed); k2 fails once, then succeeds (retried once). */
const flaky = op({ name: 'metrics_flaky', retryPolicy: new RetryPolicy({ maxRetries: 1 }) }, async (ctx, value: string) => {
  if (value === '1') throw new Error('k1 always fails');
  if (value === '2' && ctx.attempt === 1) throw new Error('k2 fails once');
  return value.length;
});
const metricsJob = job({ name: 'metrics_job' }, () => {
  fan().map((i) => flaky(gate(i)));
});

let h: TemporalHarness;
let url: string;
let storeDir: string;
let previousStore: ValueStore;

beforeAll(async () => {
  const bindAddress = `127.0.0.1:${await freePort()}`;
  // The runtime is created once per process: with the Prometheus endpoint, before any connection.
  installRuntimeLogger('WARN', { telemetryOptions: prometheusTelemetry(bindAddress) });
  url = `http://${bindAddress}/metrics`;
  storeDir = mkdtempSync(join(tmpdir(), 'opgraph-metrics-test-'));
  previousStore = getDefaultStore();
  setDefaultStore(new FileSystemStore(storeDir));
  h = await TemporalHarness.connect();
});

afterAll(async () => {
  await h?.close();
  setDefaultStore(previousStore);
  rmSync(storeDir, { recursive: true, force: true });
});

async function scrape(): Promise<string> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return response.text();
}

/** The value of the sample `name{…}` whose labels include `labels`, or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.lastIndexOf('}');
    const labelText = line.slice(name.length + 1, close);
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) return Number(line.slice(close + 1).trim());
  }
  return undefined;
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('metrics', () => {
  it('--metrics-port takes a port or host:port; worker processes get consecutive ports', () => {
    expect(metricsBindAddress('9464')).toBe('0.0.0.0:9464');
    expect(metricsBindAddress(' 127.0.0.1:9100 ')).toBe('127.0.0.1:9100');
    expect(metricsBindAddress('[::1]:9100')).toBe('[::1]:9100');
    expect(() => metricsBindAddress('70000')).toThrow('--metrics-port must be a port (1-65535) or host:port');
    expect(() => metricsBindAddress('localhost')).toThrow('got "localhost"');
    expect(offsetBindAddress('0.0.0.0:9464', 2)).toBe('0.0.0.0:9466');
  });

  it("the endpoint serves the worker's metrics and opgraph's counters by job and op, scraped during a run", async () => {
    const job = { job: 'metrics_job' };
    const outcome = h.withWorker([metricsJob], async (taskQueue) => {
      const launched = await launchRun(h.client, metricsJob, { taskQueue });
      // During the run: all four keys of the map are in flight in metrics_gate.
      const during = await until('four keys in flight', async () => {
        const text = await scrape();
        return sample(text, METRIC_NAMES.keysInFlight, { ...job, map: 'metrics_fan', op: 'metrics_gate' }) === 4 ? text : undefined;
      });
      releaseGate();
      return { during, result: await awaitRun(launched) };
    });
    const { during, result } = await outcome;
    expect(result.failures.map((f) => f.stepKey)).toEqual(['metrics_flaky[k1]']);
    // The worker's own metrics are on the same endpoint.
    expect(during).toMatch(/^temporal_\w+/m);

    const after = await until('the counters of the finished run', async () => {
      const text = await scrape();
      return sample(text, METRIC_NAMES.failed, { ...job, op: 'metrics_flaky' }) === 1 ? text : undefined;
    });
    expect(sample(after, METRIC_NAMES.succeeded, { ...job, op: 'metrics_fan' })).toBe(1);
    expect(sample(after, METRIC_NAMES.succeeded, { ...job, op: 'metrics_gate' })).toBe(4);
    // k0, k2 (on its retry) and k3.
    expect(sample(after, METRIC_NAMES.succeeded, { ...job, op: 'metrics_flaky' })).toBe(3);
    // k1's first attempt and k2's first attempt were retried; k1's second failed for good.
    expect(sample(after, METRIC_NAMES.retried, { ...job, op: 'metrics_flaky' })).toBe(2);
    expect(sample(after, METRIC_NAMES.failed, { ...job, op: 'metrics_flaky' })).toBe(1);
    expect(sample(after, METRIC_NAMES.failed, { ...job, op: 'metrics_gate' })).toBeUndefined();
    // k0's big output went to the store (its JSON: the string and its quotes).
    expect(sample(after, METRIC_NAMES.bytesStored, { ...job, op: 'metrics_gate' })).toBe(BIG.length + 2);
    expect(sample(after, METRIC_NAMES.keysInFlight, { ...job, map: 'metrics_fan', op: 'metrics_gate' })).toBe(0);
    expect(sample(after, METRIC_NAMES.keysInFlight, { ...job, map: 'metrics_fan', op: 'metrics_flaky' })).toBe(0);
  });
});
