/**
 * The AES-256-GCM payload codec and sealed store values (src/codec, src/store/sealed.ts), without a server:
 * key configuration errors, wrong or missing keys (the error names the key id), and rotation.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { afterAll, describe, expect, it } from 'vitest';
import { AesGcmCodec, ENCRYPTED_ENCODING, KEY_ID_METADATA } from '../../src/codec/aesGcm.ts';
import { CodecConfigError, Keyring, keyringFromEnv, parseKeys } from '../../src/codec/keys.ts';
import { FileSystemStore, readJson, SealedStore, storeFromEnv } from '../../src/store/store.ts';
import { listStepJournals, readStepJournal, stepJournalName } from '../../src/store/stepLogs.ts';

const k1 = randomBytes(32).toString('base64');
const k2 = randomBytes(32).toString('base64');
const ring = (text: string, current?: string): Keyring => new Keyring(parseKeys(text, 'test'), current);
const SECRET = 'op-value-c0dec-5ecret';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'opgraph-codec-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('codec keys from the environment', () => {
  it('is off without OPGRAPH_CODEC_KEYS / OPGRAPH_CODEC_KEY_FILE', () => {
    expect(keyringFromEnv({})).toBeUndefined();
  });

  it('reads id=base64 entries; the last listed is current unless OPGRAPH_CODEC_KEY_ID names another', () => {
    const keyring = keyringFromEnv({ OPGRAPH_CODEC_KEYS: `k1=${k1}, k2=${k2}` });
    expect(keyring?.ids).toEqual(['k1', 'k2']);
    expect(keyring?.current.id).toBe('k2');
    expect(keyringFromEnv({ OPGRAPH_CODEC_KEYS: `k1=${k1},k2=${k2}`, OPGRAPH_CODEC_KEY_ID: 'k1' })?.current.id).toBe('k1');
  });

  it('reads a key file (one entry a line, # comments)', () => {
    const file = join(tempDir(), 'keys');
    writeFileSync(file, `# retired in 2027\nold=${k1}\n\nnew=${k2}  # current\n`);
    const keyring = keyringFromEnv({ OPGRAPH_CODEC_KEY_FILE: file });
    expect(keyring?.ids).toEqual(['old', 'new']);
    expect(keyring?.current.id).toBe('new');
  });

  it('refuses bad settings, naming the variable, the key id and what to do', () => {
    const bad = (env: NodeJS.ProcessEnv) => () => keyringFromEnv(env);
    expect(bad({ OPGRAPH_CODEC_KEYS: `k1=${k1.slice(0, 20)}` })).toThrow(
      /OPGRAPH_CODEC_KEYS: entry 1 \(key id "k1"\) is invalid: .*32 bytes/,
    );
    expect(bad({ OPGRAPH_CODEC_KEYS: `k1=${k1},k2=not base64!` })).toThrow(/entry 2 \(key id "k2"\) is invalid: the key must be base64/);
    expect(bad({ OPGRAPH_CODEC_KEYS: `bad id=${k1}` })).toThrow(/key id "bad id"/);
    expect(bad({ OPGRAPH_CODEC_KEYS: `k1=${k1},k1=${k2}` })).toThrow(/key id "k1" is listed twice/);
    expect(bad({ OPGRAPH_CODEC_KEYS: `k1=${k1}`, OPGRAPH_CODEC_KEY_ID: 'k9' })).toThrow(
      /OPGRAPH_CODEC_KEY_ID="k9" names no configured key \(known: k1\)/,
    );
    expect(bad({ OPGRAPH_CODEC_KEYS: `k1=${k1}`, OPGRAPH_CODEC_KEY_FILE: '/x' })).toThrow(/set only one of them/);
    expect(bad({ OPGRAPH_CODEC_KEY_FILE: '/nonexistent/keys' })).toThrow(/OPGRAPH_CODEC_KEY_FILE=\/nonexistent\/keys cannot be read/);
    expect(bad({ OPGRAPH_CODEC_KEY_ID: 'k1' })).toThrow(/no keys are/);
    expect(bad({ OPGRAPH_CODEC_KEYS: `k1=${k1.slice(0, 20)}` })).toThrow(CodecConfigError);
  });
});

describe('AesGcmCodec', () => {
  const payload = defaultPayloadConverter.toPayload({ value: SECRET });

  it('encrypts: binary/encrypted with the key id in the metadata, no clear text; decodes back', async () => {
    const codec = new AesGcmCodec(ring(`k1=${k1}`));
    const [encoded] = await codec.encode([payload]);
    expect(Buffer.from(encoded!.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(encoded!.metadata![KEY_ID_METADATA]!).toString()).toBe('k1');
    expect(Buffer.from(encoded!.data!).includes(SECRET)).toBe(false);
    const [decoded] = await codec.decode([encoded!]);
    expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual({ value: SECRET });
  });

  it('passes unencrypted payloads through (runs started before encryption was enabled)', async () => {
    const [decoded] = await new AesGcmCodec(ring(`k1=${k1}`)).decode([payload]);
    expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual({ value: SECRET });
  });

  it('rotation: data written under k1 still decodes after k2 becomes current; new data uses k2', async () => {
    const [underK1] = await new AesGcmCodec(ring(`k1=${k1}`)).encode([payload]);
    const rotated = new AesGcmCodec(ring(`k1=${k1},k2=${k2}`));
    const [underK2] = await rotated.encode([payload]);
    expect(Buffer.from(underK2!.metadata![KEY_ID_METADATA]!).toString()).toBe('k2');
    const decoded = await rotated.decode([underK1!, underK2!]);
    expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([{ value: SECRET }, { value: SECRET }]);
  });

  it('a missing key, a process without keys and a wrong key each fail naming the key id', async () => {
    const [underK1] = await new AesGcmCodec(ring(`k1=${k1}`)).encode([payload]);
    await expect(new AesGcmCodec(ring(`k2=${k2}`)).decode([underK1!])).rejects.toThrow(
      /encrypted with key id "k1", which is not among this process's keys \(k2\)\. .*add the key to OPGRAPH_CODEC_KEYS/,
    );
    await expect(new AesGcmCodec(undefined).decode([underK1!])).rejects.toThrow(
      /encrypted with key id "k1", but this process has no codec keys: set OPGRAPH_CODEC_KEYS \(or OPGRAPH_CODEC_KEY_FILE\) with the key "k1"/,
    );
    await expect(new AesGcmCodec(ring(`k1=${k2}`)).decode([underK1!])).rejects.toThrow(
      /could not be decrypted with key id "k1": the key material configured as "k1" is not the one it was written with/,
    );
  });

  it('without keys, encodes nothing', async () => {
    expect(await new AesGcmCodec(undefined).encode([payload])).toEqual([payload]);
  });
});

describe('sealed store values', () => {
  it('storeFromEnv seals values with the codec keys; the file holds no clear text', async () => {
    const root = tempDir();
    const store = storeFromEnv({ OPGRAPH_STORAGE_DIR: root, OPGRAPH_CODEC_KEYS: `k1=${k1}` });
    expect(store).toBeInstanceOf(SealedStore);
    expect(store.name).toBe('fs');
    const ref = await store.put(JSON.stringify({ value: SECRET }));
    const [sub] = readdirSync(root);
    const [file] = readdirSync(join(root, sub!));
    const raw = readFileSync(join(root, sub!, file!), 'utf8');
    expect(raw).toMatch(/^opgraph-aes256gcm:v1:k1:/);
    expect(raw).not.toContain(SECRET);
    expect(await readJson(ref, store)).toEqual({ value: SECRET });
  });

  it('rotation: a value sealed under k1 reads after k2 becomes current; plain (older) values read too', async () => {
    const root = tempDir();
    const oldRef = await new SealedStore(new FileSystemStore(root), ring(`k1=${k1}`)).put(JSON.stringify([SECRET, 1]));
    const plainRef = await new FileSystemStore(root).put(JSON.stringify([SECRET, 0]));
    const rotated = new SealedStore(new FileSystemStore(root), ring(`k1=${k1},k2=${k2}`));
    const newRef = await rotated.put(JSON.stringify([SECRET, 2]));
    expect(readFileSync(join(root, newRef.key), 'utf8')).toMatch(/^opgraph-aes256gcm:v1:k2:/);
    expect(await readJson(oldRef, rotated)).toEqual([SECRET, 1]);
    expect(await readJson(plainRef, rotated)).toEqual([SECRET, 0]);
    expect(await readJson(newRef, rotated)).toEqual([SECRET, 2]);
  });

  it('step journals (per-step logs) are sealed too, read back with the keys, and refused without them', async () => {
    const root = tempDir();
    const sealed = new SealedStore(new FileSystemStore(root), ring(`k1=${k1}`));
    const journal = { runId: 'r', stepKey: 'op[a]', node: 'op', mappingKeys: ['a'], attempts: [] };
    await sealed.putNamed(stepJournalName('r', 'op[a]'), JSON.stringify(journal));
    const raw = readFileSync(join(root, 'named', stepJournalName('r', 'op[a]')), 'utf8');
    expect(raw).toMatch(/^opgraph-aes256gcm:v1:k1:/);
    expect(raw).not.toContain('op[a]');
    expect(await readStepJournal(sealed, 'r', 'op[a]')).toEqual(journal);
    expect(await listStepJournals(sealed, 'r')).toEqual([journal]);
    await expect(readStepJournal(new FileSystemStore(root), 'r', 'op[a]')).rejects.toThrow(/encrypted with key id "k1"/);
  });

  it('a sealed value read without its key (or without any key) fails naming the key id', async () => {
    const root = tempDir();
    const ref = await new SealedStore(new FileSystemStore(root), ring(`k1=${k1}`)).put(JSON.stringify(SECRET));
    await expect(readJson(ref, new SealedStore(new FileSystemStore(root), ring(`k2=${k2}`)))).rejects.toThrow(
      new RegExp(`stored value ${ref.key} \\(${root}\\) is encrypted with key id "k1", which is not among this process's keys \\(k2\\)`),
    );
    await expect(readJson(ref, new FileSystemStore(root))).rejects.toThrow(
      /is encrypted with key id "k1", but this process has no codec keys: set OPGRAPH_CODEC_KEYS/,
    );
  });
});
