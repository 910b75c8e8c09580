/**
 * The pure parts of `opgraph cluster` (src/server/cluster.ts, postgres.ts): the server config derived from the
 * module's development-postgres12.yaml, the dynamic config file, and the errors that say what to install.
 * The cluster itself runs in `npm run test:cluster`.
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli } from '../../src/cli/commands.ts';
import {
  CLUSTER_DYNAMIC_CONFIG,
  type ClusterPorts,
  databasesOf,
  renderDynamicConfig,
  renderServerConfig,
  TEMPORAL_SERVER_VERSION,
} from '../../src/server/cluster.ts';
import { findPostgres } from '../../src/server/postgres.ts';
import { captureIO } from '../cli/capture.ts';

/** go.temporal.io/server@v1.29.1 config/development-postgres12.yaml, as shipped (comments dropped). */
const BASE = parse(`
log: { stdout: true, level: info }
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: 4
  datastores:
    postgres-default:
      sql: { pluginName: "postgres12", databaseName: "temporal", connectAddr: "127.0.0.1:5432", connectProtocol: "tcp",
             user: "temporal", password: "temporal", maxConns: 20, maxIdleConns: 20, maxConnLifetime: "1h" }
    postgres-visibility:
      sql: { pluginName: "postgres12", databaseName: "temporal_visibility", connectAddr: "127.0.0.1:5432", connectProtocol: "tcp",
             user: "temporal", password: "temporal", maxConns: 2, maxIdleConns: 2, maxConnLifetime: "1h" }
global:
  membership: { maxJoinDuration: 30s, broadcastAddress: "127.0.0.1" }
  pprof: { port: 7936 }
  metrics: { prometheus: { framework: "tally", timerType: "histogram", listenAddress: "127.0.0.1:8000" } }
services:
  frontend: { rpc: { grpcPort: 7233, membershipPort: 6933, bindOnLocalHost: true, httpPort: 7243 } }
  matching: { rpc: { grpcPort: 7235, membershipPort: 6935, bindOnLocalHost: true } }
  history: { rpc: { grpcPort: 7234, membershipPort: 6934, bindOnLocalHost: true } }
  worker: { rpc: { grpcPort: 7239, membershipPort: 6939, bindOnLocalHost: true } }
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: "active"
  currentClusterName: "active"
  clusterInformation:
    active: { enabled: true, initialFailoverVersion: 1, rpcName: "frontend", rpcAddress: "localhost:7233" }
dcRedirectionPolicy: { policy: "noop" }
archival:
  history: { state: "enabled", enableRead: true, provider: { filestore: { fileMode: "0666", dirMode: "0766" } } }
namespaceDefaults:
  archival: { history: { state: "disabled", URI: "file:///tmp/temporal_archival/development" } }
dynamicConfigClient: { filepath: "config/dynamicconfig/development-sql.yaml", pollInterval: "10s" }
`) as unknown;

const PORTS: ClusterPorts = {
  frontend: 21001,
  frontendHttp: 21002,
  frontendMembership: 21003,
  history: 21004,
  historyMembership: 21005,
  matching: 21006,
  matchingMembership: 21007,
  worker: 21008,
  workerMembership: 21009,
};

describe('the cluster server config', () => {
  const config = renderServerConfig(BASE, {
    ports: PORTS,
    postgres: { host: '127.0.0.1', port: 5999, user: 'postgres' },
    numHistoryShards: 4,
    logLevel: 'warn',
    dynamicConfigPath: '/tmp/x/config/dynamicconfig.yaml',
  }) as Record<string, Record<string, unknown>>;

  it('points both stores at our PostgreSQL as the postgres user, keeping the module’s database names and pools', () => {
    const stores = (config.persistence as { datastores: Record<string, { sql: Record<string, unknown> }> }).datastores;
    expect(stores['postgres-default']?.sql).toMatchObject({
      pluginName: 'postgres12',
      databaseName: 'temporal',
      connectAddr: '127.0.0.1:5999',
      user: 'postgres',
      password: '',
      maxConns: 20,
    });
    expect(stores['postgres-visibility']?.sql).toMatchObject({ databaseName: 'temporal_visibility', connectAddr: '127.0.0.1:5999' });
    expect(config.persistence?.numHistoryShards).toBe(4);
    expect(databasesOf(BASE)).toEqual([
      { name: 'temporal', schema: 'temporal' },
      { name: 'temporal_visibility', schema: 'visibility' },
    ]);
  });

  it('uses our ports for every service, on loopback, and the frontend address for the cluster metadata', () => {
    expect(config.services).toEqual({
      frontend: { rpc: { grpcPort: 21001, membershipPort: 21003, bindOnLocalHost: true, httpPort: 21002 } },
      history: { rpc: { grpcPort: 21004, membershipPort: 21005, bindOnLocalHost: true } },
      matching: { rpc: { grpcPort: 21006, membershipPort: 21007, bindOnLocalHost: true } },
      worker: { rpc: { grpcPort: 21008, membershipPort: 21009, bindOnLocalHost: true } },
    });
    const info = (config.clusterMetadata as { clusterInformation: Record<string, Record<string, unknown>> }).clusterInformation.active;
    expect(info).toMatchObject({ rpcAddress: '127.0.0.1:21001', httpAddress: '127.0.0.1:21002', initialFailoverVersion: 1 });
  });

  it('has no fixed-port metrics or pprof endpoint and no archival, and reads our dynamic config file', () => {
    expect(config.global).toEqual({ membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' }, pprof: { port: 0 } });
    expect(config.archival).toBeUndefined();
    expect(config.namespaceDefaults).toBeUndefined();
    expect(config.log).toEqual({ stdout: true, level: 'warn' });
    expect(config.dynamicConfigClient).toEqual({ filepath: '/tmp/x/config/dynamicconfig.yaml', pollInterval: '10s' });
  });

  it('refuses a base config of another shape, saying what to do', () => {
    expect(() =>
      renderServerConfig(
        { persistence: {} },
        { ports: PORTS, postgres: { host: 'h', port: 1, user: 'u' }, numHistoryShards: 4, logLevel: 'warn', dynamicConfigPath: 'x' },
      ),
    ).toThrow(new RegExp(`does not have the expected shape.*temporal-server-${TEMPORAL_SERVER_VERSION}`));
  });

  it('writes dynamic config in the server’s file format, with the settings the cluster needs', () => {
    expect(renderDynamicConfig({ 'limit.maxIDLength': 255 })).toEqual({ 'limit.maxIDLength': [{ value: 255, constraints: {} }] });
    expect(CLUSTER_DYNAMIC_CONFIG).toMatchObject({
      'frontend.enableUpdateWorkflowExecution': true,
      'frontend.enableUpdateWorkflowExecutionAsyncAccepted': true,
      'system.forceSearchAttributesCacheRefreshOnRead': true,
      'limit.maxIDLength': 255,
    });
  });
});

describe('finding PostgreSQL and the command line', () => {
  it('says what to set when OPGRAPH_POSTGRES_BIN points nowhere useful', async () => {
    await expect(findPostgres({ OPGRAPH_POSTGRES_BIN: '/nonexistent/bin' })).rejects.toThrow(
      /OPGRAPH_POSTGRES_BIN is set to "\/nonexistent\/bin", but that directory has no executable initdb and pg_ctl/,
    );
  });

  it('rejects bad `opgraph cluster` options before starting anything (exit code 2)', async () => {
    for (const [args, message] of [
      [['cluster', '--shards', '0'], /--shards must be an integer from 1 to 1024, got "0"/],
      [['cluster', '--port', 'x'], /--port must be an integer from 1 to 65535, got "x"/],
      [['cluster', '--log-level', 'loud'], /--log-level must be one of debug, info, warn, error, got "loud"/],
    ] as const) {
      const { io, stderr } = captureIO();
      expect(await runCli(args, io)).toBe(2);
      expect(stderr()).toMatch(message);
    }
  });
});
