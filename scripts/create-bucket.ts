/**
 * Creates the bucket that OPGRAPH_STORAGE_URL names (s3://bucket/prefix), on the endpoint and with the
 * credentials of the AWS_* variables — the same settings a worker reads — and checks that the store is
 * usable. Succeeds when the bucket exists already, so it can run on every `docker compose up`.
 *
 *   OPGRAPH_STORAGE_URL=s3://opgraph/values AWS_ENDPOINT_URL_S3=http://minio:9000 \
 *   AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… npx tsx scripts/create-bucket.ts
 */
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { storeConfigFromEnv } from '../src/store/config.ts';
import { storeFromEnv } from '../src/store/store.ts';

try {
  await main();
  process.exit(0);
} catch (err) {
  console.error(`create-bucket: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

async function main(): Promise<void> {
  const config = storeConfigFromEnv();
  if (config.kind !== 's3') {
    throw new Error('OPGRAPH_STORAGE_URL does not name an S3 bucket (set it to s3://<bucket>/<prefix>); nothing to create.');
  }
  const store = storeFromEnv();
  const client = new S3Client({
    forcePathStyle: config.forcePathStyle,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    ...(config.region ? { region: config.region } : {}),
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: config.bucket }));
    console.log(`create-bucket: created bucket "${config.bucket}" (${store.location})`);
  } catch (err) {
    if (!(err instanceof Error && err.name === 'BucketAlreadyOwnedByYou')) {
      // The store's own check says what to set (credentials, endpoint, region); else the SDK's error.
      await store.check?.();
      throw err;
    }
    console.log(`create-bucket: bucket "${config.bucket}" exists (${store.location})`);
  } finally {
    client.destroy();
  }
  await store.check?.();
}
