/**
 * An op's body is checked at compile time against its `ins` schemas and its outputs. For inputs (DESIGN §2: wiring mistakes are
 * compile errors): a body whose parameter cannot take what the schema produces does not compile.
 * TypeScript cannot see the order of a record's keys, so with several inputs each parameter must
 * accept what at least one schema produces. `@ts-expect-error` lines are checked by `tsc --noEmit`.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DynamicOut, DynamicOutput, In, op, Out, Output } from 'opgraph';

const good = op({ name: 'ins_good', ins: { x: z.number() } }, async (_ctx, x: number) => x + 1);
const wide = op({ name: 'ins_wide', ins: { x: z.number() } }, async (_ctx, x: number | string) => String(x));
const two = op({ name: 'ins_two', ins: { a: z.number(), b: z.string() } }, async (_ctx, a: number, b: string) => `${a}${b}`);
const viaIn = op({ name: 'ins_via_in', ins: { x: new In({ schema: z.array(z.number()) }) } }, async (_ctx, xs: number[]) => xs.length);
const untyped = op({ name: 'ins_untyped', ins: { x: new In() } }, async (_ctx, x: string) => x);
const noIns = op({ name: 'ins_none' }, async (_ctx, x: string) => x);

/** Never called: each line must fail to compile. */
export function mustNotCompile(): unknown[] {
  return [
    // @ts-expect-error a string parameter for a z.number() input
    op({ name: 'ins_bad', ins: { x: z.number() } }, async (_ctx, x: string) => x),
    // @ts-expect-error neither schema produces a boolean
    op({ name: 'ins_two_bad', ins: { a: z.number(), b: z.string() } }, async (_ctx, a: number, b: boolean) => a + Number(b)),
    // @ts-expect-error In<number[]> given to a string parameter
    op({ name: 'ins_in_bad', ins: { x: new In({ schema: z.array(z.number()) }) } }, async (_ctx, x: string) => x),
    // @ts-expect-error an object schema given to a number parameter
    op({ name: 'ins_object_bad', ins: { p: z.object({ path: z.string() }) } }, async (_ctx, p: number) => p),
    // @ts-expect-error an untyped DynamicOut body returning a plain value
    op({ name: 'dyn_plain', out: new DynamicOut() }, async () => 5),
    // @ts-expect-error an untyped DynamicOut body yielding plain values
    op({ name: 'dyn_yields_plain', out: new DynamicOut() }, async function* () {
      yield 5;
    }),
    // @ts-expect-error a multi-output body returning a plain value
    op({ name: 'multi_plain', out: { a: new Out<number>(), b: new Out<string>() } }, async () => 5),
    // @ts-expect-error a multi-output body returning a record of other names
    op({ name: 'multi_names', out: { a: new Out<number>(), b: new Out<string>() } }, async () => ({ c: 1 })),
    // @ts-expect-error a multi-output body returning a wrong value type for an output
    op({ name: 'multi_types', out: { a: new Out<number>(), b: new Out<string>() } }, async () => ({ a: 'one', b: 'two' })),
  ];
}

const dynUntyped = op({ name: 'dyn_untyped', out: new DynamicOut() }, async function* () {
  yield new DynamicOutput({ any: 'thing' }, 'k');
});
const multiRecord = op({ name: 'multi_record', out: { a: new Out<number>(), b: new Out<string>({ isRequired: false }) } }, async () => ({
  a: 1,
}));
const multiYield = op({ name: 'multi_yield', out: { a: new Out<number>(), d: new DynamicOut<string>() } }, async function* () {
  yield new Output(1, { outputName: 'a' });
  yield new DynamicOutput('x', { mappingKey: 'k', outputName: 'd' });
});

describe('op bodies against their ins schemas and outputs', () => {
  it('accepts bodies whose parameters take what the schemas produce, and keeps their input types', () => {
    for (const defined of [good, wide, two, viaIn, untyped, noIns, dynUntyped, multiRecord, multiYield]) expect(defined.kind).toBe('op');
    expect(two.inputs.map((i) => i.name)).toEqual(['a', 'b']);
  });
});
