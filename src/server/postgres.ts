/**
 * A throwaway PostgreSQL cluster for the Temporal server (src/server/cluster.ts), run from the
 * distribution's own PostgreSQL binaries (Debian: /usr/lib/postgresql/<major>/bin): `initdb` into a
 * directory, `pg_ctl start` on a free port bound to 127.0.0.1, `pg_ctl stop -m fast`.
 *
 * PostgreSQL refuses to run as root; as root, every PostgreSQL command runs as the `postgres` OS
 * user (`runuser -u postgres --`), which the Debian package creates.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { findFreePort } from './devServer.ts';
import { isExecutableFile } from './temporalCli.ts';

/** Where Debian and Ubuntu install PostgreSQL's server binaries, one directory per major version. */
export const DEBIAN_POSTGRES_ROOT = '/usr/lib/postgresql';
const PORT_ATTEMPTS = 3;
const START_TIMEOUT_S = 60;
const STOP_TIMEOUT_S = 30;
const LOG_TAIL_LINES = 30;

export class PostgresError extends Error {
  override readonly name = 'PostgresError';
}

export interface PostgresInstall {
  /** Directory holding initdb, pg_ctl, postgres. */
  binDir: string;
  /** Major version, e.g. 15. */
  major: number;
}

/**
 * The newest PostgreSQL under /usr/lib/postgresql (or the directory in OPGRAPH_POSTGRES_BIN) that has
 * initdb and pg_ctl.
 */
export async function findPostgres(env: NodeJS.ProcessEnv = process.env): Promise<PostgresInstall> {
  const explicit = env.OPGRAPH_POSTGRES_BIN?.trim();
  if (explicit) {
    if (!(await hasServerBinaries(explicit))) {
      throw new PostgresError(
        `OPGRAPH_POSTGRES_BIN is set to "${explicit}", but that directory has no executable initdb and pg_ctl. ` +
          `Point it at PostgreSQL's bin directory (e.g. ${DEBIAN_POSTGRES_ROOT}/15/bin), or unset it.`,
      );
    }
    return { binDir: explicit, major: Number(/(\d+)/.exec(explicit)?.[1] ?? 0) };
  }
  const versions = (await readdir(DEBIAN_POSTGRES_ROOT).catch(() => [] as string[]))
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .sort((a, b) => b - a);
  for (const major of versions) {
    const binDir = join(DEBIAN_POSTGRES_ROOT, String(major), 'bin');
    if (await hasServerBinaries(binDir)) return { binDir, major };
  }
  throw new PostgresError(
    `PostgreSQL not found: no ${DEBIAN_POSTGRES_ROOT}/<version>/bin with initdb and pg_ctl. ` +
      'Install it with `apt-get install -y postgresql` (Debian/Ubuntu; the service need not run), ' +
      'or set OPGRAPH_POSTGRES_BIN to the bin directory of another PostgreSQL >= 12.',
  );
}

async function hasServerBinaries(binDir: string): Promise<boolean> {
  return (await isExecutableFile(join(binDir, 'initdb'))) && (await isExecutableFile(join(binDir, 'pg_ctl')));
}

// ---------------------------------------------------------------------------
// Running commands as the postgres OS user
// ---------------------------------------------------------------------------

interface RunResult {
  code: number | null;
  output: string;
}

export interface OsUser {
  /** Command prefix that runs a command as this user ([] when it is the current user). */
  prefix: string[];
  uid: number;
  gid: number;
  name: string;
}

function runCommand(argv: readonly string[], timeoutMs = 120_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    if (!cmd) throw new Error('runCommand: empty command');
    // Not `inherit`: pg_ctl's postmaster keeps whatever it inherits open; pipes that we read to EOF would then
    // never close. Its output goes to its own log file (-l), so only pg_ctl's short messages come back here.
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      // pg_ctl start's postmaster inherits nothing of ours (stdio is redirected to its log), so 'exit' is enough.
      setImmediate(() => resolve({ code, output }));
    });
  });
}

/** Who runs PostgreSQL: the current user, or `postgres` when we are root. */
export async function postgresOsUser(): Promise<OsUser> {
  const uid = process.getuid?.() ?? -1;
  if (uid !== 0) return { prefix: [], uid, gid: process.getgid?.() ?? -1, name: 'current user' };
  const id = await runCommand(['id', '-u', 'postgres']).catch(() => ({ code: 1, output: '' }));
  const gid = await runCommand(['id', '-g', 'postgres']).catch(() => ({ code: 1, output: '' }));
  if (id.code !== 0 || gid.code !== 0) {
    throw new PostgresError(
      'PostgreSQL refuses to run as root, and there is no `postgres` OS user to run it as. ' +
        '`apt-get install -y postgresql` creates one (or run opgraph as a non-root user).',
    );
  }
  return { prefix: ['runuser', '-u', 'postgres', '--'], uid: Number(id.output.trim()), gid: Number(gid.output.trim()), name: 'postgres' };
}

// ---------------------------------------------------------------------------
// The cluster
// ---------------------------------------------------------------------------

export interface PostgresOptions {
  /** Directory for the data directory, socket and log (created; chowned to the postgres user). */
  dir: string;
  /** TCP port on 127.0.0.1 (default: a free port). */
  port?: number;
  onProgress?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

export interface PostgresServer {
  host: '127.0.0.1';
  port: number;
  /** Database superuser (trust authentication on 127.0.0.1 and the socket). */
  user: 'postgres';
  dataDir: string;
  logPath: string;
  install: PostgresInstall;
  /** OS user the postmaster runs as, and the pg_ctl command prefix. */
  osUser: OsUser;
  /** `pg_ctl stop -m fast` (then `-m immediate` if that fails). Idempotent. */
  stop(): Promise<void>;
}

function logTail(path: string): Promise<string> {
  return readFile(path, 'utf8').then(
    (text) => text.trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n'),
    () => '',
  );
}

/** initdb (unless `dir` already holds a data directory), then `pg_ctl start` on 127.0.0.1. */
export async function startPostgres(opts: PostgresOptions): Promise<PostgresServer> {
  const progress = opts.onProgress ?? (() => {});
  const install = await findPostgres(opts.env);
  const osUser = await postgresOsUser();
  const dataDir = join(opts.dir, 'data');
  const logPath = join(opts.dir, 'postgres.log');
  const pgCtl = join(install.binDir, 'pg_ctl');
  await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  if (osUser.prefix.length > 0) await chown(opts.dir, osUser.uid, osUser.gid);

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    progress(`initdb: PostgreSQL ${install.major} data directory ${dataDir} (as ${osUser.name}) …`);
    const initdb = await runCommand([
      ...osUser.prefix,
      join(install.binDir, 'initdb'),
      '-D',
      dataDir,
      '-U',
      'postgres',
      '--auth=trust',
      '--encoding=UTF8',
      '--locale=C',
      '--no-sync', // a throwaway cluster: skip the fsync of the fresh files (the server itself keeps fsync on)
    ]);
    if (initdb.code !== 0) {
      throw new PostgresError(
        `initdb failed (exit ${initdb.code}) for ${dataDir}:\n${initdb.output.trim()}\n` +
          `Check that ${opts.dir} is writable by the ${osUser.name} user and the disk has space.`,
      );
    }
  } else {
    const status = await runCommand([...osUser.prefix, pgCtl, 'status', '-D', dataDir]);
    if (status.code === 0) {
      throw new PostgresError(
        `A PostgreSQL server is already running on ${dataDir}:\n${status.output.trim()}\n` +
          `Stop it first (${osUser.prefix.join(' ')} ${pgCtl} stop -D ${dataDir}) or use another directory.`,
      );
    }
  }

  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await findFreePort('127.0.0.1'));
    progress(`PostgreSQL ${install.major}: starting on 127.0.0.1:${port} …`);
    const settings = [
      `-p ${port}`,
      `-k '${opts.dir}'`,
      "-c listen_addresses='127.0.0.1'",
      // Four Temporal services each open their own pools (default store: 20 connections, visibility: 2).
      '-c max_connections=200',
      // Commits return before their WAL reaches the disk (fsync stays on, so the data stays consistent): a crash of
      // PostgreSQL or of the machine may lose the last fraction of a second of commits, a crash of the Temporal server
      // loses nothing. The dev server's SQLite runs with synchronous=OFF for the same reason: test and dev speed.
      '-c synchronous_commit=off',
    ].join(' ');
    const start = await runCommand(
      [...osUser.prefix, pgCtl, 'start', '-D', dataDir, '-l', logPath, '-w', '-t', String(START_TIMEOUT_S), '-o', settings],
      (START_TIMEOUT_S + 10) * 1000,
    );
    if (start.code === 0) {
      let stopping: Promise<void> | undefined;
      return {
        host: '127.0.0.1',
        port,
        user: 'postgres',
        dataDir,
        logPath,
        install,
        osUser,
        stop: () => (stopping ??= stopPostgres(osUser, pgCtl, dataDir)),
      };
    }
    const log = await logTail(logPath);
    const portTaken = /could not bind|address already in use/i.test(log);
    if (portTaken && opts.port === undefined && attempt < PORT_ATTEMPTS) continue;
    // A failed `-w` start may leave a postmaster behind (e.g. timed out): make sure it is gone.
    await stopPostgres(osUser, pgCtl, dataDir).catch(() => undefined);
    throw new PostgresError(
      `PostgreSQL did not start on 127.0.0.1:${port} (pg_ctl exit ${start.code}): ${start.output.trim()}\n` +
        `--- last lines of ${logPath} ---\n${log}\n` +
        (portTaken ? 'The port is taken: pass another port or let opgraph pick a free one.' : 'See the log above for the cause.'),
    );
  }
}

async function stopPostgres(osUser: OsUser, pgCtl: string, dataDir: string): Promise<void> {
  if (!(await stat(join(dataDir, 'postmaster.pid')).catch(() => undefined))) return;
  const fast = await runCommand([...osUser.prefix, pgCtl, 'stop', '-D', dataDir, '-m', 'fast', '-w', '-t', String(STOP_TIMEOUT_S)]);
  if (fast.code === 0) return;
  const immediate = await runCommand([
    ...osUser.prefix,
    pgCtl,
    'stop',
    '-D',
    dataDir,
    '-m',
    'immediate',
    '-w',
    '-t',
    String(STOP_TIMEOUT_S),
  ]);
  if (immediate.code !== 0 && existsSync(join(dataDir, 'postmaster.pid'))) {
    throw new PostgresError(
      `pg_ctl stop failed for ${dataDir} (fast: ${fast.output.trim()}; immediate: ${immediate.output.trim()}). ` +
        `Stop it by hand: ${osUser.prefix.join(' ')} ${pgCtl} stop -D ${dataDir} -m immediate`,
    );
  }
}
