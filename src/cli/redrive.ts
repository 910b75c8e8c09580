/** `opgraph redrive <workflowId> [--step-keys …]` and `opgraph give-up <workflowId>` (src/client/redrive.ts). */
import type { Command } from 'commander';
import { connectClient } from '../client/connect.ts';
import { giveUp, redrive, RedriveError, type RedriveReport } from '../client/redrive.ts';
import { errorMessage, EXIT } from './errors.ts';
import { type CliIO, printer, withTimeout } from './io.ts';
import { resolveWorkflowId } from './runs.ts';
import { requireServer } from './server.ts';

/** The run answers from its next workflow task, so a worker must serve it. */
const ANSWER_MS = 30_000;

export function reportLines(report: RedriveReport, workflowId: string): string[] {
  const shown = report.stepKeys.slice(0, 10).join(', ') + (report.stepKeys.length > 10 ? `, … (${report.stepKeys.length})` : '');
  if (report.action === 'give-up') {
    return [
      `Gave up ${workflowId}: its ${report.stepKeys.length} waiting failed step(s) end failed (${shown}); the run fails as it would have without onStepFailure: 'wait'.`,
    ];
  }
  const lines = [`Redriving ${report.stepKeys.length} failed step(s) of ${workflowId} and what is downstream of them: ${shown}.`];
  lines.push(report.stillWaiting > 0 ? `${report.stillWaiting} failed step(s) still wait.` : 'No failed step waits any more.');
  lines.push(`Follow it with: opgraph status ${workflowId}`);
  return lines;
}

async function redriveCommand(action: 'redrive' | 'give-up', id: string, stepKeys: readonly string[], io: CliIO): Promise<number> {
  const target = requireServer(io.env, action);
  const client = await connectClient(target.address, target.namespace);
  try {
    const workflowId = await resolveWorkflowId(client, target.namespace, id);
    const report = await withTimeout(
      action === 'redrive' ? redrive(client, workflowId, { stepKeys }) : giveUp(client, workflowId),
      ANSWER_MS,
      `run ${workflowId} did not answer within ${ANSWER_MS / 1000}s — is a worker serving its task queue? (the request applies once one does)`,
    );
    for (const line of reportLines(report, workflowId)) printer(io.stdout)(line);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof RedriveError) {
      printer(io.stderr)(`opgraph: ${errorMessage(err)}`);
      return err.refused ? EXIT.usage : EXIT.failed;
    }
    throw err;
  } finally {
    await client.connection.close().catch(() => undefined);
  }
}

/** Registers `redrive` and `give-up` on the CLI. */
export function addRedriveCommands(program: Command, io: CliIO, setExit: (code: number) => void): void {
  program
    .command('redrive')
    .description("run a running run's failed steps again, with what is downstream of them (a job with onStepFailure: 'wait')")
    .argument('<workflowId>', 'the workflow id of the run, or its run id')
    .option(
      '--step-keys <keys...>',
      'only these failed steps: op[key], op[outer,inner], or op for all of its failed keys (default: every waiting step)',
    )
    .addHelpText(
      'after',
      `
Steps that succeeded never run again: a redriven key or shard takes over every record that did not
fail. The waiting steps show in \`opgraph status\`, the live view of \`opgraph run\` and the Web UI's
current details ("waiting: 3 failed steps"). Exit 2 when the run refuses the request (e.g. a step
key that is not waiting: the message lists those that are).`,
    )
    .action(async (workflowId: string, opts: { stepKeys?: string[] }) => {
      setExit(await redriveCommand('redrive', workflowId, opts.stepKeys ?? [], io));
    });
  program
    .command('give-up')
    .description("end a run whose failed steps wait for a redrive, as it would have failed (a job with onStepFailure: 'wait')")
    .argument('<workflowId>', 'the workflow id of the run, or its run id')
    .action(async (workflowId: string) => {
      setExit(await redriveCommand('give-up', workflowId, [], io));
    });
}
