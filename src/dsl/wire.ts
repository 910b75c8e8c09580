/**
 * The tags of the wire unions (DESIGN §6, src/dsl/protocol.ts) and the one rule for records written
 * before they were tagged. No zod here: workflow code imports this module (see constants.ts).
 *
 * A step output is `{ kind: 'value' | 'items' | 'itemsRef', name, … }` and a shard's items
 * `{ kind: 'inline' | 'ref', … }`. Histories recorded before the tags, and records already in a
 * store, carry the same records without `kind`: each variant's kind is the name of the field only
 * it has, so an untagged record is known by that field (`outputKind`, `shardItemsKind`).
 *
 * Zod parses always yield tagged records (the schemas run `withOutputKind` / `withShardItemsKind`
 * first). Workflow code reads records checked by src/workflows/guards.ts, which never copies or
 * rewrites them (their JSON sizes decide what is stored, and replay must see the same sizes): it
 * reads an output's kind only through `tagOutput` / `outputKind`, never `output.kind` directly.
 */
import type { ShardWorkflowInput, TaskOutput } from './protocol.ts';

/** In order of precedence for untagged records (the order of the untagged unions' variants). */
export const OUTPUT_KINDS = ['value', 'items', 'itemsRef'] as const;
export const SHARD_ITEMS_KINDS = ['inline', 'ref'] as const;
export type OutputKind = (typeof OUTPUT_KINDS)[number];
export type ShardItemsKind = (typeof SHARD_ITEMS_KINDS)[number];
export type ShardItems = ShardWorkflowInput['items'];

/** A record as code before the tags wrote it: the same fields, no `kind`. */
export type Untagged<T> = T extends unknown ? Omit<T, 'kind'> & { kind?: undefined } : never;

/** An output as it may arrive in workflow code: tagged, or untagged from an older history or store. */
export type WireOutput = TaskOutput | Untagged<TaskOutput>;
export type WireShardItems = ShardItems | Untagged<ShardItems>;

/**
 * The kind of a tagged or untagged record: its `kind` when it has one (undefined if that is not
 * one of `kinds`), else the first of `kinds` that it has as a field (undefined if none).
 */
export function kindOf<K extends string>(record: object, kinds: readonly K[]): K | undefined {
  const kind = (record as { kind?: unknown }).kind;
  if (kind !== undefined) return kinds.find((k) => k === kind);
  return kinds.find((k) => k in record);
}

export const outputKind = (output: object): OutputKind | undefined => kindOf(output, OUTPUT_KINDS);
export const shardItemsKind = (items: object): ShardItemsKind | undefined => kindOf(items, SHARD_ITEMS_KINDS);

/** The output with its kind: itself when tagged, else a tagged copy (the record itself is never changed). */
export function tagOutput(output: WireOutput): TaskOutput {
  if (output.kind !== undefined) return output;
  if ('value' in output) return { ...output, kind: 'value' };
  if ('items' in output) return { ...output, kind: 'items' };
  return { ...output, kind: 'itemsRef' };
}

/** A shard's items with their kind: themselves when tagged, else a tagged copy. */
export function tagShardItems(items: WireShardItems): ShardItems {
  if (items.kind !== undefined) return items;
  if ('inline' in items) return { ...items, kind: 'inline' };
  return { ...items, kind: 'ref' };
}

/**
 * For a schema's preprocess: an untagged record gets the kind its fields say; anything else
 * (tagged, or not recognizable) is returned as it is, for the schema to accept or reject.
 */
function withKind<K extends string>(kinds: readonly K[]): (raw: unknown) => unknown {
  return (raw) => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || (raw as { kind?: unknown }).kind !== undefined) return raw;
    const kind = kindOf(raw, kinds);
    return kind === undefined ? raw : { ...raw, kind };
  };
}

export const withOutputKind: (raw: unknown) => unknown = withKind(OUTPUT_KINDS);
export const withShardItemsKind: (raw: unknown) => unknown = withKind(SHARD_ITEMS_KINDS);
