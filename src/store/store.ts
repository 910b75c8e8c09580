import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { OpgraphError } from '../dsl/errors.ts';
import { PAYLOAD } from '../dsl/limits.ts';
import { LazyCollect, LazyConcat, LazyItems, ScopeResult, StoredRef } from '../dsl/protocol.ts';
import { DEFAULT_STORAGE_DIR, StoreConfigError, storeConfigFromEnv } from './config.ts';
import { S3Store } from './s3.ts';
import { SealedStore } from './sealed.ts';
import { openText } from '../codec/aesGcm.ts';
import { type Keyring, keyringFromEnv } from '../codec/keys.ts';
import { getDefaultKeyring } from '../codec/index.ts';
import type { ValueStore } from './types.ts';

/**
 * Large values travel through Temporal as references to a store (DESIGN §6), so no workflow
 * history or payload ever holds big data. A reference is plain JSON.
 */
export { StoredRef };
export type { ValueStore };
export { S3Store, SealedStore };

export function isStoredRef(value: unknown): value is StoredRef {
  return typeof value === 'object' && value !== null && '$opgraphRef' in value && StoredRef.safeParse(value).success;
}

/** Content-addressed files under a directory (`OPGRAPH_STORAGE_DIR`, default `.opgraph/storage`). */
export class FileSystemStore implements ValueStore {
  readonly name = 'fs';
  readonly root: string;

  constructor(root: string = process.env.OPGRAPH_STORAGE_DIR || DEFAULT_STORAGE_DIR) {
    this.root = resolve(root);
  }

  get location(): string {
    return this.root;
  }

  async put(json: string): Promise<StoredRef> {
    const sha256 = createHash('sha256').update(json).digest('hex');
    const key = `${sha256.slice(0, 2)}/${sha256}.json`;
    const path = join(this.root, key);
    const bytes = Buffer.byteLength(json);
    const existing = await stat(path).catch(() => undefined);
    if (existing?.size !== bytes) {
      await mkdir(dirname(path), { recursive: true });
      // Write then rename: a reader never sees half a value, even if this worker dies mid-write.
      // A unique temp name: concurrent writers of the same value (same key) must not share one.
      const temp = `${path}.${randomUUID()}.tmp`;
      await writeFile(temp, json);
      await rename(temp, path);
    }
    return { $opgraphRef: 1, store: this.name, key, bytes, sha256 };
  }

  async get(ref: StoredRef): Promise<string> {
    if (ref.store !== this.name) {
      throw new OpgraphError(
        `stored value ${ref.key} (${ref.bytes} bytes) was written to the "${ref.store}" store, but this process uses the filesystem ` +
          `store under ${this.root}. Every worker and client of a run must use the same store: set OPGRAPH_STORAGE_URL the same everywhere.`,
      );
    }
    const path = join(this.root, ref.key);
    let json: string;
    try {
      json = await readFile(path, 'utf8');
    } catch (err) {
      throw new OpgraphError(
        `stored value ${ref.key} (${ref.bytes} bytes) is missing from ${this.root}: ${(err as Error).message}. Workers and clients must share OPGRAPH_STORAGE_DIR (or use an object store).`,
        { cause: err },
      );
    }
    const sha256 = createHash('sha256').update(json).digest('hex');
    if (sha256 !== ref.sha256) throw new OpgraphError(`stored value ${path} is corrupt: sha256 ${sha256} ≠ ${ref.sha256}`);
    return json;
  }

  async putNamed(name: string, json: string): Promise<void> {
    const path = this.namedPath(name);
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}.${randomUUID()}.tmp`;
    await writeFile(temp, json);
    await rename(temp, path);
  }

  async getNamed(name: string): Promise<string | undefined> {
    return readFile(this.namedPath(name), 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
  }

  async listNamed(prefix: string): Promise<string[]> {
    const entries = await readdir(this.namedPath(prefix)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    return entries.filter((e) => !e.endsWith('.tmp')).map((e) => `${prefix}${e}`);
  }

  /** Named records live under `named/`, apart from the content-addressed `ab/ab12….json` values. */
  private namedPath(name: string): string {
    return join(this.root, 'named', name);
  }
}

/** Values whose JSON is larger than this many bytes are stored (default 128 KiB; `OPGRAPH_STORE_THRESHOLD`). */
export function storeThreshold(): number {
  const configured = Number(process.env.OPGRAPH_STORE_THRESHOLD);
  return Number.isFinite(configured) && configured > 0 ? configured : PAYLOAD.storeThreshold;
}

/**
 * The store that `env` selects (see config.ts): the filesystem store under OPGRAPH_STORAGE_DIR unless
 * OPGRAPH_STORAGE_URL names another. Throws an OpgraphError naming the variable to fix.
 */
export function storeFromEnv(env: NodeJS.ProcessEnv = process.env, keyring: Keyring | undefined = keyringFromEnv(env)): ValueStore {
  const store = plainStoreFromEnv(env);
  // With codec keys (OPGRAPH_CODEC_KEYS / OPGRAPH_CODEC_KEY_FILE), values are encrypted like payloads.
  return keyring ? new SealedStore(store, keyring) : store;
}

function plainStoreFromEnv(env: NodeJS.ProcessEnv): ValueStore {
  const config = storeConfigFromEnv(env);
  if (config.kind === 'fs') return new FileSystemStore(config.root);
  const { kind: _kind, ...options } = config;
  // Keys in `env` are used as given; otherwise the SDK's credential chain (AWS_PROFILE, SSO, instance roles…).
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId !== !secretAccessKey) {
    throw new StoreConfigError(
      `OPGRAPH_STORAGE_URL=${env.OPGRAPH_STORAGE_URL} selects the S3 store, but only ${accessKeyId ? 'AWS_ACCESS_KEY_ID' : 'AWS_SECRET_ACCESS_KEY'} ` +
        'is set. Set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither (to use AWS_PROFILE or an instance role).',
    );
  }
  const credentials =
    accessKeyId && secretAccessKey
      ? { accessKeyId, secretAccessKey, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) }
      : undefined;
  return new S3Store({ ...options, ...(credentials ? { credentials } : {}) });
}

let defaultStore: ValueStore | undefined;
/** This process's store — workers, clients, the CLI and executeInProcess all use it: `storeFromEnv()` on first use. */
export function getDefaultStore(): ValueStore {
  defaultStore ??= storeFromEnv(process.env, getDefaultKeyring());
  return defaultStore;
}
export function setDefaultStore(store: ValueStore): void {
  defaultStore = store;
}

/** Replaces `value` by a reference when its JSON exceeds the threshold. */
export async function offload(value: unknown, store: ValueStore = getDefaultStore(), threshold = storeThreshold()): Promise<unknown> {
  if (value === undefined) return value;
  const json = JSON.stringify(value);
  if (json === undefined || json.length <= threshold / 4 || Buffer.byteLength(json) <= threshold) return value;
  return store.put(json);
}

/**
 * A stored value's JSON, parsed. A sealed value read through a store without keys fails naming its key id
 * (a SealedStore has opened it already).
 */
export async function readJson(ref: StoredRef, store: ValueStore = getDefaultStore()): Promise<unknown> {
  return JSON.parse(openText(await store.get(ref), undefined, `stored value ${ref.key} (${store.location})`)) as unknown;
}

/** Loads a reference (or each reference in a list: collects and fan-ins, or a lazy collect) back into values. */
export async function materialize(value: unknown, store: ValueStore = getDefaultStore()): Promise<unknown> {
  if (isStoredRef(value)) return readJson(value, store);
  if (Array.isArray(value) && value.some(isStoredRef)) return Promise.all(value.map((v) => materialize(v, store)));
  if (typeof value === 'object' && value !== null) {
    const collect = LazyCollect.safeParse(value);
    if (collect.success) return lazyCollect(collect.data, store);
    const items = LazyItems.safeParse(value);
    if (items.success) return (await loadItems(items.data.$opgraphItems, store)).map(([, v]) => v);
    const concat = LazyConcat.safeParse(value);
    if (concat.success) {
      const chunks = await Promise.all(concat.data.$opgraphConcat.map(async (ref) => (await materialize(ref, store)) as unknown[]));
      return Promise.all(chunks.flat().map((v) => materialize(v, store)));
    }
  }
  return value;
}

/** A stored `[key, value][]` fan-out list, with each value materialized. */
export async function loadItems(ref: StoredRef, store: ValueStore = getDefaultStore()): Promise<[string, unknown][]> {
  const items = (await readJson(ref, store)) as [string, unknown][];
  return Promise.all(items.map(async ([k, v]) => [k, await materialize(v, store)] as [string, unknown]));
}

/** A stored part of a run's results. */
export async function loadPart(ref: StoredRef, store: ValueStore = getDefaultStore()): Promise<ScopeResult> {
  return ScopeResult.parse(await readJson(ref, store));
}

/**
 * The values a collect over a sharded dimension gathers, in yield order, from the shards' stored
 * records; for a map within its toleratedFailures, without its failed keys' (see src/engine/tolerance.ts).
 */
async function lazyCollect({ $opgraphCollect: spec }: LazyCollect, store: ValueStore): Promise<unknown[]> {
  const failed = new Set<string>();
  for (const part of spec.failedIn ?? []) {
    for (const record of Object.values((await loadPart(part, store)).steps)) {
      const key = record.mappingKeys[spec.depth - 1];
      if (record.status === 'FAILURE' && !record.tolerated && key !== undefined) failed.add(key);
    }
  }
  const values: unknown[] = [];
  for (const part of spec.parts) {
    for (const record of Object.values((await loadPart(part, store)).steps)) {
      if (record.node !== spec.node || record.mappingKeys.length !== spec.depth || record.status !== 'SUCCESS') continue;
      if (failed.has(record.mappingKeys[spec.depth - 1] ?? '')) continue;
      const output = record.outputs?.find((o) => o.name === spec.output);
      if (output?.kind === 'value') values.push(await materialize(output.value, store));
    }
  }
  return values;
}
