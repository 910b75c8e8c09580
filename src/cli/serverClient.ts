/** A Temporal client on TEMPORAL_ADDRESS for one command, closed when it is done. */
import type { Client } from '@temporalio/client';
import { connectClient } from '../client/connect.ts';
import type { CliIO } from './io.ts';
import { requireServer } from './server.ts';

/** Runs `body` with a client on TEMPORAL_ADDRESS (TEMPORAL_NAMESPACE); `command` names the command in the error when it is unset. */
export async function withClient<T>(io: CliIO, command: string, body: (client: Client, namespace: string) => Promise<T>): Promise<T> {
  const target = requireServer(io.env, command);
  const client = await connectClient(target.address, target.namespace);
  try {
    return await body(client, target.namespace);
  } finally {
    await client.connection.close().catch(() => undefined);
  }
}
