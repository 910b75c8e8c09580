import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileSystemStore, isStoredRef, materialize, offload } from '../../src/store/store.ts';

describe('value store', () => {
  const store = () => new FileSystemStore(mkdtempSync(join(tmpdir(), 'opgraph-store-')));

  it('keeps small values inline and stores large ones as references', async () => {
    const s = store();
    expect(await offload({ a: 1 }, s, 1024)).toEqual({ a: 1 });
    const big = 'x'.repeat(5000);
    const ref = await offload(big, s, 1024);
    expect(isStoredRef(ref)).toBe(true);
    expect(ref).toMatchObject({ store: 'fs', bytes: 5002 });
    expect(await materialize(ref, s)).toBe(big);
    expect(await materialize([ref, 3], s)).toEqual([big, 3]);
  });

  it('stores the same value from many concurrent writers safely', async () => {
    const s = store();
    const value = 'w'.repeat(4000);
    const refs = await Promise.all(Array.from({ length: 20 }, () => offload(value, s, 100)));
    expect(new Set(refs.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(await materialize(refs[0], s)).toBe(value);
  });

  it('is content-addressed: the same value is stored once', async () => {
    const s = store();
    const a = await offload('y'.repeat(3000), s, 100);
    const b = await offload('y'.repeat(3000), s, 100);
    expect(a).toEqual(b);
    expect(readdirSync(s.root, { recursive: true }).filter((f) => String(f).endsWith('.json'))).toHaveLength(1);
  });

  it('says where a missing value should have been, and detects corruption', async () => {
    const s = store();
    const ref = await offload('z'.repeat(3000), s, 100);
    if (!isStoredRef(ref)) throw new Error('expected a reference');
    writeFileSync(join(s.root, ref.key), '"tampered"');
    await expect(materialize(ref, s)).rejects.toThrow(/corrupt/);
    const other = new FileSystemStore(mkdtempSync(join(tmpdir(), 'opgraph-store-')));
    await expect(materialize(ref, other)).rejects.toThrow(/missing from .*OPGRAPH_STORAGE_DIR/);
  });
});
