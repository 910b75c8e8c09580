/**
 * Handles carry their value type, so wiring mistakes are compile errors (DESIGN §2).
 * `expectTypeOf` assertions and `@ts-expect-error` lines are checked by `tsc --noEmit` (tsconfig
 * includes test/); the job bodies also run under vitest so the wiring is traced for real.
 * Lines that must not compile live in functions that are type-checked but never called.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { DynamicHandle, DynamicOut, DynamicOutput, Handle, job, type JobDefinition, type OpContext, op, Out, Output } from 'opgraph';

const numberList = op({ name: 'number_list' }, async () => [1, 2, 3]);
const greeting = op({ name: 'greeting' }, async () => 'hello');
const double = op({ name: 'double' }, async (_ctx, x: number) => x * 2);
const describeNumber = op({ name: 'describe_number' }, async (_ctx, x: number) => `n=${x}`);
const sum = op({ name: 'sum' }, async (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0));
const shout = op({ name: 'shout' }, async (_ctx, s: string) => s.toUpperCase());
const pieces = op({ name: 'pieces', out: new DynamicOut() }, async function* () {
  yield new DynamicOutput([1, 2], '0');
  yield new DynamicOutput([3, 4], '1');
});
const syncPieces = op({ name: 'sync_pieces', out: new DynamicOut() }, function* () {
  yield new DynamicOutput('a', 'a');
});
const returnedPieces = op({ name: 'returned_pieces', out: new DynamicOut() }, async () => [new DynamicOutput(true, 'yes')]);
const schemaPieces = op({ name: 'schema_pieces', out: new DynamicOut({ schema: z.string() }) }, async function* () {
  yield new DynamicOutput('x', 'x');
});
const declaredOut = op({ name: 'declared_out', out: new Out({ schema: z.number().int() }) }, async () => 3);
const multi = op(
  {
    name: 'multi',
    out: { values: new DynamicOut<number>(), negatives: new DynamicOut<number>(), label: new Out<string>() },
  },
  async function* () {
    yield new DynamicOutput(1, { mappingKey: 'one', outputName: 'values' });
    yield new DynamicOutput(-1, { mappingKey: 'one', outputName: 'negatives' });
    yield new Output('label', { outputName: 'label' });
  },
);
const scaled = op({ name: 'scaled', config: z.object({ factor: z.number(), label: z.string().default('x') }) }, async (ctx, x: number) => {
  expectTypeOf(ctx).toEqualTypeOf<OpContext<{ factor: number; label: string }>>();
  expectTypeOf(ctx.opConfig).toEqualTypeOf<{ factor: number; label: string }>();
  return x * ctx.opConfig.factor;
});
const unconfigured = op({ name: 'unconfigured' }, async (ctx) => {
  expectTypeOf(ctx.opConfig).toBeUnknown();
  expectTypeOf(ctx.getMappingKey()).toEqualTypeOf<string | undefined>();
  expectTypeOf(ctx.attempt).toBeNumber();
  return null;
});

describe('handle value types flow through ops, map and collect', () => {
  it('an op returning number[] gives Handle<number[]>; a DynamicOut generator gives DynamicHandle of the yielded type', () => {
    const traced = job({ name: 'types_flow' }, () => {
      const list = numberList();
      expectTypeOf(list).toEqualTypeOf<Handle<number[]>>();
      expectTypeOf(sum(list)).toEqualTypeOf<Handle<number>>();

      const dyn = pieces();
      expectTypeOf(dyn).toEqualTypeOf<DynamicHandle<number[]>>();
      expectTypeOf(syncPieces()).toEqualTypeOf<DynamicHandle<string>>();
      expectTypeOf(returnedPieces()).toEqualTypeOf<DynamicHandle<boolean>>();
      expectTypeOf(schemaPieces()).toEqualTypeOf<DynamicHandle<string>>();
      expectTypeOf(declaredOut()).toEqualTypeOf<Handle<number>>();

      const collected = dyn.collect();
      expectTypeOf(collected).toEqualTypeOf<Handle<number[][]>>();

      const sums = dyn.map(sum);
      expectTypeOf(sums).toEqualTypeOf<DynamicHandle<number>>();
      const described = sums.map((n) => describeNumber(double(n)));
      expectTypeOf(described).toEqualTypeOf<DynamicHandle<string>>();
      expectTypeOf(described.collect()).toEqualTypeOf<Handle<string[]>>();
      expectTypeOf(sum(sums.collect())).toEqualTypeOf<Handle<number>>();

      // A tuple returned by the map callable becomes a tuple of dynamic handles.
      const pair = sums.map((n) => [double(n), describeNumber(n)] as const);
      expectTypeOf(pair).toEqualTypeOf<readonly [DynamicHandle<number>, DynamicHandle<string>]>();
      // A side-effect-only callable returns nothing to collect.
      expectTypeOf(sums.map((n) => void double(n))).toEqualTypeOf<void>();

      expectTypeOf(scaled(double(sum(list)))).toEqualTypeOf<Handle<number>>();
      unconfigured();
    });
    expectTypeOf(traced).toEqualTypeOf<JobDefinition>();
    expect(traced.plan.nodes.map((n) => n.id)).toContain('describe_number');
  });

  it('handles are what they claim at run time too', () => {
    job({ name: 'types_runtime' }, () => {
      const dyn = pieces();
      expect(dyn).toBeInstanceOf(DynamicHandle);
      const collected = dyn.collect();
      expect(collected).toBeInstanceOf(Handle);
      expect(collected.kind).toBe('collect');
      const mapped = dyn.map(sum);
      expect(mapped).toBeInstanceOf(DynamicHandle);
      expect(mapped.raw).toBe(false);
      sum(mapped.collect());
    });
  });

  it('multi-output records give named handles of each output type', () => {
    job({ name: 'types_multi' }, () => {
      const outs = multi();
      expectTypeOf(outs.values).toEqualTypeOf<DynamicHandle<number>>();
      expectTypeOf(outs.negatives).toEqualTypeOf<DynamicHandle<number>>();
      expectTypeOf(outs.label).toEqualTypeOf<Handle<string>>();
      expectTypeOf(outs.values.map(double).collect()).toEqualTypeOf<Handle<number[]>>();
      expectTypeOf(shout(outs.label)).toEqualTypeOf<Handle<string>>();
      // Destructuring by position: each element is one of the outputs' handles.
      const [first] = outs;
      expectTypeOf(first).toEqualTypeOf<DynamicHandle<number> | Handle<string>>();
      expect(outs.values).toBeInstanceOf(DynamicHandle);
      expect(outs.label).toBeInstanceOf(Handle);
      expect(outs[0]).toBe(outs.values);
      expect(outs[2]).toBe(outs.label);
    });
  });

  it('ctx.opConfig is typed from the zod config schema', () => {
    expectTypeOf(scaled.__config).toEqualTypeOf<{ factor: number; label: string } | undefined>();
    expectTypeOf<Parameters<typeof scaled.fn>[0]>().toEqualTypeOf<OpContext<unknown>>();
  });
});

describe('wrong wiring does not compile', () => {
  it('rejects mismatched handle types, dynamic handles passed directly and .map on a plain handle', () => {
    // Type-checked only: calling these would trace jobs that are wrong on purpose.
    /* eslint-disable @typescript-eslint/no-unsafe-call -- the @ts-expect-error lines call members that do not exist, on purpose */
    const wrongWiring = (): void => {
      const text = greeting();
      const list = numberList();
      const dyn = pieces();
      // @ts-expect-error Handle<string> into a number input
      double(text);
      // @ts-expect-error Handle<number[]> into a number input
      double(list);
      // @ts-expect-error Handle<number> into a number[] input (a fan-in list needs [..])
      sum(double(sum(list)));
      // @ts-expect-error a list of Handle<string> into a number[] input
      sum([text, text]);
      // @ts-expect-error a DynamicHandle passed directly: it must be mapped or collected
      sum(dyn);
      // @ts-expect-error a mapped DynamicHandle passed directly
      double(dyn.map(sum));
      // @ts-expect-error .map exists only on dynamic handles
      list.map(double);
      // @ts-expect-error .collect exists only on dynamic handles
      list.collect();
      // @ts-expect-error the mapped op's input type must match the item type (number[] items into number)
      dyn.map(double);
      // @ts-expect-error the collected list has the item type: number[][] is not string[]
      shout(dyn.collect());
      // @ts-expect-error too many arguments
      double(sum(list), sum(list));
      // @ts-expect-error a plain value is not a handle
      double(3);
      const outs = multi();
      // @ts-expect-error a named dynamic output is still dynamic
      double(outs.values);
      // @ts-expect-error Handle<string> label into a number input
      double(outs.label);
      // @ts-expect-error no such output
      void outs.missing;
    };
    const wrongConfig = (ctx: OpContext<{ factor: number }>): void => {
      // @ts-expect-error opConfig has no such key
      void ctx.opConfig.missing;
      // @ts-expect-error factor is a number
      ctx.opConfig.factor.toUpperCase();
    };
    // Op bodies must produce what the op's single output declares.
    const wrongBodies = (): void => {
      // @ts-expect-error Out<number> but the body returns a string
      op({ name: 'declared_number', out: new Out<number>() }, async () => 'not a number');
      // @ts-expect-error the output schema says number, the body returns a string
      op({ name: 'schema_number', out: new Out({ schema: z.number() }) }, async () => 'not a number');
      // @ts-expect-error DynamicOut<number> but the generator yields DynamicOutput<string>
      op({ name: 'declared_dynamic', out: new DynamicOut<number>() }, async function* () {
        yield new DynamicOutput('text', 'k');
      });
      // @ts-expect-error DynamicOut<number> but the body returns one number, not a list of DynamicOutput
      op({ name: 'declared_dynamic_list', out: new DynamicOut<number>() }, async () => 5);
      // @ts-expect-error the config schema parses { n: number }, the body reads { n: string }
      op({ name: 'config_mismatch', config: z.object({ n: z.number() }) }, async (ctx: OpContext<{ n: string }>) => ctx.opConfig.n);
    };
    // toleratedFailures: exactly one of count and ratio, numbers.
    const wrongTolerance = (): void => {
      const dyn = pieces();
      dyn.map(sum, { toleratedFailures: { count: 3 } });
      dyn.map(sum, { toleratedFailures: { ratio: 0.05 } });
      // @ts-expect-error both count and ratio
      dyn.map(sum, { toleratedFailures: { count: 3, ratio: 0.05 } });
      // @ts-expect-error neither count nor ratio
      dyn.map(sum, { toleratedFailures: {} });
      // @ts-expect-error count is a number
      dyn.map(sum, { toleratedFailures: { count: '3' } });
      // @ts-expect-error a percentage is a ratio
      dyn.map(sum, { toleratedFailures: { percent: 5 } });
    };
    /* eslint-enable @typescript-eslint/no-unsafe-call */
    expectTypeOf(wrongTolerance).toBeFunction();
    expectTypeOf(wrongBodies).toBeFunction();
    expectTypeOf(wrongWiring).toBeFunction();
    expectTypeOf(wrongConfig).toBeFunction();
  });
});
