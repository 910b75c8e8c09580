/** Where a value stops being JSON, and what it is there. */
export interface JsonIssue {
  /** `$.rows[3].total`, or under the path the caller passed. */
  readonly path: string;
  /** `a BigInt, which JSON cannot carry`. */
  readonly found: string;
  /** How to convert it, where there is a standard way (`convert with String(x) or Number(x)`). */
  readonly hint?: string;
}

/** Why `value` would not survive a JSON round trip through Temporal, or undefined when it would. */
export function jsonProblem(value: unknown, path = '$'): string | undefined {
  const issue = jsonIssue(value, path);
  return issue && `${issue.path} is ${issue.found}${issue.hint ? ` (${issue.hint})` : ''}`;
}

/** The first place where `value` would not survive a JSON round trip, or undefined when it would. */
export function jsonIssue(value: unknown, path = '$', seen = new Set<object>()): JsonIssue | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : { path, found: `${value}, which JSON turns into null` };
    case 'bigint':
      return { path, found: 'a BigInt, which JSON cannot carry', hint: 'convert with String(x) or Number(x)' };
    case 'function':
      return { path, found: 'a function' };
    case 'symbol':
      return { path, found: 'a symbol' };
  }
  if (value === null) return undefined;
  const object = value as object;
  if (seen.has(object)) return { path, found: 'a circular reference' };
  if (object instanceof Map || object instanceof Set) {
    return { path, found: `a ${object.constructor.name}, which JSON turns into {}`, hint: 'convert with Object.fromEntries or Array.from' };
  }
  if (object instanceof Date) return undefined; // becomes an ISO string, as users expect
  seen.add(object);
  try {
    if (Array.isArray(object)) {
      for (let i = 0; i < object.length; i++) {
        const issue = jsonIssue(object[i], `${path}[${i}]`, seen);
        if (issue) return issue;
      }
      return undefined;
    }
    for (const [key, child] of Object.entries(object)) {
      const issue = jsonIssue(child, `${path}.${key}`, seen);
      if (issue) return issue;
    }
    return undefined;
  } finally {
    seen.delete(object);
  }
}

/** UTF-8 size of a string, computed without Node's Buffer (src/dsl also runs in the workflow sandbox). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      bytes += 4; // a surrogate pair: one 4-byte code point
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** `812 B`, `96.0 KiB`, `3.0 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}
