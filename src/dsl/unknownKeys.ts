/**
 * Keys of a config value that its zod schema would silently drop. A `z.object` strips keys it does
 * not declare, so a typo (`minLenght` for `minLength`) vanishes and the run uses the default; Dagster
 * rejects unexpected config entries. This walks the schema beside the value — it never parses with
 * a changed schema, so the user's schema keeps its meaning otherwise — and lists every key an object
 * schema would strip, at any depth (objects in arrays, records, tuples, unions, wrappers, lazies).
 *
 * What counts as asking for extra keys: `z.looseObject` / `.passthrough()` (kept as they are) and
 * `.catchall(schema)` (checked by that schema). `z.strictObject` / `.strict()` already fail on them
 * in zod itself, so they are left to zod's own issue. An explicit `.strip()` cannot be told apart from
 * zod's default (`.merge()` writes the same definition), so it is checked like a plain `z.object`.
 */

/** One key an object schema does not declare. */
export interface UnknownKey {
  /** From the value's root to the key itself (array indexes as numbers), as zod paths. */
  readonly path: readonly (string | number)[];
  /** The keys the object schema declares. */
  readonly declared: readonly string[];
  /** Declared keys the value does not give: the likely meant ones. */
  readonly unused: readonly string[];
}

/** The part of a zod (v4) schema's definition read here. */
interface Def {
  readonly type: string;
  readonly [field: string]: unknown;
}

interface Parser {
  safeParse(value: unknown): { success: boolean };
}

function defOf(schema: unknown): Def | undefined {
  const def: unknown = (schema as { _zod?: { def?: unknown } } | undefined)?._zod?.def;
  return typeof def === 'object' && def !== null && typeof (def as Def).type === 'string' ? (def as Def) : undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every key of `value` that `schema` would strip, in the order they appear. */
export function unknownKeys(schema: unknown, value: unknown): UnknownKey[] {
  const found: UnknownKey[] = [];
  walk(schema, value, [], found);
  return found;
}

function walk(schema: unknown, value: unknown, path: readonly (string | number)[], found: UnknownKey[]): void {
  const def = defOf(schema);
  if (!def || value === undefined) return;
  switch (def.type) {
    case 'object':
      walkObject(def, value, path, found);
      return;
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'catch':
    case 'readonly':
    case 'nonoptional':
      walk(def.innerType, value, path, found);
      return;
    case 'pipe':
      // `.transform()` and `.pipe()`: the value enters `in`. (`z.preprocess` changes it first: its `in`
      // is the transform, so what reaches the schema after it is unknown here and not checked.)
      walk(def.in, value, path, found);
      return;
    case 'lazy':
      if (typeof def.getter === 'function') walk((def.getter as () => unknown)(), value, path, found);
      return;
    case 'array':
      if (Array.isArray(value)) value.forEach((item, i) => walk(def.element, item, [...path, i], found));
      return;
    case 'tuple':
      if (Array.isArray(value)) {
        const items = Array.isArray(def.items) ? (def.items as unknown[]) : [];
        value.forEach((item, i) => walk(i < items.length ? items[i] : def.rest, item, [...path, i], found));
      }
      return;
    case 'record':
      if (isPlainObject(value)) for (const [key, item] of Object.entries(value)) walk(def.valueType, item, [...path, key], found);
      return;
    case 'union': {
      // zod takes the first option that accepts the value: that option's stripping is what happens.
      const options = Array.isArray(def.options) ? (def.options as unknown[]) : [];
      const chosen = options.find((option) => accepts(option, value));
      if (chosen !== undefined) walk(chosen, value, path, found);
      return;
    }
    case 'intersection': {
      // Each side keeps what it declares and the results merge: a key is lost only if both sides drop it.
      const left = unknownKeys(def.left, value);
      const right = new Set(unknownKeys(def.right, value).map((u) => pathId(u.path)));
      for (const u of left) if (right.has(pathId(u.path))) found.push({ ...u, path: [...path, ...u.path] });
      return;
    }
    default:
      return;
  }
}

function walkObject(def: Def, value: unknown, path: readonly (string | number)[], found: UnknownKey[]): void {
  if (!isPlainObject(value)) return;
  const shape = isPlainObject(def.shape) ? def.shape : {};
  const catchall = def.catchall;
  const catchallType = defOf(catchall)?.type;
  const declared = Object.keys(shape);
  for (const [key, item] of Object.entries(value)) {
    if (Object.hasOwn(shape, key)) walk(shape[key], item, [...path, key], found);
    else if (catchall === undefined) {
      found.push({ path: [...path, key], declared, unused: declared.filter((k) => !Object.hasOwn(value, k)) });
    } else if (catchallType !== 'never') walk(catchall, item, [...path, key], found);
  }
}

function accepts(schema: unknown, value: unknown): boolean {
  const parser = schema as Partial<Parser> | undefined;
  if (typeof parser?.safeParse !== 'function') return false;
  try {
    return parser.safeParse(value).success;
  } catch {
    return false; // async refinements: zod itself reports those
  }
}

function pathId(path: readonly (string | number)[]): string {
  return JSON.stringify(path);
}
