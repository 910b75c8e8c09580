/**
 * The S3 store: values as objects `<prefix>/<sha256[0:2]>/<sha256>.json` in one bucket, through the
 * official AWS SDK v3 `S3Client` — AWS S3 or any S3-compatible server (MinIO, R2, Ceph…). Workers and
 * clients on different machines share it by using the same `OPGRAPH_STORAGE_URL` (see config.ts).
 *
 * The SDK is imported on first use, so processes on the filesystem store never load it.
 */
import { createHash } from 'node:crypto';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { OpgraphError } from '../dsl/errors.ts';
import type { StoredRef } from '../dsl/protocol.ts';
import { describeS3, type S3StoreConfig } from './config.ts';
import type { ValueStore } from './types.ts';

export interface S3StoreOptions extends Omit<S3StoreConfig, 'kind'> {
  /** Default: the SDK's credential chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, instance roles…). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Attempts per request, retries included (SDK default 3). */
  maxAttempts?: number;
}

type Sdk = typeof import('@aws-sdk/client-s3');

const CONNECT_TIMEOUT_MS = 10_000;

export class S3Store implements ValueStore {
  readonly name = 's3';
  readonly location: string;
  private connection: Promise<{ sdk: Sdk; client: S3Client }> | undefined;

  constructor(readonly options: S3StoreOptions) {
    this.location = describeS3(options);
  }

  /** The object key of a store key (`ab/ab12….json`). */
  objectKey(key: string): string {
    return this.options.prefix ? `${this.options.prefix}/${key}` : key;
  }

  async put(json: string): Promise<StoredRef> {
    const sha256 = createHash('sha256').update(json).digest('hex');
    const key = `${sha256.slice(0, 2)}/${sha256}.json`;
    const bytes = Buffer.byteLength(json);
    const { sdk, client } = await this.connect();
    const Key = this.objectKey(key);
    // Content-addressed: an object of the right size under this key is this value already (a PUT is atomic, never half-written).
    const existing = await client.send(new sdk.HeadObjectCommand({ Bucket: this.options.bucket, Key })).catch((err: unknown) => {
      if (statusOf(err) === 404) return undefined;
      throw this.failure(err, `check for ${key}`);
    });
    if (existing?.ContentLength !== bytes) {
      await client
        .send(new sdk.PutObjectCommand({ Bucket: this.options.bucket, Key, Body: json, ContentType: 'application/json' }))
        .catch((err: unknown) => {
          throw this.failure(err, `store ${key} (${bytes} bytes)`);
        });
    }
    return { $opgraphRef: 1, store: this.name, key, bytes, sha256 };
  }

  async get(ref: StoredRef): Promise<string> {
    if (ref.store !== this.name) {
      throw new OpgraphError(
        `stored value ${ref.key} (${ref.bytes} bytes) was written to the "${ref.store}" store, but this process uses the S3 store ` +
          `${this.location}. Every worker and client of a run must use the same store: set OPGRAPH_STORAGE_URL the same everywhere.`,
      );
    }
    const { sdk, client } = await this.connect();
    const json = await client
      .send(new sdk.GetObjectCommand({ Bucket: this.options.bucket, Key: this.objectKey(ref.key) }))
      .then(async (response) => {
        if (!response.Body) throw new Error('the response has no body');
        return response.Body.transformToString('utf-8');
      })
      .catch((err: unknown) => {
        if (errorName(err) === 'NoSuchKey') {
          throw new OpgraphError(
            `stored value ${ref.key} (${ref.bytes} bytes) is missing from the S3 store ${this.location} ` +
              `(object ${this.objectKey(ref.key)}). Every worker and client of a run must use the same OPGRAPH_STORAGE_URL and endpoint, ` +
              'and the objects must not be deleted while runs that wrote them can still be read.',
            { cause: err },
          );
        }
        throw this.failure(err, `read ${ref.key} (${ref.bytes} bytes)`);
      });
    const sha256 = createHash('sha256').update(json).digest('hex');
    if (sha256 !== ref.sha256) {
      throw new OpgraphError(`stored value ${this.objectKey(ref.key)} in ${this.location} is corrupt: sha256 ${sha256} ≠ ${ref.sha256}`);
    }
    return json;
  }

  async putNamed(name: string, json: string): Promise<void> {
    const { sdk, client } = await this.connect();
    const Key = this.objectKey(`named/${name}`);
    await client
      .send(new sdk.PutObjectCommand({ Bucket: this.options.bucket, Key, Body: json, ContentType: 'application/json' }))
      .catch((err: unknown) => {
        throw this.failure(err, `store ${name}`);
      });
  }

  async getNamed(name: string): Promise<string | undefined> {
    const { sdk, client } = await this.connect();
    return client
      .send(new sdk.GetObjectCommand({ Bucket: this.options.bucket, Key: this.objectKey(`named/${name}`) }))
      .then(async (response) => response.Body?.transformToString('utf-8'))
      .catch((err: unknown) => {
        if (errorName(err) === 'NoSuchKey' || statusOf(err) === 404) return undefined;
        throw this.failure(err, `read ${name}`);
      });
  }

  async listNamed(prefix: string): Promise<string[]> {
    const { sdk, client } = await this.connect();
    const base = this.objectKey('named/');
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await client
        .send(
          new sdk.ListObjectsV2Command({
            Bucket: this.options.bucket,
            Prefix: `${base}${prefix}`,
            ...(token ? { ContinuationToken: token } : {}),
          }),
        )
        .catch((err: unknown) => {
          throw this.failure(err, `list ${prefix}`);
        });
      for (const object of page.Contents ?? []) if (object.Key) names.push(object.Key.slice(base.length));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return names;
  }

  /** The bucket exists and these credentials may use it (a HEAD request): fails with what to set. */
  async check(): Promise<void> {
    const { sdk, client } = await this.connect();
    await client.send(new sdk.HeadBucketCommand({ Bucket: this.options.bucket })).catch((err: unknown) => {
      throw this.failure(err, 'reach the bucket');
    });
  }

  /** Closes the client's connections (the process may exit without it). */
  destroy(): void {
    const connection = this.connection;
    this.connection = undefined;
    void connection?.then(({ client }) => client.destroy()).catch(() => undefined);
  }

  private connect(): Promise<{ sdk: Sdk; client: S3Client }> {
    this.connection ??= import('@aws-sdk/client-s3').then((sdk) => {
      const { endpoint, region, forcePathStyle, credentials, maxAttempts } = this.options;
      const config: S3ClientConfig = {
        forcePathStyle,
        ...(endpoint ? { endpoint } : {}),
        ...(region ? { region } : {}),
        ...(credentials ? { credentials } : {}),
        ...(maxAttempts ? { maxAttempts } : {}),
        requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS },
        // We check every value's sha256 ourselves; the SDK's default extra checksums (CRC32 headers on every
        // request) are not understood by every S3-compatible server.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      };
      return { sdk, client: new sdk.S3Client(config) };
    });
    return this.connection;
  }

  /** An SDK error as: what failed, where, why, and what to set. */
  private failure(err: unknown, action: string): OpgraphError {
    const name = errorName(err);
    const status = statusOf(err);
    const message = err instanceof Error ? err.message : String(err);
    const code = (err as { code?: unknown }).code;
    const where = `S3 store ${this.location}: cannot ${action}`;
    const bucket = this.options.bucket;
    let fix: string;
    if (name === 'CredentialsProviderError' || /could not load credentials/i.test(message)) {
      fix = 'no AWS credentials were found. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)';
    } else if (/region is missing/i.test(message)) {
      fix = "no region is configured. Set AWS_REGION to the bucket's region (e.g. us-east-1)";
    } else if (name === 'NoSuchBucket' || (status === 404 && action === 'reach the bucket')) {
      fix =
        `the bucket "${bucket}" does not exist. Create it (\`aws s3 mb s3://${bucket}\`, or \`mc mb <alias>/${bucket}\` on MinIO) ` +
        'or fix the bucket in OPGRAPH_STORAGE_URL';
    } else if (status === 403 || ['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'Forbidden'].includes(name)) {
      fix =
        `access denied (${name === 'Unknown' ? `HTTP ${status}` : name}). Check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and ` +
        `that they may read and write s3://${bucket}`;
    } else if (status === 301 || name === 'PermanentRedirect' || name === 'AuthorizationHeaderMalformed') {
      fix = `the bucket is in another region (${name}). Set AWS_REGION to the bucket's region`;
    } else if (typeof code === 'string' && ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET'].includes(code)) {
      fix =
        `the endpoint ${this.options.endpoint ?? '(AWS S3)'} cannot be reached (${code}). ` +
        'Check AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL and that the server is running';
    } else {
      fix = `${name}${status ? ` (HTTP ${status})` : ''}: ${message}`;
    }
    return new OpgraphError(`${where}: ${fix}.`, { cause: err });
  }
}

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : 'Error';
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}
