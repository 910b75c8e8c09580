/**
 * Which store the environment selects (src/store/config.ts), and the errors for settings that cannot
 * work. No server needed: test/s3 runs the S3 store against a real MinIO.
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isUsageError } from '../../src/cli/errors.ts';
import { parseStorageUrl, StoreConfigError, storeConfigFromEnv } from '../../src/store/config.ts';
import { FileSystemStore, S3Store, storeFromEnv } from '../../src/store/store.ts';

describe('store selection from the environment', () => {
  it('keeps the filesystem store by default, under OPGRAPH_STORAGE_DIR', () => {
    expect(storeConfigFromEnv({})).toEqual({ kind: 'fs', root: '.opgraph/storage' });
    expect(storeConfigFromEnv({ OPGRAPH_STORAGE_DIR: '/data/x' })).toEqual({ kind: 'fs', root: '/data/x' });
    // Compose passes `${VAR:-}` through as an empty string: that is "unset".
    expect(storeConfigFromEnv({ OPGRAPH_STORAGE_URL: '', OPGRAPH_STORAGE_DIR: '' })).toEqual({ kind: 'fs', root: '.opgraph/storage' });
    const store = storeFromEnv({ OPGRAPH_STORAGE_DIR: '/data/x' });
    expect(store).toBeInstanceOf(FileSystemStore);
    expect(store.location).toBe(resolve('/data/x'));
  });

  it('takes a file:// URL as a filesystem store', () => {
    expect(storeConfigFromEnv({ OPGRAPH_STORAGE_URL: 'file:///srv/opgraph' })).toEqual({ kind: 'fs', root: '/srv/opgraph' });
  });

  it('selects the S3 store for s3://bucket/prefix, with AWS as the default endpoint', () => {
    expect(storeConfigFromEnv({ OPGRAPH_STORAGE_URL: 's3://my-bucket/runs/prod/', AWS_REGION: 'eu-west-1' })).toEqual({
      kind: 's3',
      bucket: 'my-bucket',
      prefix: 'runs/prod',
      region: 'eu-west-1',
      forcePathStyle: false,
    });
    expect(parseStorageUrl('s3://my.bucket')).toEqual({ kind: 's3', bucket: 'my.bucket', prefix: '' });
    expect(parseStorageUrl('s3://b12//a//b/')).toEqual({ kind: 's3', bucket: 'b12', prefix: 'a/b' });
    // No region: left to the SDK (AWS_PROFILE's region), which fails with "set AWS_REGION" when there is none.
    expect(storeConfigFromEnv({ OPGRAPH_STORAGE_URL: 's3://my-bucket' })).not.toHaveProperty('region');
    const store = storeFromEnv({ OPGRAPH_STORAGE_URL: 's3://my-bucket/runs', AWS_REGION: 'eu-west-1' });
    expect(store).toBeInstanceOf(S3Store);
    expect(store.location).toBe('s3://my-bucket/runs');
    expect((store as S3Store).objectKey('ab/abc.json')).toBe('runs/ab/abc.json');
  });

  it('uses AWS_ENDPOINT_URL_S3 over AWS_ENDPOINT_URL, with path-style URLs and a default region for S3-compatible servers', () => {
    const env = {
      OPGRAPH_STORAGE_URL: 's3://opgraph/x',
      AWS_ENDPOINT_URL: 'http://generic:1',
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000/',
    };
    expect(storeConfigFromEnv(env)).toEqual({
      kind: 's3',
      bucket: 'opgraph',
      prefix: 'x',
      endpoint: 'http://127.0.0.1:9000',
      region: 'us-east-1',
      forcePathStyle: true,
    });
    expect(storeConfigFromEnv({ OPGRAPH_STORAGE_URL: 's3://opgraph', AWS_ENDPOINT_URL: 'https://s3.example.com' })).toMatchObject({
      endpoint: 'https://s3.example.com',
      forcePathStyle: true,
    });
    // Virtual-hosted style on a custom endpoint (e.g. Cloudflare R2 or a DNS-configured MinIO): OPGRAPH_S3_FORCE_PATH_STYLE=0.
    expect(storeConfigFromEnv({ ...env, OPGRAPH_S3_FORCE_PATH_STYLE: '0' })).toMatchObject({ forcePathStyle: false });
    expect(storeConfigFromEnv({ OPGRAPH_STORAGE_URL: 's3://opgraph', OPGRAPH_S3_FORCE_PATH_STYLE: 'true' })).toMatchObject({
      forcePathStyle: true,
    });
    expect(storeFromEnv(env).location).toBe('s3://opgraph/x at http://127.0.0.1:9000');
  });

  it.each([
    ['opgraph', /has no scheme.*s3:\/\/<bucket>\/<prefix>/],
    ['gs://bucket/x', /scheme "gs:" is not supported/],
    ['s3:/bucket', /two slashes/],
    ['s3://', /bucket name is missing/],
    ['s3:///prefix', /bucket name is missing/],
    ['s3://My_Bucket/x', /"My_Bucket" is not a valid bucket name/],
    ['s3://ab', /"ab" is not a valid bucket name/],
    ['s3://localhost:9000/bucket', /"localhost:9000" is not a valid bucket name.*AWS_ENDPOINT_URL_S3/],
    ['s3://key:secret@bucket/x', /credentials do not belong in the URL.*AWS_ACCESS_KEY_ID/],
    ['s3://bucket/x?region=eu', /query strings/],
    ['s3://bucket/a/../b', /"\.\." segments/],
  ])('rejects OPGRAPH_STORAGE_URL=%s, naming the URL and what to set', (url, reason) => {
    const run = () => storeFromEnv({ OPGRAPH_STORAGE_URL: url });
    expect(run).toThrow(reason);
    expect(run).toThrow(`OPGRAPH_STORAGE_URL="${url}" is not a valid store URL`);
    expect(run).toThrow(/Set OPGRAPH_STORAGE_URL=s3:\/\/<bucket>\/<prefix>.*AWS_ACCESS_KEY_ID.*or unset it/);
  });

  it('is a usage error for the CLI (exit code 2: restarting a worker cannot fix it)', () => {
    let caught: unknown;
    try {
      storeFromEnv({ OPGRAPH_STORAGE_URL: 's3:/x' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(StoreConfigError);
    expect(isUsageError(caught)).toBe(true);
  });

  it('rejects malformed endpoint, region and path-style settings, naming the variable', () => {
    const url = 's3://opgraph/x';
    expect(() => storeFromEnv({ OPGRAPH_STORAGE_URL: url, AWS_ENDPOINT_URL_S3: 'localhost:9000' })).toThrow(
      /OPGRAPH_STORAGE_URL=s3:\/\/opgraph\/x selects the S3 store, but AWS_ENDPOINT_URL_S3="localhost:9000" must be an http:\/\/ or https:\/\/ URL/,
    );
    expect(() => storeFromEnv({ OPGRAPH_STORAGE_URL: url, AWS_ENDPOINT_URL: 'ftp://host' })).toThrow(
      /AWS_ENDPOINT_URL="ftp:\/\/host" must be/,
    );
    expect(() => storeFromEnv({ OPGRAPH_STORAGE_URL: url, AWS_REGION: 'EU West' })).toThrow(/AWS_REGION="EU West" must be a region name/);
    expect(() => storeFromEnv({ OPGRAPH_STORAGE_URL: url, OPGRAPH_S3_FORCE_PATH_STYLE: 'yes' })).toThrow(
      /OPGRAPH_S3_FORCE_PATH_STYLE="yes" must be 1, true, 0 or false/,
    );
  });

  it('takes the access keys from the environment it is given, both or neither', () => {
    const base = { OPGRAPH_STORAGE_URL: 's3://opgraph', AWS_REGION: 'us-east-1' };
    const store = storeFromEnv({ ...base, AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 'secret' }) as S3Store;
    expect(store.options.credentials).toEqual({ accessKeyId: 'id', secretAccessKey: 'secret' });
    expect((storeFromEnv(base) as S3Store).options.credentials).toBeUndefined();
    expect(() => storeFromEnv({ ...base, AWS_ACCESS_KEY_ID: 'id' })).toThrow(
      /only AWS_ACCESS_KEY_ID is set\. Set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither/,
    );
  });

  it('refuses a reference written by another kind of store, saying what to align', async () => {
    const fs = new FileSystemStore('/nonexistent');
    const s3Ref = { $opgraphRef: 1 as const, store: 's3', key: 'ab/ab.json', bytes: 10, sha256: 'ab' };
    await expect(fs.get(s3Ref)).rejects.toThrow(
      /written to the "s3" store.*filesystem store under \/nonexistent.*OPGRAPH_STORAGE_URL the same everywhere/,
    );
    const s3 = new S3Store({ bucket: 'opgraph', prefix: '', forcePathStyle: true });
    await expect(s3.get({ ...s3Ref, store: 'fs' })).rejects.toThrow(/written to the "fs" store.*S3 store s3:\/\/opgraph/);
  });
});
