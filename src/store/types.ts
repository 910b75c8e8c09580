import type { StoredRef } from '../dsl/protocol.ts';

/**
 * Where large values live (DESIGN §6). The filesystem store is the default; the S3 store
 * (`OPGRAPH_STORAGE_URL=s3://bucket/prefix`) implements the same calls. Both are content-addressed:
 * a reference names the value's sha256, so writing the same value twice is harmless.
 */
export interface ValueStore {
  /** Written into every reference (`ref.store`): `fs` or `s3`. */
  readonly name: string;
  /** Where values go, for messages: a directory, or `s3://bucket/prefix (endpoint …)`. */
  readonly location: string;
  put(json: string): Promise<StoredRef>;
  get(ref: StoredRef): Promise<string>;
  /**
   * Named, overwritable records (per-step logs: `runs/<runId>/steps/<hash>.json`), beside the
   * content-addressed values. `getNamed` resolves undefined for a record never written; `listNamed`
   * gives the names under a prefix (ending in `/`).
   */
  putNamed(name: string, json: string): Promise<void>;
  getNamed(name: string): Promise<string | undefined>;
  listNamed(prefix: string): Promise<string[]>;
  /** Fails with what to set when the store cannot be used (e.g. a missing bucket or credentials). Optional. */
  check?(): Promise<void>;
}
