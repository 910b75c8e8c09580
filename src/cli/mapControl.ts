/** `opgraph map pause|resume|resize <workflowId> <map>`: live control of a running map (src/client/control.ts). */
import { MapControlError, pauseMap, resizeMap, resumeMap, type MapAction, type MapControlReport } from '../client/control.ts';
import { connectClient } from '../client/connect.ts';
import { windowProblem } from '../engine/maps.ts';
import { errorMessage, EXIT, UsageError } from './errors.ts';
import { type CliIO, printer, withTimeout } from './io.ts';
import { requireServer } from './server.ts';
import { resolveWorkflowId } from './runs.ts';

/** How long to wait for the run to answer: it answers from its next workflow task, so a worker must serve it. */
const ANSWER_MS = 30_000;

/** Parses `--max-concurrency`: a whole number within the bounds, else a usage error naming them. */
export function parseWindow(raw: string | undefined): number {
  if (raw === undefined) throw new UsageError('resize needs --max-concurrency <n>: the new window of the map');
  const n = /^\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  const problem = windowProblem(n);
  if (problem) throw new UsageError(`--max-concurrency ${JSON.stringify(raw)}: ${problem}`);
  return n;
}

/** The lines printed for an answered request. */
export function reportLines(report: MapControlReport, workflowId: string): string[] {
  const name = `map ${report.map} of ${workflowId}`;
  const keys = report.inFlight !== undefined ? `${report.inFlight} in flight, ${report.waiting ?? 0} waiting` : undefined;
  const told = report.forwarded > 0 ? ` Told ${report.forwarded} workflow(s) running its keys.` : '';
  const lines: string[] = [];
  switch (report.action) {
    case 'pause':
      lines.push(
        report.wasPaused
          ? `${capital(name)} was already paused${keys ? ` (${keys})` : ''}.`
          : `Paused ${name}: no new key starts; keys in flight finish${keys ? ` (${keys})` : ''}.${told}`,
      );
      lines.push(`Resume with: opgraph map resume ${workflowId} ${report.map}`);
      break;
    case 'resume':
      lines.push(
        report.wasPaused
          ? `Resumed ${name}: keys start again, up to ${report.maxConcurrency} at once${keys ? ` (${keys})` : ''}.${told}`
          : `${capital(name)} was not paused; it runs up to ${report.maxConcurrency} keys at once.`,
      );
      break;
    case 'resize':
      lines.push(`Resized ${name}: window ${report.previousMaxConcurrency} → ${report.maxConcurrency}${keys ? ` (${keys})` : ''}.${told}`);
      if (report.paused) lines.push(`It is paused: resume with opgraph map resume ${workflowId} ${report.map}`);
      break;
  }
  return lines;
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Runs one map-control command; exit 2 when the run refused the request (fix the request), 1 when it could not be made. */
export async function mapCommand(
  action: MapAction,
  id: string,
  map: string,
  options: { maxConcurrency?: string },
  io: CliIO,
): Promise<number> {
  const window = action === 'resize' ? parseWindow(options.maxConcurrency) : undefined;
  const target = requireServer(io.env, `map ${action}`);
  const client = await connectClient(target.address, target.namespace);
  try {
    const workflowId = await resolveWorkflowId(client, target.namespace, id);
    const request =
      action === 'pause'
        ? pauseMap(client, workflowId, map)
        : action === 'resume'
          ? resumeMap(client, workflowId, map)
          : resizeMap(client, workflowId, map, window ?? 0);
    const report = await withTimeout(
      request,
      ANSWER_MS,
      `run ${workflowId} did not answer within ${ANSWER_MS / 1000}s — is a worker serving its task queue? (the request applies once one does)`,
    );
    for (const line of reportLines(report, workflowId)) printer(io.stdout)(line);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof MapControlError) {
      printer(io.stderr)(`opgraph: ${errorMessage(err)}`);
      return err.refused ? EXIT.usage : EXIT.failed;
    }
    throw err;
  } finally {
    await client.connection.close().catch(() => undefined);
  }
}
