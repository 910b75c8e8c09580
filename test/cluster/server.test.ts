/**
 * What `npm run test:cluster` runs against: the real Temporal server at the version docker-compose.yml
 * pins, on PostgreSQL (persistence and visibility), with several history shards; and `opgraph cluster`,
 * which starts the same thing from the command line and removes it again on Ctrl+C.
 */
import { existsSync } from 'node:fs';
import { Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { OPGRAPH_SEARCH_ATTRIBUTES } from '../../src/searchAttributes.ts';
import { TEMPORAL_SERVER_VERSION } from '../../src/server/temporalServer.ts';
import { opgraph, runOpgraph } from '../cli/spawn.ts';

describe('the suite’s server is a Temporal cluster on PostgreSQL', () => {
  let connection: Connection;
  beforeAll(async () => {
    connection = await Connection.connect({ address: inject('temporalAddress') });
  });
  afterAll(async () => connection?.close());

  it(`runs go.temporal.io/server ${TEMPORAL_SERVER_VERSION} with ≥ 4 history shards and PostgreSQL persistence and visibility`, async () => {
    const info = await connection.workflowService.getClusterInfo({});
    expect(`v${info.serverVersion}`).toBe(TEMPORAL_SERVER_VERSION);
    expect(info.historyShardCount).toBeGreaterThanOrEqual(4);
    expect(info.persistenceStore).toBe('postgres12');
    expect(info.visibilityStore).toBe('postgres12');
    expect(inject('temporalCluster').numHistoryShards).toBe(info.historyShardCount);
    console.log(
      `[cluster] server ${info.serverVersion}, ${info.historyShardCount} history shards, persistence ${info.persistenceStore}, ` +
        `visibility ${info.visibilityStore}, PostgreSQL ${inject('temporalCluster').postgresMajor}; started in ${inject('temporalCluster').startSeconds.toFixed(1)} s`,
    );
  });

  it("has opgraph's search attributes on the default namespace", async () => {
    const listed = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    expect(Object.keys(listed.customAttributes ?? {})).toEqual(expect.arrayContaining(Object.keys(OPGRAPH_SEARCH_ATTRIBUTES)));
  });
});

describe('opgraph cluster', () => {
  it('starts the server on PostgreSQL, serves a run from another command, and on Ctrl+C stops everything and removes its directory', async () => {
    const cluster = opgraph(['cluster']);
    let dir: string | undefined;
    try {
      await cluster.waitFor(/Press Ctrl\+C to stop\./, 150_000);
      const out = cluster.stdout();
      expect(out).toContain(`Temporal server ${TEMPORAL_SERVER_VERSION} is up`);
      const address = /TEMPORAL_ADDRESS: (\S+)/.exec(out)?.[1];
      dir = /Directory: +(\S+)/.exec(out)?.[1];
      expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(dir && existsSync(dir)).toBe(true);
      expect(cluster.stderr()).toMatch(/opgraph cluster: initdb: PostgreSQL \d+/);
      expect(cluster.stderr()).toMatch(/opgraph cluster: ready in [\d.]+ s/);

      const run = await runOpgraph(['run', 'dynamic_graph'], { TEMPORAL_ADDRESS: address });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain('merge_and_analyze = [4900,5000]');
    } finally {
      cluster.child.kill('SIGINT');
    }
    const finished = await cluster.done;
    expect(finished.stderr).toContain('opgraph cluster: stopped');
    expect(finished.code).toBe(0);
    expect(dir && existsSync(dir)).toBe(false);
  }, 240_000);
});
