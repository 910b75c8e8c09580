/**
 * The operator's view of a run: `opgraph graph [--run]`, `opgraph logs` and `opgraph view`
 * (registered from commands.ts), and the step-log lines `opgraph run` prints at its end.
 */
import type { Client } from '@temporalio/client';
import { type Command, Option } from 'commander';
import { connectClient } from '../client/connect.ts';
import type { JobResult } from '../client/result.ts';
import { OpgraphError } from '../dsl/errors.ts';
import { getDefaultStore } from '../store/store.ts';
import { listStepJournals, logLineText, readStepJournal, type StepJournal } from '../store/stepLogs.ts';
import { getJob, loadDefinitions } from './definitions.ts';
import { EXIT, UsageError } from './errors.ts';
import { GRAPH_FORMATS, type GraphFormat, renderGraph } from './graph.ts';
import { type CliIO, printer } from './io.ts';
import { startRunPage } from './runPage.ts';
import { fetchRunView } from './runView.ts';
import { fetchRunInput } from './remote.ts';
import { resolveWorkflowId } from './runs.ts';
import { withClient } from './serverClient.ts';
import { requireServer, uiUrlFromEnv } from './server.ts';

/**
 * The job workflow for `id` (a workflow id, or the run id opgraph prints) and its run id (from its
 * input), or an error saying what the id is not.
 */
async function resolveRun(client: Client, namespace: string, id: string): Promise<{ workflowId: string; runId: string }> {
  const workflowId = await resolveWorkflowId(client, namespace, id);
  const input = await fetchRunInput(client, namespace, workflowId);
  if (!input) throw new OpgraphError(`workflow "${workflowId}" is not an opgraph job run (its input is not a job's)`);
  return { workflowId, runId: input.runId };
}

/** `k2 #1 12:00:00.000 INFO message` lines of journals, oldest first across steps. */
export function journalLogLines(journals: readonly StepJournal[]): string[] {
  const lines = journals.flatMap((j) =>
    j.attempts.flatMap((a) => [
      ...(a.droppedLines ? [{ at: a.startedAt, text: `${j.stepKey}#${a.attempt} (${a.droppedLines} earlier lines dropped)` }] : []),
      ...a.logs.map((line) => ({ at: line.at, text: logLineText(line, `${j.stepKey}#${a.attempt} `) })),
    ]),
  );
  return lines.sort((a, b) => a.at - b.at).map((l) => l.text);
}

/**
 * What `opgraph run` prints after its summary: the log lines of failed steps (every attempt), or
 * with `verbose` of every step; [] when there are none.
 */
export async function runLogLines(result: JobResult, verbose: boolean): Promise<string[]> {
  const store = getDefaultStore();
  let journals: StepJournal[];
  if (verbose) {
    journals = await listStepJournals(store, result.runId).catch(() => []);
  } else {
    const failed = Object.entries(result.steps()).flatMap(([key, r]) => (r.status === 'FAILURE' ? [key] : []));
    const found = await Promise.all(failed.slice(0, 50).map((key) => readStepJournal(store, result.runId, key).catch(() => undefined)));
    journals = found.filter((j): j is StepJournal => j !== undefined);
  }
  const lines = journalLogLines(journals);
  if (lines.length === 0) return [];
  return [verbose ? 'Step logs:' : 'Logs of failed steps:', ...lines.map((l) => `  ${l}`)];
}

export function registerRunViewCommands(program: Command, io: CliIO, setExit: (code: number) => void, moduleOption: () => Option): void {
  const out = printer(io.stdout);
  const err = printer(io.stderr);

  program
    .command('graph')
    .description("render a job's plan; dynamic dimensions as subgraphs/clusters, edges labelled map/collect")
    .argument('<job>', 'job name (see `opgraph list`)')
    .addOption(new Option('-f, --format <format>', 'output format').choices(GRAPH_FORMATS).default('mermaid'))
    .option(
      '--run <workflowId>',
      "colour nodes by that run's step states, with per-map counts (a workflow or run id; needs TEMPORAL_ADDRESS)",
    )
    .addOption(moduleOption())
    .action(async (job: string, opts: { format: GraphFormat; module: string; run?: string }) => {
      const definitions = await loadDefinitions(opts.module, io.cwd);
      const plan = getJob(definitions, job, opts.module).plan;
      if (!opts.run) {
        io.stdout.write(renderGraph(plan, opts.format));
        setExit(EXIT.ok);
        return;
      }
      const id = opts.run;
      await withClient(io, 'graph --run', async (client, namespace) => {
        const workflowId = await resolveWorkflowId(client, namespace, id);
        const { view, plan: runPlan } = await fetchRunView(client, namespace, workflowId);
        if (runPlan.job !== plan.job) {
          throw new UsageError(
            `workflow ${workflowId} is a run of job "${runPlan.job}", not "${plan.job}": pass \`opgraph graph ${runPlan.job} --run ${workflowId}\``,
          );
        }
        io.stdout.write(renderGraph(runPlan, opts.format, view.nodes));
      });
      setExit(EXIT.ok);
    });

  program
    .command('logs')
    .description("print a run's ctx.log lines, per step key and attempt (all steps, or one)")
    .argument('<workflowId>', 'the workflow id (or run id) printed by `opgraph launch` / `opgraph run`')
    .argument('[stepKey]', 'one step key, e.g. compute_piece[3]')
    .action(async (id: string, stepKey: string | undefined) => {
      await withClient(io, 'logs', async (client, namespace) => {
        const { workflowId, runId } = await resolveRun(client, namespace, id);
        const store = getDefaultStore();
        if (stepKey !== undefined) {
          const journal = await readStepJournal(store, runId, stepKey);
          if (!journal) {
            throw new OpgraphError(
              `step ${stepKey} of ${workflowId} has no log: it never started an attempt (a typo? \`opgraph logs ${workflowId}\` lists every step's lines)`,
            );
          }
          for (const attempt of journal.attempts) {
            out(`— ${stepKey} attempt ${attempt.attempt}: ${attempt.state}${attempt.willRetry ? ' (retried)' : ''}`);
            if (attempt.droppedLines) out(`  (${attempt.droppedLines} earlier lines dropped)`);
            for (const line of attempt.logs) out(`  ${logLineText(line)}`);
            if (attempt.error) out(`  ${attempt.error.type}: ${attempt.error.message.replace(/\s*\n\s*/g, ' ')}`);
          }
        } else {
          const journals = await listStepJournals(store, runId);
          const lines = journalLogLines(journals);
          for (const line of lines) out(line);
          if (lines.length === 0) err(`No log lines yet in ${journals.length} step(s) of ${workflowId}.`);
        }
      });
      setExit(EXIT.ok);
    });

  program
    .command('view')
    .description("serve a local page with the run's graph, coloured by step state and updated live, until Ctrl+C")
    .argument('<workflowId>', 'the workflow id (or run id) printed by `opgraph launch` / `opgraph run`')
    .option('-p, --port <port>', 'port on 127.0.0.1 (default: a free port)')
    .action(async (id: string, opts: { port?: string }) => {
      const target = requireServer(io.env, 'view');
      const port = opts.port === undefined ? 0 : Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number, got "${opts.port}"`);
      const client = await connectClient(target.address, target.namespace);
      try {
        const { workflowId } = await resolveRun(client, target.namespace, id);
        const uiUrl = uiUrlFromEnv(io.env);
        const page = await startRunPage({ client, namespace: target.namespace, port, ...(uiUrl ? { uiUrl } : {}) });
        out(`Run page: ${page.pageUrl(workflowId)}`);
        err('(Ctrl+C to stop)');
        await untilInterrupted();
        await page.close();
      } finally {
        await client.connection.close().catch(() => undefined);
      }
      setExit(EXIT.ok);
    });
}

function untilInterrupted(): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}
