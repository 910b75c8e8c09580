import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connectClient } from '../../src/client/connect.ts';
import { connectNative } from '../../src/worker/createWorker.ts';

/** A loopback port with nothing listening. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  await new Promise<void>((r) => server.close(() => r()));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

describe('Temporal unreachable', () => {
  it('the worker connection fails within seconds, naming the address and what to do', async () => {
    const address = `127.0.0.1:${await closedPort()}`;
    const started = Date.now();
    await expect(connectNative(address)).rejects.toThrow(new RegExp(`cannot reach the Temporal server at ${address}.*TEMPORAL_ADDRESS`));
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('the client connection fails within its timeout, naming the address', async () => {
    const address = `127.0.0.1:${await closedPort()}`;
    await expect(connectClient(address, 'default', 2_000)).rejects.toThrow(
      new RegExp(`cannot reach the Temporal server at ${address} within 2s`),
    );
  });
});
