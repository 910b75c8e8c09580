/**
 * The S3 store against a real S3-compatible server: the suite's MinIO (test/setup/minio.ts), never a mock.
 */
import { createHash, randomBytes } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createBucket, s3Env } from '../../src/server/minio.ts';
import { Keyring, parseKeys } from '../../src/codec/keys.ts';
import { isStoredRef, materialize, offload, S3Store, SealedStore, storeFromEnv, type StoredRef } from '../../src/store/store.ts';
import { suiteMinio, uniqueBucket } from './support.ts';

const minio = suiteMinio();
const bucket = uniqueBucket('store');
const raw = new S3Client({
  endpoint: minio.endpoint,
  region: minio.region,
  forcePathStyle: true,
  credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
});

function storeAt(prefix: string, overrides: Partial<ConstructorParameters<typeof S3Store>[0]> = {}): S3Store {
  return new S3Store({
    bucket,
    prefix,
    endpoint: minio.endpoint,
    region: minio.region,
    forcePathStyle: true,
    credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
    ...overrides,
  });
}

async function objectKeys(prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await raw.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((o) => o.Key ?? ''));
    token = page.NextContinuationToken;
  } while (token);
  return keys.sort();
}

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const stores: S3Store[] = [];
const tracked = (store: S3Store) => (stores.push(store), store);

beforeAll(async () => {
  await createBucket(minio, bucket);
});
afterAll(() => {
  for (const store of stores) store.destroy();
  raw.destroy();
});

describe('S3 store (MinIO)', () => {
  it('stores a value as <prefix>/<sha[0:2]>/<sha>.json and reads it back', async () => {
    const store = tracked(storeAt('unit/basic'));
    const json = JSON.stringify({ hello: 'world', n: [1, 2, 3] });
    const ref = await store.put(json);
    expect(ref).toEqual({
      $opgraphRef: 1,
      store: 's3',
      key: `${sha(json).slice(0, 2)}/${sha(json)}.json`,
      bytes: json.length,
      sha256: sha(json),
    });
    expect(await objectKeys('unit/basic/')).toEqual([`unit/basic/${ref.key}`]);
    expect(await store.get(ref)).toBe(json);
    await expect(store.check()).resolves.toBeUndefined();
  });

  it('is content-addressed: the same value from 20 concurrent writers is one object', async () => {
    const store = tracked(storeAt('unit/concurrent'));
    const json = JSON.stringify('c'.repeat(50_000));
    const refs = await Promise.all(Array.from({ length: 20 }, () => store.put(json)));
    expect(new Set(refs.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(await objectKeys('unit/concurrent/')).toHaveLength(1);
    expect(await store.get(refs[0] as StoredRef)).toBe(json);
  });

  it('offloads values above the threshold and materializes them (also inside lists)', async () => {
    const store = tracked(storeAt('unit/offload'));
    expect(await offload({ small: true }, store, 1024)).toEqual({ small: true });
    const big = 'x'.repeat(5_000);
    const ref = await offload(big, store, 1024);
    expect(isStoredRef(ref)).toBe(true);
    expect(ref).toMatchObject({ store: 's3', bytes: 5_002 });
    expect(await materialize([ref, 3], store)).toEqual([big, 3]);
  });

  it('round-trips a large value (24 MB of JSON) intact', async () => {
    const store = tracked(storeAt('unit/large'));
    const value = Array.from({ length: 60_000 }, (_, i) => ({ i, text: `${i}`.padStart(380, '·') }));
    const json = JSON.stringify(value);
    expect(Buffer.byteLength(json)).toBeGreaterThan(24e6);
    const started = Date.now();
    const ref = await store.put(json);
    const back = await store.get(ref);
    expect(back.length).toBe(json.length);
    expect(sha(back)).toBe(sha(json));
    expect(JSON.parse(back)).toEqual(value);
    console.error(`[s3] ${(ref.bytes / 1e6).toFixed(1)} MB put + get in ${Date.now() - started} ms`);
  });

  it('keeps prefixes apart: a value under one prefix is not found under another, nor at the bucket root', async () => {
    const a = tracked(storeAt('tenant-a'));
    const b = tracked(storeAt('tenant-b/nested'));
    const root = tracked(storeAt(''));
    const ref = await a.put(JSON.stringify('only in a'));
    expect(await a.get(ref)).toBe('"only in a"');
    await expect(b.get(ref)).rejects.toThrow(
      new RegExp(
        `stored value ${ref.key} \\(11 bytes\\) is missing from the S3 store s3://${bucket}/tenant-b/nested at ${minio.endpoint} ` +
          `\\(object tenant-b/nested/${ref.key}\\)\\. Every worker and client of a run must use the same OPGRAPH_STORAGE_URL`,
      ),
    );
    await expect(root.get(ref)).rejects.toThrow(/is missing from the S3 store/);
    const rootRef = await root.put(JSON.stringify('at the root'));
    expect(await objectKeys(rootRef.key.slice(0, 2))).toContain(rootRef.key);
    expect(await objectKeys('tenant-b/')).toEqual([]);
  });

  it('with codec keys, objects hold sealed text (no clear value); they read back, also after key rotation', async () => {
    const k1 = `k1=${randomBytes(32).toString('base64')}`;
    const k2 = `k2=${randomBytes(32).toString('base64')}`;
    const secret = `s3-secret-${randomBytes(8).toString('hex')}`;
    const sealed = new SealedStore(tracked(storeAt('unit/sealed')), new Keyring(parseKeys(k1, 'test')));
    const ref = await sealed.put(JSON.stringify({ secret }));
    const object = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: `unit/sealed/${ref.key}` }));
    const body = await object.Body!.transformToString();
    expect(body).toMatch(/^opgraph-aes256gcm:v1:k1:/);
    expect(body).not.toContain(secret);
    const rotated = new SealedStore(tracked(storeAt('unit/sealed')), new Keyring(parseKeys(`${k1},${k2}`, 'test')));
    expect(await materialize(ref, rotated)).toEqual({ secret });
    await expect(materialize(ref, tracked(storeAt('unit/sealed')))).rejects.toThrow(
      /encrypted with key id "k1", but this process has no codec keys/,
    );
  });

  it('detects a corrupt object', async () => {
    const store = tracked(storeAt('unit/corrupt'));
    const ref = await store.put(JSON.stringify('z'.repeat(3_000)));
    await raw.send(new PutObjectCommand({ Bucket: bucket, Key: store.objectKey(ref.key), Body: '"tampered"' }));
    await expect(store.get(ref)).rejects.toThrow(/stored value unit\/corrupt\/.* is corrupt: sha256 [0-9a-f]{64} ≠/);
  });

  it('is selected and configured by the environment (OPGRAPH_STORAGE_URL and the AWS_* variables)', async () => {
    const store = storeFromEnv(s3Env(minio, `s3://${bucket}/from-env`)) as S3Store;
    tracked(store);
    expect(store).toBeInstanceOf(S3Store);
    expect(store.location).toBe(`s3://${bucket}/from-env at ${minio.endpoint}`);
    await store.check();
    const ref = await store.put('"via env"');
    expect(await objectKeys('from-env/')).toEqual([`from-env/${ref.key}`]);
    expect(await store.get(ref)).toBe('"via env"');
  });

  describe('says what to set when the store cannot be used', () => {
    it('a missing bucket', async () => {
      const store = tracked(storeAt('x', { bucket: 'no-such-bucket-here' }));
      await expect(store.check()).rejects.toThrow(
        `S3 store s3://no-such-bucket-here/x at ${minio.endpoint}: cannot reach the bucket: the bucket "no-such-bucket-here" does not exist. ` +
          'Create it (`aws s3 mb s3://no-such-bucket-here`, or `mc mb <alias>/no-such-bucket-here` on MinIO) or fix the bucket in OPGRAPH_STORAGE_URL.',
      );
      await expect(store.put('"v"')).rejects.toThrow(/the bucket "no-such-bucket-here" does not exist/);
    });

    it('wrong credentials', async () => {
      const store = tracked(storeAt('x', { credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: 'not-the-secret' } }));
      await expect(store.check()).rejects.toThrow(
        /cannot reach the bucket: access denied \(HTTP 403\)\. Check AWS_ACCESS_KEY_ID \/ AWS_SECRET_ACCESS_KEY/,
      );
      // A HEAD answer has no body, so no error code: the status says it.
      await expect(store.put('"v"')).rejects.toThrow(/cannot check for .*: access denied \(HTTP 403\)/);
      await expect(store.get(await tracked(storeAt('x')).put('"w"'))).rejects.toThrow(
        /cannot read .*: access denied \(SignatureDoesNotMatch\)/,
      );
    });

    it('no credentials at all', async () => {
      // Nothing for the SDK's chain to find: no keys, no profile files, no instance metadata.
      vi.stubEnv('AWS_ACCESS_KEY_ID', '');
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', '');
      vi.stubEnv('AWS_PROFILE', '');
      vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', '/nonexistent/credentials');
      vi.stubEnv('AWS_CONFIG_FILE', '/nonexistent/config');
      vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
      vi.stubEnv('AWS_CONTAINER_CREDENTIALS_FULL_URI', '');
      vi.stubEnv('AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', '');
      vi.stubEnv('AWS_WEB_IDENTITY_TOKEN_FILE', '');
      try {
        const store = tracked(
          storeFromEnv({ ...s3Env(minio, `s3://${bucket}/x`), AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' }) as S3Store,
        );
        await expect(store.check()).rejects.toThrow(
          /cannot reach the bucket: no AWS credentials were found\. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \(or AWS_PROFILE\)/,
        );
      } finally {
        vi.unstubAllEnvs();
      }
    });

    it('an endpoint where nothing listens', async () => {
      const store = tracked(storeAt('x', { endpoint: 'http://127.0.0.1:1', maxAttempts: 1 }));
      await expect(store.check()).rejects.toThrow(
        /S3 store s3:\/\/.* at http:\/\/127\.0\.0\.1:1: cannot reach the bucket: the endpoint http:\/\/127\.0\.0\.1:1 cannot be reached \(ECONNREFUSED\)\. Check AWS_ENDPOINT_URL_S3/,
      );
    });
  });
});
