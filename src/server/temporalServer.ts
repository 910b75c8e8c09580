/**
 * Locates (or builds once) the real Temporal server and its SQL schema tool, at the version the
 * project's docker-compose.yml runs (`temporalio/auto-setup:<version>`), for `startCluster`
 * (src/server/cluster.ts).
 *
 * Cache layout, under `<cacheDir>/temporal-server-<version>/` (cacheDir: see defaultCacheDir):
 *   temporal-server      `go install go.temporal.io/server/cmd/server@<version>`
 *   temporal-sql-tool    `go install go.temporal.io/server/cmd/tools/sql@<version>`
 *   schema/postgresql/v12/{temporal,visibility}/versioned/…   copied from the Go module
 *   config/development-postgres12.yaml                        copied from the Go module
 *   build.json           what the build took (seconds, bytes), for the record
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { acquireLock, defaultCacheDir, isExecutableFile, parseGoVersion, isGoVersionSufficient } from './temporalCli.ts';

/** The Temporal server release that `opgraph cluster` and `npm run test:cluster` run; docker-compose.yml pins the same image tag. */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
export const TEMPORAL_SERVER_MODULE = 'go.temporal.io/server';
const SERVER_PACKAGE = `${TEMPORAL_SERVER_MODULE}/cmd/server`;
const SQL_TOOL_PACKAGE = `${TEMPORAL_SERVER_MODULE}/cmd/tools/sql`;
/** go.temporal.io/server v1.29.x declares `go 1.25.0` in its go.mod. */
export const SERVER_MIN_GO_VERSION: readonly [number, number] = [1, 25];

const SERVER_BINARY = 'temporal-server';
const SQL_TOOL_BINARY = 'temporal-sql-tool';
/** Paths inside the module (and inside the cache directory) that the cluster needs besides the binaries. */
const MODULE_FILES = ['schema/postgresql/v12', 'config/development-postgres12.yaml'] as const;
const OUTPUT_TAIL_LINES = 40;

export interface TemporalServerBuildInfo {
  version: string;
  goVersion: string;
  builtAt: string;
  serverSeconds: number;
  serverBytes: number;
  sqlToolSeconds: number;
  sqlToolBytes: number;
}

const BuildInfoSchema = z.object({
  version: z.string(),
  goVersion: z.string(),
  builtAt: z.string(),
  serverSeconds: z.number(),
  serverBytes: z.number(),
  sqlToolSeconds: z.number(),
  sqlToolBytes: z.number(),
});

export interface ResolvedTemporalServer {
  version: string;
  /** The `temporal-server` binary (`server --root … --config … --env … start`). */
  serverPath: string;
  /** The `temporal-sql-tool` binary (create-database, setup-schema, update-schema). */
  sqlToolPath: string;
  /** `…/schema/postgresql/v12`: holds `temporal/versioned` and `visibility/versioned`. */
  postgresSchemaDir: string;
  /** The module's `config/development-postgres12.yaml`, which cluster configs are derived from. */
  baseConfigPath: string;
  /** True when this call built the binaries. */
  built: boolean;
  /** Build figures recorded when the binaries were built (absent for caches made before build.json existed). */
  buildInfo: TemporalServerBuildInfo | undefined;
}

export type TemporalServerErrorCode = 'GO_MISSING' | 'GO_TOO_OLD' | 'BUILD_FAILED' | 'MODULE_FILES_MISSING';

export class TemporalServerBuildError extends Error {
  override readonly name = 'TemporalServerBuildError';
  constructor(
    readonly code: TemporalServerErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** `<cacheDir>/temporal-server-<version>`. */
export function cachedServerDir(cacheDir: string, version: string = TEMPORAL_SERVER_VERSION): string {
  return join(cacheDir, `temporal-server-${version}`);
}

function layout(dir: string): Omit<ResolvedTemporalServer, 'version' | 'built' | 'buildInfo'> {
  return {
    serverPath: join(dir, SERVER_BINARY),
    sqlToolPath: join(dir, SQL_TOOL_BINARY),
    postgresSchemaDir: join(dir, 'schema', 'postgresql', 'v12'),
    baseConfigPath: join(dir, 'config', 'development-postgres12.yaml'),
  };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function isComplete(dir: string): Promise<boolean> {
  const l = layout(dir);
  return (
    (await isExecutableFile(l.serverPath)) &&
    (await isExecutableFile(l.sqlToolPath)) &&
    (await exists(join(l.postgresSchemaDir, 'temporal', 'versioned'))) &&
    (await exists(join(l.postgresSchemaDir, 'visibility', 'versioned'))) &&
    (await exists(l.baseConfigPath))
  );
}

async function readBuildInfo(dir: string): Promise<TemporalServerBuildInfo | undefined> {
  try {
    return BuildInfoSchema.parse(JSON.parse(await readFile(join(dir, 'build.json'), 'utf8')));
  } catch {
    return undefined;
  }
}

export interface ResolveTemporalServerOptions {
  /** Environment for `go` and the cache location (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Progress lines ("building the Temporal server …"). */
  onNotice?: (msg: string) => void;
}

/** The cached server build for TEMPORAL_SERVER_VERSION, built with `go install` first if this machine has none. */
export async function resolveTemporalServer(opts: ResolveTemporalServerOptions = {}): Promise<ResolvedTemporalServer> {
  const env = opts.env ?? process.env;
  const cacheDir = defaultCacheDir(env);
  const dir = cachedServerDir(cacheDir);
  const resolved = async (built: boolean): Promise<ResolvedTemporalServer> => ({
    version: TEMPORAL_SERVER_VERSION,
    ...layout(dir),
    built,
    buildInfo: await readBuildInfo(dir),
  });
  if (await isComplete(dir)) return resolved(false);

  await mkdir(cacheDir, { recursive: true });
  const lockPath = join(cacheDir, `temporal-server-${TEMPORAL_SERVER_VERSION}.lock`);
  const release = await acquireLock(lockPath, layout(dir).serverPath, opts.onNotice, `the Temporal server ${TEMPORAL_SERVER_VERSION}`);
  if (!release) return resolved(false); // a concurrent build finished while we waited
  try {
    if (await isComplete(dir)) return resolved(false);
    await buildInto(dir, env, opts.onNotice);
    return resolved(true);
  } finally {
    await release();
  }
}

// ---------------------------------------------------------------------------
// Building
// ---------------------------------------------------------------------------

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function tail(text: string, lines = OUTPUT_TAIL_LINES): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

const WAYS_OUT =
  `To fix this, install Go >= ${SERVER_MIN_GO_VERSION.join('.')} (https://go.dev/dl/, or Debian's golang-go if new enough) so opgraph can ` +
  `build the Temporal server ${TEMPORAL_SERVER_VERSION} once, or run a Temporal server yourself (docker compose up) and set TEMPORAL_ADDRESS.`;

async function checkGo(env: NodeJS.ProcessEnv): Promise<string> {
  let result: RunResult;
  try {
    result = await run('go', ['env', 'GOVERSION'], env);
  } catch (err) {
    const reason =
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'Go is not installed (not on PATH)' : `\`go\` failed to run: ${String(err)}`;
    throw new TemporalServerBuildError(
      'GO_MISSING',
      `Cannot build the Temporal server ${TEMPORAL_SERVER_VERSION}: ${reason}.\n${WAYS_OUT}`,
    );
  }
  const goVersion = result.stdout.trim();
  const parsed = parseGoVersion(goVersion);
  if (result.code !== 0 || !parsed) {
    throw new TemporalServerBuildError(
      'GO_MISSING',
      `Cannot build the Temporal server: \`go env GOVERSION\` failed (exit ${result.code}): ${tail(result.stderr || result.stdout, 5)}\n${WAYS_OUT}`,
    );
  }
  if (!isGoVersionSufficient(parsed, SERVER_MIN_GO_VERSION)) {
    throw new TemporalServerBuildError(
      'GO_TOO_OLD',
      `Cannot build the Temporal server ${TEMPORAL_SERVER_VERSION}: it needs Go >= ${SERVER_MIN_GO_VERSION.join('.')}, this machine has ${goVersion}.\n${WAYS_OUT}`,
    );
  }
  return goVersion;
}

async function goInstall(
  pkg: string,
  gobin: string,
  env: NodeJS.ProcessEnv,
  onNotice: ((msg: string) => void) | undefined,
): Promise<number> {
  const started = Date.now();
  const result = await run('go', ['install', `${pkg}@${TEMPORAL_SERVER_VERSION}`], { ...env, GOBIN: gobin });
  if (result.code !== 0) {
    const stderrTail = tail(result.stderr);
    onNotice?.(stderrTail);
    throw new TemporalServerBuildError(
      'BUILD_FAILED',
      `\`go install ${pkg}@${TEMPORAL_SERVER_VERSION}\` failed with exit code ${result.code}. Last lines of its output:\n${stderrTail}\n` +
        'Check the Go proxy is reachable (GOPROXY) and there is disk space in the Go build cache, then retry.',
    );
  }
  return (Date.now() - started) / 1000;
}

const ModuleDownloadSchema = z.object({ Dir: z.string().min(1) });

/** The module's source directory in the Go module cache (downloading it if needed). */
async function moduleDir(env: NodeJS.ProcessEnv): Promise<string> {
  const ref = `${TEMPORAL_SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}`;
  const result = await run('go', ['mod', 'download', '-json', ref], env);
  let parsed: z.infer<typeof ModuleDownloadSchema> | undefined;
  try {
    parsed = ModuleDownloadSchema.parse(JSON.parse(result.stdout));
  } catch {
    parsed = undefined;
  }
  if (result.code !== 0 || !parsed) {
    throw new TemporalServerBuildError(
      'MODULE_FILES_MISSING',
      `\`go mod download -json ${ref}\` failed (exit ${result.code}); the SQL schema files come from that module. ` +
        `Output:\n${tail(result.stdout + result.stderr, 10)}\nCheck that the Go proxy is reachable (GOPROXY), then retry.`,
    );
  }
  return parsed.Dir;
}

async function buildInto(dir: string, env: NodeJS.ProcessEnv, onNotice: ((msg: string) => void) | undefined): Promise<void> {
  const goVersion = await checkGo(env);
  const staging = `${dir}.build-${process.pid}-${randomBytes(4).toString('hex')}`;
  await mkdir(staging, { recursive: true });
  try {
    onNotice?.(
      `opgraph: building the Temporal server ${TEMPORAL_SERVER_VERSION} with \`go install ${SERVER_PACKAGE}@${TEMPORAL_SERVER_VERSION}\` ` +
        `into ${dir} (one-time, a few minutes)...`,
    );
    const serverSeconds = await goInstall(SERVER_PACKAGE, staging, env, onNotice);
    await rename(join(staging, 'server'), join(staging, SERVER_BINARY));
    const serverBytes = (await stat(join(staging, SERVER_BINARY))).size;
    onNotice?.(`opgraph: built the Temporal server in ${serverSeconds.toFixed(0)} s (${(serverBytes / 2 ** 20).toFixed(0)} MiB)`);

    onNotice?.(`opgraph: building the Temporal SQL schema tool (\`go install ${SQL_TOOL_PACKAGE}@${TEMPORAL_SERVER_VERSION}\`)...`);
    const sqlToolSeconds = await goInstall(SQL_TOOL_PACKAGE, staging, env, onNotice);
    await rename(join(staging, 'sql'), join(staging, SQL_TOOL_BINARY));
    const sqlToolBytes = (await stat(join(staging, SQL_TOOL_BINARY))).size;
    onNotice?.(`opgraph: built the SQL schema tool in ${sqlToolSeconds.toFixed(0)} s (${(sqlToolBytes / 2 ** 20).toFixed(0)} MiB)`);

    const source = await moduleDir(env);
    for (const file of MODULE_FILES) {
      // The module cache is read-only; copies get ordinary permissions so the cache can be deleted.
      await cp(join(source, file), join(staging, file), { recursive: true });
    }
    await chmodWritable(staging);
    const info: TemporalServerBuildInfo = {
      version: TEMPORAL_SERVER_VERSION,
      goVersion,
      builtAt: new Date().toISOString(),
      serverSeconds: Math.round(serverSeconds * 10) / 10,
      serverBytes,
      sqlToolSeconds: Math.round(sqlToolSeconds * 10) / 10,
      sqlToolBytes,
    };
    await writeFile(join(staging, 'build.json'), `${JSON.stringify(info, null, 2)}\n`);
    await rm(dir, { recursive: true, force: true });
    await rename(staging, dir);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Files copied from the read-only module cache keep mode 0444/0555; make the copies removable. */
async function chmodWritable(dir: string): Promise<void> {
  const result = await run('chmod', ['-R', 'u+w', dir], process.env);
  if (result.code !== 0) throw new Error(`chmod -R u+w ${dir} failed: ${tail(result.stderr, 5)}`);
}
