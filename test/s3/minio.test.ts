/**
 * src/server/minio.ts: a MinIO of its own (besides the suite's), started and stopped cleanly — nothing
 * left running, a temporary data directory removed, a given one kept with its objects.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveMinio, startMinio } from '../../src/server/minio.ts';
import { S3Store } from '../../src/store/store.ts';
import './support.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function storeOn(server: { endpoint: string; accessKeyId: string; secretAccessKey: string; region: string }, bucket: string): S3Store {
  return new S3Store({
    bucket,
    prefix: 'p',
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
  });
}

describe('startMinio', () => {
  it('serves S3 on a loopback port with generated credentials, and stop() leaves nothing behind', async () => {
    // The suite's global setup has built (or found) the binary: no build here.
    const binaryPath = await resolveMinio({ allowBuild: false });
    const server = await startMinio({ binaryPath, buckets: ['own-bucket'] });
    expect(server.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.secretAccessKey.length).toBeGreaterThanOrEqual(16);
    expect(alive(server.pid)).toBe(true);
    expect(existsSync(server.dataDir)).toBe(true);
    const store = storeOn(server, 'own-bucket');
    const ref = await store.put('"hello"');
    expect(await store.get(ref)).toBe('"hello"');
    store.destroy();

    await server.stop();
    await server.stop(); // idempotent
    expect(alive(server.pid)).toBe(false);
    expect(existsSync(server.dataDir)).toBe(false);
  });

  it('keeps a given data directory, objects included, for the next start', async () => {
    const binaryPath = await resolveMinio({ allowBuild: false });
    const dataDir = mkdtempSync(join(tmpdir(), 'opgraph-minio-kept-'));
    try {
      const credentials = { accessKeyId: 'kept-user', secretAccessKey: 'kept-password-123' };
      const first = await startMinio({ binaryPath, dataDir, ...credentials, buckets: ['kept'] });
      const ref = await storeOn(first, 'kept').put('"still here"');
      await first.stop();
      expect(existsSync(dataDir)).toBe(true);

      const second = await startMinio({ binaryPath, dataDir, ...credentials, buckets: ['kept'] }); // the bucket exists: fine
      try {
        expect(await storeOn(second, 'kept').get(ref)).toBe('"still here"');
      } finally {
        await second.stop();
      }
      expect(alive(second.pid)).toBe(false);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('says what to do when the binary it is pointed at is not there', async () => {
    await expect(resolveMinio({ env: { OPGRAPH_MINIO_PATH: '/nonexistent/minio' } })).rejects.toThrow(
      /OPGRAPH_MINIO_PATH is set to "\/nonexistent\/minio", but that is not an executable file/,
    );
    await expect(startMinio({ binaryPath: await resolveMinio({ allowBuild: false }), secretAccessKey: 'short' })).rejects.toThrow(
      /at least 8 characters/,
    );
  });
});
