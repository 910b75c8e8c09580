import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import type { MinioEndpoint } from '../../src/server/minio.ts';

// The AWS SDK warns once per process that its 2027 releases will need Node 22; not news for these tests.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** The suite's MinIO server, started by test/setup/minio.ts for the files under test/s3/. */
export function suiteMinio(): MinioEndpoint {
  const minio = inject('minio');
  if (!minio) {
    throw new Error(
      'No MinIO server: test/setup/minio.ts starts one only when the run includes files under test/s3/ ' +
        '(is it listed in vitest.config.ts globalSetup?)',
    );
  }
  return minio;
}

/** A bucket name of its own for each test file (S3 rules: lowercase, digits, hyphens). */
export function uniqueBucket(label: string): string {
  return `opgraph-${label}-${randomBytes(4).toString('hex')}`;
}
