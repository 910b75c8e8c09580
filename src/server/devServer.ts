/**
 * Starts and stops a local Temporal dev server (`temporal server start-dev`) as a child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, createServer, Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { resolveTemporalCli } from './temporalCli.ts';

export type SearchAttributeType = 'Keyword' | 'Text' | 'Int' | 'Double' | 'Bool' | 'Datetime' | 'KeywordList';
export type DevServerLogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface DevServerOptions {
  /** Serve the Web UI (default false → `--headless`). */
  ui?: boolean;
  /** IP the frontend (and UI) binds to (default 127.0.0.1). */
  ip?: string;
  /** Frontend gRPC port (default: a free port). */
  port?: number;
  /** Web UI port (default: a free port, only when `ui` is true). */
  uiPort?: number;
  /** SQLite file for persistence across restarts (default: in-memory). */
  dbFilename?: string;
  /** The Web UI's remote codec endpoint (`opgraph codec-server`), so it shows encrypted payloads decoded. */
  uiCodecEndpoint?: string;
  /** Namespace to create and wait for (default 'default', which always exists). */
  namespace?: string;
  /** Custom search attributes registered at startup. */
  searchAttributes?: Record<string, SearchAttributeType>;
  /** Extra dynamic config, passed as `--dynamic-config-value KEY=<JSON>` (added to DEV_SERVER_DYNAMIC_CONFIG). */
  dynamicConfig?: Record<string, string | number | boolean>;
  /** Server log level (default 'warn'). */
  logLevel?: DevServerLogLevel;
  /** Path to the `temporal` binary; skips resolveTemporalCli when given. */
  cliPath?: string;
  /** Receives progress messages (e.g. the one-time CLI build notice). */
  onNotice?: (msg: string) => void;
  /** How long to wait for the server to answer describeNamespace (default 60000). */
  startTimeoutMs?: number;
}

export interface DevServer {
  /** `host:port` of the frontend gRPC service, for `Connection.connect({ address })`. */
  address: string;
  uiUrl: string | undefined;
  namespace: string;
  pid: number;
  /** SIGTERM, then SIGKILL after 10 s. Idempotent. */
  stop(): Promise<void>;
}

/** Fully resolved settings for one spawn attempt. */
export interface ResolvedDevServerSettings {
  ip: string;
  port: number;
  uiPort: number | undefined;
  namespace: string;
  dbFilename: string | undefined;
  uiCodecEndpoint?: string | undefined;
  searchAttributes: Record<string, SearchAttributeType>;
  dynamicConfig: Record<string, string | number | boolean>;
  logLevel: DevServerLogLevel;
}

const DEFAULT_IP = '127.0.0.1';
const DEFAULT_START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;
const OUTPUT_LINES = 100;
const READY_POLL_MS = 200;
/** Auto-picked ports can be grabbed by someone else between probe and bind; retry with fresh ones. */
const PORT_RACE_ATTEMPTS = 3;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** How the CLI reports a taken port (its own pre-check, or a bind failure). */
const PORT_CONFLICT = /address already in use|can't (set|use)[^\n]*port/i;

/** Raised when the dev server fails to start; `output` holds the tail of its stdout/stderr. */
export class DevServerStartError extends Error {
  override readonly name = 'DevServerStartError';
  constructor(
    message: string,
    readonly output: string,
    readonly exitCode: number | null,
    /** True when the failure was a port already taken (retryable with another free port). */
    readonly portInUse: boolean = PORT_CONFLICT.test(output),
  ) {
    super(output ? `${message}\n--- last output of temporal server start-dev ---\n${output}` : message);
  }
}

// ---------------------------------------------------------------------------
// Ports and addresses
// ---------------------------------------------------------------------------

/** Asks the OS for a currently free TCP port on `host` by binding port 0. */
export function findFreePort(host: string = DEFAULT_IP): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const addr = server.address();
      server.close(() => {
        if (addr && typeof addr === 'object') resolve(addr.port);
        else reject(new Error(`findFreePort: could not determine the port bound on ${host}`));
      });
    });
  });
}

/** Host to dial: a wildcard bind is reachable on loopback. IPv6 literals need brackets. */
function dialHost(ip: string): string {
  if (ip === '0.0.0.0') return '127.0.0.1';
  if (ip === '::') return '[::1]';
  return ip.includes(':') ? `[${ip}]` : ip;
}

/** Resolves when a TCP connect to host:port succeeds; false on refusal. */
function isPortOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: host.replace(/^\[|\]$/g, ''), port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

/**
 * Dynamic config every dev server gets. Eager activity dispatch: an activity a workflow task schedules
 * goes back to the worker in the answer to that task, when it has a free slot, instead of through a
 * task-queue poll (tens of ms per step on the critical path: bench/RESULTS.md, letters). The SDK asks
 * for it by default; the server ignores the request unless this is on (it is off in Temporal's defaults).
 */
export const DEV_SERVER_DYNAMIC_CONFIG: Readonly<Record<string, boolean>> = { 'system.enableActivityEagerExecution': true };

async function resolveSettings(opts: DevServerOptions): Promise<ResolvedDevServerSettings> {
  const ip = opts.ip ?? DEFAULT_IP;
  const ui = opts.ui ?? false;
  return {
    ip,
    port: opts.port ?? (await findFreePort(ip)),
    uiPort: ui ? (opts.uiPort ?? (await findFreePort(ip))) : undefined,
    namespace: opts.namespace ?? 'default',
    dbFilename: opts.dbFilename,
    uiCodecEndpoint: opts.uiCodecEndpoint,
    searchAttributes: opts.searchAttributes ?? {},
    dynamicConfig: { ...DEV_SERVER_DYNAMIC_CONFIG, ...opts.dynamicConfig },
    logLevel: opts.logLevel ?? 'warn',
  };
}

/** The argv for `temporal`, minus the binary itself. Pure, for testing. */
export function buildStartDevArgs(s: ResolvedDevServerSettings): string[] {
  const args = ['server', 'start-dev', '--ip', s.ip, '--port', String(s.port)];
  args.push(...(s.uiPort === undefined ? ['--headless'] : ['--ui-port', String(s.uiPort)]));
  if (s.uiPort !== undefined && s.uiCodecEndpoint !== undefined) args.push('--ui-codec-endpoint', s.uiCodecEndpoint);
  // "default" is always created by the CLI; passing it again would register it twice.
  if (s.namespace !== 'default') args.push('--namespace', s.namespace);
  // Durability isn't the point of a dev server; these make SQLite much faster.
  args.push('--sqlite-pragma', 'journal_mode=WAL', '--sqlite-pragma', 'synchronous=OFF');
  if (s.dbFilename !== undefined) args.push('--db-filename', s.dbFilename);
  for (const [name, type] of Object.entries(s.searchAttributes)) {
    if (!IDENTIFIER.test(name)) {
      throw new Error(
        `startDevServer: search attribute name "${name}" is invalid; names must be identifiers (letters, digits, underscore).`,
      );
    }
    args.push('--search-attribute', `${name}=${type}`);
  }
  for (const [key, value] of Object.entries(s.dynamicConfig)) {
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  }
  args.push('--log-level', s.logLevel);
  return args;
}

// ---------------------------------------------------------------------------
// Child process plumbing
// ---------------------------------------------------------------------------

/** Keeps the last `max` lines written to stdout/stderr, for error reports. */
class OutputRing {
  private readonly lines: string[] = [];
  private partial = '';
  constructor(private readonly max: number) {}

  push(chunk: string): void {
    const parts = (this.partial + chunk).split(/\r?\n/);
    this.partial = parts.pop() ?? '';
    for (const line of parts) {
      this.lines.push(line);
      if (this.lines.length > this.max) this.lines.shift();
    }
  }

  text(): string {
    return [...this.lines, ...(this.partial ? [this.partial] : [])].join('\n');
  }
}

interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

function describeExit(exit: ExitInfo): string {
  if (exit.error) return `could not be run (${exit.error.message})`;
  return exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
}

/**
 * Once the server is up, a forgotten server must not keep the parent alive; while we are
 * waiting for it (start/stop) it must, or a top-level `await` could see an empty event loop.
 */
function setChildRef(child: ChildProcess, ref: boolean): void {
  for (const stream of [child.stdout, child.stderr] as (Readable | null)[]) {
    if (stream instanceof Socket) {
      if (ref) stream.ref();
      else stream.unref();
    }
  }
  if (ref) child.ref();
  else child.unref();
}

function spawnServer(cliPath: string, args: string[], output: OutputRing): { child: ChildProcess; exited: Promise<ExitInfo> } {
  // Not detached: the child shares our process group, so a terminal Ctrl+C reaches it too.
  const child = spawn(cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.setEncoding('utf8').on('data', (d: string) => output.push(d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => output.push(d));
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
  });
  // A plain 'exit' handler covers normal exits and uncaught exceptions of the parent.
  const killOnParentExit = (): void => {
    child.kill('SIGKILL');
  };
  process.on('exit', killOnParentExit);
  void exited.then(() => process.off('exit', killOnParentExit));
  return { child, exited };
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function terminate(child: ChildProcess, exited: Promise<ExitInfo>): Promise<void> {
  if (hasExited(child) || child.pid === undefined) {
    await exited;
    return;
  }
  setChildRef(child, true);
  child.kill('SIGTERM');
  const grace = new AbortController();
  const timedOut = await Promise.race([exited.then(() => false), sleep(STOP_GRACE_MS, true, { signal: grace.signal }).catch(() => false)]);
  grace.abort();
  if (timedOut) child.kill('SIGKILL');
  await exited;
}

// ---------------------------------------------------------------------------
// Readiness
// ---------------------------------------------------------------------------

/** One readiness probe: the frontend answers describeNamespace for our namespace. */
async function probeNamespace(address: string, namespace: string, timeoutMs: number): Promise<boolean> {
  const connection = Connection.lazy({ address, connectTimeout: timeoutMs });
  try {
    await connection.ensureConnected();
    await connection.withDeadline(Date.now() + timeoutMs, () => connection.workflowService.describeNamespace({ namespace }));
    return true;
  } catch {
    return false;
  } finally {
    await connection.close().catch(() => undefined);
  }
}

async function waitUntilReady(
  host: string,
  settings: ResolvedDevServerSettings,
  address: string,
  exited: Promise<ExitInfo>,
  timeoutMs: number,
): Promise<'ready' | 'timeout' | ExitInfo> {
  let exitInfo: ExitInfo | undefined;
  void exited.then((e) => (exitInfo = e));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exitInfo) return exitInfo;
    // A cheap TCP check first, so gRPC isn't dialled (and backing off) before anything listens.
    if (await isPortOpen(host, settings.port)) {
      const remaining = Math.max(500, Math.min(5_000, deadline - Date.now()));
      if (await probeNamespace(address, settings.namespace, remaining)) return 'ready';
    }
    if (exitInfo) return exitInfo;
    await sleep(READY_POLL_MS);
  }
  return exitInfo ?? 'timeout';
}

// ---------------------------------------------------------------------------
// Public entry point
// ---------------------------------------------------------------------------

export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const cliPath = opts.cliPath ?? (await resolveTemporalCli({ onNotice: opts.onNotice })).path;
  const autoPorts = opts.port === undefined || (opts.ui === true && opts.uiPort === undefined);
  for (let attempt = 1; ; attempt++) {
    const settings = await resolveSettings(opts);
    try {
      return await startOnce(cliPath, settings, opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
    } catch (err) {
      const retryable = autoPorts && attempt < PORT_RACE_ATTEMPTS && isPortConflict(err);
      if (!retryable) throw err;
    }
  }
}

function isPortConflict(err: unknown): boolean {
  return err instanceof DevServerStartError && err.portInUse;
}

async function startOnce(cliPath: string, settings: ResolvedDevServerSettings, timeoutMs: number): Promise<DevServer> {
  const args = buildStartDevArgs(settings);
  const host = dialHost(settings.ip);
  const address = `${host}:${settings.port}`;
  const where = `\`${cliPath} ${args.join(' ')}\``;
  // Otherwise the readiness probe would happily talk to whatever server already owns the port.
  if (await isPortOpen(host, settings.port)) {
    throw new DevServerStartError(
      `Cannot start the Temporal dev server: port ${address} is already in use (another Temporal server or ` +
        'other process is listening there). Pass a different port, or omit `port` to pick a free one.',
      '',
      null,
      true,
    );
  }
  const output = new OutputRing(OUTPUT_LINES);
  const { child, exited } = spawnServer(cliPath, args, output);

  const result = await waitUntilReady(host, settings, address, exited, timeoutMs);
  if (result !== 'ready') {
    await terminate(child, exited);
    if (result === 'timeout') {
      throw new DevServerStartError(
        `Temporal dev server did not become ready within ${timeoutMs} ms (describeNamespace "${settings.namespace}" ` +
          `on ${address} kept failing); it was killed. Command: ${where}. ` +
          'Increase startTimeoutMs if the machine is slow, or check the output below.',
        output.text(),
        null,
      );
    }
    throw new DevServerStartError(
      `Temporal dev server ${describeExit(result)} before becoming ready. Command: ${where}.`,
      output.text(),
      result.code,
    );
  }

  setChildRef(child, false);
  let stopping: Promise<void> | undefined;
  return {
    address,
    uiUrl: settings.uiPort === undefined ? undefined : `http://${host}:${settings.uiPort}`,
    namespace: settings.namespace,
    pid: child.pid ?? -1,
    stop: () => (stopping ??= terminate(child, exited)),
  };
}
