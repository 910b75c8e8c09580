/** `opgraph cluster`: the real Temporal server on PostgreSQL (src/server/cluster.ts), until Ctrl+C. */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type ClusterLogLevel, DEFAULT_HISTORY_SHARDS, startCluster } from '../server/cluster.ts';
import { EXIT, UsageError } from './errors.ts';
import { type CliIO, printer } from './io.ts';

export interface ClusterCommandOptions {
  port?: string;
  dataDir?: string;
  shards?: string;
  logLevel?: string;
}

const LOG_LEVELS: readonly ClusterLogLevel[] = ['debug', 'info', 'warn', 'error'];

function positiveInteger(value: string | undefined, flag: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`${flag} must be an integer from 1 to ${max}, got "${value}"`);
  return n;
}

/** Starts the cluster, prints where it is, waits for Ctrl+C / SIGTERM (or the server dying), then stops it. */
export async function clusterCommand(options: ClusterCommandOptions, io: CliIO): Promise<number> {
  const port = positiveInteger(options.port, '--port', 65535);
  const numHistoryShards = positiveInteger(options.shards, '--shards', 1024) ?? DEFAULT_HISTORY_SHARDS;
  const logLevel = (options.logLevel ?? 'warn') as ClusterLogLevel;
  if (!LOG_LEVELS.includes(logLevel))
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${options.logLevel}"`);
  const dataDir = options.dataDir === undefined ? undefined : resolve(io.cwd, options.dataDir);
  const err = printer(io.stderr);
  const out = printer(io.stdout);

  // Signals that arrive while the cluster starts stop it as soon as it is up (startCluster cleans up on failure itself).
  let stopRequested: NodeJS.Signals | undefined;
  let wake: () => void = () => {};
  const onSignal = (signal: NodeJS.Signals) => () => {
    stopRequested ??= signal;
    wake();
  };
  const onInt = onSignal('SIGINT');
  const onTerm = onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    const cluster = await startCluster({
      ...(port === undefined ? {} : { port }),
      ...(dataDir === undefined ? {} : { dataDir }),
      numHistoryShards,
      logLevel,
      env: io.env,
      onProgress: (line) => err(`opgraph cluster: ${line}`),
    });
    try {
      out(`Temporal server ${cluster.version} is up (PostgreSQL ${cluster.postgres.major}, ${cluster.numHistoryShards} history shards).`);
      out(`  TEMPORAL_ADDRESS: ${cluster.address}`);
      out(`  Namespace:        ${cluster.namespace}`);
      out(`  PostgreSQL:       ${cluster.postgres.host}:${cluster.postgres.port} (user postgres, databases temporal, temporal_visibility)`);
      out(`  Directory:        ${cluster.dir}${dataDir === undefined ? ' (removed on exit)' : ' (kept)'}`);
      out(`  Server log:       ${cluster.serverLogPath}`);
      out('');
      out('In another shell:');
      out(`  export TEMPORAL_ADDRESS=${cluster.address}`);
      out('  npx opgraph worker &          # serves the jobs of examples/definitions.ts');
      out('  npx opgraph launch <job>      # or: npx opgraph run <job>');
      out('Press Ctrl+C to stop.');
      const keepAlive = setInterval(() => {}, 1 << 30);
      const crashed = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined>((done) => {
        wake = () => done(undefined);
        if (stopRequested) done(undefined);
        void cluster.unexpectedExit.then((exit) => done(exit));
      });
      clearInterval(keepAlive);
      if (crashed) {
        const log = await readFile(cluster.serverLogPath, 'utf8').catch(() => '');
        err(`opgraph cluster: the Temporal server exited on its own (${crashed.signal ?? `code ${crashed.code}`}); last lines of its log:`);
        err(log.trimEnd().split('\n').slice(-20).join('\n'));
        err('opgraph cluster: stopping PostgreSQL; start `opgraph cluster` again (with --data-dir to keep the runs across restarts).');
        return EXIT.failed;
      }
      err(`opgraph cluster: ${stopRequested ?? 'stop'} received, stopping the Temporal server and PostgreSQL …`);
      return EXIT.ok;
    } finally {
      await cluster.stop();
      err('opgraph cluster: stopped');
    }
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}
