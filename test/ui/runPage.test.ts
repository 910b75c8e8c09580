/**
 * The run page (`opgraph view`) in a real browser: Debian's chromium driven by playwright-core, as
 * test/ui/webui.test.ts. A job runs on the suite's dev server with an in-process worker; its mapped
 * op holds some keys until the test releases them, retries one key and fails another for good, so
 * the page is checked (DOM states, step panel, logs, Web UI links) and photographed mid-run and after
 * the failure. The same run checks per-step logs from the client (`result.logs`), `opgraph logs`,
 * `opgraph graph --run` and what `opgraph run` prints for failed steps. Screenshots go to
 * test-results/run-page-*.png (docs/run-page.png is the mid-run one).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../../src/cli/commands.ts';
import { startRunPage, type RunPageServer } from '../../src/cli/runPage.ts';
import { runLogLines } from '../../src/cli/runViewCommands.ts';
import { fetchRunView } from '../../src/cli/runView.ts';
import type { JobResult } from '../../src/client/result.ts';
import { awaitRun, launchRun, type LaunchedRun } from '../../src/client/run.ts';
import { captureIO } from '../cli/capture.ts';
import { opgraph } from '../cli/spawn.ts';
import { TemporalHarness } from '../integration/harness.ts';
import { release, runPageJob } from './runPageDefs.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../test-results/', import.meta.url));
const UI_BASE = 'http://127.0.0.1:8233';
const TIMEOUT = 60_000;

describe('the run page shows a live run graph coloured by step state (real chromium)', () => {
  let harness: TemporalHarness;
  let context: BrowserContext | undefined;
  let profileDir: string | undefined;
  let page: Page;
  let server: RunPageServer | undefined;
  let run: LaunchedRun;
  let result: JobResult;
  let missingBrowser: Error | undefined;
  let finished: Promise<JobResult>;
  let stopWorker: () => void = () => {};

  function requireBrowser(): void {
    if (missingBrowser) throw missingBrowser;
  }

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      missingBrowser = new Error(`Debian's chromium is not installed at ${CHROMIUM}; run \`bash scripts/ensure-chromium.sh\`.`);
      return;
    }
    harness = await TemporalHarness.connect();
    server = await startRunPage({ client: harness.client, namespace: 'default', uiUrl: UI_BASE });
    // The worker runs until the test says so (after the run ended).
    const workerStopped = new Promise<void>((resolve) => (stopWorker = resolve));
    const launched = new Promise<LaunchedRun>((resolveLaunch, rejectLaunch) => {
      harness
        .withWorker([runPageJob], async (taskQueue) => {
          const r = await launchRun(harness.client, runPageJob, { taskQueue });
          resolveLaunch(r);
          const res = await awaitRun(r);
          await workerStopped;
          return res;
        })
        .catch(rejectLaunch);
    });
    run = await launched;
    finished = awaitRun(run);

    mkdirSync(ARTIFACTS, { recursive: true });
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
      viewport: { width: 1500, height: 900 },
      timeout: TIMEOUT,
    });
    context.setDefaultTimeout(TIMEOUT);
    page = context.pages()[0] ?? (await context.newPage());
  }, 120_000);

  afterAll(async () => {
    release();
    stopWorker();
    await context?.close();
    await server?.close();
    await harness?.close();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  });

  const nodeState = (node: string) => page.locator(`#graph g.node[data-node="${node}"]`).getAttribute('data-state');

  it('mid-run: succeeded, running, retrying and failed steps, from the DOM; the step panel lists keys, attempts, errors and logs', async () => {
    requireBrowser();
    await page.goto(server!.pageUrl(run.workflowId));
    await expect.poll(() => page.locator('#status').getAttribute('data-status'), { timeout: TIMEOUT }).toBe('RUNNING');
    // Keys 0 and 1 succeed, 2 and 4 are held, 3 failed once and is held on its retry, 5 failed both attempts.
    await expect.poll(() => nodeState('rp_work'), { timeout: TIMEOUT, interval: 500 }).toBe('failed');
    await expect
      .poll(async () => page.locator('#graph g.node[data-node="rp_work"] text').textContent(), { timeout: TIMEOUT })
      .toMatch(/failed: 2 running, 1 retrying, 2 succeeded, 1 failed/);
    expect(await nodeState('rp_prepare')).toBe('succeeded');
    expect(await nodeState('rp_fan')).toBe('succeeded');
    // rp_work[5] failed for good: the collect can never run, so it shows abandoned while the run still runs.
    await expect.poll(() => nodeState('rp_total'), { timeout: TIMEOUT }).toBe('abandoned');

    await page.locator('#graph g.node[data-node="rp_work"]').click();
    const row = (key: string) => page.locator(`#steps tr.step[data-step="rp_work[${key}]"]`);
    await expect.poll(() => row('5').getAttribute('data-state')).toBe('failed');
    expect(await row('3').getAttribute('data-state')).toBe('retrying');
    expect(await row('2').getAttribute('data-state')).toBe('running');
    expect(await row('0').getAttribute('data-state')).toBe('succeeded');
    expect(await row('5').locator('td').nth(2).textContent()).toBe('2');
    expect(await page.locator('#steps tr.error-row[data-step="rp_work[5]"]').textContent()).toContain('piece 5 is out of range');
    // The failed key is selected first: its log lines, per attempt.
    await expect.poll(() => page.locator('#logs').textContent()).toContain('working on piece 5');
    expect(await page.locator('#logs .attempt').allTextContents()).toEqual(['— attempt 1: failed (will retry)', '— attempt 2: failed']);
    const link = await row('5').locator('a').getAttribute('href');
    expect(link).toMatch(new RegExp(`^${UI_BASE}/namespaces/default/workflows/[^/]+/[^/]+/history$`));
    // The retried key's logs, live.
    await row('3').click();
    await expect.poll(() => page.locator('#logs').textContent()).toContain('flaky piece, failing the first attempt');
    await row('5').click();
    await expect.poll(() => page.locator('#logs').textContent()).toContain('working on piece 5');
    await page.screenshot({ path: join(ARTIFACTS, 'run-page-midrun.png'), fullPage: true });
  }, 120_000);

  it("the server's index lists the run, linked to its page", async () => {
    requireBrowser();
    const index = await context!.newPage();
    try {
      await expect
        .poll(
          async () => {
            await index.goto(server!.url);
            return index.locator(`#runs a[href="/runs/${encodeURIComponent(run.workflowId)}"]`).count();
          },
          { timeout: TIMEOUT, interval: 1_000 },
        )
        .toBe(1);
    } finally {
      await index.close();
    }
  });

  it('the map box lists every step of the map', async () => {
    requireBrowser();
    await page.locator('#graph g.map text').first().click();
    await expect.poll(() => page.locator('#steps tr.step').count()).toBe(6);
    expect(await page.locator('#panel-title').textContent()).toContain('Map rp_fan:result');
  });

  it('a long step list comes in pages: the panel lists `panelRows` rows, then more on request', async () => {
    requireBrowser();
    const paged = await startRunPage({ client: harness.client, namespace: 'default', panelRows: 4 });
    const tab = await context!.newPage();
    try {
      await tab.goto(paged.pageUrl(run.workflowId));
      await tab.locator('#graph g.map text').first().click();
      await expect.poll(() => tab.locator('#steps tr.step').count()).toBe(4);
      expect(await tab.locator('#more-steps').textContent()).toContain('4 of 6 steps shown');
      await tab.locator('#show-more').click();
      await expect.poll(() => tab.locator('#steps tr.step').count()).toBe(6);
      expect(await tab.locator('#more-steps').count()).toBe(0);
    } finally {
      await tab.close();
      await paged.close();
    }
  });

  it('opgraph graph --run colours nodes by state (mermaid, dot, svg) while the run runs', async () => {
    requireBrowser();
    const env = { TEMPORAL_ADDRESS: inject('temporalAddress') };
    const module = fileURLToPath(new URL('./runPageDefs.ts', import.meta.url));
    const mermaid = captureIO(env);
    expect(await runCli(['graph', 'run_page_demo', '-m', module, '--run', run.workflowId], mermaid.io), mermaid.stderr()).toBe(0);
    expect(mermaid.stdout()).toMatch(/rp_work\["rp_work<br\/>failed: 2 running, 1 retrying, 2 succeeded, 1 failed"\]:::failed/);
    expect(mermaid.stdout()).toContain('classDef retrying fill:#ffe0b2');
    const dot = captureIO(env);
    expect(await runCli(['graph', 'run_page_demo', '-m', module, '--run', run.workflowId, '-f', 'dot'], dot.io)).toBe(0);
    expect(dot.stdout()).toMatch(/"rp_prepare" \[label="rp_prepare\\nsucceeded", style="rounded,filled", fillcolor="#c8e6c9"/);
    const svg = captureIO(env);
    expect(await runCli(['graph', 'run_page_demo', '-m', module, '--run', run.workflowId, '-f', 'svg'], svg.io)).toBe(0);
    expect(svg.stdout()).toContain('data-node="rp_work" data-state="failed"');
    const wrongJob = captureIO(env);
    expect(await runCli(['graph', 'other_job', '-m', module, '--run', run.workflowId], wrongJob.io)).toBe(2);
    expect(wrongJob.stderr()).toContain('is a run of job "run_page_demo", not "other_job"');
  }, 60_000);

  it('after the failure: the run page shows the run FAILED, the map failed, the collect abandoned', async () => {
    requireBrowser();
    release();
    result = await finished;
    expect(result.status).toBe('FAILURE');
    await expect.poll(() => page.locator('#status').getAttribute('data-status'), { timeout: TIMEOUT }).toBe('FAILED');
    await expect.poll(() => nodeState('rp_work')).toBe('failed');
    expect(await page.locator('#graph g.node[data-node="rp_work"] text').textContent()).toContain('failed: 5 succeeded, 1 failed');
    expect(await nodeState('rp_total')).toBe(result.stepStatus('rp_total') === 'SKIPPED' ? 'skipped' : 'abandoned');
    await page.locator('#graph g.node[data-node="rp_work"]').click();
    await expect.poll(() => page.locator('#steps tr.step[data-step="rp_work[3]"]').getAttribute('data-state')).toBe('succeeded');
    expect(await page.locator('#steps tr.step[data-step="rp_work[3]"] td').nth(2).textContent()).toBe('2');
    await expect.poll(() => page.locator('#logs').textContent()).toContain('piece 5 is out of range');
    await page.screenshot({ path: join(ARTIFACTS, 'run-page-failed.png'), fullPage: true });
    const view = (await fetchRunView(harness.client, 'default', run.workflowId)).view;
    expect(view.nodes.rp_work?.counts).toEqual({ succeeded: 5, failed: 1 });
  }, 120_000);

  it('per-step logs: result.logs, what `opgraph run` prints for failed steps (all with -v), and `opgraph logs`', async () => {
    requireBrowser();
    const logs = await result.logs('rp_work[3]');
    expect(logs.map((l) => [l.attempt, l.level, l.message])).toEqual([
      [1, 'info', 'working on piece 3'],
      [1, 'warn', 'flaky piece, failing the first attempt'],
      [2, 'info', 'working on piece 3'],
      [2, 'info', 'piece 3 done'],
    ]);
    expect(logs[0]?.extra).toBe('{"attempt":1}');
    expect(await result.logs('rp_total')).toEqual([]);

    const failedOnly = await runLogLines(result, false);
    expect(failedOnly[0]).toBe('Logs of failed steps:');
    expect(failedOnly.slice(1)).toHaveLength(2);
    expect(failedOnly[1]).toMatch(/^ {2}\d\d:\d\d:\d\d\.\d{3} INFO {2}rp_work\[5\]#1 working on piece 5 \{"attempt":1\}$/);
    const verbose = await runLogLines(result, true);
    expect(verbose[0]).toBe('Step logs:');
    expect(verbose.filter((l) => l.includes('rp_prepare[') || l.includes('rp_prepare#1 preparing 6 pieces'))).toHaveLength(1);
    expect(verbose).toHaveLength(1 + 16);

    const env = { TEMPORAL_ADDRESS: inject('temporalAddress') };
    const one = captureIO(env);
    expect(await runCli(['logs', run.workflowId, 'rp_work[5]'], one.io), one.stderr()).toBe(0);
    expect(one.stdout().split('\n')).toEqual([
      '— rp_work[5] attempt 1: failed (retried)',
      expect.stringMatching(/^ {2}\S+ INFO {2}working on piece 5 \{"attempt":1\}$/),
      expect.stringMatching(
        /^ {2}OpUserError: \[run_page_demo rp_work\[5\]\] op "rp_work" raised RangeError \(at test\/ui\/runPageDefs\.ts:18:22\): piece 5 is out of range$/,
      ),
      '— rp_work[5] attempt 2: failed',
      expect.stringMatching(/^ {2}\S+ INFO {2}working on piece 5 \{"attempt":2\}$/),
      expect.stringMatching(/^ {2}OpUserError: /),
      '',
    ]);
    const byRunId = captureIO(env);
    expect(await runCli(['logs', run.runId, 'rp_work[5]'], byRunId.io), byRunId.stderr()).toBe(0);
    expect(byRunId.stdout()).toBe(one.stdout());
    const all = captureIO(env);
    expect(await runCli(['logs', run.workflowId], all.io)).toBe(0);
    expect(all.stdout().trim().split('\n')).toHaveLength(16);
    const missing = captureIO(env);
    expect(await runCli(['logs', run.workflowId, 'rp_work[9]'], missing.io)).toBe(1);
    expect(missing.stderr()).toContain('step rp_work[9] of');
    expect(missing.stderr()).toContain('never started an attempt');
    stopWorker();
  }, 60_000);

  it('`opgraph view <workflowId>` serves the same page until Ctrl+C (a child process)', async () => {
    requireBrowser();
    const view = opgraph(['view', run.workflowId], { TEMPORAL_ADDRESS: inject('temporalAddress') });
    try {
      await view.waitFor(/Run page: http:\/\/127\.0\.0\.1:\d+\/runs\//, 60_000);
      const url = /Run page: (\S+)/.exec(view.stdout())?.[1] ?? '';
      await page.goto(url);
      await expect.poll(() => page.locator('#status').getAttribute('data-status'), { timeout: TIMEOUT }).toBe('FAILED');
      expect(await nodeState('rp_work')).toBe('failed');
      expect(await nodeState('rp_total')).toBe('abandoned');
    } finally {
      view.child.kill('SIGINT');
    }
    expect((await view.done).code).toBe(0);
  }, 90_000);
});
