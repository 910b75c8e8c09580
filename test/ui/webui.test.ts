/**
 * The Temporal Web UI, in a real browser: Debian's chromium (/usr/bin/chromium, installed by
 * scripts/ensure-chromium.sh) driven by playwright-core. A dev server WITH the UI is started for this
 * file (the suite's shared server is headless); the seed's dynamic_graph job runs on it with an
 * in-process worker; then the workflows list, the run's page and its 50 children are checked as a
 * person would see them. Screenshots go to test-results/webui-*.png.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dynamicGraph } from '../../examples/dynamic-graph.ts';
import type { JobResult } from '../../src/client/result.ts';
import { awaitRun, launchRun, type LaunchedRun } from '../../src/client/run.ts';
import { Definitions } from '../../src/dsl/job.ts';
import { installRuntimeLogger } from '../../src/logging.ts';
import { startDevServer, type DevServer } from '../../src/server/devServer.ts';
import { createWorker } from '../../src/worker/createWorker.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../test-results/', import.meta.url));
const TASK_QUEUE = 'webui-test';
const NAMESPACE = 'default';
/** UI pages are JS-heavy and this machine is small: be generous. */
const UI_TIMEOUT = 60_000;
const KEYS = Array.from({ length: 50 }, (_, i) => i);

describe('Temporal Web UI shows a dynamic_graph run and its 50 mapped children (real chromium)', () => {
  let server: DevServer | undefined;
  let connection: Connection | undefined;
  let native: NativeConnection | undefined;
  let context: BrowserContext | undefined;
  let profileDir: string | undefined;
  let page: Page;
  let run: LaunchedRun;
  let result: JobResult;
  let uiUrl: string;
  let missingBrowser: Error | undefined;

  /** Every test FAILS (vitest would report a throwing beforeAll as skipped tests) without a browser. */
  function requireBrowser(): void {
    if (missingBrowser) throw missingBrowser;
  }

  beforeAll(async () => {
    // CI installs chromium in .ci/run via scripts/ensure-chromium.sh.
    if (!existsSync(CHROMIUM)) {
      missingBrowser = new Error(
        `Debian's chromium is not installed at ${CHROMIUM}; the Web UI test needs a real browser. ` +
          'Run `bash scripts/ensure-chromium.sh` (apt-get install chromium; needs root or sudo).',
      );
      return;
    }
    installRuntimeLogger();
    server = await startDevServer({ ui: true, onNotice: (m) => console.error(`[webui test] ${m}`) });
    if (!server.uiUrl) throw new Error('startDevServer({ ui: true }) returned no uiUrl');
    uiUrl = server.uiUrl;

    native = await NativeConnection.connect({ address: server.address });
    connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection, namespace: NAMESPACE });
    const worker = await createWorker({
      definitions: new Definitions({ jobs: [dynamicGraph] }),
      connection: native,
      taskQueue: TASK_QUEUE,
      workflowBundle: { codePath: inject('workflowBundlePath') },
    });
    ({ run, result } = await worker.runUntil(async () => {
      const launched = await launchRun(client, dynamicGraph, { taskQueue: TASK_QUEUE });
      return { run: launched, result: await awaitRun(launched) };
    }));

    // The UI lists from visibility, which trails the run a little: wait until all 51 are indexed.
    await waitFor(
      async () => (await client.workflow.count(`ParentWorkflowId = "${run.workflowId}"`)).count === 50,
      'children in visibility',
    );
    await waitFor(async () => (await fetch(uiUrl).catch(() => undefined))?.ok === true, `the Web UI at ${uiUrl}`);

    mkdirSync(ARTIFACTS, { recursive: true });
    profileDir = mkdtempSync(join(tmpdir(), 'opgraph-chromium-'));
    // launchPersistentContext is how playwright takes a --user-data-dir: a fresh, empty one per run.
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
    await context?.close();
    await connection?.close();
    await native?.close();
    await server?.stop();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  });

  it('the run itself succeeded with the seed result', async () => {
    requireBrowser();
    expect(result.success).toBe(true);
    expect(await result.outputFor('merge_and_analyze')).toEqual([4900, 5000]);
  });

  it('the workflows list shows the run with workflow type dynamic_graph, and its 50 children', async () => {
    requireBrowser();
    await page.goto(`${uiUrl}/namespaces/${NAMESPACE}/workflows?per-page=100`, { waitUntil: 'networkidle' });
    const row = page.locator('tr', { has: page.getByRole('link', { name: run.workflowId, exact: true }) });
    await row.first().waitFor();
    await ensurePageSize(page);
    await page.screenshot({ path: join(ARTIFACTS, 'webui-workflows.png'), fullPage: true });

    await expect.poll(() => row.count()).toBe(1);
    const cells = (await row.innerText()).split('\t').map((c) => c.trim());
    expect(cells).toContain('dynamic_graph');
    expect(cells).toContain('Completed');
    // 1 job workflow + 50 children, all completed, all on one page.
    expect(await page.locator('body').innerText()).toMatch(/\b51 Completed\b/);
    expect(await childKeys(page, run.workflowId)).toEqual(KEYS);
  });

  it("the run's page (opened from the list) shows type dynamic_graph and 50 children under Relationships", async () => {
    requireBrowser();
    await page.goto(`${uiUrl}/namespaces/${NAMESPACE}/workflows?per-page=100`, { waitUntil: 'networkidle' });
    await page.getByRole('link', { name: run.workflowId, exact: true }).click();
    await page.waitForURL(/\/history/);
    await page.getByText('Workflow Type').first().waitFor();
    const summary = await page.locator('body').innerText();
    expect(summary).toMatch(/Workflow Type\s+dynamic_graph\b/);
    expect(summary).toContain(run.workflowId);

    const tab = page.getByRole('tab', { name: /Relationships/ });
    // The count arrives after the page (it is loaded from the history): wait for it.
    await expect
      .poll(async () => (await tab.innerText()).replace(/\s+/g, ' ').trim(), { timeout: UI_TIMEOUT, interval: 500 })
      .toBe('Relationships 50');
    await tab.click();
    await page.waitForURL(/\/relationships$/);
    await expect.poll(() => childKeys(page, run.workflowId), { timeout: UI_TIMEOUT, interval: 500 }).toEqual(KEYS);
    const text = await page.locator('body').innerText();
    expect(text).toMatch(/Child Count\s+50\b/);
    expect(text.match(/^dynamic_graph\/load_pieces\[\*\]$/gm)).toHaveLength(50);
    await page.screenshot({ path: join(ARTIFACTS, 'webui-relationships.png'), fullPage: true });
  });

  it('the list filtered by ParentWorkflowId shows exactly the 50 children, keys 0..49 in their ids', async () => {
    requireBrowser();
    const query = encodeURIComponent(`ParentWorkflowId="${run.workflowId}"`);
    await page.goto(`${uiUrl}/namespaces/${NAMESPACE}/workflows?query=${query}&per-page=100`, { waitUntil: 'networkidle' });
    await page.getByRole('link', { name: `${run.workflowId}/load_pieces[0]`, exact: true }).waitFor();
    await ensurePageSize(page);
    await expect.poll(() => childKeys(page, run.workflowId), { timeout: UI_TIMEOUT, interval: 500 }).toEqual(KEYS);
    const text = await page.locator('body').innerText();
    expect(text).toMatch(/\b50 Completed\b/);
    expect(text).toMatch(/1–50\s+of 50/);
    // The parent itself is not in this list.
    expect(await page.getByRole('link', { name: run.workflowId, exact: true }).count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, 'webui-children.png'), fullPage: true });
  });
});

/** Mapping keys of the children linked on the page (ids `<parent>/load_pieces[<key>]`), sorted. */
async function childKeys(page: Page, parentId: string): Promise<number[]> {
  const prefix = `${parentId}/load_pieces[`;
  const texts = await page.locator('a').allInnerTexts();
  const keys = new Set<number>();
  for (const t of texts.map((s) => s.trim())) {
    if (t.startsWith(prefix) && t.endsWith(']')) keys.add(Number(t.slice(prefix.length, -1)));
  }
  return [...keys].sort((a, b) => a - b);
}

/** The list paginates: make sure a page holds at least 100 rows (a fresh profile's default). */
async function ensurePageSize(page: Page): Promise<void> {
  const select = page.locator('select#per-page-filter');
  if ((await select.count()) === 0) return;
  if ((await select.inputValue()) !== '100') {
    await select.selectOption('100');
    await page.waitForLoadState('networkidle');
  }
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(250);
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
}
