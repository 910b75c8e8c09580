/**
 * Live control of a running map, from code: pause it (no new key starts; keys in flight finish),
 * resume it, or resize its window. Each is a Temporal Update on the run's job workflow, which checks
 * the request (a known map, still running, a window from 1 to MAP_OPTION_BOUNDS.maxConcurrency) and
 * answers with the map's state; the CLI's `opgraph map pause|resume|resize` uses these.
 */
import type { Client } from '@temporalio/client';
import { MAP_CONTROL } from '../dsl/constants.ts';
import { OpgraphError } from '../dsl/errors.ts';
import { runUpdate } from './runUpdate.ts';
import { type MapAction, type MapControlReport, type MapControlRequest, windowProblem } from '../engine/maps.ts';

export type { MapAction, MapControlReport } from '../engine/maps.ts';

/** A map-control request the run refused (unknown map, finished map, bad window) or could not take (run not running). */
export class MapControlError extends OpgraphError {
  override readonly name = 'MapControlError';
  constructor(
    message: string,
    /** True when the run's validator refused the request: fix the request, not the environment. */
    readonly refused: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Stops admitting new keys of `map` in the run `workflowId`; keys in flight finish. */
export function pauseMap(client: Client, workflowId: string, map: string): Promise<MapControlReport> {
  return controlMap(client, workflowId, 'pause', { map });
}

/** Lets a paused map admit keys again. */
export function resumeMap(client: Client, workflowId: string, map: string): Promise<MapControlReport> {
  return controlMap(client, workflowId, 'resume', { map });
}

/** Changes how many keys (batches, in batch mode) of `map` run at once: 1 to MAP_OPTION_BOUNDS.maxConcurrency. */
export function resizeMap(client: Client, workflowId: string, map: string, maxConcurrency: number): Promise<MapControlReport> {
  const problem = windowProblem(maxConcurrency);
  if (problem) return Promise.reject(new MapControlError(`cannot resize map "${map}" of ${workflowId}: ${problem}`, true));
  return controlMap(client, workflowId, 'resize', { map, maxConcurrency });
}

const UPDATE_NAME: Record<MapAction, string> = { pause: MAP_CONTROL.pause, resume: MAP_CONTROL.resume, resize: MAP_CONTROL.resize };

async function controlMap(client: Client, workflowId: string, action: MapAction, request: MapControlRequest): Promise<MapControlReport> {
  return runUpdate(
    client,
    workflowId,
    (handle) => handle.executeUpdate<MapControlReport, [MapControlRequest]>(UPDATE_NAME[action], { args: [request] }),
    (problem, cause) =>
      problem.kind === 'refused'
        ? new MapControlError(`cannot ${action} map "${request.map}" of ${workflowId}: ${problem.detail}`, true, { cause })
        : problem.kind === 'not-found'
          ? new MapControlError(problem.message, false, { cause })
          : new MapControlError(
              `cannot ${action} map "${request.map}": run ${workflowId} is not running (status ${problem.status})`,
              false,
              {
                cause,
              },
            ),
  );
}
