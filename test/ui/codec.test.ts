/**
 * The Temporal Web UI decodes encrypted payloads through `opgraph codec-server`, in a real browser (Debian's
 * chromium, as test/ui/webui.test.ts). A dev server WITH the UI is started with `--ui-codec-endpoint` at a
 * codec server on this process; a small job runs with an encrypted worker and client; the step's history
 * page then shows the step's input decoded (its value is nowhere in the history in clear text), and the
 * codec server saw the browser's /decode requests. Screenshot: test-results/codec-ui.png (docs/codec-ui.png).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { NativeConnection } from '@temporalio/worker';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { codecDataConverter, setDefaultKeyring } from '../../src/codec/index.ts';
import { Keyring, parseKeys } from '../../src/codec/keys.ts';
import { type RunningCodecServer, startCodecServer } from '../../src/codec/server.ts';
import { awaitRun, launchRun, type LaunchedRun } from '../../src/client/run.ts';
import type { JobResult } from '../../src/client/result.ts';
import { Definitions, job, op } from '../../src/index.ts';
import { installRuntimeLogger } from '../../src/logging.ts';
import { findFreePort, startDevServer, type DevServer } from '../../src/server/devServer.ts';
import { FileSystemStore, SealedStore, setDefaultStore } from '../../src/store/store.ts';
import { createWorker } from '../../src/worker/createWorker.ts';

const CHROMIUM = '/usr/bin/chromium';
/** Copied to docs/codec-ui.png for the README (the test does not write into docs/). */
const SCREENSHOT = fileURLToPath(new URL('../../test-results/codec-ui.png', import.meta.url));
const TASK_QUEUE = 'codec-ui-test';
const UI_TIMEOUT = 60_000;
/** The value the UI must show decoded: distinctive, and checked absent from the raw history. */
const GREETING = 'Hello from an encrypted opgraph step';

const makeGreeting = op({ name: 'make_greeting' }, async () => ({ greeting: GREETING, recipients: ['ops', 'security'] }));
const shout = op({ name: 'shout' }, async (_ctx, message: { greeting: string }) => message.greeting.toUpperCase());
const codecUiJob = job({ name: 'codec_ui_demo' }, () => {
  shout(makeGreeting());
});

describe('the Web UI shows a step input decoded by opgraph codec-server (real chromium)', () => {
  let server: DevServer | undefined;
  let codec: RunningCodecServer | undefined;
  let connection: Connection | undefined;
  let native: NativeConnection | undefined;
  let context: BrowserContext | undefined;
  let profileDir: string | undefined;
  let storageDir: string | undefined;
  let page: Page;
  let run: LaunchedRun;
  let result: JobResult;
  let uiUrl: string;
  let rawClient: Client;
  const decodeRequests: string[] = [];
  let missingBrowser: Error | undefined;

  function requireBrowser(): void {
    if (missingBrowser) throw missingBrowser;
  }

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      missingBrowser = new Error(
        `Debian's chromium is not installed at ${CHROMIUM}; the codec UI test needs a real browser. ` +
          'Run `bash scripts/ensure-chromium.sh` (apt-get install chromium; needs root or sudo).',
      );
      return;
    }
    installRuntimeLogger();
    const keyring = new Keyring(parseKeys(`ui-key-1=${randomBytes(32).toString('base64')}`, 'test'));
    setDefaultKeyring(keyring);
    storageDir = mkdtempSync(join(tmpdir(), 'opgraph-codec-ui-'));
    setDefaultStore(new SealedStore(new FileSystemStore(storageDir), keyring));

    // The UI's origin must be known to the codec server's CORS before the UI starts.
    const uiPort = await findFreePort();
    codec = await startCodecServer({
      keyring,
      corsOrigins: [`http://127.0.0.1:${uiPort}`, `http://localhost:${uiPort}`],
      port: 0,
    });
    codec.server.on('request', (req: { method?: string; url?: string }) => {
      if (req.method === 'POST' && req.url?.endsWith('/decode')) decodeRequests.push(req.url);
    });
    server = await startDevServer({ ui: true, uiPort, uiCodecEndpoint: codec.url, onNotice: (m) => console.error(`[codec ui test] ${m}`) });
    if (!server.uiUrl) throw new Error('startDevServer({ ui: true }) returned no uiUrl');
    uiUrl = server.uiUrl;

    native = await NativeConnection.connect({ address: server.address });
    connection = await Connection.connect({ address: server.address });
    rawClient = new Client({ connection });
    const client = new Client({ connection, dataConverter: codecDataConverter(keyring) });
    const worker = await createWorker({
      definitions: new Definitions({ jobs: [codecUiJob] }),
      connection: native,
      taskQueue: TASK_QUEUE,
      workflowBundle: { codePath: inject('workflowBundlePath') },
    });
    ({ run, result } = await worker.runUntil(async () => {
      const launched = await launchRun(client, codecUiJob, { taskQueue: TASK_QUEUE });
      return { run: launched, result: await awaitRun(launched) };
    }));
    await waitFor(async () => (await fetch(uiUrl).catch(() => undefined))?.ok === true, `the Web UI at ${uiUrl}`);

    profileDir = mkdtempSync(join(tmpdir(), 'opgraph-chromium-'));
    context = await chromium.launchPersistentContext(profileDir, {
      headless: true,
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
      viewport: { width: 1600, height: 1000 },
      timeout: UI_TIMEOUT,
    });
    context.setDefaultTimeout(UI_TIMEOUT);
    context.setDefaultNavigationTimeout(UI_TIMEOUT);
    page = context.pages()[0] ?? (await context.newPage());
  }, 240_000);

  afterAll(async () => {
    setDefaultKeyring(undefined);
    await context?.close();
    await connection?.close();
    await native?.close();
    await server?.stop();
    await codec?.close();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
    if (storageDir) rmSync(storageDir, { recursive: true, force: true });
  });

  it('the run succeeded, and its raw history holds the greeting only encrypted', async () => {
    requireBrowser();
    expect(result.success).toBe(true);
    expect(await result.outputFor('shout')).toBe(GREETING.toUpperCase());
    const history = await rawClient.workflowService.getWorkflowExecutionHistory({
      namespace: 'default',
      execution: { workflowId: run.workflowId },
    });
    // The history's bytes as the server keeps them (payload data raw, not base64).
    const raw = Buffer.from(proto.temporal.api.history.v1.History.encode({ events: history.history?.events ?? [] }).finish());
    expect(raw.includes(GREETING)).toBe(false);
    expect(raw.includes(GREETING.toUpperCase())).toBe(false);
    expect(raw.includes('binary/encrypted')).toBe(true);
  });

  it("the run's history page shows the shout step's input decoded, fetched from the codec server", async () => {
    requireBrowser();
    const { runId } = await run.handle.describe();
    await page.goto(`${uiUrl}/namespaces/default/workflows/${encodeURIComponent(run.workflowId)}/${runId}/history`, {
      waitUntil: 'networkidle',
    });
    await page.getByText('Workflow Type').first().waitFor();
    // The workflow's own input and result are decoded too (they hold the plan and the step outputs).
    await expect.poll(async () => page.locator('body').innerText(), { timeout: UI_TIMEOUT, interval: 500 }).toContain('"kind": "job"');
    // Event History, newest first: the first "Activity Task Scheduled" is the shout step's (event 11). Expand it.
    const scheduled = page.getByText('Activity Task Scheduled', { exact: true }).first();
    await scheduled.scrollIntoViewIfNeeded();
    await scheduled.click();
    // The step's task input (OpTaskInput): its step key and its `message` input, the greeting, in clear.
    const stepInput = /"stepKey":\s*"shout"[\s\S]*"inputs":\s*\{\s*"message":\s*\{\s*"greeting":\s*"Hello from an encrypted opgraph step"/;
    await expect.poll(async () => page.locator('body').innerText(), { timeout: UI_TIMEOUT, interval: 500 }).toMatch(stepInput);
    expect(decodeRequests.length).toBeGreaterThan(0);
    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await page.getByText('"stepKey"').first().scrollIntoViewIfNeeded();
    await page.screenshot({ path: SCREENSHOT });
  }, 180_000);
});

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(250);
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
}
