import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildStartDevArgs, DevServerStartError, findFreePort, startDevServer, type DevServer } from '../../src/server/devServer.ts';
import { resolveTemporalCli } from '../../src/server/temporalCli.ts';

const TIMEOUT = 120_000;

let cliPath: string;
let root: string;
const started: DevServer[] = [];

beforeAll(async () => {
  // Resolved once; the binary is expected to be on PATH or in the cache (it may be built here otherwise).
  cliPath = (await resolveTemporalCli({ onNotice: (m) => console.log(m) })).path;
  root = await mkdtemp(join(tmpdir(), 'opgraph-devserver-test-'));
}, 20 * 60_000);

afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.stop()));
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

async function start(opts: Parameters<typeof startDevServer>[0] = {}): Promise<{ server: DevServer; ms: number }> {
  const t0 = Date.now();
  const server = await startDevServer({ cliPath, ...opts });
  started.push(server);
  return { server, ms: Date.now() - t0 };
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function isPortOpen(address: string): Promise<boolean> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    const socket = createConnection({ host, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function withConnection<T>(address: string, fn: (c: Connection) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address });
  try {
    return await fn(connection);
  } finally {
    await connection.close();
  }
}

describe('buildStartDevArgs', () => {
  it('builds a headless command line with pragmas, search attributes and dynamic config', () => {
    const args = buildStartDevArgs({
      ip: '127.0.0.1',
      port: 7555,
      uiPort: undefined,
      namespace: 'ns1',
      dbFilename: '/tmp/x.sqlite',
      searchAttributes: { CustomerId: 'Keyword' },
      dynamicConfig: { 'limit.x': 5, 'flag.y': true, 'name.z': 'v' },
      logLevel: 'warn',
    });
    expect(args).toEqual([
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      '7555',
      '--headless',
      '--namespace',
      'ns1',
      '--sqlite-pragma',
      'journal_mode=WAL',
      '--sqlite-pragma',
      'synchronous=OFF',
      '--db-filename',
      '/tmp/x.sqlite',
      '--search-attribute',
      'CustomerId=Keyword',
      '--dynamic-config-value',
      'limit.x=5',
      '--dynamic-config-value',
      'flag.y=true',
      '--dynamic-config-value',
      'name.z="v"',
      '--log-level',
      'warn',
    ]);
  });

  it('points the UI at a codec server with --ui-codec-endpoint (only when there is a UI)', () => {
    const base = { ip: '127.0.0.1', port: 7555, namespace: 'default', dbFilename: undefined, searchAttributes: {}, dynamicConfig: {} };
    const withUi = buildStartDevArgs({ ...base, uiPort: 8233, uiCodecEndpoint: 'http://127.0.0.1:8888', logLevel: 'warn' });
    expect(withUi.slice(6, 10)).toEqual(['--ui-port', '8233', '--ui-codec-endpoint', 'http://127.0.0.1:8888']);
    const headless = buildStartDevArgs({ ...base, uiPort: undefined, uiCodecEndpoint: 'http://127.0.0.1:8888', logLevel: 'warn' });
    expect(headless).not.toContain('--ui-codec-endpoint');
  });

  it('uses --ui-port instead of --headless and omits the always-present default namespace', () => {
    const args = buildStartDevArgs({
      ip: '127.0.0.1',
      port: 1,
      uiPort: 2,
      namespace: 'default',
      dbFilename: undefined,
      searchAttributes: {},
      dynamicConfig: {},
      logLevel: 'error',
    });
    expect(args).toContain('--ui-port');
    expect(args).not.toContain('--headless');
    expect(args).not.toContain('--namespace');
    expect(args).not.toContain('--db-filename');
  });

  it('rejects search attribute names that are not identifiers', () => {
    expect(() =>
      buildStartDevArgs({
        ip: '127.0.0.1',
        port: 1,
        uiPort: undefined,
        namespace: 'default',
        dbFilename: undefined,
        searchAttributes: { 'bad name': 'Text' },
        dynamicConfig: {},
        logLevel: 'warn',
      }),
    ).toThrow(/bad name/);
  });
});

describe('findFreePort', () => {
  it('returns a bindable port', async () => {
    const port = await findFreePort();
    expect(port).toBeGreaterThan(0);
    expect(port).toBeLessThan(65536);
  });
});

describe('startDevServer', () => {
  it(
    'starts headless on a free port, registers search attributes, and stops cleanly',
    async () => {
      const { server, ms } = await start({
        namespace: 'opgraph-test',
        searchAttributes: { OpgraphRunId: 'Keyword', OpgraphAttempt: 'Int' },
      });
      console.log(`dev server ready in ${ms} ms at ${server.address}`);
      expect(server.address).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(server.uiUrl).toBeUndefined();
      expect(server.namespace).toBe('opgraph-test');
      expect(isProcessAlive(server.pid)).toBe(true);

      await withConnection(server.address, async (connection) => {
        const ns = await connection.workflowService.describeNamespace({ namespace: 'opgraph-test' });
        expect(ns.namespaceInfo?.name).toBe('opgraph-test');
        const sas = await connection.operatorService.listSearchAttributes({ namespace: 'opgraph-test' });
        expect(Object.keys(sas.customAttributes)).toEqual(expect.arrayContaining(['OpgraphRunId', 'OpgraphAttempt']));
      });

      await server.stop();
      await server.stop(); // idempotent
      expect(isProcessAlive(server.pid)).toBe(false);
      expect(await isPortOpen(server.address)).toBe(false);
    },
    TIMEOUT,
  );

  it(
    'persists state in dbFilename across a restart on the same port',
    async () => {
      const dbFilename = join(root, 'persist.sqlite');
      const port = await findFreePort();
      const first = (await start({ dbFilename, port })).server;
      expect(existsSync(dbFilename)).toBe(true);

      // A started workflow needs no worker to exist; it just sits in Running state.
      await withConnection(first.address, async (connection) => {
        const client = new Client({ connection });
        await client.workflow.start('persistenceProbe', { taskQueue: 'nobody-polls', workflowId: 'persist-1' });
      });
      await first.stop();
      expect(await isPortOpen(first.address)).toBe(false);

      const { server: second, ms } = await start({ dbFilename, port });
      console.log(`dev server restarted on existing db in ${ms} ms`);
      expect(second.address).toBe(first.address);
      await withConnection(second.address, async (connection) => {
        const client = new Client({ connection });
        const description = await client.workflow.getHandle('persist-1').describe();
        expect(description.type).toBe('persistenceProbe');
        expect(description.status.name).toBe('RUNNING');
      });
    },
    TIMEOUT,
  );

  it(
    'serves the UI on a free port when ui: true',
    async () => {
      const { server } = await start({ ui: true });
      expect(server.uiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(server.uiUrl ?? 'http://invalid');
      expect(res.status).toBeLessThan(500);
    },
    TIMEOUT,
  );

  it(
    'refuses a port that is already taken instead of talking to the other server',
    async () => {
      const port = await findFreePort();
      const first = (await start({ port })).server;
      const err = await startDevServer({ cliPath, port }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DevServerStartError);
      expect((err as Error).message).toMatch(new RegExp(`port 127\\.0\\.0\\.1:${port} is already in use`));
      expect(isProcessAlive(first.pid)).toBe(true);
    },
    TIMEOUT,
  );

  it(
    'fails with the exit code and output tail when the CLI exits early',
    async () => {
      const bogus = { Foo: 'NotAType' } as unknown as Record<string, 'Keyword'>;
      const err = await startDevServer({ cliPath, searchAttributes: bogus }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DevServerStartError);
      expect((err as DevServerStartError).exitCode).not.toBe(0);
      expect((err as Error).message).toMatch(/exited with code \d+ before becoming ready/);
      expect((err as Error).message).toMatch(/invalid search attribute value type .*NotAType/);
    },
    TIMEOUT,
  );

  it(
    'times out with a clear error when startTimeoutMs is too short',
    async () => {
      const err = await startDevServer({ cliPath, startTimeoutMs: 1 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DevServerStartError);
      expect((err as Error).message).toMatch(/did not become ready within 1 ms.*startTimeoutMs/s);
    },
    TIMEOUT,
  );
});
