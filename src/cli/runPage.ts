/**
 * The run page (`opgraph view <workflowId>`, and under `opgraph dev`): a small local web server
 * with one page per run — the job's graph coloured by step state, refreshed every second while
 * the run runs — and a panel listing the clicked node's (or map's) step keys with state, attempts,
 * error, log lines and links into the Temporal Web UI. No dependencies and nothing from a CDN:
 * the server renders the SVG (graphSvg.ts) and the page's script only swaps it in.
 *
 *   GET /                                  the latest runs (top-level workflows), linked to their pages
 *   GET /runs/<workflowId>                 the page
 *   GET /api/runs/<workflowId>             { view, svg, ui, maps } (ui: Web UI base and namespace, or null)
 *   GET /api/runs/<workflowId>/logs?step=  the step's journal (attempts and log lines)
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import type { JobPlan } from '../dsl/plan.ts';
import { getDefaultStore } from '../store/store.ts';
import { readStepJournal, type StepJournal } from '../store/stepLogs.ts';
import type { ValueStore } from '../store/types.ts';
import { renderSvg } from './graph.ts';
import { NODE_STATES, STATE_COLOURS } from './nodeStates.ts';
import { fetchRunView } from './runView.ts';

export interface RunPageOptions {
  client: Client;
  namespace: string;
  /** The Temporal Web UI's base URL, for links (none: no links). */
  uiUrl?: string;
  store?: ValueStore;
  port?: number;
  host?: string;
  /** Step rows a panel lists at first, and adds per "show more" (default PANEL_ROWS). */
  panelRows?: number;
}

/** What the server keeps of a run it shows: its plan and run id, and the journals of its succeeded steps (final). */
interface KnownRun {
  plan: JobPlan;
  runId: string;
  succeededJournals: Map<string, StepJournal>;
}

export interface RunPageServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  pageUrl(workflowId: string): string;
  close(): Promise<void>;
}

export async function startRunPage(options: RunPageOptions): Promise<RunPageServer> {
  const store = options.store ?? getDefaultStore();
  const known = new Map<string, KnownRun>();
  // One read of a run at a time, however many tabs poll it; a closed run's answer is kept as is.
  const reading = new Map<string, Promise<string>>();
  const closed = new Map<string, { body: string; runId: string }>();
  const readRun = async (workflowId: string): Promise<string> => {
    const fetched = await fetchRunView(options.client, options.namespace, workflowId, store, known.get(workflowId));
    known.set(workflowId, {
      plan: fetched.plan,
      runId: fetched.view.runId,
      succeededJournals: known.get(workflowId)?.succeededJournals ?? new Map<string, StepJournal>(),
    });
    const ui = options.uiUrl ? { base: options.uiUrl.replace(/\/+$/, ''), namespace: options.namespace } : null;
    // Per map, the nodes mapped over it (directly or in a nested map): what its panel lists.
    const maps: Record<string, string[]> = {};
    for (const node of fetched.plan.nodes) for (const dim of node.dim) (maps[dim] ??= []).push(node.id);
    const body = JSON.stringify({ view: fetched.view, svg: renderSvg(fetched.plan, fetched.view.nodes), ui, maps });
    if (fetched.view.status !== 'RUNNING') {
      closed.set(workflowId, { body, runId: fetched.view.runId });
      known.delete(workflowId);
    }
    return body;
  };
  const runJson = (workflowId: string): Promise<string> => {
    const done = closed.get(workflowId);
    if (done) return Promise.resolve(done.body);
    let pending = reading.get(workflowId);
    if (!pending) {
      pending = readRun(workflowId).finally(() => reading.delete(workflowId));
      reading.set(workflowId, pending);
    }
    return pending;
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts.length === 0) return send(res, 200, 'text/html; charset=utf-8', await indexHtml(options.client));
    if (parts[0] === 'runs' && parts.length === 2 && parts[1]) {
      return send(res, 200, 'text/html; charset=utf-8', pageHtml(parts[1], options.panelRows ?? PANEL_ROWS));
    }
    if (parts[0] === 'api' && parts[1] === 'runs' && parts[2]) {
      const workflowId = parts[2];
      if (parts.length === 3) return send(res, 200, 'application/json; charset=utf-8', await runJson(workflowId));
      if (parts[3] === 'logs') {
        const runId =
          known.get(workflowId)?.runId ??
          closed.get(workflowId)?.runId ??
          (await fetchRunView(options.client, options.namespace, workflowId, store)).view.runId;
        const journal = await readStepJournal(store, runId, url.searchParams.get('step') ?? '');
        return sendJson(res, 200, journal ?? null);
      }
    }
    return send(res, 404, 'text/plain; charset=utf-8', 'not found: open /runs/<workflowId>\n');
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => sendJson(res, 500, { error: err instanceof Error ? err.message : String(err) }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;
  return {
    url,
    pageUrl: (workflowId) => `${url}/runs/${encodeURIComponent(workflowId)}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));
}

function html(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The 30 latest top-level workflows (job runs; their children are left out). */
async function indexHtml(client: Client): Promise<string> {
  const rows: string[] = [];
  for await (const execution of client.workflow.list({ query: 'ParentWorkflowId is null', pageSize: 30 })) {
    rows.push(
      `<tr><td><a href="/runs/${encodeURIComponent(execution.workflowId)}">${html(execution.workflowId)}</a></td><td>${html(execution.type)}</td>` +
        `<td>${html(execution.status.name)}</td><td>${html(execution.startTime.toISOString())}</td></tr>`,
    );
    if (rows.length >= 30) break;
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>opgraph runs</title>
<style>body{font-family:system-ui,sans-serif;margin:18px;color:#263238}td,th{padding:3px 10px;text-align:left;border-bottom:1px solid #eceff1}</style></head>
<body><h1>opgraph runs</h1>${rows.length ? `<table id="runs"><tr><th>workflow id</th><th>job</th><th>status</th><th>started</th></tr>${rows.join('')}</table>` : '<p>No runs yet: <code>opgraph launch &lt;job&gt;</code>.</p>'}</body></html>
`;
}

/** Step rows the panel lists at first (and adds per "show more"): a map of 100,000 keys stays a page. */
export const PANEL_ROWS = 500;

function pageHtml(workflowId: string, panelRows: number): string {
  const legend = NODE_STATES.map(
    (s) =>
      `<span class="legend-item" data-legend="${s}"><i style="background:${STATE_COLOURS[s].fill};border-color:${STATE_COLOURS[s].stroke}"></i>${s}</span>`,
  ).join('');
  const badgeCss = NODE_STATES.map((s) => `.badge.${s}{background:${STATE_COLOURS[s].fill};border-color:${STATE_COLOURS[s].stroke}}`).join(
    '\n',
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>opgraph · ${html(workflowId)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;color:#263238;background:#fafafa}
header{padding:10px 18px;background:#263238;color:#eceff1;display:flex;gap:18px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:18px;margin:0}
header a{color:#80cbc4}
#status{font-weight:bold}
.legend{padding:6px 18px;font-size:12px;display:flex;gap:12px;flex-wrap:wrap;border-bottom:1px solid #cfd8dc}
.legend i{display:inline-block;width:12px;height:12px;border:2px solid;border-radius:3px;margin-right:4px;vertical-align:middle}
main{display:flex;gap:0;align-items:flex-start}
#graph{flex:1 1 55%;overflow:auto;padding:8px}
#graph g.node,#graph g.map>text{cursor:pointer}
#graph g.node.selected rect{stroke-width:4;filter:drop-shadow(0 0 4px #37474f)}
#panel{flex:1 1 45%;border-left:1px solid #cfd8dc;padding:10px 16px;min-height:80vh;background:#fff;font-size:13px;max-width:50vw}
#panel h2{font-size:15px;margin:4px 0 8px}
table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #eceff1;padding:3px 6px;text-align:left;vertical-align:top}
tr.step{cursor:pointer}
tr.step.selected{background:#e3f2fd}
.badge{border:1.5px solid;border-radius:8px;padding:0 6px;font-size:11px;white-space:nowrap}
${badgeCss}
.error{color:#b71c1c;white-space:pre-wrap;word-break:break-word}
#logs{font-family:ui-monospace,monospace;font-size:12px;background:#263238;color:#eceff1;padding:8px;border-radius:4px;max-height:40vh;overflow:auto;white-space:pre-wrap;word-break:break-word}
#logs .warn{color:#ffcc80}#logs .error{color:#ef9a9a}#logs .attempt{color:#80cbc4}
.muted{color:#78909c}
</style></head>
<body>
<header><h1 id="title">${html(workflowId)}</h1><span id="status" data-status="">loading…</span><span id="meta" class="muted"></span><span id="links"></span></header>
<div class="legend">${legend}</div>
<main><div id="graph"></div><section id="panel"><p class="muted">Click a node or a map to see its steps: state, attempts, errors and log lines.</p></section></main>
<script type="module">
const workflowId = ${JSON.stringify(workflowId).replace(/</g, '\\u003c')};
const api = '/api/runs/' + encodeURIComponent(workflowId);
const ROWS = ${panelRows};
let latest = null, selected = null, selectedStep = null, timer = null, shownRows = ROWS;
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const uiLink = (wf, run, text) => latest.ui && wf ? '<a target="_blank" href="' + esc(latest.ui.base + '/namespaces/' + encodeURIComponent(latest.ui.namespace) + '/workflows/' + encodeURIComponent(wf) + (run ? '/' + encodeURIComponent(run) + '/history' : '')) + '">' + esc(text) + '</a>' : esc(text);
async function poll() {
  const started = Date.now();
  try {
    const res = await fetch(api);
    const body = await res.json();
    if (!res.ok) throw new Error(body.error || res.statusText);
    latest = body;
    render();
    if (selectedStep) await showLogs(selectedStep, false);
  } catch (err) {
    document.getElementById('status').textContent = 'error: ' + err.message;
  }
  const running = !latest || latest.view.status === 'RUNNING';
  // Every second while it runs, but never more than half the time (a big run takes a while to read).
  timer = setTimeout(poll, running ? Math.max(1000, 2 * (Date.now() - started)) : 5000);
}
function render() {
  const { view, svg } = latest;
  document.getElementById('title').textContent = view.job + ' · run ' + view.runId;
  const status = document.getElementById('status');
  status.textContent = view.status;
  status.dataset.status = view.status;
  const done = view.steps.filter((s) => s.state === 'succeeded').length;
  document.getElementById('meta').textContent = view.steps.length + ' steps, ' + done + ' succeeded · started ' + (view.startTime || '?') + (view.closeTime ? ' · closed ' + view.closeTime : '');
  document.getElementById('links').innerHTML = uiLink(view.workflowId, '', 'Temporal Web UI');
  const graph = document.getElementById('graph');
  graph.innerHTML = svg;
  for (const g of graph.querySelectorAll('g.node')) {
    g.addEventListener('click', () => select({ kind: 'node', id: g.dataset.node }));
    if (selected && selected.kind === 'node' && selected.id === g.dataset.node) g.classList.add('selected');
  }
  for (const g of graph.querySelectorAll('g.map')) g.querySelector('text').addEventListener('click', () => select({ kind: 'map', id: g.dataset.map }));
  if (selected) renderPanel();
}
function select(target) {
  selected = target;
  selectedStep = null;
  shownRows = ROWS;
  render();
  const steps = stepsOf(target);
  const first = steps.find((s) => s.state === 'failed') || steps.find((s) => s.state === 'retrying') || steps[0];
  if (first) void showLogs(first.stepKey, true);
}
function stepsOf(target) {
  if (target.kind === 'node') return latest.view.steps.filter((s) => s.node === target.id);
  const nodes = latest.maps[target.id] || [];
  return latest.view.steps.filter((s) => nodes.includes(s.node));
}
function renderPanel() {
  const steps = stepsOf(selected);
  const decoration = selected.kind === 'node' ? latest.view.nodes[selected.id] : null;
  const title = selected.kind === 'node' ? 'Node ' + selected.id : 'Map ' + selected.id;
  const rows = steps.slice(0, shownRows).map((s) =>
    '<tr class="step' + (s.stepKey === selectedStep ? ' selected' : '') + '" data-step="' + esc(s.stepKey) + '" data-state="' + s.state + '">' +
    '<td>' + esc(s.stepKey) + '</td><td><span class="badge ' + s.state + '">' + s.state + '</span></td><td>' + s.attempts + '</td><td>' + s.logLines + '</td>' +
    '<td>' + (s.workflowId ? uiLink(s.workflowId, s.workflowRunId, s.activityId ? 'activity ' + s.activityId : 'workflow') : '') + '</td></tr>' +
    (s.error ? '<tr class="error-row" data-step="' + esc(s.stepKey) + '"><td colspan="5" class="error">' + esc(s.error.type + (s.error.errorClass ? ' (' + s.error.errorClass + ')' : '') + ': ' + s.error.message) + '</td></tr>' : '')
  ).join('');
  document.getElementById('panel').innerHTML =
    '<h2 id="panel-title">' + esc(title) + (decoration ? ' · <span class="badge ' + decoration.state + '">' + decoration.state + '</span>' : '') + '</h2>' +
    (steps.length === 0 ? '<p class="muted">No step of it has started yet.</p>' :
      '<table id="steps"><thead><tr><th>step key</th><th>state</th><th>attempts</th><th>log lines</th><th>Temporal</th></tr></thead><tbody>' + rows + '</tbody></table>' +
      (steps.length > shownRows ? '<p class="muted" id="more-steps">' + shownRows + ' of ' + steps.length + ' steps shown · <a href="#" id="show-more">show ' + Math.min(ROWS, steps.length - shownRows) + ' more</a></p>' : '')) +
    '<h2>Logs' + (selectedStep ? ' of ' + esc(selectedStep) : '') + '</h2><div id="logs"><span class="muted">Click a step.</span></div>';
  for (const tr of document.querySelectorAll('#steps tr.step')) tr.addEventListener('click', () => void showLogs(tr.dataset.step, true));
  const more = document.getElementById('show-more');
  if (more) more.addEventListener('click', (e) => { e.preventDefault(); shownRows += ROWS; renderPanel(); });
}
async function showLogs(stepKey, rerender) {
  selectedStep = stepKey;
  if (rerender) renderPanel();
  const res = await fetch(api + '/logs?step=' + encodeURIComponent(stepKey));
  const journal = await res.json();
  const pane = document.getElementById('logs');
  if (!pane || selectedStep !== stepKey) return;
  if (!journal) { pane.innerHTML = '<span class="muted">No attempt of ' + esc(stepKey) + ' has run.</span>'; return; }
  pane.innerHTML = journal.attempts.map((a) =>
    '<div class="attempt">— attempt ' + a.attempt + ': ' + a.state + (a.willRetry ? ' (will retry)' : '') + (a.droppedLines ? ' · ' + a.droppedLines + ' earlier lines dropped' : '') + '</div>' +
    a.logs.map((l) => '<div class="line ' + l.level + '">' + esc(new Date(l.at).toISOString().slice(11, 23) + ' ' + l.level.toUpperCase().padEnd(5) + ' ' + l.message + (l.extra ? ' ' + l.extra : '')) + '</div>').join('') +
    (a.error ? '<div class="line error">' + esc(a.error.type + ': ' + a.error.message) + '</div>' : '')
  ).join('');
}
void poll();
</script>
</body></html>
`;
}
