/**
 * A real Temporal server on this machine, without containers: the server binary built from
 * go.temporal.io/server at TEMPORAL_SERVER_VERSION (the version docker-compose.yml runs), on a
 * throwaway PostgreSQL cluster from the distribution's PostgreSQL, with 4 history shards and SQL
 * (PostgreSQL) visibility. `startCluster()` provisions everything, `stop()` removes it again; a
 * watchdog process cleans up when the process that started the cluster dies without stopping it
 * (SIGKILL included).
 *
 *   build (once) → initdb → pg_ctl start → temporal-sql-tool create/setup/update-schema (temporal,
 *   temporal_visibility) → temporal-server start → health → namespace "default" → search attributes
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import proto from '@temporalio/proto';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { z } from 'zod';
import { OPGRAPH_SEARCH_ATTRIBUTES } from '../searchAttributes.ts';
import { type SearchAttributeType } from './devServer.ts';
import { type PostgresServer, startPostgres } from './postgres.ts';
import { resolveTemporalServer, type ResolvedTemporalServer, TEMPORAL_SERVER_VERSION } from './temporalServer.ts';

export { TEMPORAL_SERVER_VERSION } from './temporalServer.ts';

export const DEFAULT_HISTORY_SHARDS = 4;
export type ClusterLogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * Dynamic config of every cluster (written to `<dir>/config/dynamicconfig.yaml`); `dynamicConfig` adds to it.
 * PostgreSQL visibility keeps custom search attributes in fixed columns (10 Keyword, 3 Int, …): the
 * operator API refuses more than the schema has, so there is no limit to set for them here.
 */
export const CLUSTER_DYNAMIC_CONFIG: Readonly<Record<string, unknown>> = {
  'frontend.enableUpdateWorkflowExecution': true,
  'frontend.enableUpdateWorkflowExecutionAsyncAccepted': true,
  // Search attributes usable as soon as they are registered (as on the dev server)…
  'system.forceSearchAttributesCacheRefreshOnRead': true,
  // …which reads them from the database on each use, so raise the persistence QPS as the dev server does.
  'frontend.persistenceMaxQPS': 10_000,
  'history.persistenceMaxQPS': 45_000,
  // PostgreSQL keeps workflow ids in VARCHAR(255) columns: reject longer ids at the API (development-sql.yaml does the same).
  'limit.maxIDLength': 255,
  'history.hostLevelCacheMaxSize': 8192,
};

export interface ClusterOptions {
  /** Frontend gRPC port on 127.0.0.1 (default: a free port). */
  port?: number;
  /**
   * Keep PostgreSQL's data here and reuse it on the next start (like `--db-filename` for the dev
   * server). Default: a temporary directory, removed by stop().
   */
  dataDir?: string;
  /** History shards (fixed when the database is created). Default 4. */
  numHistoryShards?: number;
  /** Namespace to register and wait for (default "default"). */
  namespace?: string;
  /** Custom search attributes to register (default: opgraph's, see src/searchAttributes.ts). */
  searchAttributes?: Record<string, SearchAttributeType>;
  /** Extra dynamic config, on top of CLUSTER_DYNAMIC_CONFIG. */
  dynamicConfig?: Record<string, unknown>;
  /** Server log level (default "warn"); the log is `<dir>/temporal-server.log`. */
  logLevel?: ClusterLogLevel;
  /** Progress lines: building…, initdb…, schema…, starting…, ready in X s. */
  onProgress?: (line: string) => void;
  /** How long to wait for the server to become ready (default 120 s). */
  startTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Seconds each phase of startCluster took. */
export interface ClusterTimings {
  /** Finding (or building) the binaries. */
  resolve: number;
  postgres: number;
  schema: number;
  server: number;
  total: number;
}

export interface TemporalCluster {
  /** `127.0.0.1:<port>` of the frontend, for `Connection.connect({ address })`. */
  readonly address: string;
  readonly namespace: string;
  readonly version: string;
  readonly numHistoryShards: number;
  /** Directory holding config, logs and (under pg/) PostgreSQL's data. */
  readonly dir: string;
  readonly serverLogPath: string;
  readonly postgres: Pick<PostgresServer, 'host' | 'port' | 'dataDir' | 'logPath'> & { major: number };
  readonly binaries: ResolvedTemporalServer;
  readonly timings: ClusterTimings;
  /** pid of the running temporal-server process (changes on restartServer). */
  serverPid(): number;
  /** Sends `signal` (default SIGKILL) to the server and waits until it has exited. PostgreSQL keeps running. */
  killServer(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the server again on the same ports, config and database, and waits until it is ready. */
  restartServer(): Promise<void>;
  /** Resolves when the server process exits on its own (not through killServer/stop). */
  readonly unexpectedExit: Promise<ServerExit>;
  /** Stops the server (SIGTERM, SIGKILL after 15 s) and PostgreSQL, removes the temporary directory. Idempotent. */
  stop(): Promise<void>;
}

export interface ServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class ClusterStartError extends Error {
  override readonly name = 'ClusterStartError';
}

// ---------------------------------------------------------------------------
// Config files (pure, for testing)
// ---------------------------------------------------------------------------

export interface ClusterPorts {
  frontend: number;
  frontendHttp: number;
  frontendMembership: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
}

export interface ServerConfigSettings {
  ports: ClusterPorts;
  postgres: { host: string; port: number; user: string };
  numHistoryShards: number;
  logLevel: ClusterLogLevel;
  dynamicConfigPath: string;
}

const looseRecord = z.record(z.string(), z.looseObject({}));
/** The parts of config/development-postgres12.yaml that the cluster rewrites; everything else is kept. */
const BaseServerConfig = z.looseObject({
  persistence: z.looseObject({
    defaultStore: z.string(),
    visibilityStore: z.string(),
    datastores: z.record(z.string(), z.looseObject({ sql: z.looseObject({ pluginName: z.string(), databaseName: z.string() }) })),
  }),
  global: z.looseObject({}).optional(),
  services: z.record(z.string(), z.looseObject({ rpc: z.looseObject({}) })),
  clusterMetadata: z.looseObject({ currentClusterName: z.string(), clusterInformation: looseRecord }),
  archival: z.looseObject({}).optional(),
});

/**
 * The server config: the module's config/development-postgres12.yaml with our ports, database
 * address and user, shard count, log level and dynamic config file; no metrics endpoint, no pprof,
 * no archival.
 */
export function renderServerConfig(base: unknown, s: ServerConfigSettings): Record<string, unknown> {
  const parsed = BaseServerConfig.safeParse(base);
  if (!parsed.success) {
    throw new ClusterStartError(
      `The Temporal server's config/development-postgres12.yaml does not have the expected shape (${parsed.error.issues
        .map((i) => `${i.path.join('.')}: ${i.message}`)
        .join('; ')}); delete the cached build under ~/.cache/opgraph/temporal-server-${TEMPORAL_SERVER_VERSION} and retry.`,
    );
  }
  const config = structuredClone(parsed.data);
  config.log = { stdout: true, level: s.logLevel };
  const datastores: Record<string, unknown> = {};
  for (const [name, store] of Object.entries(config.persistence.datastores)) {
    datastores[name] = {
      ...store,
      sql: {
        ...store.sql,
        connectAddr: `${s.postgres.host}:${s.postgres.port}`,
        connectProtocol: 'tcp',
        user: s.postgres.user,
        password: '',
      },
    };
  }
  config.persistence = {
    ...config.persistence,
    numHistoryShards: s.numHistoryShards,
    datastores: datastores as typeof config.persistence.datastores,
  };
  const global = { ...(config.global ?? {}) };
  delete global.metrics; // the base config serves Prometheus on a fixed port (8000)
  config.global = { ...global, membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' }, pprof: { port: 0 } };
  const rpc = (grpcPort: number, membershipPort: number, extra: Record<string, unknown> = {}) => ({
    rpc: { grpcPort, membershipPort, bindOnLocalHost: true, ...extra },
  });
  config.services = {
    frontend: rpc(s.ports.frontend, s.ports.frontendMembership, { httpPort: s.ports.frontendHttp }),
    history: rpc(s.ports.history, s.ports.historyMembership),
    matching: rpc(s.ports.matching, s.ports.matchingMembership),
    worker: rpc(s.ports.worker, s.ports.workerMembership),
  };
  const current = config.clusterMetadata.currentClusterName;
  config.clusterMetadata = {
    ...config.clusterMetadata,
    clusterInformation: {
      ...config.clusterMetadata.clusterInformation,
      [current]: {
        ...config.clusterMetadata.clusterInformation[current],
        rpcAddress: `127.0.0.1:${s.ports.frontend}`,
        httpAddress: `127.0.0.1:${s.ports.frontendHttp}`,
      },
    },
  };
  delete config.archival;
  delete config.namespaceDefaults;
  config.dynamicConfigClient = { filepath: s.dynamicConfigPath, pollInterval: '10s' };
  return config;
}

/** `key: [{ value, constraints: {} }]` for each entry: the server's file-based dynamic config format. */
export function renderDynamicConfig(values: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, [{ value, constraints: {} }]]));
}

/** The databases of the base config: [default store, visibility store] with their schema directories. */
export function databasesOf(base: unknown): { name: string; schema: 'temporal' | 'visibility' }[] {
  const parsed = BaseServerConfig.parse(base);
  const db = (store: string) => {
    const found = parsed.persistence.datastores[store];
    if (!found) throw new ClusterStartError(`config/development-postgres12.yaml has no datastore "${store}"`);
    return found.sql.databaseName;
  };
  return [
    { name: db(parsed.persistence.defaultStore), schema: 'temporal' },
    { name: db(parsed.persistence.visibilityStore), schema: 'visibility' },
  ];
}

/**
 * PostgreSQL's cluster_membership table keeps ports in a SMALLINT column: the server fails to start
 * with ports from the usual ephemeral range (32768+). Pick free ports below it.
 */
const PORT_RANGE: readonly [number, number] = [20_000, 32_767];

/** A port in PORT_RANGE that nothing listens on now (bind test on 127.0.0.1). */
function probeFreePort(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', () => resolvePromise(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolvePromise(true)));
  });
}

async function freePorts(frontend: number | undefined): Promise<ClusterPorts> {
  const taken = new Set<number>(frontend === undefined ? [] : [frontend]);
  const next = async (): Promise<number> => {
    for (;;) {
      const port = PORT_RANGE[0] + Math.floor(Math.random() * (PORT_RANGE[1] - PORT_RANGE[0] + 1));
      if (!taken.has(port) && (await probeFreePort(port))) {
        taken.add(port);
        return port;
      }
    }
  };
  return {
    frontend: frontend ?? (await next()),
    frontendHttp: await next(),
    frontendMembership: await next(),
    history: await next(),
    historyMembership: await next(),
    matching: await next(),
    matchingMembership: await next(),
    worker: await next(),
    workerMembership: await next(),
  };
}

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

function runTool(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const [cmd, ...args] = argv;
    if (!cmd) throw new Error('runTool: empty command');
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.once('error', reject);
    child.once('close', (code) => resolvePromise({ code, output }));
  });
}

function lastLines(text: string, n = 30): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

/** create-database, setup-schema -v 0.0, update-schema to the newest version, for both databases (skipping existing ones). */
async function setupSchemas(
  binaries: ResolvedTemporalServer,
  postgres: PostgresServer,
  databases: { name: string; schema: 'temporal' | 'visibility' }[],
  env: NodeJS.ProcessEnv,
  progress: (line: string) => void,
): Promise<void> {
  // The tool reads SQL_* variables too; ours must not be overridden by stray ones.
  const toolEnv = Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('SQL_')));
  for (const db of databases) {
    const common = [
      binaries.sqlToolPath,
      '--plugin',
      'postgres12',
      '--ep',
      postgres.host,
      '--port',
      String(postgres.port),
      '--user',
      postgres.user,
      '--db',
      db.name,
    ];
    const versioned = join(binaries.postgresSchemaDir, db.schema, 'versioned');
    const create = await runTool([...common, 'create-database'], toolEnv);
    const existed = create.code !== 0 && /already exists/i.test(create.output);
    if (create.code !== 0 && !existed) {
      throw new ClusterStartError(
        `temporal-sql-tool create-database ${db.name} failed (exit ${create.code}):\n${lastLines(create.output)}`,
      );
    }
    if (!existed) {
      const setup = await runTool([...common, 'setup-schema', '-v', '0.0'], toolEnv);
      if (setup.code !== 0) {
        throw new ClusterStartError(
          `temporal-sql-tool setup-schema -v 0.0 on ${db.name} failed (exit ${setup.code}):\n${lastLines(setup.output)}`,
        );
      }
    }
    const update = await runTool([...common, 'update-schema', '-d', versioned], toolEnv);
    if (update.code !== 0) {
      throw new ClusterStartError(
        `temporal-sql-tool update-schema -d ${versioned} on ${db.name} failed (exit ${update.code}):\n${lastLines(update.output)}`,
      );
    }
    progress(`schema: database ${db.name} ${existed ? 'updated' : 'created'} (${db.schema} schema from ${versioned})`);
  }
}

// ---------------------------------------------------------------------------
// Watchdog: cleans up after a parent that died without stop()
// ---------------------------------------------------------------------------

/**
 * A detached shell that blocks reading a pipe from us. When we exit for any reason (SIGKILL too),
 * the pipe closes and it kills the server (pid file), stops PostgreSQL immediately and removes the
 * temporary directory. After a clean stop() there is nothing left for it to do.
 */
const WATCHDOG_SCRIPT = `
read -r _ || true
if [ -f "$SERVER_PID_FILE" ]; then kill -KILL "$(cat "$SERVER_PID_FILE")" 2>/dev/null || true; fi
if [ -f "$PG_DATA/postmaster.pid" ]; then $PG_AS "$PG_CTL" stop -D "$PG_DATA" -m immediate -w -t 30 >/dev/null 2>&1 || true; fi
if [ -n "$REMOVE_DIR" ]; then rm -rf "$REMOVE_DIR"; fi
`;

function startWatchdog(env: Record<string, string>): ChildProcess {
  const child = spawn('bash', ['-c', WATCHDOG_SCRIPT], {
    detached: true, // its own process group: a Ctrl+C to ours must not kill it before it cleans up
    stdio: ['pipe', 'ignore', 'ignore'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
  });
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  child.stdin?.on('error', () => undefined);
  return child;
}

// ---------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------

interface ServerProcess {
  child: ChildProcess;
  exited: Promise<ServerExit>;
}

function spawnServer(binaries: ResolvedTemporalServer, dir: string, logPath: string, pidFile: string): ServerProcess {
  const log = openSync(logPath, 'a');
  try {
    // Not detached: a Ctrl+C in a terminal reaches it too. Output goes to a file, so a dead parent leaves no broken pipe.
    const child = spawn(binaries.serverPath, ['--root', dir, '--config', 'config', '--env', 'opgraph', '--allow-no-auth', 'start'], {
      stdio: ['ignore', log, log],
      cwd: dir,
      env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_'))),
    });
    const exited = new Promise<ServerExit>((resolvePromise) => {
      child.once('exit', (code, signal) => resolvePromise({ code, signal }));
      child.once('error', () => resolvePromise({ code: null, signal: null }));
    });
    if (child.pid !== undefined) writeFileSyncSafe(pidFile, String(child.pid));
    const killOnExit = (): void => {
      child.kill('SIGKILL');
    };
    process.on('exit', killOnExit);
    void exited.then(() => process.off('exit', killOnExit));
    child.unref();
    return { child, exited };
  } finally {
    closeSync(log);
  }
}

function writeFileSyncSafe(path: string, text: string): void {
  try {
    writeFileSync(path, text);
  } catch {
    // best effort: only the watchdog reads it, after a crash of ours
  }
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function isPortConflict(log: string): boolean {
  return /address already in use/i.test(log);
}

function logTail(path: string, n = 40): string {
  try {
    return lastLines(readFileSync(path, 'utf8'), n);
  } catch {
    return '';
  }
}

/** Error text of a gRPC call, for the readiness loop. */
function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const { IndexedValueType } = proto.temporal.api.enums.v1;
const { ServingStatus } = proto.grpc.health.v1.HealthCheckResponse;

function indexedValueType(type: SearchAttributeType): proto.temporal.api.enums.v1.IndexedValueType {
  const map: Record<SearchAttributeType, proto.temporal.api.enums.v1.IndexedValueType> = {
    Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    Text: IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
    Int: IndexedValueType.INDEXED_VALUE_TYPE_INT,
    Double: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
    Bool: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
    Datetime: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    KeywordList: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
  };
  return map[type];
}

interface ReadySettings {
  address: string;
  namespace: string;
  searchAttributes: Record<string, SearchAttributeType>;
  deadline: number;
  exited: Promise<ServerExit>;
  progress: (line: string) => void;
}

/**
 * Health of the frontend, then the namespace (registered when missing), the search attributes (added
 * when missing), and finally that history answers for the namespace (a describe of unknown workflow
 * ids on several shards returns "not found" rather than an unavailable shard).
 */
async function waitUntilReady(s: ReadySettings): Promise<void> {
  let exit: ServerExit | undefined;
  void s.exited.then((e) => (exit = e));
  let lastError = 'no answer yet';
  const stage = { health: false, namespace: false, attributes: false };
  while (Date.now() < s.deadline) {
    if (exit) throw new ClusterStartError(`the Temporal server exited (${exit.signal ?? `code ${exit.code}`}) before becoming ready`);
    const connection = Connection.lazy({ address: s.address, connectTimeout: 2_000 });
    try {
      const withDeadline = <T>(fn: () => Promise<T>): Promise<T> => connection.withDeadline(Date.now() + 5_000, fn);
      if (!stage.health) {
        const health = await withDeadline(() =>
          connection.healthService.check({ service: 'temporal.api.workflowservice.v1.WorkflowService' }),
        );
        if (health.status !== ServingStatus.SERVING) throw new Error(`health status ${health.status}`);
        stage.health = true;
      }
      if (!stage.namespace) {
        const known = await withDeadline(() => connection.workflowService.describeNamespace({ namespace: s.namespace })).then(
          () => true,
          (err: unknown) => {
            if ((err as { code?: number }).code === 5 /* NOT_FOUND */) return false;
            throw err;
          },
        );
        if (!known) {
          await withDeadline(() =>
            connection.workflowService.registerNamespace({
              namespace: s.namespace,
              workflowExecutionRetentionPeriod: msToTs('1 day'),
            }),
          );
          s.progress(`registered namespace ${s.namespace} (retention 1 day)`);
        }
        stage.namespace = true;
      }
      if (!stage.attributes) {
        const wanted = Object.entries(s.searchAttributes);
        if (wanted.length > 0) {
          const listed = await withDeadline(() => connection.operatorService.listSearchAttributes({ namespace: s.namespace }));
          const missing = wanted.filter(([name]) => !(name in (listed.customAttributes ?? {})));
          if (missing.length > 0) {
            await withDeadline(() =>
              connection.operatorService.addSearchAttributes({
                namespace: s.namespace,
                searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, indexedValueType(type)])),
              }),
            );
            s.progress(`registered search attributes ${missing.map(([n, t]) => `${n} (${t})`).join(', ')}`);
            continue; // list again: registration is confirmed by the next listing
          }
        }
        stage.attributes = true;
      }
      for (let i = 0; i < 16; i++) {
        await withDeadline(() =>
          connection.workflowService.describeWorkflowExecution({
            namespace: s.namespace,
            execution: { workflowId: `opgraph-readiness-probe-${i}` },
          }),
        ).catch((err: unknown) => {
          const notFound = (err as { code?: number }).code === 5 && !/namespace/i.test(describeError(err));
          if (!notFound) throw err;
        });
      }
      return;
    } catch (err) {
      lastError = describeError(err);
      await sleep(250);
    } finally {
      await connection.close().catch(() => undefined);
    }
  }
  throw new ClusterStartError(
    `the Temporal server did not become ready (health ${stage.health ? 'ok' : 'not serving'}, namespace ${
      stage.namespace ? 'ok' : 'not ready'
    }, search attributes ${stage.attributes ? 'ok' : 'not ready'}); last error: ${lastError}`,
  );
}

// ---------------------------------------------------------------------------
// Public entry point
// ---------------------------------------------------------------------------

const STOP_GRACE_MS = 15_000;
const PORT_RACE_ATTEMPTS = 3;

export async function startCluster(opts: ClusterOptions = {}): Promise<TemporalCluster> {
  const started = Date.now();
  const env = opts.env ?? process.env;
  const progress = (line: string): void => opts.onProgress?.(line);
  const namespace = opts.namespace ?? 'default';
  const numHistoryShards = opts.numHistoryShards ?? DEFAULT_HISTORY_SHARDS;
  const searchAttributes = opts.searchAttributes ?? OPGRAPH_SEARCH_ATTRIBUTES;
  const timeoutMs = opts.startTimeoutMs ?? 120_000;

  const binaries = await resolveTemporalServer({ env, onNotice: progress });
  const resolvedAt = Date.now();

  const persistent = opts.dataDir !== undefined;
  const dir = persistent ? resolve(opts.dataDir ?? '') : await mkdtemp(join(tmpdir(), 'opgraph-cluster-'));
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755); // the postgres OS user must reach pg/ inside it
  const pgDir = join(dir, 'pg');
  const configDir = join(dir, 'config');
  const serverLogPath = join(dir, 'temporal-server.log');
  const pidFile = join(dir, 'temporal-server.pid');
  await mkdir(configDir, { recursive: true });

  let postgres: PostgresServer | undefined;
  let watchdog: ChildProcess | undefined;
  let server: ServerProcess | undefined;
  const cleanup = async (): Promise<void> => {
    if (server && !hasExited(server.child)) {
      server.child.ref();
      server.child.kill('SIGKILL');
      await server.exited;
    }
    await rm(pidFile, { force: true });
    await postgres?.stop().catch(() => undefined);
    if (!persistent) await rm(dir, { recursive: true, force: true });
    watchdog?.stdin?.end();
  };

  try {
    postgres = await startPostgres({ dir: pgDir, onProgress: progress, env });
    const pgAs = postgres.osUser.prefix.join(' ');
    watchdog = startWatchdog({
      SERVER_PID_FILE: pidFile,
      PG_DATA: postgres.dataDir,
      PG_CTL: join(postgres.install.binDir, 'pg_ctl'),
      PG_AS: pgAs,
      REMOVE_DIR: persistent ? '' : dir,
    });
    const postgresAt = Date.now();

    const base: unknown = parseYaml(await readFile(binaries.baseConfigPath, 'utf8'));
    const databases = databasesOf(base);
    await setupSchemas(binaries, postgres, databases, env, progress);
    const schemaAt = Date.now();

    const dynamicConfigPath = join(configDir, 'dynamicconfig.yaml');
    await writeFile(dynamicConfigPath, stringifyYaml(renderDynamicConfig({ ...CLUSTER_DYNAMIC_CONFIG, ...(opts.dynamicConfig ?? {}) })));
    const logLevel = opts.logLevel ?? 'warn';
    const pg = postgres;
    const writeConfig = async (ports: ClusterPorts): Promise<void> => {
      const config = renderServerConfig(base, {
        ports,
        postgres: { host: pg.host, port: pg.port, user: pg.user },
        numHistoryShards,
        logLevel,
        dynamicConfigPath,
      });
      await writeFile(
        join(configDir, 'opgraph.yaml'),
        `# Written by opgraph (src/server/cluster.ts) from config/development-postgres12.yaml\n${stringifyYaml(config)}`,
      );
    };

    let ports: ClusterPorts | undefined;
    const launch = async (p: ClusterPorts): Promise<ServerProcess> => {
      const address = `127.0.0.1:${p.frontend}`;
      const proc = spawnServer(binaries, dir, serverLogPath, pidFile);
      try {
        await waitUntilReady({ address, namespace, searchAttributes, deadline: Date.now() + timeoutMs, exited: proc.exited, progress });
        return proc;
      } catch (err) {
        if (!hasExited(proc.child)) {
          proc.child.ref();
          proc.child.kill('SIGKILL');
          await proc.exited;
        }
        throw err;
      }
    };

    for (let attempt = 1; ; attempt++) {
      const candidate = await freePorts(opts.port);
      await writeConfig(candidate);
      progress(
        `starting the Temporal server ${binaries.version} (${numHistoryShards} history shards, PostgreSQL ${postgres.install.major} ` +
          `persistence and visibility) on 127.0.0.1:${candidate.frontend} …`,
      );
      const logBefore = logTail(serverLogPath, 100000).length;
      try {
        server = await launch(candidate);
        ports = candidate;
        break;
      } catch (err) {
        const log = logTail(serverLogPath, 100000).slice(logBefore);
        if (isPortConflict(log) && attempt < PORT_RACE_ATTEMPTS) continue;
        throw new ClusterStartError(
          `${describeError(err)}.\n--- last lines of ${serverLogPath} ---\n${lastLines(log, 40)}\n` +
            (isPortConflict(log) ? 'A port was taken: pass another --port, or retry to pick free ones.' : 'See the server log above.'),
        );
      }
    }
    const serverAt = Date.now();
    const timings: ClusterTimings = {
      resolve: (resolvedAt - started) / 1000,
      postgres: (postgresAt - resolvedAt) / 1000,
      schema: (schemaAt - postgresAt) / 1000,
      server: (serverAt - schemaAt) / 1000,
      total: (serverAt - started) / 1000,
    };
    progress(
      `ready in ${timings.total.toFixed(1)} s at 127.0.0.1:${ports.frontend} (binaries ${timings.resolve.toFixed(1)} s, PostgreSQL ` +
        `${timings.postgres.toFixed(1)} s, schema ${timings.schema.toFixed(1)} s, server ${timings.server.toFixed(1)} s)`,
    );

    const finalPorts = ports;
    let current: ServerProcess = server;
    let expected = false; // true while we are the ones stopping the server
    let reportExit: (e: ServerExit) => void = () => {};
    const unexpectedExit = new Promise<ServerExit>((r) => (reportExit = r));
    const watch = (proc: ServerProcess): void => {
      void proc.exited.then((e) => {
        if (!expected && proc === current) reportExit(e);
      });
    };
    watch(current);
    let stopping: Promise<void> | undefined;
    const terminate = async (signal: NodeJS.Signals): Promise<void> => {
      expected = true;
      if (!hasExited(current.child)) {
        current.child.ref(); // keep the event loop alive until it has exited (the child is unref'd while it runs)
        current.child.kill(signal);
        if (signal !== 'SIGKILL') {
          const grace = new AbortController();
          const timedOut = await Promise.race([
            current.exited.then(() => false),
            sleep(STOP_GRACE_MS, true, { signal: grace.signal }).catch(() => false),
          ]);
          grace.abort();
          if (timedOut) current.child.kill('SIGKILL');
        }
      }
      await current.exited;
      await rm(pidFile, { force: true });
    };
    const pgInfo = {
      host: postgres.host,
      port: postgres.port,
      dataDir: postgres.dataDir,
      logPath: postgres.logPath,
      major: postgres.install.major,
    };
    return {
      address: `127.0.0.1:${finalPorts.frontend}`,
      namespace,
      version: binaries.version,
      numHistoryShards,
      dir,
      serverLogPath,
      postgres: pgInfo,
      binaries,
      timings,
      unexpectedExit,
      serverPid: () => current.child.pid ?? -1,
      killServer: (signal = 'SIGKILL') => terminate(signal),
      restartServer: async () => {
        if (!hasExited(current.child)) throw new Error('restartServer: the server is still running; killServer() first');
        const restartedAt = Date.now();
        progress(`restarting the Temporal server on 127.0.0.1:${finalPorts.frontend} (same database) …`);
        current = await launch(finalPorts);
        expected = false;
        watch(current);
        progress(`server ready again in ${((Date.now() - restartedAt) / 1000).toFixed(1)} s`);
      },
      stop: () =>
        (stopping ??= (async () => {
          await terminate('SIGTERM');
          server = current;
          await cleanup();
        })()),
    };
  } catch (err) {
    await cleanup().catch(() => undefined);
    throw err;
  }
}
