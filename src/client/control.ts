/**
 * Live control of a running map, from code: pause it (no new key starts; keys in flight finish),
 * resume it, or resize its window. Each is a Temporal Update on the run's job workflow, which checks
 * the request (a known map, still running, a window from 1 to MAP_OPTION_BOUNDS.maxConcurrency) and
 * answers with the map's state; the CLI's `opgraph map pause|resume|resize` uses these.
 */
import { type Client, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { MAP_CONTROL } from '../dsl/constants.ts';
import { OpgraphError } from '../dsl/errors.ts';
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
  const handle = client.workflow.getHandle(workflowId);
  try {
    return await handle.executeUpdate<MapControlReport, [MapControlRequest]>(UPDATE_NAME[action], { args: [request] });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      throw new MapControlError(`cannot ${action} map "${request.map}" of ${workflowId}: ${err.cause?.message ?? err.message}`, true, {
        cause: err,
      });
    }
    const status = await handle
      .describe()
      .then((d) => d.status.name)
      .catch((e: unknown) => (e instanceof WorkflowNotFoundError ? 'NOT_FOUND' : undefined));
    if (status === 'NOT_FOUND' || (status === undefined && err instanceof WorkflowNotFoundError)) {
      throw new MapControlError(
        `no workflow "${workflowId}" in namespace "${client.options.namespace}" (check the id printed by \`opgraph launch\`, and TEMPORAL_NAMESPACE)`,
        false,
        { cause: err },
      );
    }
    if (status !== undefined && status !== 'RUNNING') {
      throw new MapControlError(`cannot ${action} map "${request.map}": run ${workflowId} is not running (status ${status})`, false, {
        cause: err,
      });
    }
    throw err;
  }
}
