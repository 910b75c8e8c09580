/** What `opgraph run` / `opgraph status` print about a finished run: outputs on success, failed steps otherwise. */
import type { JobResult } from '../client/result.ts';
import type { StepFailure } from '../client/tolerance.ts';
import type { StepRecord, TaskOutput } from '../dsl/protocol.ts';

const MAX_VALUE_CHARS = 200;

const STATUS_WORD: Record<StepRecord['status'], string> = {
  SUCCESS: 'succeeded',
  FAILURE: 'failed',
  SKIPPED: 'skipped',
  ABANDONED: 'abandoned',
};
const MAX_KEYS_SHOWN = 5;

/** The Web UI page of a workflow. */
export function workflowUiUrl(uiUrl: string, namespace: string, workflowId: string): string {
  return `${uiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** JSON, cut to a readable length. */
export function summarizeValue(value: unknown, max = MAX_VALUE_CHARS): string {
  if (value === undefined) return '(no value)';
  let text: string;
  try {
    // undefined for functions/symbols, which JSON cannot carry (so values never hold them).
    text = JSON.stringify(value) ?? typeof value;
  } catch (err) {
    text = `(not JSON: ${(err as Error).message})`;
  }
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} chars)`;
}

function keysPreview(keys: readonly string[]): string {
  if (keys.length <= MAX_KEYS_SHOWN) return keys.join(', ');
  return `${keys.slice(0, MAX_KEYS_SHOWN - 1).join(', ')}, …, ${keys[keys.length - 1]}`;
}

function outputLabel(node: string, output: TaskOutput, outputs: readonly TaskOutput[]): string {
  return outputs.length === 1 && output.name === 'result' ? node : `${node}.${output.name}`;
}

function elapsedText(ms: number | undefined, prefix: string): string {
  return ms === undefined ? '' : ` ${prefix} ${(ms / 1000).toFixed(1)}s`;
}

/**
 * Lines describing a finished run. On success: every static step's outputs (values summarized,
 * dynamic outputs as their keys) and a count per mapped node. On failure: each failed step key
 * with its error, then the abandoned / skipped steps.
 */
export async function resultLines(result: JobResult, elapsedMs?: number): Promise<string[]> {
  const records = Object.entries(result.steps());
  const lines: string[] = [];
  const reused = result.reusedStepKeys().length;
  const head = `Run ${result.runId} of job ${result.jobName}${reused > 0 ? ` (a re-execution: ${reused} step${reused === 1 ? '' : 's'} taken over)` : ''}`;
  if (result.success) {
    lines.push(`${head} SUCCEEDED${elapsedText(elapsedMs, 'in')} (${records.length} step${records.length === 1 ? '' : 's'}).`);
    lines.push(...toleranceLines(result));
    lines.push(
      ...(await outputLines(
        result,
        records.map(([, r]) => r),
      )),
    );
    return lines;
  }
  const word = result.status === 'CANCELLED' ? 'was CANCELLED' : 'FAILED';
  lines.push(`${head} ${word}${elapsedText(elapsedMs, 'after')}.`);
  if (result.runError) lines.push(`  ${result.runError.type}: ${result.runError.message}`);
  for (const map of result.toleranceExceeded)
    lines.push(`Over tolerance: ${map.message}; failed keys ${keysPreview(map.failedKeys.map((k) => k.key))}`);
  lines.push(...toleranceLines(result));
  if (result.failures.length > 0) {
    lines.push(`Failed steps (${result.failures.length}):`);
    lines.push(...failureLines(result.failures));
  }
  for (const status of ['ABANDONED', 'SKIPPED'] as const) {
    const keys = records.filter(([, r]) => r.status === status).map(([k]) => k);
    if (keys.length > 0) lines.push(`${status === 'ABANDONED' ? 'Abandoned' : 'Skipped'} steps (${keys.length}): ${keysPreview(keys)}`);
  }
  return lines;
}

/**
 * The same failure in many steps (50 keys hitting one bug) is printed once: `50 steps: <error>`, then
 * their keys. What differs between them only by the step key (the `[job step]` prefix, `(step k)`) is
 * the same failure; a step whose failure is its own is printed as `key: <error>`.
 */
export function failureLines(failures: readonly StepFailure[]): string[] {
  const groups = new Map<string, { text: string; keys: string[] }>();
  for (const f of failures) {
    const prefix = new RegExp(`^\\[\\S+ ${f.stepKey.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\] `);
    const message = f.message.replace(prefix, '').replaceAll(`(step ${f.stepKey})`, '(step …)');
    const text = `${f.type}${f.errorClass ? ` (${f.errorClass})` : ''}: ${message}`;
    const group = groups.get(text) ?? { text, keys: [] };
    group.keys.push(f.stepKey);
    groups.set(text, group);
  }
  const byFirstKey = new Map([...groups.values()].map((g) => [g.keys[0], g]));
  const lines: string[] = [];
  for (const f of failures) {
    const group = byFirstKey.get(f.stepKey);
    if (!group) continue; // printed with its group
    if (group.keys.length === 1) {
      lines.push(`  ${f.stepKey}: ${f.type}${f.errorClass ? ` (${f.errorClass})` : ''}: ${firstLines(f.message)}`);
    } else {
      lines.push(`  ${group.keys.length} steps: ${firstLines(group.text)}`);
      lines.push(`    ${keysPreview(group.keys)}`);
    }
  }
  return lines;
}

/** Per map within its toleratedFailures: the line saying so, then each failed key with its first failed step (a few keys at most). */
function toleranceLines(result: JobResult): string[] {
  const lines: string[] = [];
  for (const map of result.toleratedFailures) {
    lines.push(`Tolerated failures: ${map.message}:`);
    for (const failed of map.failedKeys.slice(0, MAX_KEYS_SHOWN)) {
      const [first, ...more] = failed.failures;
      const also = more.length > 0 ? ` (and ${more.length} more failed step${more.length === 1 ? '' : 's'})` : '';
      lines.push(`  ${failed.key}: ${first ? `${first.stepKey}: ${first.type}: ${firstLines(first.message, 1)}` : 'failed'}${also}`);
    }
    const hidden = map.failedKeys.length - MAX_KEYS_SHOWN;
    if (hidden > 0) lines.push(`  … and ${hidden} more failed key${hidden === 1 ? '' : 's'} (JobResult.toleratedFailures lists them all)`);
  }
  return lines;
}

function firstLines(message: string, max = 3): string {
  const all = message.split('\n');
  return all.length <= max ? message : `${all.slice(0, max).join('\n    ')}\n    …`;
}

async function outputLines(result: JobResult, records: readonly StepRecord[]): Promise<string[]> {
  const lines: string[] = [];
  const mapped = new Map<string, StepRecord[]>();
  for (const record of records) {
    if (record.mappingKeys.length > 0) {
      const list = mapped.get(record.node) ?? [];
      list.push(record);
      mapped.set(record.node, list);
      continue;
    }
    const outputs = record.outputs ?? [];
    if (record.status !== 'SUCCESS') {
      lines.push(`  ${record.node}: ${record.status}`);
      continue;
    }
    if (outputs.length === 0) lines.push(`  ${record.node}: (no outputs)`);
    for (const output of outputs) {
      const label = outputLabel(record.node, output, outputs);
      if (output.kind === 'items') {
        const keys = output.items.map(([k]) => k);
        lines.push(
          `  ${label}: ${keys.length} dynamic output${keys.length === 1 ? '' : 's'}${keys.length ? `, keys ${keysPreview(keys)}` : ''}`,
        );
      } else {
        let text: string;
        try {
          text = summarizeValue(await result.outputFor(record.node, output.name));
        } catch (err) {
          text = `(unavailable: ${(err as Error).message})`;
        }
        lines.push(`  ${label} = ${text}`);
      }
    }
  }
  for (const [node, list] of mapped) {
    const counts = new Map<string, number>();
    for (const r of list) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
    const parts = [...counts].map(([status, n]) => `${n} ${STATUS_WORD[status as StepRecord['status']] ?? status}`);
    lines.push(`  ${node}[*]: ${list.length} mapped step${list.length === 1 ? '' : 's'} (${parts.join(', ')})`);
  }
  return lines.length > 0 ? ['Outputs:', ...lines] : lines;
}
