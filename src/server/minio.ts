/**
 * A local MinIO server — a real S3-compatible object store — for the S3 store's tests and for trying
 * `OPGRAPH_STORAGE_URL=s3://…` on one machine. No Docker: the binary is built once from source with
 * `go install github.com/minio/minio@<MINIO_VERSION>` and cached at `<cache>/minio-<version>/minio`
 * (`OPGRAPH_MINIO_PATH` points at another binary instead).
 *
 *   const minio = await startMinio({ buckets: ['opgraph'] });
 *   // minio.env('s3://opgraph/runs') → OPGRAPH_STORAGE_URL and AWS_* for workers and clients
 *   await minio.stop();
 *
 * It serves S3 on a free loopback port with generated root credentials and a temporary data
 * directory (removed on stop). The server is a child process: stop() ends it (SIGTERM, then SIGKILL),
 * and it is killed when this process exits.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findFreePort } from './devServer.ts';
import { type GoProgram, goInstallCached } from './goInstall.ts';
import { defaultCacheDir, isExecutableFile } from './temporalCli.ts';

/**
 * MinIO publishes no semver tags (its releases are `RELEASE.<date>` tags), so the module proxy knows it
 * by pseudo-version. This is the newest (`go list -m github.com/minio/minio@latest`, 2026-02-12); its
 * go.mod needs Go 1.24.
 */
export const MINIO_VERSION = 'v0.0.0-20260212201848-7aac2a2c5b7c';
export const MINIO_MODULE = 'github.com/minio/minio';

export const MINIO_PROGRAM: GoProgram = {
  what: 'MinIO',
  module: MINIO_MODULE,
  version: MINIO_VERSION,
  binary: 'minio',
  dirName: `minio-${MINIO_VERSION}`,
  minGo: [1, 24],
  // No symbol table or DWARF: about a third smaller, same server.
  flags: ['-ldflags=-s -w'],
};

/** MinIO accepts any region name; the SDK needs one. */
export const MINIO_REGION = 'us-east-1';

const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;
const PORT_ATTEMPTS = 3;
const OUTPUT_LINES = 60;

export interface ResolveMinioOptions {
  env?: NodeJS.ProcessEnv;
  onNotice?: (message: string) => void;
  /** Build it when it is not cached (default true). */
  allowBuild?: boolean;
}

/** `OPGRAPH_MINIO_PATH`, else the cached build of MINIO_VERSION, else build it (minutes, once). */
export async function resolveMinio(options: ResolveMinioOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const explicit = env.OPGRAPH_MINIO_PATH;
  if (explicit) {
    if (await isExecutableFile(explicit)) return explicit;
    throw new Error(
      `OPGRAPH_MINIO_PATH is set to "${explicit}", but that is not an executable file. Point it at a MinIO server binary, or unset it to build one.`,
    );
  }
  const cacheDir = defaultCacheDir(env);
  if (options.allowBuild === false) {
    const cached = join(cacheDir, MINIO_PROGRAM.dirName, MINIO_PROGRAM.binary);
    if (await isExecutableFile(cached)) return cached;
    throw new Error(
      `MinIO ${MINIO_VERSION} is not built (no ${cached}) and building was disabled. Set OPGRAPH_MINIO_PATH or allow the build.`,
    );
  }
  return goInstallCached(MINIO_PROGRAM, { cacheDir, env, ...(options.onNotice ? { onNotice: options.onNotice } : {}) });
}

export interface MinioOptions extends ResolveMinioOptions {
  /** A MinIO binary (default: resolveMinio()). */
  binaryPath?: string;
  /** Data directory (default: a new temporary directory, removed by stop()). */
  dataDir?: string;
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** Default: a free port. */
  port?: number;
  /** Root credentials (default: generated). The password needs at least 8 characters. */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Buckets to create once the server is ready. */
  buckets?: readonly string[];
  startTimeoutMs?: number;
}

/** Where a MinIO server is and its root credentials: what a worker or client needs (plain data). */
export interface MinioEndpoint {
  /** `http://127.0.0.1:<port>`: what AWS_ENDPOINT_URL_S3 should say. */
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
}

export interface MinioServer extends MinioEndpoint {
  readonly dataDir: string;
  readonly pid: number;
  /** The environment a worker or client needs to use `storageUrl` (`s3://bucket/prefix`) on this server. */
  env(storageUrl: string): Record<string, string>;
  /** Creates a bucket (no error when it exists). */
  createBucket(name: string): Promise<void>;
  /** Stops the server and removes a temporary data directory. Idempotent. */
  stop(): Promise<void>;
}

export class MinioStartError extends Error {
  override readonly name = 'MinioStartError';
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(output ? `${message}\n--- last output of minio ---\n${output}` : message);
  }
}

export async function startMinio(options: MinioOptions = {}): Promise<MinioServer> {
  const binary = options.binaryPath ?? (await resolveMinio(options));
  const host = options.host ?? '127.0.0.1';
  const accessKeyId = options.accessKeyId ?? `opgraph-${randomBytes(4).toString('hex')}`;
  const secretAccessKey = options.secretAccessKey ?? randomBytes(24).toString('base64url');
  if (secretAccessKey.length < 8) throw new Error('startMinio: the secret access key (MinIO root password) needs at least 8 characters');
  const ownDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'opgraph-minio-')));
  try {
    for (let attempt = 1; ; attempt++) {
      const port = options.port ?? (await findFreePort(host));
      try {
        const server = await startOnce({
          binary,
          host,
          port,
          accessKeyId,
          secretAccessKey,
          dataDir,
          ownDataDir,
          timeoutMs: options.startTimeoutMs,
        });
        try {
          for (const bucket of options.buckets ?? []) await server.createBucket(bucket);
        } catch (err) {
          await server.stop();
          throw err;
        }
        return server;
      } catch (err) {
        const portTaken = err instanceof MinioStartError && /address already in use/i.test(err.output);
        if (!(portTaken && options.port === undefined && attempt < PORT_ATTEMPTS)) throw err;
      }
    }
  } catch (err) {
    if (ownDataDir) await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}

interface StartOnce {
  binary: string;
  host: string;
  port: number;
  accessKeyId: string;
  secretAccessKey: string;
  dataDir: string;
  ownDataDir: boolean;
  timeoutMs: number | undefined;
}

async function startOnce(o: StartOnce): Promise<MinioServer> {
  const hostPart = o.host.includes(':') ? `[${o.host}]` : o.host;
  const endpoint = `http://${hostPart}:${o.port}`;
  const args = ['server', '--address', `${hostPart}:${o.port}`, '--quiet', o.dataDir];
  const output: string[] = [];
  const keep = (chunk: string): void => {
    output.push(...chunk.split('\n').filter(Boolean));
    if (output.length > OUTPUT_LINES) output.splice(0, output.length - OUTPUT_LINES);
  };
  // Only what MinIO needs: a developer's MINIO_* settings must not change the test server.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TMPDIR: process.env.TMPDIR,
    MINIO_ROOT_USER: o.accessKeyId,
    MINIO_ROOT_PASSWORD: o.secretAccessKey,
    MINIO_BROWSER: 'off', // no console, no second port
  };
  // Not detached: the server shares our process group, so a terminal Ctrl+C reaches it too.
  const child = spawn(o.binary, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.setEncoding('utf8').on('data', keep);
  child.stderr.setEncoding('utf8').on('data', keep);
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null; error?: Error } | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve();
    });
    child.once('error', (error) => {
      exitInfo = { code: null, signal: null, error };
      resolve();
    });
  });
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));

  const where = `\`${o.binary} ${args.join(' ')}\``;
  const deadline = Date.now() + (o.timeoutMs ?? START_TIMEOUT_MS);
  for (;;) {
    if (exitInfo) {
      const how = exitInfo.error
        ? `could not be run (${exitInfo.error.message})`
        : `exited (code ${exitInfo.code}, signal ${exitInfo.signal})`;
      throw new MinioStartError(`MinIO ${how} before becoming ready. Command: ${where}.`, output.join('\n'));
    }
    if (await isReady(endpoint)) break;
    if (Date.now() > deadline) {
      await terminate(child, exited);
      throw new MinioStartError(
        `MinIO did not become ready within ${o.timeoutMs ?? START_TIMEOUT_MS} ms (${endpoint}/minio/health/ready); it was killed. Command: ${where}.`,
        output.join('\n'),
      );
    }
    await sleep(100);
  }
  child.unref();
  for (const stream of [child.stdout, child.stderr]) (stream as unknown as { unref?: () => void }).unref?.();

  let stopping: Promise<void> | undefined;
  const server: MinioServer = {
    endpoint,
    accessKeyId: o.accessKeyId,
    secretAccessKey: o.secretAccessKey,
    region: MINIO_REGION,
    dataDir: o.dataDir,
    pid: child.pid ?? -1,
    env: (storageUrl) => s3Env(server, storageUrl),
    createBucket: (name) => createBucket(server, name),
    stop: () =>
      (stopping ??= (async () => {
        await terminate(child, exited);
        if (o.ownDataDir) await rm(o.dataDir, { recursive: true, force: true });
      })()),
  };
  return server;
}

async function isReady(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(`${endpoint}/minio/health/ready`, { signal: AbortSignal.timeout(2_000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

async function terminate(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    child.kill('SIGTERM');
    const grace = new AbortController();
    const stopped = await Promise.race([exited.then(() => true), sleep(STOP_GRACE_MS, false, { signal: grace.signal }).catch(() => true)]);
    grace.abort();
    if (!stopped) child.kill('SIGKILL');
  }
  await exited;
}

/** The environment that points opgraph's store at `storageUrl` (`s3://bucket/prefix`) on this server. */
export function s3Env(server: MinioEndpoint, storageUrl: string): Record<string, string> {
  return {
    OPGRAPH_STORAGE_URL: storageUrl,
    AWS_ENDPOINT_URL_S3: server.endpoint,
    AWS_ACCESS_KEY_ID: server.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
    AWS_REGION: server.region,
  };
}

/** Creates a bucket on the server (no error when it exists already). */
export async function createBucket(server: MinioEndpoint, name: string): Promise<void> {
  const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const client = new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: name }));
  } catch (err) {
    const name_ = err instanceof Error ? err.name : '';
    if (name_ !== 'BucketAlreadyOwnedByYou' && name_ !== 'BucketAlreadyExists') {
      throw new Error(`MinIO at ${server.endpoint}: cannot create bucket "${name}": ${(err as Error).message}`, { cause: err });
    }
  } finally {
    client.destroy();
  }
}
