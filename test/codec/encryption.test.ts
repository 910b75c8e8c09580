/**
 * Encrypted payloads on a real Temporal server (the suite's dev server): a run's raw history, read by a
 * client WITHOUT the codec, holds no op value in clear text, while the same job without keys does (so the
 * check can fail); its large values are sealed in the store; a run started under key k1 finishes after
 * k2 becomes current; a client without the key fails naming the key id.
 */
import { randomUUID, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { codecDataConverter, setDefaultKeyring } from '../../src/codec/index.ts';
import { Keyring, parseKeys } from '../../src/codec/keys.ts';
import { awaitRun, launchRun, type LaunchedRun } from '../../src/client/run.ts';
import { runInputOf } from '../../src/client/reexecute.ts';
import { fetchRunInput } from '../../src/cli/remote.ts';
import type { JobResult } from '../../src/client/result.ts';
import { Definitions, DynamicOut, DynamicOutput, job, op } from '../../src/index.ts';
import { installRuntimeLogger } from '../../src/logging.ts';
import { FileSystemStore, SealedStore, setDefaultStore } from '../../src/store/store.ts';
import { createWorker } from '../../src/worker/createWorker.ts';

const SECRET = `s3cr3t-${randomUUID()}`;
const KEYS = ['alpha', 'beta', 'gamma'];
const k1 = `k1=${randomBytes(32).toString('base64')}`;
const k2 = `k2=${randomBytes(32).toString('base64')}`;
const keyring = (text: string | undefined): Keyring | undefined => (text ? new Keyring(parseKeys(text, 'test')) : undefined);

// Values above 2 KiB go to the store: `padded` is ~10 KiB, so each wrapped value is stored (sealed).
const makeSecrets = op({ name: 'make_secrets', out: new DynamicOut<string>() }, async function* () {
  for (const key of KEYS) yield new DynamicOutput(`${SECRET}:${key}`, key);
});
const wrapSecret = op({ name: 'wrap_secret' }, async (_ctx, secret: string) => ({ secret, padded: `${secret} `.repeat(200) }));
const joinSecrets = op({ name: 'join_secrets' }, async (_ctx, wrapped: { secret: string }[]) => wrapped.map((w) => w.secret).join('|'));
const secretJob = job({ name: 'codec_secrets' }, () => {
  joinSecrets(makeSecrets().map(wrapSecret).collect());
});
const EXPECTED = KEYS.map((k) => `${SECRET}:${k}`).join('|');

describe('encrypted payloads on a real server', () => {
  let native: NativeConnection;
  let connection: Connection;
  /** No codec at all: sees what the server (and its Web UI) stores. */
  let rawClient: Client;
  let storageDir: string;
  const previousThreshold = process.env.OPGRAPH_STORE_THRESHOLD;

  beforeAll(async () => {
    installRuntimeLogger();
    process.env.OPGRAPH_STORE_THRESHOLD = '2048';
    storageDir = mkdtempSync(join(tmpdir(), 'opgraph-codec-store-'));
    native = await NativeConnection.connect({ address: inject('temporalAddress') });
    connection = await Connection.connect({ address: inject('temporalAddress') });
    rawClient = new Client({ connection });
  });
  afterAll(async () => {
    if (previousThreshold === undefined) delete process.env.OPGRAPH_STORE_THRESHOLD;
    else process.env.OPGRAPH_STORE_THRESHOLD = previousThreshold;
    setDefaultKeyring(undefined);
    await connection?.close();
    await native?.close();
    rmSync(storageDir, { recursive: true, force: true });
  });

  /** This process's keys and store as a worker or client started with OPGRAPH_CODEC_KEYS=`keys` would have them. */
  function useKeys(keys: string | undefined): Client {
    const ring = keyring(keys);
    setDefaultKeyring(ring);
    const store = new FileSystemStore(storageDir);
    setDefaultStore(ring ? new SealedStore(store, ring) : store);
    return new Client({ connection, dataConverter: codecDataConverter(ring) });
  }

  /** Runs `body` with a worker that has `keys` (createWorker picks the process's default codec). */
  async function withWorker<T>(keys: string | undefined, body: (taskQueue: string) => Promise<T>): Promise<T> {
    useKeys(keys);
    const taskQueue = `codec-${randomUUID()}`;
    const worker = await createWorker({
      definitions: new Definitions({ jobs: [secretJob] }),
      connection: native,
      taskQueue,
      workflowBundle: { codePath: inject('workflowBundlePath') },
    });
    return worker.runUntil(body(taskQueue));
  }

  /** Every history of the run (the job workflow and, recursively, its children), protobuf-encoded, as the server holds them. */
  async function rawHistories(workflowId: string): Promise<Map<string, Buffer>> {
    const histories = new Map<string, Buffer>();
    const pending = [workflowId];
    while (pending.length > 0) {
      const id = pending.pop()!;
      const events: proto.temporal.api.history.v1.IHistoryEvent[] = [];
      let nextPageToken: Uint8Array | undefined;
      do {
        const page = await rawClient.workflowService.getWorkflowExecutionHistory({
          namespace: 'default',
          execution: { workflowId: id },
          ...(nextPageToken ? { nextPageToken } : {}),
        });
        events.push(...(page.history?.events ?? []));
        nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
      } while (nextPageToken);
      for (const event of events) {
        const child = event.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId;
        if (child) pending.push(child);
      }
      histories.set(id, Buffer.from(proto.temporal.api.history.v1.History.encode({ events }).finish()));
    }
    return histories;
  }

  function storedFiles(): string[] {
    return readdirSync(storageDir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'));
  }

  it('without keys (the control): the secret is in the raw history and the store in clear text', async () => {
    const client = useKeys(undefined);
    const { run, result } = await withWorker(undefined, async (taskQueue) => {
      const launched = await launchRun(client, secretJob, { taskQueue });
      return { run: launched, result: await awaitRun(launched) };
    });
    expect(await result.outputFor('join_secrets')).toBe(EXPECTED);
    const raw = Buffer.concat([...(await rawHistories(run.workflowId)).values()]);
    expect(raw.includes(SECRET)).toBe(true);
    expect(storedFiles().some((f) => f.includes(SECRET))).toBe(true);
  }, 120_000);

  let encryptedRun: LaunchedRun;
  let encryptedResult: JobResult;

  it('with keys: no op value in clear text in any raw history (job workflow and children) or stored value', async () => {
    rmSync(storageDir, { recursive: true, force: true });
    const client = useKeys(k1);
    ({ run: encryptedRun, result: encryptedResult } = await withWorker(k1, async (taskQueue) => {
      const launched = await launchRun(client, secretJob, { taskQueue });
      return { run: launched, result: await awaitRun(launched) };
    }));
    expect(encryptedResult.success).toBe(true);
    expect(await encryptedResult.outputFor('join_secrets')).toBe(EXPECTED);
    const wrapped = (await encryptedResult.outputFor('wrap_secret')) as Map<string, { secret: string }>;
    expect(wrapped.get('beta')?.secret).toBe(`${SECRET}:beta`);

    const histories = await rawHistories(encryptedRun.workflowId);
    for (const [id, bytes] of histories) {
      expect(bytes.includes(SECRET), `clear text in the history of ${id}`).toBe(false);
      expect(bytes.includes('binary/encrypted')).toBe(true);
    }
    const files = storedFiles();
    expect(files.length).toBeGreaterThanOrEqual(KEYS.length);
    for (const file of files) {
      expect(file).toMatch(/^opgraph-aes256gcm:v1:k1:/);
      expect(file).not.toContain(SECRET);
    }
  }, 120_000);

  it('a client without the key, or with only another key, fails reading the result, naming key id "k1"', async () => {
    expect(encryptedRun).toBeDefined();
    const keyless = new Client({ connection, dataConverter: codecDataConverter(undefined) });
    await expect(keyless.workflow.getHandle(encryptedRun.workflowId).result()).rejects.toThrow(
      /encrypted with key id "k1", but this process has no codec keys: set OPGRAPH_CODEC_KEYS/,
    );
    const otherKey = new Client({ connection, dataConverter: codecDataConverter(keyring(k2)) });
    await expect(otherKey.workflow.getHandle(encryptedRun.workflowId).result()).rejects.toThrow(
      /encrypted with key id "k1", which is not among this process's keys \(k2\)/,
    );
  });

  it('the CLI and re-execution read the run input from raw history through the codec', async () => {
    expect(encryptedRun).toBeDefined();
    const client = useKeys(k1);
    expect((await runInputOf(client, encryptedRun.workflowId))?.plan.job).toBe('codec_secrets');
    expect((await fetchRunInput(client, 'default', encryptedRun.workflowId))?.plan.job).toBe('codec_secrets');
  });

  it('rotation: a run launched under k1 is finished by a worker whose current key is k2; both decode', async () => {
    const launchingClient = useKeys(k1);
    // No worker yet: the run's input is encrypted under k1 and waits on the task queue.
    const taskQueue = `codec-rotation-${randomUUID()}`;
    const run = await launchRun(launchingClient, secretJob, { taskQueue });
    const rotatedClient = useKeys(`${k1},${k2}`);
    const worker = await createWorker({
      definitions: new Definitions({ jobs: [secretJob] }),
      connection: native,
      taskQueue,
      workflowBundle: { codePath: inject('workflowBundlePath') },
    });
    const result = await worker.runUntil(awaitRun({ ...run, handle: rotatedClient.workflow.getHandle(run.workflowId) }));
    expect(await result.outputFor('join_secrets')).toBe(EXPECTED);

    const raw = Buffer.concat([...(await rawHistories(run.workflowId)).values()]);
    expect(raw.includes(SECRET)).toBe(false);
    // The start input under k1, everything the rotated worker wrote under k2.
    expect(raw.includes('encryption-key-id\x12\x02k1')).toBe(true);
    expect(raw.includes('encryption-key-id\x12\x02k2')).toBe(true);
    // The earlier run's data (all k1) still reads with the rotated keys.
    const earlier = await awaitRun({ ...encryptedRun, handle: rotatedClient.workflow.getHandle(encryptedRun.workflowId) });
    expect(await earlier.outputFor('join_secrets')).toBe(EXPECTED);
  }, 120_000);
});
