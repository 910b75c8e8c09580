/**
 * Op config with keys its schema does not declare is rejected before the run starts (Dagster
 * rejects unexpected config entries; zod objects would strip them, so a typo ran with the default).
 * Schemas that ask for extra keys (z.looseObject, .passthrough(), .catchall) keep accepting them.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { graph, job, type JobDefinition, op, resolveRunConfig, RunConfigError, type RunConfigIssue } from '../../src/dsl/index.ts';
import { unknownKeys } from '../../src/dsl/unknownKeys.ts';

/** A job of one op `x` with this config schema (and a graph holding a second one, `outer.y`). */
function jobWith(schema: z.ZodType, name = 'uk'): JobDefinition {
  const x = op({ name: `${name}_x`, config: schema }, async () => 1);
  const y = op({ name: `${name}_y`, config: schema }, async () => 1);
  const outer = graph({ name: `${name}_outer` }, () => {
    y.alias('y')();
  });
  return job({ name }, () => {
    x.alias('x')();
    outer.alias('outer')();
  });
}

function resolve(definition: JobDefinition, xConfig: unknown, yConfig: unknown = xConfig) {
  return resolveRunConfig(definition, { ops: { x: { config: xConfig }, outer: { ops: { y: { config: yConfig } } } } });
}

function rejected(definition: JobDefinition, xConfig: unknown, yConfig?: unknown): RunConfigError {
  try {
    resolve(definition, xConfig, yConfig);
  } catch (err) {
    expect(err).toBeInstanceOf(RunConfigError);
    return err as RunConfigError;
  }
  throw new Error('run config was accepted');
}

const paths = (error: RunConfigError) => error.issues.map((i) => i.path);

describe('op config: unknown keys are rejected with their path and a did-you-mean', () => {
  const minLength = jobWith(z.object({ minLength: z.number().default(3) }), 'uk_min');

  it('a typo of a key with a default fails instead of running with the default', () => {
    const error = rejected(minLength, { minLenght: 5 }, { minLength: 4 });
    expect(error.issues).toEqual<RunConfigIssue[]>([
      {
        path: 'ops.x.config.minLenght',
        message: 'unknown key; did you mean "minLength"?',
        fix: 'rename it to "minLength" (op "uk_min_x" config schema declares only "minLength"), remove it, or, to accept undeclared keys, make that object z.looseObject(…) in the schema',
      },
    ]);
    expect(error.message).toContain('ops.x.config.minLenght: unknown key; did you mean "minLength"?');
  });

  it('inside a graph, the path goes through the graph as run config is written, and the fix names the same path', () => {
    const error = rejected(minLength, { minLength: 5 }, { verbose: 5 });
    expect(paths(error)).toEqual(['ops.outer.ops.y.config.verbose']);
    expect(error.issues[0]?.fix).toMatch(/^remove ops\.outer\.ops\.y\.config\.verbose,/);
    expect(paths(rejected(minLength, { minLength: 5 }, { minLenght: 5 }))).toEqual(['ops.outer.ops.y.config.minLenght']);
  });

  it('valid config is accepted and travels as written', () => {
    expect(resolve(minLength, { minLength: 5 }, {})).toMatchObject({ x: { config: { minLength: 5 } }, 'outer.y': { config: {} } });
  });

  it('a key close to nothing declared says what the schema takes', () => {
    const error = rejected(minLength, { verbose: true }, {});
    expect(error.issues).toEqual<RunConfigIssue[]>([
      {
        path: 'ops.x.config.verbose',
        message: 'unknown key; op "uk_min_x" config schema declares only "minLength"',
        fix: 'remove ops.x.config.verbose, declare "verbose" in the schema, or, to accept undeclared keys, make that object z.looseObject(…) in the schema',
      },
    ]);
  });

  it('nested objects, arrays, records and tuples are checked at every depth; the schema’s own issues are kept beside', () => {
    const nested = jobWith(
      z.object({
        limits: z.object({ max: z.number(), min: z.number().optional() }),
        rules: z.array(z.object({ name: z.string() })),
        byName: z.record(z.string(), z.object({ weight: z.number() })),
        pair: z.tuple([z.object({ a: z.number() }), z.string()]),
      }),
      'uk_nested',
    );
    const good = { limits: { max: 1 }, rules: [{ name: 'a' }], byName: { k: { weight: 1 } }, pair: [{ a: 1 }, 's'] };
    expect(resolve(nested, good)).toMatchObject({ x: { config: good } });
    const error = rejected(
      nested,
      { limits: { maks: 1 }, rules: [{ name: 'a' }, { name: 'b', nmae: 'c' }], byName: { k: { weigth: 1 } }, pair: [{ a: 1, b: 2 }, 's'] },
      good,
    );
    expect(error.issues.map(({ path, message }) => ({ path, message }))).toEqual([
      { path: 'ops.x.config.limits.max', message: 'Invalid input: expected number, received undefined (op "uk_nested_x" config schema)' },
      {
        path: 'ops.x.config.byName.k.weight',
        message: 'Invalid input: expected number, received undefined (op "uk_nested_x" config schema)',
      },
      { path: 'ops.x.config.limits.maks', message: 'unknown key; did you mean "max"?' },
      { path: 'ops.x.config.rules.1.nmae', message: 'unknown key; did you mean "name"?' },
      { path: 'ops.x.config.byName.k.weigth', message: 'unknown key; did you mean "weight"?' },
      { path: 'ops.x.config.pair.0.b', message: 'unknown key; op "uk_nested_x" config schema at ops.x.config.pair.0 declares only "a"' },
    ]);
  });

  it('through optional, nullable, default, transform, refine and lazy (recursive) schemas', () => {
    type Tree = { label: string; children?: Tree[] };
    const tree: z.ZodType<Tree> = z.lazy(() => z.object({ label: z.string(), children: z.array(tree).optional() }));
    const wrapped = jobWith(
      z
        .object({
          maybe: z.object({ a: z.number() }).optional(),
          orNull: z.object({ a: z.number() }).nullable(),
          withDefault: z.object({ a: z.number() }).default({ a: 1 }),
          shaped: z
            .object({ a: z.number() })
            .transform((v) => v.a)
            .refine((a) => a > 0),
          tree,
        })
        .refine(() => true),
      'uk_wrapped',
    );
    const good = { orNull: null, shaped: { a: 1 }, tree: { label: 'r', children: [{ label: 'c' }] } };
    expect(() => resolve(wrapped, good)).not.toThrow();
    const error = rejected(
      wrapped,
      {
        maybe: { a: 1, b: 1 },
        orNull: { a: 1, b: 1 },
        withDefault: { a: 1, b: 1 },
        shaped: { a: 1, b: 1 },
        tree: { label: 'r', children: [{ label: 'c', chlidren: [] }] },
      },
      good,
    );
    expect(paths(error)).toEqual([
      'ops.x.config.maybe.b',
      'ops.x.config.orNull.b',
      'ops.x.config.withDefault.b',
      'ops.x.config.shaped.b',
      'ops.x.config.tree.children.0.chlidren',
    ]);
    expect(error.issues.at(-1)?.message).toBe('unknown key; did you mean "children"?');
  });

  it('unions: the option zod takes decides (it would strip the key); intersections: only keys no side declares', () => {
    const union = jobWith(
      z.object({
        source: z.union([z.object({ kind: z.literal('file'), path: z.string() }), z.object({ kind: z.literal('url'), url: z.string() })]),
        target: z.discriminatedUnion('kind', [
          z.object({ kind: z.literal('s3'), bucket: z.string() }),
          z.object({ kind: z.literal('fs'), dir: z.string() }),
        ]),
        both: z.object({ a: z.number() }).and(z.object({ b: z.number() })),
      }),
      'uk_union',
    );
    const good = { source: { kind: 'url', url: 'u' }, target: { kind: 'fs', dir: 'd' }, both: { a: 1, b: 2 } };
    expect(() => resolve(union, good)).not.toThrow();
    const error = rejected(
      union,
      { source: { kind: 'url', url: 'u', ulr: 'v' }, target: { kind: 'fs', dir: 'd', bucket: 'b' }, both: { a: 1, b: 2, c: 3 } },
      good,
    );
    expect(paths(error)).toEqual(['ops.x.config.source.ulr', 'ops.x.config.target.bucket', 'ops.x.config.both.c']);
  });

  it('several unknown keys are all reported at once, each suggesting first among the keys not given', () => {
    const two = jobWith(z.object({ minLength: z.number().default(3), maxLength: z.number().default(9) }), 'uk_two');
    const error = rejected(two, { minLength: 1, maxLenght: 4, minLenght: 2 }, {});
    expect(error.issues.map((i) => [i.path, i.message])).toEqual([
      ['ops.x.config.maxLenght', 'unknown key; did you mean "maxLength"?'],
      // minLength is given too: the closest of all declared keys, then.
      ['ops.x.config.minLenght', 'unknown key; did you mean "minLength"?'],
    ]);
  });
});

describe('op config: schemas that ask for extra keys keep accepting them', () => {
  it('z.looseObject and .passthrough(), at the top and nested', () => {
    const loose = jobWith(z.looseObject({ a: z.number(), inner: z.object({ b: z.number() }).passthrough().optional() }), 'uk_loose');
    const config = { a: 1, extra: 'kept', inner: { b: 2, more: true } };
    expect(resolve(loose, config)).toMatchObject({ x: { config }, 'outer.y': { config } });
  });

  it('.catchall(schema): extra keys are checked by that schema, and inside it', () => {
    const catchall = jobWith(z.object({ a: z.number() }).catchall(z.object({ weight: z.number() })), 'uk_catchall');
    expect(() => resolve(catchall, { a: 1, k: { weight: 1 } })).not.toThrow();
    expect(paths(rejected(catchall, { a: 1, k: { weight: 1, wieght: 2 } }, { a: 1 }))).toEqual(['ops.x.config.k.wieght']);
  });

  it('z.strictObject keeps zod’s own issue (reported once), and z.record of plain values takes any key', () => {
    const strict = jobWith(z.strictObject({ a: z.number() }), 'uk_strict');
    const error = rejected(strict, { a: 1, b: 2 }, { a: 1 });
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]?.message).toMatch(/Unrecognized key: "b"/);
    const record = jobWith(z.record(z.string(), z.number()), 'uk_record');
    expect(() => resolve(record, { anything: 1, at: 2, all: 3 })).not.toThrow();
  });
});

describe('unknownKeys: walks the schema beside the value, never changing either', () => {
  it('lists paths, declared keys and the declared keys not given', () => {
    const schema = z.object({ a: z.number(), b: z.object({ c: z.string(), d: z.string() }) });
    const value = { a: 1, b: { c: 'x', e: 'y' }, f: 2 };
    const before = JSON.stringify(value);
    expect(unknownKeys(schema, value)).toEqual([
      { path: ['b', 'e'], declared: ['c', 'd'], unused: ['d'] },
      { path: ['f'], declared: ['a', 'b'], unused: [] },
    ]);
    expect(JSON.stringify(value)).toBe(before);
  });

  it('ignores values of the wrong type (zod reports those) and z.preprocess (the value changes before the schema)', () => {
    expect(unknownKeys(z.object({ a: z.number() }), 'not an object')).toEqual([]);
    expect(unknownKeys(z.array(z.object({ a: z.number() })), { 0: { b: 1 } })).toEqual([]);
    expect(unknownKeys(z.union([z.object({ a: z.number() }), z.string()]), { b: 1 })).toEqual([]);
    expect(
      unknownKeys(
        z.preprocess((v) => v, z.object({ a: z.number() })),
        { a: 1, b: 2 },
      ),
    ).toEqual([]);
  });
});
