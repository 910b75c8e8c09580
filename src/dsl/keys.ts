/** Mapping keys and step keys, as Dagster forms them (reference/dagster-semantics.md §1.2, §4.1). */

export const MAPPING_KEY_PATTERN = /^[A-Za-z0-9_]+$/;
export const MAX_MAPPING_KEY_LENGTH = 200;

/** `the number 3`, `null`, `an object {"id":3}`, for an error message. */
function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') {
    let json: string | undefined;
    try {
      json = JSON.stringify(value);
    } catch {
      json = undefined;
    }
    const text = json === undefined ? Object.prototype.toString.call(value) : json.length > 80 ? `${json.slice(0, 80)}…` : json;
    return `${Array.isArray(value) ? 'an array' : 'an object'} ${text}`;
  }
  if (typeof value === 'function') return `a function ${value.name || '(anonymous)'}`;
  if (typeof value === 'bigint') return `the bigint ${value}n`;
  if (typeof value === 'number' || typeof value === 'boolean') return `the ${typeof value} ${String(value)}`;
  return typeof value === 'symbol' ? `the symbol ${value.toString()}` : typeof value;
}

/** Returns why `key` is not a valid mapping key, or undefined when it is. */
export function mappingKeyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string') {
    if (key === undefined) {
      return "mapping key is missing (got undefined): pass one, new DynamicOutput(value, '7') or new DynamicOutput(value, { mappingKey: '7' })";
    }
    const shown = describeValue(key);
    const asString = typeof key === 'number' || typeof key === 'bigint' || typeof key === 'boolean' ? `'${String(key)}'` : undefined;
    return `mapping key must be a string, got ${shown}: pass a string${asString ? `, e.g. ${asString} (String(key))` : ' naming the item (letters, digits, underscore)'}`;
  }
  if (!MAPPING_KEY_PATTERN.test(key)) {
    return `mapping key ${JSON.stringify(key)} is not valid: keys must match ${MAPPING_KEY_PATTERN.source} (letters, digits, underscore); replace other characters, e.g. key.replace(/[^A-Za-z0-9_]/g, '_')`;
  }
  if (key.length > MAX_MAPPING_KEY_LENGTH) {
    return `mapping key "${key.slice(0, 40)}…" is ${key.length} characters long; the limit is ${MAX_MAPPING_KEY_LENGTH}: shorten it, e.g. keep a prefix and append the item index`;
  }
  return undefined;
}

/** `compute_piece` for a static step, `compute_piece[3]` mapped, `add[3,a]` nested. */
export function stepKey(nodeId: string, mappingKeys: readonly string[]): string {
  return mappingKeys.length === 0 ? nodeId : `${nodeId}[${mappingKeys.join(',')}]`;
}

/** The inverse of {@link stepKey}. */
export function parseStepKey(key: string): { node: string; mappingKeys: string[] } {
  const match = /^(.*)\[(.*)\]$/.exec(key);
  if (!match) return { node: key, mappingKeys: [] };
  return { node: match[1] ?? key, mappingKeys: (match[2] ?? '').split(',') };
}

/** `load_pieces:result` — the id of a dynamic dimension. */
export function dimensionId(ref: { node: string; output: string }): string {
  return `${ref.node}:${ref.output}`;
}

export function parseDimensionId(id: string): { node: string; output: string } {
  const at = id.lastIndexOf(':');
  return { node: id.slice(0, at), output: id.slice(at + 1) };
}

/**
 * A node's interface as a step sees it: op, input names, outputs (`*` dynamic, `?` optional). Sent
 * with each step so a worker whose job has a different interface refuses the step (src/activities/resolveStep.ts).
 */
export function opSignature(node: {
  readonly op: string;
  readonly inputs: readonly { readonly name: string }[];
  readonly outputs: readonly { readonly name: string; readonly dynamic: boolean; readonly required: boolean }[];
}): string {
  const outputs = node.outputs.map((o) => `${o.name}${o.dynamic ? '*' : ''}${o.required ? '' : '?'}`);
  return `${node.op}(${node.inputs.map((i) => i.name).join(', ')}) -> ${outputs.join(', ')}`;
}

/**
 * An id of at most `max` characters: unchanged when it fits, else a prefix and a hash of the whole
 * (`…~0123abcd4567ef89`), so distinct ids stay distinct and the same id always shortens the same way.
 */
export function shortenId(id: string, max: number): string {
  if (id.length <= max) return id;
  const hash = fnv1a(id, 0x811c9dc5) + fnv1a(id, 0x050c5d1f);
  return `${id.slice(0, max - hash.length - 1)}~${hash}`;
}

function fnv1a(text: string, seed: number): string {
  let h = seed;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}
