/**
 * Live progress of a run, from the job workflow's `progress` query: one bar per dynamic dimension
 * (keys done/total, running, failed), a status line per static step, counts per mapped node.
 *
 * - TTY: the block is redrawn in place (cursor up + clear line), at most once per poll.
 * - Pipe (not a TTY, or CI=true): plain lines, only for what changed, at most one batch per
 *   throttle interval; no ANSI sequences, so logs stay readable.
 *
 * After a run ended CANCELLED, the last snapshot still counts the steps and keys that were running
 * when it was cancelled (they never reported an end) and never counts the ones that had not started:
 * given how the run ended, those are shown `cancelled` and `not started` instead of `running` and
 * `pending`. (One spelling throughout: CANCELLED, cancelled.)
 *
 * `progressItems` and the two printers are pure (snapshots and a clock in, text out) for testing.
 */
import type { Writable } from 'node:stream';
import type { RunStatus } from '../client/result.ts';
import { parseDimensionId } from '../dsl/plan.ts';
import {
  controlText,
  failedText,
  retryingText,
  type DimensionProgress,
  type MapControlProgress,
  type NodeProgress,
  type RunProgress,
} from '../engine/progress.ts';

/** The part of a plan progress rendering needs (a JobPlan fits). */
export interface PlanShape {
  readonly nodes: readonly { readonly id: string; readonly dim: readonly string[] }[];
}

/** `cancelled` and `not-started` only once a run has ended CANCELLED: it was running / had not started then. */
export type StepState = 'pending' | 'running' | 'retrying' | 'succeeded' | 'failed' | 'skipped' | 'abandoned' | 'cancelled' | 'not-started';

export type ProgressItem =
  /** `counts`: the node's progress (names a retrying or failed step's attempt and error). */
  | { kind: 'step'; key: string; node: string; state: StepState; counts?: NodeProgress }
  | {
      kind: 'dimension';
      key: string;
      /** `load_pieces`, or `node.output` for a non-default output; `(stage n)` for later stages. */
      label: string;
      /**
       * `waiting`: fan-out op not finished; `not-run`: it failed, was skipped or abandoned. After a
       * cancel: `cancelled` (keys were running; `counts.running` are the cancelled ones) or
       * `not-started` (it was still waiting).
       */
      state: 'waiting' | 'not-run' | 'running' | 'done' | 'cancelled' | 'not-started';
      counts: DimensionProgress;
      /** Of `counts.running`: keys with a step retrying now (keys run by this workflow only). */
      retrying?: number;
      /** Paused or resized while the run runs (`opgraph map …`). */
      control?: MapControlProgress;
    }
  /** A map nested in another map, paused or resized (its keys run in other workflows, so it has no bar here). */
  | { kind: 'control'; key: string; label: string; control: MapControlProgress }
  /** `cancelled`: steps of the node that were running when the run was cancelled (then `counts.running` is 0). */
  | { kind: 'mapped'; key: string; node: string; counts: NodeProgress; cancelled?: number };

const ZERO_NODE: NodeProgress = { running: 0, succeeded: 0, failed: 0, skipped: 0, abandoned: 0 };
const ZERO_DIM: DimensionProgress = { total: 0, running: 0, done: 0, failed: 0 };

function stepState(n: NodeProgress | undefined): StepState {
  if (!n) return 'pending';
  if (n.retrying) return 'retrying';
  if (n.running > 0) return 'running';
  if (n.failed > 0) return 'failed';
  if (n.succeeded > 0) return 'succeeded';
  if (n.abandoned > 0) return 'abandoned';
  if (n.skipped > 0) return 'skipped';
  return 'pending';
}

function dimensionLabel(dim: string): string {
  const { node, output } = parseDimensionId(dim);
  return output === 'result' ? node : `${node}.${output}`;
}

/**
 * What to show for a snapshot (undefined = nothing known yet), in plan order: static steps, and for
 * each top-level dimension (at its first mapped node) its bar(s), then its mapped nodes' counts.
 * `ended`: how the run ended, when it has; CANCELLED turns what was still running into `cancelled`
 * and what had not started into `not started`.
 */
export function progressItems(plan: PlanShape, progress: RunProgress | undefined, ended?: RunStatus): ProgressItem[] {
  const items = liveItems(plan, progress);
  return ended === 'CANCELLED' ? items.map(afterCancel) : items;
}

/** An item as it stands once the run was cancelled: nothing is running or pending any more. */
function afterCancel(item: ProgressItem): ProgressItem {
  switch (item.kind) {
    case 'step':
      if (item.state === 'running' || item.state === 'retrying') return { ...item, state: 'cancelled' };
      return item.state === 'pending' ? { ...item, state: 'not-started' } : item;
    case 'dimension':
      if (item.state === 'running') return { ...item, state: 'cancelled' };
      return item.state === 'waiting' ? { ...item, state: 'not-started' } : item;
    case 'mapped':
      return item.counts.running > 0 ? { ...item, counts: { ...item.counts, running: 0 }, cancelled: item.counts.running } : item;
    case 'control':
      return item;
  }
}

function liveItems(plan: PlanShape, progress: RunProgress | undefined): ProgressItem[] {
  const items: ProgressItem[] = [];
  const placed = new Set<string>();
  for (const node of plan.nodes) {
    const top = node.dim[0];
    if (top === undefined) {
      const counts = progress?.nodes[node.id];
      let state = stepState(counts);
      // Doomed by a failure upstream (through a collect): it will never run.
      if (state === 'pending' && progress?.doomed?.includes(node.id)) state = 'abandoned';
      items.push({ kind: 'step', key: `step:${node.id}`, node: node.id, state, ...(counts ? { counts } : {}) });
      continue;
    }
    if (placed.has(top)) continue;
    placed.add(top);
    const source = progress?.nodes[parseDimensionId(top).node];
    const stageLabels = Object.keys(progress?.dimensions ?? {}).filter((d) => d.startsWith(`${top} (stage `));
    for (const dim of [top, ...stageLabels]) {
      const counts = progress?.dimensions[dim];
      const sourceState = stepState(source);
      let state: 'waiting' | 'not-run' | 'running' | 'done';
      if (counts) state = counts.done >= counts.total && counts.running === 0 ? 'done' : 'running';
      else if (sourceState === 'failed' || sourceState === 'skipped' || sourceState === 'abandoned') state = 'not-run';
      else if (sourceState === 'succeeded' && dim === top) state = 'done';
      else state = 'waiting';
      const label = dim === top ? dimensionLabel(top) : `${dimensionLabel(top)}${dim.slice(top.length)}`;
      const control = progress?.controls?.[top];
      const mappedHere = plan.nodes.filter((n) => n.dim[0] === top && n.dim.length === 1);
      const retrying = Math.min(
        counts?.running ?? 0,
        mappedHere.reduce((sum, n) => sum + (progress?.nodes[n.id]?.retrying ?? 0), 0),
      );
      items.push({
        kind: 'dimension',
        key: `dim:${dim}`,
        label,
        state,
        counts: counts ?? ZERO_DIM,
        ...(retrying > 0 && dim === top ? { retrying } : {}),
        ...(control ? { control } : {}),
      });
    }
    // Maps nested in this one that were paused or resized.
    const nested = new Set(plan.nodes.filter((n) => n.dim[0] === top).flatMap((n) => n.dim.slice(1)));
    for (const dim of nested) {
      const control = progress?.controls?.[dim];
      if (control) items.push({ kind: 'control', key: `control:${dim}`, label: dimensionLabel(dim), control });
    }
    for (const mapped of plan.nodes.filter((n) => n.dim[0] === top)) {
      items.push({ kind: 'mapped', key: `mapped:${mapped.id}`, node: mapped.id, counts: progress?.nodes[mapped.id] ?? ZERO_NODE });
    }
  }
  return items;
}

export function progressBar(done: number, total: number, width: number, full: string, empty: string): string {
  const filled = total > 0 ? Math.min(width, Math.floor((done / total) * width)) : 0;
  return `${full.repeat(filled)}${empty.repeat(width - filled)}`;
}

function countsText(c: NodeProgress, cancelled = 0): string {
  const parts: string[] = [];
  const running = c.running - (c.retrying ?? 0);
  if (running > 0) parts.push(`${running} running`);
  if (c.retrying) parts.push(`${c.retrying} retrying (${retryingText(c)})`);
  parts.push(`${c.succeeded} succeeded`);
  if (c.failed) parts.push(`${c.failed} failed${c.failedKeys?.length ? ` (${failedText(c)})` : ''}`);
  if (c.skipped) parts.push(`${c.skipped} skipped`);
  if (c.abandoned) parts.push(`${c.abandoned} abandoned`);
  if (c.waiting) parts.push(`${c.waiting} failed, waiting for a redrive`);
  if (cancelled) parts.push(`${cancelled} cancelled`);
  return parts.join(', ');
}

/** A step state as words: `not started`, the others as they are; a retrying or failed step names its attempt and error. */
function stateWord(state: StepState, counts?: NodeProgress): string {
  if (state === 'retrying' && counts?.retryingKeys?.[0]) {
    const r = counts.retryingKeys[0];
    return `retrying (attempt ${r.attempt} of ${r.of}, last error: ${r.error})`;
  }
  if (state === 'failed' && counts?.failedKeys?.[0]?.error) return `failed (${counts.failedKeys[0].error})`;
  return state === 'not-started' ? 'not started' : state;
}

function dimensionText(item: Extract<ProgressItem, { kind: 'dimension' }>, bar: (done: number, total: number) => string): string {
  const { counts } = item;
  const source = item.label.replace(/ \(stage \d+\)$/, '');
  switch (item.state) {
    case 'waiting':
      return `waiting for ${source.split('.')[0] ?? source}`;
    case 'not-run':
      return `not run (${source.split('.')[0] ?? source} did not succeed)`;
    case 'not-started':
      return `not started (the run was cancelled before ${source.split('.')[0] ?? source} finished)`;
    case 'cancelled': {
      const notStarted = Math.max(0, counts.total - counts.done - counts.running);
      return `[${bar(counts.done, counts.total)}] ${counts.done}/${counts.total} keys done, ${counts.running} cancelled, ${counts.failed} failed${notStarted ? `, ${notStarted} not started` : ''}`;
    }
    default: {
      const retrying = item.retrying ?? 0;
      const inFlight = `${counts.running - retrying} running${retrying ? `, ${retrying} retrying` : ''}`;
      const line = `[${bar(counts.done, counts.total)}] ${counts.done}/${counts.total} keys done, ${inFlight}, ${counts.failed} failed`;
      if (!item.control || item.state === 'done') return line;
      const waiting = Math.max(0, counts.total - counts.done - counts.running);
      return `${line} · ${controlText(item.control, item.control.sharded ? undefined : { inFlight: counts.running, waiting })}`;
    }
  }
}

/** One plain line per item (pipe mode). */
export function plainLine(item: ProgressItem): string {
  switch (item.kind) {
    case 'step':
      return `${item.node}: ${stateWord(item.state, item.counts)}`;
    case 'dimension':
      return `map over ${item.label} ${dimensionText(item, (d, t) => progressBar(d, t, 20, '#', '-'))}`;
    case 'mapped':
      return `${item.node}[*]: ${countsText(item.counts, item.cancelled)}`;
    case 'control':
      return `map over ${item.label} (nested): ${controlText(item.control)}`;
  }
}

const SYMBOL: Record<StepState, string> = {
  pending: '○',
  running: '◐',
  retrying: '↻',
  succeeded: '✔',
  failed: '✖',
  skipped: '⊘',
  abandoned: '⊘',
  cancelled: '⊗',
  'not-started': '○',
};

/** Dimension symbols by state; running and waiting ones show ✖ once a key failed, else ▸. */
const DIMENSION_SYMBOL: Partial<Record<Extract<ProgressItem, { kind: 'dimension' }>['state'], string>> = {
  done: '✔',
  'not-run': '⊘',
  cancelled: '⊗',
  'not-started': '○',
};

/** The in-place block (TTY mode): aligned columns, Unicode bars. */
export function ttyLines(items: readonly ProgressItem[]): string[] {
  const name = (item: ProgressItem): string =>
    item.kind === 'step'
      ? item.node
      : item.kind === 'dimension'
        ? `map over ${item.label}`
        : item.kind === 'control'
          ? `  map over ${item.label}`
          : `  ${item.node}[*]`;
  const width = Math.max(0, ...items.map((i) => name(i).length));
  return items.map((item) => {
    const label = name(item).padEnd(width);
    switch (item.kind) {
      case 'step':
        return `${SYMBOL[item.state]} ${label}  ${stateWord(item.state, item.counts)}`;
      case 'dimension': {
        const symbol = DIMENSION_SYMBOL[item.state] ?? (item.counts.failed > 0 ? '✖' : '▸');
        return `${symbol} ${label}  ${dimensionText(item, (d, t) => progressBar(d, t, 24, '█', '░'))}`;
      }
      case 'mapped':
        return `  ${label}  ${countsText(item.counts, item.cancelled)}`;
      case 'control':
        return `  ${label}  ${controlText(item.control)}`;
    }
  });
}

function elapsed(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** Pipe mode: prints only lines whose text changed since last printed, at most once per `throttleMs`. */
export class PlainProgressPrinter {
  private readonly printed = new Map<string, string>();
  private lastEmit = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly plan: PlanShape,
    private readonly startedAt: number,
    private readonly throttleMs = 1_000,
  ) {
    // Lines start out as "nothing happened yet", so pending steps are never printed.
    for (const item of progressItems(plan, undefined)) this.printed.set(item.key, plainLine(item));
  }

  /** Lines to print for this snapshot; `force` ignores the throttle (the final snapshot); `ended` as in progressItems. */
  update(progress: RunProgress, now: number, force = false, ended?: RunStatus): string[] {
    if (!force && now - this.lastEmit < this.throttleMs) return [];
    const lines: string[] = [];
    for (const item of progressItems(this.plan, progress, ended)) {
      const text = plainLine(item);
      if (this.printed.get(item.key) === text) continue;
      this.printed.set(item.key, text);
      lines.push(`[${elapsed(now - this.startedAt)}] ${text}`);
    }
    if (lines.length > 0) this.lastEmit = now;
    return lines;
  }
}

/** TTY mode: returns the escape sequence that redraws the block in place ('' when nothing changed). */
export class TtyProgressPrinter {
  private height = 0;
  private last = '';

  constructor(
    private readonly plan: PlanShape,
    private readonly title: string,
    private readonly startedAt: number,
  ) {}

  frame(progress: RunProgress | undefined, now: number, columns?: number, status = 'running', ended?: RunStatus): string {
    const header = `${this.title} · ${status} ${elapsed(now - this.startedAt)}`;
    // Lines must not wrap, or moving the cursor up by the line count would miss.
    const width = columns !== undefined && columns >= 20 ? columns - 1 : 99;
    const lines = [header, ...ttyLines(progressItems(this.plan, progress, ended))].map((l) => truncate(l, width));
    const body = lines.join('\n');
    if (body === this.last) return '';
    this.last = body;
    const up = this.height > 0 ? `\x1b[${this.height}A\r` : '';
    this.height = lines.length;
    return `${up}${lines.map((l) => `\x1b[2K${l}\n`).join('')}\x1b[J`;
  }
}

function truncate(line: string, max: number): string {
  return [...line].length <= max ? line : `${[...line].slice(0, max - 1).join('')}…`;
}

/** True when progress should be plain lines: not a terminal, or CI is set (and not "false"/"0"). */
export function plainMode(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  const ci = env.CI?.trim().toLowerCase();
  return !stream.isTTY || (ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0');
}

export interface ProgressView {
  update(progress: RunProgress): void;
  /** Draws the final state (no throttling) once the run ended with `status`. */
  finish(progress: RunProgress | undefined, status: RunStatus): void;
}

/** The run's status in the title line (cancelled, as its steps). */
const RUN_WORD: Record<RunStatus, string> = { SUCCESS: 'succeeded', FAILURE: 'failed', CANCELLED: 'cancelled' };

/** A view writing to `stream` in TTY or plain mode. */
export function createProgressView(
  stream: Writable & { isTTY?: boolean; columns?: number },
  plan: PlanShape,
  title: string,
  options: { plain?: boolean; throttleMs?: number; now?: () => number } = {},
): ProgressView {
  const now = options.now ?? Date.now;
  const started = now();
  if (options.plain ?? plainMode(stream)) {
    const printer = new PlainProgressPrinter(plan, started, options.throttleMs);
    const write = (lines: string[]): void => {
      if (lines.length > 0) stream.write(`${lines.join('\n')}\n`);
    };
    return {
      update: (p) => write(printer.update(p, now())),
      finish: (p, status) => {
        if (p) write(printer.update(p, now(), true, status));
      },
    };
  }
  const printer = new TtyProgressPrinter(plan, title, started);
  let latest: RunProgress | undefined;
  return {
    update: (p) => {
      latest = p;
      stream.write(printer.frame(p, now(), stream.columns));
    },
    finish: (p, status) => stream.write(printer.frame(p ?? latest, now(), stream.columns, RUN_WORD[status], status)),
  };
}

/**
 * Polls `query` every `intervalMs` and feeds the view until `stop()` is called; errors (the
 * workflow has not started a task yet, a transient RPC failure) are skipped. The returned
 * `stop()` resolves after the last poll, with the last snapshot seen.
 */
export function watchProgress(
  query: () => Promise<RunProgress>,
  view: ProgressView,
  intervalMs: number,
): { stop(): Promise<RunProgress | undefined> } {
  let stopped = false;
  let latest: RunProgress | undefined;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (!stopped) {
      try {
        latest = await query();
        if (!stopped) view.update(latest);
      } catch {
        // not answerable yet; try again next tick
      }
      if (stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      wake?.();
      await loop;
      return latest;
    },
  };
}
