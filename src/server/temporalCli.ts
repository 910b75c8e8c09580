/**
 * Locates (or, as a last resort, builds) the `temporal` CLI binary that hosts
 * the Temporal dev server.
 *
 * Resolution order:
 *   1. env TEMPORAL_CLI_PATH (must point at an executable file)
 *   2. `temporal` on PATH
 *   3. a previous build cached at <cacheDir>/temporal-cli-<version>/temporal
 *   4. `go install github.com/temporalio/cli/cmd/temporal@<version>` into that cache
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const TEMPORAL_CLI_VERSION = 'v1.5.1';
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
/** temporalio/cli v1.5.x declares `go 1.25.0` in its go.mod. */
export const MIN_GO_VERSION: readonly [number, number] = [1, 25];

const BINARY_NAME = process.platform === 'win32' ? 'temporal.exe' : 'temporal';
/** A `go install` of the CLI takes a few minutes; wait well beyond that for a peer's build. */
const LOCK_WAIT_TIMEOUT_MS = 30 * 60_000;
const LOCK_POLL_MS = 500;
const STDERR_TAIL_LINES = 40;

export type TemporalCliSource = 'env' | 'path' | 'cache' | 'built';

export interface ResolvedTemporalCli {
  path: string;
  source: TemporalCliSource;
}

export interface ResolveTemporalCliOptions {
  /** Environment to read TEMPORAL_CLI_PATH, PATH and cache dirs from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Receives human-readable progress messages (e.g. "building the CLI, this takes a few minutes"). */
  onNotice?: (msg: string) => void;
  /** Allow falling back to `go install` when no binary is found (default: true). */
  allowBuild?: boolean;
}

export type TemporalCliErrorCode = 'CLI_PATH_INVALID' | 'CLI_NOT_FOUND' | 'GO_MISSING' | 'GO_TOO_OLD' | 'BUILD_FAILED' | 'LOCK_TIMEOUT';

/** Raised when no usable `temporal` binary can be found or built. */
export class TemporalCliError extends Error {
  override readonly name = 'TemporalCliError';
  constructor(
    readonly code: TemporalCliErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const WAYS_OUT =
  'To fix this, do one of:\n' +
  `  - install Go >= ${MIN_GO_VERSION.join('.')} (https://go.dev/dl/) so opgraph can build the Temporal CLI once and cache it;\n` +
  '  - set TEMPORAL_ADDRESS to an already running Temporal server (e.g. TEMPORAL_ADDRESS=127.0.0.1:7233);\n' +
  '  - put a `temporal` binary on PATH (https://docs.temporal.io/cli) or set TEMPORAL_CLI_PATH to its location.';

// ---------------------------------------------------------------------------
// Pure path logic
// ---------------------------------------------------------------------------

/** `$OPGRAPH_CACHE_DIR`, else `$XDG_CACHE_HOME/opgraph`, else `~/.cache/opgraph`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.OPGRAPH_CACHE_DIR) return env.OPGRAPH_CACHE_DIR;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'opgraph');
  return join(homedir(), '.cache', 'opgraph');
}

/** Directory that holds the cached build for `version` (also used as GOBIN's final home). */
export function cachedCliDir(cacheDir: string, version: string = TEMPORAL_CLI_VERSION): string {
  return join(cacheDir, `temporal-cli-${version}`);
}

export function cachedCliPath(cacheDir: string, version: string = TEMPORAL_CLI_VERSION): string {
  return join(cachedCliDir(cacheDir, version), BINARY_NAME);
}

/**
 * Every place a binary may live, in priority order. Pure: no filesystem access.
 * An explicit TEMPORAL_CLI_PATH is returned first and, unlike the others, must not be skipped
 * when missing (see resolveExisting).
 */
export function candidatePaths(env: NodeJS.ProcessEnv, cacheDir: string): ResolvedTemporalCli[] {
  const candidates: ResolvedTemporalCli[] = [];
  if (env.TEMPORAL_CLI_PATH) candidates.push({ path: env.TEMPORAL_CLI_PATH, source: 'env' });
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    // An empty PATH entry means "current directory" to a shell; we don't want that surprise.
    if (dir) candidates.push({ path: join(dir, BINARY_NAME), source: 'path' });
  }
  candidates.push({ path: cachedCliPath(cacheDir), source: 'cache' });
  return candidates;
}

/** Parses `go1.25.3` / `go1.26rc1` / `go version go1.24.0 linux/amd64` into [major, minor]. */
export function parseGoVersion(text: string): [number, number] | undefined {
  const m = /go(\d+)\.(\d+)/.exec(text);
  if (!m?.[1] || !m[2]) return undefined;
  return [Number(m[1]), Number(m[2])];
}

export function isGoVersionSufficient(version: readonly [number, number], min: readonly [number, number] = MIN_GO_VERSION): boolean {
  return version[0] > min[0] || (version[0] === min[0] && version[1] >= min[1]);
}

// ---------------------------------------------------------------------------
// Filesystem resolution
// ---------------------------------------------------------------------------

export async function isExecutableFile(path: string): Promise<boolean> {
  try {
    const st = await stat(path);
    if (!st.isFile()) return false;
    await access(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** First existing candidate, or undefined. Throws if TEMPORAL_CLI_PATH is set but unusable. */
export async function resolveExisting(env: NodeJS.ProcessEnv, cacheDir: string): Promise<ResolvedTemporalCli | undefined> {
  for (const candidate of candidatePaths(env, cacheDir)) {
    if (await isExecutableFile(candidate.path)) return candidate;
    if (candidate.source === 'env') {
      // An explicit setting that doesn't work is a mistake to report, not to silently skip.
      throw new TemporalCliError(
        'CLI_PATH_INVALID',
        `TEMPORAL_CLI_PATH is set to "${candidate.path}", but that is not an executable file. ` +
          'Point TEMPORAL_CLI_PATH at a `temporal` CLI binary, or unset it to let opgraph find or build one.',
      );
    }
  }
  return undefined;
}

export async function resolveTemporalCli(opts: ResolveTemporalCliOptions = {}): Promise<ResolvedTemporalCli> {
  const env = opts.env ?? process.env;
  const cacheDir = defaultCacheDir(env);
  const found = await resolveExisting(env, cacheDir);
  if (found) return found;

  if (opts.allowBuild === false) {
    throw new TemporalCliError(
      'CLI_NOT_FOUND',
      `No Temporal CLI found (checked TEMPORAL_CLI_PATH, PATH and the cache at ${cachedCliPath(cacheDir)}) ` +
        'and building it was disabled (allowBuild: false).\n' +
        WAYS_OUT,
    );
  }
  const path = await buildTemporalCli({ env, cacheDir, onNotice: opts.onNotice });
  return { path, source: 'built' };
}

// ---------------------------------------------------------------------------
// Building with `go install`
// ---------------------------------------------------------------------------

interface BuildOptions {
  env: NodeJS.ProcessEnv;
  cacheDir: string;
  onNotice: ((msg: string) => void) | undefined;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
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

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Verifies `go` exists and is new enough; returns its version string (e.g. "go1.26.1"). */
export async function checkGo(env: NodeJS.ProcessEnv): Promise<string> {
  let result: RunResult;
  try {
    result = await run('go', ['env', 'GOVERSION'], env);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'is not installed (not on PATH)' : `failed to run: ${String(err)}`;
    throw new TemporalCliError(
      'GO_MISSING',
      `No Temporal CLI binary was found, and opgraph cannot build one because Go ${reason}.\n` + WAYS_OUT,
    );
  }
  const goVersion = result.stdout.trim();
  const parsed = parseGoVersion(goVersion);
  if (result.code !== 0 || !parsed) {
    throw new TemporalCliError(
      'GO_MISSING',
      `No Temporal CLI binary was found, and \`go env GOVERSION\` failed (exit ${result.code}): ${tail(result.stderr || result.stdout, 5)}\n` +
        WAYS_OUT,
    );
  }
  if (!isGoVersionSufficient(parsed)) {
    throw new TemporalCliError(
      'GO_TOO_OLD',
      `No Temporal CLI binary was found, and the installed Go (${goVersion}) is too old to build ` +
        `temporal CLI ${TEMPORAL_CLI_VERSION}, which needs Go >= ${MIN_GO_VERSION.join('.')}.\n` +
        WAYS_OUT,
    );
  }
  return goVersion;
}

async function buildTemporalCli(opts: BuildOptions): Promise<string> {
  const finalPath = cachedCliPath(opts.cacheDir);
  await mkdir(opts.cacheDir, { recursive: true });
  const lockPath = join(opts.cacheDir, `temporal-cli-${TEMPORAL_CLI_VERSION}.lock`);
  const release = await acquireLock(lockPath, finalPath, opts.onNotice);
  if (!release) return finalPath; // a concurrent caller finished the build while we waited
  try {
    // Re-check: another process may have completed a build between our lookup and the lock.
    if (await isExecutableFile(finalPath)) return finalPath;
    await checkGo(opts.env);
    opts.onNotice?.(
      `opgraph: building the Temporal CLI ${TEMPORAL_CLI_VERSION} with \`go install\` into ${cachedCliDir(opts.cacheDir)} ` +
        '(one-time, takes a few minutes)...',
    );
    await goInstallInto(opts, finalPath);
    return finalPath;
  } finally {
    await release();
  }
}

/** Builds into a private temp GOBIN and renames into place, so a crashed build never leaves a half binary. */
async function goInstallInto(opts: BuildOptions, finalPath: string): Promise<void> {
  const tmpBin = join(opts.cacheDir, `.build-${TEMPORAL_CLI_VERSION}-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(tmpBin, { recursive: true });
  try {
    const started = Date.now();
    const result = await run('go', ['install', `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`], {
      ...opts.env,
      GOBIN: tmpBin,
    });
    if (result.code !== 0) {
      const stderrTail = tail(result.stderr, STDERR_TAIL_LINES);
      opts.onNotice?.(stderrTail);
      throw new TemporalCliError(
        'BUILD_FAILED',
        `\`go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}\` failed with exit code ${result.code}. ` +
          `Last lines of its output:\n${stderrTail}\n` +
          WAYS_OUT,
      );
    }
    await mkdir(cachedCliDir(opts.cacheDir), { recursive: true });
    await rename(join(tmpBin, BINARY_NAME), finalPath);
    opts.onNotice?.(`opgraph: built the Temporal CLI in ${Math.round((Date.now() - started) / 1000)}s: ${finalPath}`);
  } finally {
    await rm(tmpBin, { recursive: true, force: true });
  }
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM means the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function lockOwnerAlive(lockPath: string): Promise<boolean> {
  try {
    const content = (await readFile(lockPath, 'utf8')).trim();
    const pid = Number(content);
    if (content && Number.isInteger(pid) && pid > 0) return isProcessAlive(pid);
    // No pid yet: the owner is between create and write, unless it died there long ago.
    const { mtimeMs } = await stat(lockPath);
    return Date.now() - mtimeMs < 10_000;
  } catch {
    return false; // lock vanished
  }
}

/**
 * Exclusive create of a pid lock file. Returns a release function, or undefined when another
 * process held the lock and the binary appeared meanwhile. Stale locks (dead owner) are broken.
 * `what` names the build in messages (also used for the Temporal server build, src/server/temporalServer.ts).
 */
export async function acquireLock(
  lockPath: string,
  finalPath: string,
  onNotice: ((msg: string) => void) | undefined,
  what = 'the Temporal CLI',
): Promise<(() => Promise<void>) | undefined> {
  const deadline = Date.now() + LOCK_WAIT_TIMEOUT_MS;
  let announced = false;
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(lockPath, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (await isExecutableFile(finalPath)) return undefined;
    if (!(await lockOwnerAlive(lockPath))) {
      await rm(lockPath, { force: true });
      continue;
    }
    if (!announced) {
      onNotice?.(`opgraph: another process is building ${what} (lock ${lockPath}); waiting for it...`);
      announced = true;
    }
    if (Date.now() > deadline) {
      throw new TemporalCliError(
        'LOCK_TIMEOUT',
        `Timed out after ${LOCK_WAIT_TIMEOUT_MS / 60_000} min waiting for another process to build ${what} ` +
          `(lock file ${lockPath}). If no build is running, delete the lock file and retry.`,
      );
    }
    await sleep(LOCK_POLL_MS);
  }
}
