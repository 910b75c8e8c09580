import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { clientConnectionOptions, targetForAddress } from '../connection.ts';
import { defaultDataConverter } from '../codec/index.ts';
import { OpgraphError } from '../dsl/errors.ts';
import { clientTracingInterceptors } from '../telemetry/tracing.ts';

export const UNREACHABLE_HINT =
  'Start a server (e.g. `temporal server start-dev`), fix TEMPORAL_ADDRESS, or unset it to let opgraph start a local dev server.';

/**
 * A client connection that fails within `timeoutMs` with the address in the message when nothing answers.
 * `options` (e.g. from `clientConnectionOptions(target)`) default to the environment's TLS / API-key
 * settings when `TEMPORAL_ADDRESS` is this address, else a plain-text connection.
 */
export async function connectClient(
  address: string,
  namespace = 'default',
  timeoutMs = 5_000,
  options?: ConnectionOptions,
): Promise<Client> {
  const resolved = options ?? clientConnectionOptions(targetForAddress(address, namespace));
  try {
    const connection = await Connection.connect({ ...resolved, address, connectTimeout: timeoutMs });
    return new Client({ connection, namespace, dataConverter: defaultDataConverter(), interceptors: clientTracingInterceptors() });
  } catch (err) {
    throw new OpgraphError(
      `cannot reach the Temporal server at ${address} within ${timeoutMs / 1000}s: ${(err as Error).message}. ${UNREACHABLE_HINT}`,
      {
        cause: err,
      },
    );
  }
}
