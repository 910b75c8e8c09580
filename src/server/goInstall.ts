/**
 * Builds a pinned Go program once with `go install <module>@<version>` into opgraph's cache
 * (`<cacheDir>/<dirName>/<binary>`), safely when several processes ask at once: one builds under a
 * pid lock file, the others wait for the binary. A failed or killed build never leaves half a binary.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { acquireLock, isExecutableFile, isGoVersionSufficient, parseGoVersion } from './temporalCli.ts';

export interface GoProgram {
  /** For messages, e.g. "MinIO". */
  readonly what: string;
  /** The package to install, e.g. `github.com/minio/minio`. */
  readonly module: string;
  /** A tag or pseudo-version: never `latest`, so every machine builds the same program. */
  readonly version: string;
  /** The installed binary's name (`go install` names it after the package's last path element). */
  readonly binary: string;
  /** Directory under the cache dir, e.g. `minio-<version>`. */
  readonly dirName: string;
  readonly minGo: readonly [number, number];
  /** Extra `go install` flags, e.g. `-ldflags=-s -w`. */
  readonly flags?: readonly string[];
}

export interface GoInstallOptions {
  cacheDir: string;
  env?: NodeJS.ProcessEnv;
  onNotice?: (message: string) => void;
}

export class GoInstallError extends Error {
  override readonly name = 'GoInstallError';
}

const STDERR_TAIL_LINES = 40;

export function cachedBinaryPath(cacheDir: string, program: GoProgram): string {
  return join(cacheDir, program.dirName, process.platform === 'win32' ? `${program.binary}.exe` : program.binary);
}

/** The cached binary, building it first when it is not there yet. Returns its path. */
export async function goInstallCached(program: GoProgram, options: GoInstallOptions): Promise<string> {
  const finalPath = cachedBinaryPath(options.cacheDir, program);
  if (await isExecutableFile(finalPath)) return finalPath;
  await mkdir(options.cacheDir, { recursive: true });
  const lockPath = join(options.cacheDir, `${program.dirName}.lock`);
  // The Temporal CLI's pid lock (waits up to 30 min for another process's build, breaks a dead owner's lock).
  const release = await acquireLock(lockPath, finalPath, options.onNotice, program.what);
  if (!release) return finalPath; // another process finished the build while we waited
  try {
    if (await isExecutableFile(finalPath)) return finalPath;
    const env = options.env ?? process.env;
    await checkGo(program, env);
    options.onNotice?.(
      `opgraph: building ${program.what} (${program.module}@${program.version}) with \`go install\` into ` +
        `${join(options.cacheDir, program.dirName)} (one-time, takes a few minutes)...`,
    );
    const started = Date.now();
    const tmpBin = join(options.cacheDir, `.build-${program.dirName}-${process.pid}-${randomBytes(4).toString('hex')}`);
    await mkdir(tmpBin, { recursive: true });
    try {
      const args = ['install', ...(program.flags ?? []), `${program.module}@${program.version}`];
      const result = await run('go', args, { ...env, GOBIN: tmpBin });
      if (result.code !== 0) {
        throw new GoInstallError(
          `\`go ${args.join(' ')}\` failed with exit code ${result.code}. Last lines of its output:\n${tail(result.stderr || result.stdout)}\n` +
            `Check the network access to the Go module proxy (GOPROXY) and the Go version (needs >= ${program.minGo.join('.')}).`,
        );
      }
      await mkdir(join(options.cacheDir, program.dirName), { recursive: true });
      await rename(join(tmpBin, program.binary), finalPath);
    } finally {
      await rm(tmpBin, { recursive: true, force: true });
    }
    const { size } = await stat(finalPath);
    options.onNotice?.(
      `opgraph: built ${program.what} in ${Math.round((Date.now() - started) / 1000)}s (${(size / 1e6).toFixed(0)} MB): ${finalPath}`,
    );
    return finalPath;
  } finally {
    await release();
  }
}

async function checkGo(program: GoProgram, env: NodeJS.ProcessEnv): Promise<void> {
  const fix = `Install Go >= ${program.minGo.join('.')} (https://go.dev/dl/) so opgraph can build ${program.what} once and cache it.`;
  let result: RunResult;
  try {
    result = await run('go', ['env', 'GOVERSION'], env);
  } catch (err) {
    throw new GoInstallError(`${program.what} is not built yet, and Go cannot be run (${(err as Error).message}). ${fix}`);
  }
  const version = parseGoVersion(result.stdout.trim());
  if (result.code !== 0 || !version) {
    throw new GoInstallError(
      `${program.what} is not built yet, and \`go env GOVERSION\` failed: ${tail(result.stderr || result.stdout)}. ${fix}`,
    );
  }
  if (!isGoVersionSufficient(version, program.minGo)) {
    throw new GoInstallError(`${program.what} is not built yet, and the installed Go (${result.stdout.trim()}) is too old. ${fix}`);
  }
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

function tail(text: string): string {
  return text.trimEnd().split('\n').slice(-STDERR_TAIL_LINES).join('\n');
}
