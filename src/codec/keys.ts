/**
 * The encryption keys of opgraph's payload codec (README "Security"): from OPGRAPH_CODEC_KEYS or the file
 * OPGRAPH_CODEC_KEY_FILE, each `<key id>=<base64 of 32 random bytes>`. New data is encrypted with the current
 * key (OPGRAPH_CODEC_KEY_ID, else the last one listed); data written under any listed key still decodes.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { OpgraphError } from '../dsl/errors.ts';

export const CODEC_ENV = {
  keys: 'OPGRAPH_CODEC_KEYS',
  keyFile: 'OPGRAPH_CODEC_KEY_FILE',
  currentKeyId: 'OPGRAPH_CODEC_KEY_ID',
} as const;

/** AES-256: 32 bytes of key material. */
export const KEY_BYTES = 32;

/** A codec setting that cannot work: names the variable and what to set (the CLI exits with code 2). */
export class CodecConfigError extends OpgraphError {
  override readonly name = 'CodecConfigError';
}

/** Travels in every encrypted payload's metadata and in every sealed stored value: no separators, short. */
export const KeyId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'a key id is 1 to 64 letters, digits, ".", "_" or "-"');

const KeyMaterial = z
  .string()
  .regex(/^[A-Za-z0-9+/]+={0,2}$/, `the key must be base64 (e.g. \`openssl rand -base64 ${KEY_BYTES}\`)`)
  .transform((text) => Buffer.from(text, 'base64'))
  .refine((bytes) => bytes.length === KEY_BYTES, `the key must decode to ${KEY_BYTES} bytes (\`openssl rand -base64 ${KEY_BYTES}\`)`);

const KeyEntry = z.object({ id: KeyId, key: KeyMaterial });

export interface CodecKey {
  readonly id: string;
  readonly key: Buffer;
}

/** Every key this process knows, and the one new data is encrypted with. */
export class Keyring {
  readonly current: CodecKey;
  private readonly byId: ReadonlyMap<string, CodecKey>;

  constructor(keys: readonly CodecKey[], currentId: string = keys.at(-1)?.id ?? '') {
    this.byId = new Map(keys.map((k) => [k.id, k]));
    const current = this.byId.get(currentId);
    if (!current) {
      throw new CodecConfigError(
        `${CODEC_ENV.currentKeyId}="${currentId}" names no configured key (known: ${this.ids.join(', ') || 'none'}). ` +
          `Add a key with that id to ${CODEC_ENV.keys} / ${CODEC_ENV.keyFile}, or unset ${CODEC_ENV.currentKeyId} to use the last one listed.`,
      );
    }
    this.current = current;
  }

  get ids(): string[] {
    return [...this.byId.keys()];
  }

  get(id: string): CodecKey | undefined {
    return this.byId.get(id);
  }
}

/**
 * Parses `id=base64` entries separated by commas or newlines (blank lines and `#` comments ignored).
 * `source` names where they came from, for the error message.
 */
export function parseKeys(text: string, source: string): CodecKey[] {
  const entries = text
    .split(/[,\n]/)
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter((line) => line.length > 0);
  const keys: CodecKey[] = [];
  for (const [index, entry] of entries.entries()) {
    const separator = entry.indexOf('=');
    const id = separator < 0 ? entry : entry.slice(0, separator).trim();
    const parsed = KeyEntry.safeParse({ id, key: separator < 0 ? '' : entry.slice(separator + 1).trim() });
    if (!parsed.success) {
      const problem = parsed.error.issues.map((i) => i.message).join('; ');
      throw new CodecConfigError(
        `${source}: entry ${index + 1} (key id "${id}") is invalid: ${problem}. Each entry is <key id>=<base64 of ${KEY_BYTES} bytes>, ` +
          `e.g. ${CODEC_ENV.keys}="2026-11=$(openssl rand -base64 ${KEY_BYTES})".`,
      );
    }
    if (keys.some((k) => k.id === parsed.data.id)) {
      throw new CodecConfigError(`${source}: key id "${parsed.data.id}" is listed twice; every key needs its own id.`);
    }
    keys.push(parsed.data);
  }
  return keys;
}

/**
 * The keyring `env` configures, or undefined when neither OPGRAPH_CODEC_KEYS nor OPGRAPH_CODEC_KEY_FILE is
 * set (payloads then travel as plain JSON). Throws a CodecConfigError naming the variable to fix.
 */
export function keyringFromEnv(env: NodeJS.ProcessEnv = process.env): Keyring | undefined {
  const inline = env[CODEC_ENV.keys]?.trim();
  const file = env[CODEC_ENV.keyFile]?.trim();
  if (inline && file) {
    throw new CodecConfigError(`both ${CODEC_ENV.keys} and ${CODEC_ENV.keyFile} are set; set only one of them.`);
  }
  let keys: CodecKey[];
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new CodecConfigError(`${CODEC_ENV.keyFile}=${file} cannot be read: ${(err as Error).message}`, { cause: err });
    }
    keys = parseKeys(text, `${CODEC_ENV.keyFile}=${file}`);
  } else if (inline) {
    keys = parseKeys(inline, CODEC_ENV.keys);
  } else {
    if (env[CODEC_ENV.currentKeyId]?.trim()) {
      throw new CodecConfigError(`${CODEC_ENV.currentKeyId} is set but no keys are: set ${CODEC_ENV.keys} or ${CODEC_ENV.keyFile}.`);
    }
    return undefined;
  }
  if (keys.length === 0) {
    throw new CodecConfigError(
      `${file ? `${CODEC_ENV.keyFile}=${file}` : CODEC_ENV.keys} lists no keys; add <key id>=<base64 key> entries or unset it.`,
    );
  }
  const currentId = env[CODEC_ENV.currentKeyId]?.trim();
  return new Keyring(keys, currentId || undefined);
}
