/**
 * Two machines, one object store: two worker processes with different working directories and no
 * shared storage directory — only OPGRAPH_STORAGE_URL pointing at the suite's MinIO — complete a
 * fan-out of values above the store threshold, and a client in a third process (a third directory)
 * reads the mapped outputs and the collect back.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PAYLOAD } from '../../src/dsl/limits.ts';
import { createBucket, s3Env } from '../../src/server/minio.ts';
import { storeThreshold } from '../../src/store/store.ts';
import { COUNT, EXTRA_CHARS, ITEM_CHARS, pieceText, processedText, sha } from './fixtures.ts';
import type { ClientReport } from './process.ts';
import { suiteMinio, uniqueBucket } from './support.ts';

const SCRIPT = fileURLToPath(new URL('./process.ts', import.meta.url));
/** tsx's loader by absolute path: `--import tsx` would be resolved from each process's own (empty) directory. */
const TSX = createRequire(import.meta.url).resolve('tsx');

const minio = suiteMinio();
const address = inject('temporalAddress');
const bundlePath = inject('workflowBundlePath');
const bucket = uniqueBucket('workers');
const prefix = `run-${Date.now()}`;
const storageUrl = `s3://${bucket}/${prefix}`;
const taskQueue = `s3-two-workers-${Date.now()}`;

interface Proc {
  readonly child: ChildProcess;
  readonly dir: string;
  output(): string;
  exited: Promise<number | null>;
}

const procs: Proc[] = [];
const dirs: string[] = [];

function newDir(label: string): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), `opgraph-s3-${label}-`)));
  dirs.push(dir);
  return dir;
}

/** A process of test/s3/process.ts in `dir`, with no storage settings but the S3 store's. */
function spawnProcess(args: string[], dir: string, name: string): Proc {
  const {
    OPGRAPH_STORAGE_DIR: _dir,
    OPGRAPH_STORAGE_URL: _url,
    OPGRAPH_STORE_THRESHOLD: _threshold,
    TEMPORAL_ADDRESS: _address,
    NODE_OPTIONS: _options,
    ...inherited
  } = process.env;
  const env = {
    ...inherited,
    ...s3Env(minio, storageUrl),
    OPGRAPH_TEST_WORKER: name,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  const child = spawn(process.execPath, ['--import', TSX, SCRIPT, ...args, '--address', address, '--task-queue', taskQueue], {
    cwd: dir,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const proc = { child, dir, output: () => out, exited };
  procs.push(proc);
  return proc;
}

async function startWorker(name: string): Promise<Proc & { readyLine: string }> {
  const proc = spawnProcess(['worker', '--bundle', bundlePath], newDir(`worker-${name}`), name);
  const deadline = Date.now() + 120_000;
  for (;;) {
    const line = /^READY \d+ .*$/m.exec(proc.output())?.[0];
    if (line) return { ...proc, readyLine: line };
    if (proc.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`worker ${name} did not start (exit ${proc.child.exitCode}):\n${proc.output()}`);
    }
    await sleep(100);
  }
}

async function runClient(): Promise<ClientReport> {
  const proc = spawnProcess(['client'], newDir('client'), 'client');
  const code = await Promise.race([proc.exited, sleep(150_000, 'timeout' as const)]);
  const line = /^RESULT (.*)$/m.exec(proc.output())?.[1];
  if (code !== 0 || !line) throw new Error(`the client process failed (exit ${code}):\n${proc.output()}`);
  return JSON.parse(line) as ClientReport;
}

async function objectKeys(): Promise<string[]> {
  const client = new S3Client({
    endpoint: minio.endpoint,
    region: minio.region,
    forcePathStyle: true,
    credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
  });
  try {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key ?? ''));
      token = page.NextContinuationToken;
    } while (token);
    return keys;
  } finally {
    client.destroy();
  }
}

beforeAll(async () => {
  await createBucket(minio, bucket);
});

afterAll(async () => {
  for (const proc of procs) if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGTERM');
  await Promise.race([Promise.all(procs.map((p) => p.exited)), sleep(10_000)]);
  for (const proc of procs) if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('two workers and a client on one S3 store (MinIO), no shared directory', () => {
  it('complete a fan-out of values above the store threshold; a third process reads the mapped outputs and the collect', async () => {
    // The values are large by the default threshold, which every process uses (none sets OPGRAPH_STORE_THRESHOLD).
    expect(storeThreshold()).toBe(PAYLOAD.storeThreshold);
    expect(ITEM_CHARS).toBeGreaterThan(PAYLOAD.storeThreshold);

    const [a, b] = await Promise.all([startWorker('A'), startWorker('B')]);
    const location = `s3://${bucket}/${prefix} at ${minio.endpoint}`;
    expect(a.readyLine).toContain(location);
    expect(b.readyLine).toContain(location);
    expect(a.dir).not.toBe(b.dir);

    const started = Date.now();
    const report = await runClient();
    console.error(`[s3] two-worker run + reads: ${Date.now() - started} ms; ${report.rawResultBytes} bytes of raw result`);

    expect(report.failures).toEqual([]);
    expect(report.status).toBe('SUCCESS');
    expect(report.store).toBe(location);
    expect(report.cwd).not.toBe(a.dir);
    expect(report.cwd).not.toBe(b.dir);

    // Each mapped output, read back by the client from the store: the right value, made from the right input.
    expect(report.mapped.map(([key]) => key)).toEqual(Array.from({ length: COUNT }, (_, i) => `p${i}`));
    for (const [key, value] of report.mapped) {
      const index = Number(key.slice(1));
      expect(value).toMatchObject({
        index,
        chars: ITEM_CHARS + EXTRA_CHARS,
        sha: sha(processedText(index)),
        inputSha: sha(pieceText(index)),
      });
    }
    // Both workers ran pieces; the pieces were all made by the one that ran s3_split, so at least one
    // worker read a value the other wrote — there is no directory they share.
    const producers = new Set(report.mapped.map(([, v]) => v.producer));
    expect([...producers].sort()).toEqual(['A', 'B']);
    const splitBy = new Set(report.mapped.map(([, v]) => v.inputProducer));
    expect(splitBy.size).toBe(1);
    expect(report.mapped.some(([, v]) => v.producer !== v.inputProducer)).toBe(true);

    // The collect (the graph's output), in yield order, is the mapped values; s3_summarize read it on a worker.
    expect(report.collected).toEqual(report.mapped.map(([, v]) => v));
    expect(report.summary).toMatchObject({
      count: COUNT,
      producers: ['A', 'B'],
      chars: COUNT * (ITEM_CHARS + EXTRA_CHARS),
      shas: report.mapped.map(([, v]) => v.sha),
    });
    expect(['A', 'B']).toContain(report.summary.reader);

    // The large values never travelled inline: the run's result holds references, and is small.
    expect(report.refsInRawResult).toBeGreaterThan(0);
    expect(report.rawResultBytes).toBeLessThan(PAYLOAD.storeThreshold);

    // They are objects under the URL's prefix, and no process wrote a local store.
    const keys = await objectKeys();
    expect(keys.length).toBeGreaterThanOrEqual(COUNT + 1);
    expect(keys.every((k) => k.startsWith(`${prefix}/`))).toBe(true);
    for (const proc of procs) expect(existsSync(join(proc.dir, '.opgraph')), proc.dir).toBe(false);
  }, 240_000);
});
