import type { TestProject } from 'vitest/node';
import { type MinioEndpoint, startMinio } from '../../src/server/minio.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The suite's MinIO server; undefined when no test under test/s3/ is in the run. */
    minio: MinioEndpoint | undefined;
  }
}

/** Test files that need the S3-compatible server: everything under test/s3/. */
const NEEDS_MINIO = /[\\/]test[\\/]s3[\\/]/;

/**
 * Starts ONE MinIO server (a real S3-compatible store) for the tests under test/s3/ — building it
 * first with `go install` if this machine has no cached build (minutes, once; see src/server/minio.ts).
 * Lazy: a run without those files (e.g. `vitest run test/dsl`) neither builds nor starts it.
 * It runs here, before any test file, so the build never competes with timing-sensitive tests.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (!(await runIncludesS3Tests(project))) return undefined;
  const started = Date.now();
  const minio = await startMinio({ onNotice: (m) => console.error(`[test setup] ${m}`) });
  console.error(`[test setup] MinIO at ${minio.endpoint} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
  project.provide('minio', {
    endpoint: minio.endpoint,
    accessKeyId: minio.accessKeyId,
    secretAccessKey: minio.secretAccessKey,
    region: minio.region,
  });
  return () => minio.stop();
}

/** Whether the files this run will execute include one under test/s3/ (when unsure: yes). */
async function runIncludesS3Tests(project: TestProject): Promise<boolean> {
  try {
    // The command line's file filters (`vitest run test/s3`); Vitest keeps them on the instance but does not
    // hand them to global setups. Without filters every file runs.
    const filters = (project.vitest as unknown as { filenamePattern?: string[] }).filenamePattern;
    const specs = await project.vitest.globTestSpecifications(filters);
    return specs.some((spec) => NEEDS_MINIO.test(spec.moduleId));
  } catch {
    return true;
  }
}
