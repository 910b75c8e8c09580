/** src/engine/payload.ts: the one payload-fitting routine, its measures and the legacy gate. */
import { describe, expect, it, vi } from 'vitest';
import { chooseFit, chunked, chunkLengths, cut, jsonBytes, jsonChars, largestFirst } from '../../src/engine/payload.ts';

describe('jsonBytes / jsonChars', () => {
  it('measure UTF-8 bytes and characters of the JSON', () => {
    expect(jsonBytes('abc')).toBe(5);
    expect(jsonChars('abc')).toBe(5);
    expect(jsonBytes('é')).toBe(4);
    expect(jsonChars('é')).toBe(3);
    expect(jsonBytes('€')).toBe(5);
    expect(jsonBytes('😀')).toBe(6);
    expect(jsonChars('😀')).toBe(4);
    expect(jsonBytes({ a: [1, 2] })).toBe('{"a":[1,2]}'.length);
  });

  it('measure undefined as null', () => {
    expect(jsonBytes(undefined)).toBe(4);
    expect(jsonChars(undefined)).toBe(4);
  });
});

describe('largestFirst', () => {
  const sized = (sizes: Record<string, number>) => Object.entries(sizes).map(([key, size]) => ({ key, size }));

  it('stores nothing when everything fits', () => {
    expect(largestFirst(sized({ a: 10, b: 20 }), 30)).toEqual([]);
    expect(largestFirst([], 0)).toEqual([]);
  });

  it('takes the largest entries until the rest fits', () => {
    expect(largestFirst(sized({ a: 10, b: 50, c: 30, d: 20 }), 60)).toEqual(['b']);
    expect(largestFirst(sized({ a: 10, b: 50, c: 30, d: 20 }), 30)).toEqual(['b', 'c']);
    expect(largestFirst(sized({ a: 10, b: 50, c: 30, d: 20 }), 29)).toEqual(['b', 'c', 'd']);
    expect(largestFirst(sized({ a: 10, b: 50, c: 30, d: 20 }), 0)).toEqual(['b', 'c', 'd', 'a']);
  });

  it('counts what each stored entry leaves behind (refSize)', () => {
    // Without the reference's size, storing b leaves 40 ≤ 40; with it, 40 + 5 > 40 and c goes too.
    expect(largestFirst(sized({ a: 10, b: 50, c: 30 }), 40)).toEqual(['b']);
    expect(largestFirst(sized({ a: 10, b: 50, c: 30 }), 40, { refSize: 5 })).toEqual(['b', 'c']);
  });

  it('never stores entries under `smallest`, even when the rest still does not fit', () => {
    expect(largestFirst(sized({ a: 10, b: 50, c: 30 }), 5, { smallest: 20 })).toEqual(['b', 'c']);
  });

  it('keeps ties in their original order', () => {
    expect(largestFirst(sized({ a: 10, b: 10, c: 10 }), 15)).toEqual(['a', 'b']);
  });
});

describe('chunkLengths / cut / chunked', () => {
  it('cuts consecutive chunks within the limit', () => {
    expect(chunkLengths([3, 3, 3, 3], 6)).toEqual([2, 2]);
    expect(chunkLengths([3, 3, 3, 3], 7)).toEqual([2, 2]);
    expect(chunkLengths([3, 3, 3, 3], 9)).toEqual([3, 1]);
    expect(chunkLengths([1, 5, 1, 1, 5], 6)).toEqual([2, 2, 1]);
    expect(chunkLengths([1, 5, 1, 1, 4], 6)).toEqual([2, 3]);
  });

  it('gives an oversized item a chunk of its own', () => {
    expect(chunkLengths([10], 6)).toEqual([1]);
    expect(chunkLengths([1, 10, 1], 6)).toEqual([1, 1, 1]);
  });

  it('has no chunk for no items', () => {
    expect(chunkLengths([], 6)).toEqual([]);
  });

  it('lengths always add up to the number of items', () => {
    const sizes = Array.from({ length: 200 }, (_, i) => (i * 37) % 23);
    for (const limit of [1, 10, 50, 1000]) expect(chunkLengths(sizes, limit).reduce((a, b) => a + b, 0)).toBe(200);
  });

  it('cut splits by lengths; chunked by measured size', () => {
    expect(cut(['a', 'b', 'c', 'd', 'e'], [2, 3])).toEqual([
      ['a', 'b'],
      ['c', 'd', 'e'],
    ]);
    expect(cut([], [])).toEqual([]);
    const values = ['aaaa', 'bbbb', 'cccc'];
    // Each value is 6 bytes of JSON.
    expect(chunked(values, 12)).toEqual([['aaaa', 'bbbb'], ['cccc']]);
    expect(chunked(['éé', 'éé'], 6)).toEqual([['éé'], ['éé']]);
    expect(chunked(['éé', 'éé'], 8, jsonChars)).toEqual([['éé', 'éé']]);
  });
});

describe('chooseFit', () => {
  it('the same decision needs no gate', () => {
    const patched = vi.fn(() => false);
    expect(chooseFit([1, 2], [1, 2], patched)).toEqual([1, 2]);
    expect(chooseFit({ sharded: false }, { sharded: false }, patched)).toEqual({ sharded: false });
    expect(patched).not.toHaveBeenCalled();
  });

  it('a different decision asks the gate: patched → current, else legacy', () => {
    const yes = vi.fn(() => true);
    const no = vi.fn(() => false);
    expect(chooseFit(['a'], [], yes)).toEqual(['a']);
    expect(chooseFit(['a'], [], no)).toEqual([]);
    expect(chooseFit(true, false, no)).toBe(false);
    expect(yes).toHaveBeenCalledTimes(1);
    expect(no).toHaveBeenCalledTimes(2);
  });

  it('compares decisions by value, not identity', () => {
    const patched = vi.fn(() => false);
    const current = { sharded: true, ranges: [{ start: 0, end: 5 }] };
    expect(chooseFit(current, { sharded: true, ranges: [{ start: 0, end: 5 }] }, patched)).toBe(current);
    expect(patched).not.toHaveBeenCalled();
  });
});
