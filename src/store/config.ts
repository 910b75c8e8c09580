/**
 * Which value store a process uses, from its environment — the one place that decides it
 * (`getDefaultStore()` in store.ts builds the store from this).
 *
 *   OPGRAPH_STORAGE_URL unset        the filesystem store under OPGRAPH_STORAGE_DIR (default `.opgraph/storage`)
 *   OPGRAPH_STORAGE_URL=file:///dir  the filesystem store under /dir
 *   OPGRAPH_STORAGE_URL=s3://bucket/prefix
 *                                    an S3 (or S3-compatible: MinIO, R2, Ceph…) bucket, objects under `prefix/`.
 *                                    The AWS SDK's own variables say where and as whom: AWS_ENDPOINT_URL_S3 or
 *                                    AWS_ENDPOINT_URL (unset: AWS itself), AWS_REGION, AWS_ACCESS_KEY_ID /
 *                                    AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or any other source of the SDK's
 *                                    default credential chain). OPGRAPH_S3_FORCE_PATH_STYLE=1|0 chooses path-style
 *                                    URLs (`endpoint/bucket/key`, what MinIO needs); default: on when an endpoint
 *                                    is set, off for AWS.
 */
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { OpgraphError } from '../dsl/errors.ts';

export const DEFAULT_STORAGE_DIR = '.opgraph/storage';

export interface FileSystemStoreConfig {
  readonly kind: 'fs';
  readonly root: string;
}

export interface S3StoreConfig {
  readonly kind: 's3';
  readonly bucket: string;
  /** Key prefix without leading or trailing slashes; '' for the bucket's root. */
  readonly prefix: string;
  /** An S3-compatible endpoint (`http://127.0.0.1:9000`); undefined for AWS S3. */
  readonly endpoint?: string;
  /** Undefined: the SDK's own lookup (AWS_REGION, the profile's region). */
  readonly region?: string;
  readonly forcePathStyle: boolean;
}

export type StoreConfig = FileSystemStoreConfig | S3StoreConfig;

/** A store setting in the environment that cannot work (a malformed URL, endpoint, region…): fix the setting, retrying will not help. */
export class StoreConfigError extends OpgraphError {
  override readonly name = 'StoreConfigError';
}

const WHAT_TO_SET =
  'Set OPGRAPH_STORAGE_URL=s3://<bucket>/<prefix> (endpoint and credentials from AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, ' +
  'AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or unset it to keep large values in the filesystem store ' +
  'under OPGRAPH_STORAGE_DIR.';

/** S3's bucket naming rules (AWS and MinIO alike): 3–63 characters, lowercase letters, digits, dots and hyphens. */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function invalidUrl(url: string, reason: string): StoreConfigError {
  return new StoreConfigError(`OPGRAPH_STORAGE_URL="${url}" is not a valid store URL: ${reason}. ${WHAT_TO_SET}`);
}

/** Parses `OPGRAPH_STORAGE_URL` alone (no endpoint settings): the bucket and prefix, or a directory. */
export function parseStorageUrl(url: string): { kind: 's3'; bucket: string; prefix: string } | FileSystemStoreConfig {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'file') {
    try {
      return { kind: 'fs', root: fileURLToPath(url) };
    } catch (err) {
      throw invalidUrl(url, `${(err as Error).message} (a file URL is file:///absolute/path)`);
    }
  }
  if (scheme === undefined) throw invalidUrl(url, 'it has no scheme (expected s3://<bucket>/<prefix>)');
  if (scheme !== 's3') throw invalidUrl(url, `the scheme "${scheme}:" is not supported (only s3:// and file://)`);
  const m = /^s3:\/\/([^/]*)(?:\/(.*))?$/i.exec(url);
  if (!m) throw invalidUrl(url, 'expected s3://<bucket>/<prefix> (two slashes after "s3:")');
  const [, authority = '', path = ''] = m;
  if (/[?#]/.test(url)) {
    throw invalidUrl(url, 'query strings and fragments are not supported; settings come from the environment (AWS_*, OPGRAPH_S3_*)');
  }
  if (authority.includes('@')) {
    throw invalidUrl(url, 'credentials do not belong in the URL; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
  }
  if (authority === '') throw invalidUrl(url, 'the bucket name is missing');
  if (!BUCKET.test(authority) || authority.includes('..') || /^\d+\.\d+\.\d+\.\d+$/.test(authority)) {
    throw invalidUrl(
      url,
      `"${authority}" is not a valid bucket name (3–63 characters: lowercase letters, digits, dots and hyphens, ` +
        'starting and ending with a letter or digit; an S3 endpoint goes in AWS_ENDPOINT_URL_S3, not in the URL)',
    );
  }
  const prefix = path.split('/').filter(Boolean).join('/');
  if (prefix.split('/').some((segment) => segment === '.' || segment === '..')) {
    throw invalidUrl(url, 'the prefix must not contain "." or ".." segments');
  }
  return { kind: 's3', bucket: authority, prefix };
}

/** Empty means unset: compose passes `${VAR:-}` through as ''. */
const optional = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === '' ? undefined : v), schema.optional());

const HttpUrl = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL, e.g. http://127.0.0.1:9000' });

const S3Env = z.object({
  AWS_ENDPOINT_URL_S3: optional(HttpUrl),
  AWS_ENDPOINT_URL: optional(HttpUrl),
  AWS_REGION: optional(z.string().regex(/^[a-z0-9-]+$/, 'must be a region name such as us-east-1')),
  OPGRAPH_S3_FORCE_PATH_STYLE: optional(
    z.enum(['1', '0', 'true', 'false'], { error: 'must be 1, true, 0 or false' }).transform((v) => v === '1' || v === 'true'),
  ),
});

/** The store a process with environment `env` uses. Throws an OpgraphError naming the variable to fix. */
export function storeConfigFromEnv(env: NodeJS.ProcessEnv = process.env): StoreConfig {
  const url = env.OPGRAPH_STORAGE_URL?.trim();
  if (!url) return { kind: 'fs', root: env.OPGRAPH_STORAGE_DIR || DEFAULT_STORAGE_DIR };
  const parsed = parseStorageUrl(url);
  if (parsed.kind === 'fs') return parsed;
  const result = S3Env.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      return `${name}="${env[name] ?? ''}" ${issue.message}`;
    });
    throw new StoreConfigError(`OPGRAPH_STORAGE_URL=${url} selects the S3 store, but ${problems.join('; ')}. Fix or unset it.`);
  }
  const s3 = result.data;
  // The SDK's precedence: the service-specific endpoint first.
  const endpoint = s3.AWS_ENDPOINT_URL_S3 ?? s3.AWS_ENDPOINT_URL;
  return {
    ...parsed,
    ...(endpoint ? { endpoint: endpoint.replace(/\/+$/, '') } : {}),
    // An S3-compatible server takes any region name; AWS needs the bucket's own (the SDK finds it in the profile, or fails).
    ...(s3.AWS_REGION ? { region: s3.AWS_REGION } : endpoint ? { region: 'us-east-1' } : {}),
    forcePathStyle: s3.OPGRAPH_S3_FORCE_PATH_STYLE ?? endpoint !== undefined,
  };
}

/** `s3://bucket/prefix` (plus the endpoint when not AWS), for messages. */
export function describeS3(config: Pick<S3StoreConfig, 'bucket' | 'prefix' | 'endpoint'>): string {
  const url = `s3://${config.bucket}${config.prefix ? `/${config.prefix}` : ''}`;
  return config.endpoint ? `${url} at ${config.endpoint}` : url;
}
