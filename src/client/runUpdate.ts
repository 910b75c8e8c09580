/**
 * Sends a Temporal Update to a run's job workflow and tells why one did not go through: the run's
 * validator refused it (with its message), there is no such workflow, or the run is not running.
 * Map control (src/client/control.ts) and redrive (src/client/redrive.ts) word these their own way.
 */
import { type Client, type WorkflowHandle, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';

export type UpdateProblem =
  | { readonly kind: 'refused'; readonly detail: string }
  | { readonly kind: 'not-found'; readonly message: string }
  | { readonly kind: 'not-running'; readonly status: string };

export async function runUpdate<R>(
  client: Client,
  workflowId: string,
  send: (handle: WorkflowHandle) => Promise<R>,
  /** The error to throw for a problem (`cause`: the SDK's error). */
  problem: (problem: UpdateProblem, cause: unknown) => Error,
): Promise<R> {
  const handle = client.workflow.getHandle(workflowId);
  try {
    return await send(handle);
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw problem({ kind: 'refused', detail: err.cause?.message ?? err.message }, err);
    const status = await handle
      .describe()
      .then((d) => d.status.name)
      .catch((e: unknown) => (e instanceof WorkflowNotFoundError ? 'NOT_FOUND' : undefined));
    if (status === 'NOT_FOUND' || (status === undefined && err instanceof WorkflowNotFoundError)) {
      const message = `no workflow "${workflowId}" in namespace "${client.options.namespace}" (check the id printed by \`opgraph launch\`, and TEMPORAL_NAMESPACE)`;
      throw problem({ kind: 'not-found', message }, err);
    }
    if (status !== undefined && status !== 'RUNNING') throw problem({ kind: 'not-running', status }, err);
    throw err;
  }
}
