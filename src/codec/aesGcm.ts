/**
 * AES-256-GCM for Temporal payloads (a PayloadCodec: runs in the client and the worker's main thread, never
 * in the workflow sandbox) and for values in the store. Each ciphertext names the key id it was written with,
 * so keys can rotate: encrypt with the current key, decrypt with whichever key the data names.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import { OpgraphError } from '../dsl/errors.ts';
import { CODEC_ENV, type CodecKey, type Keyring } from './keys.ts';

/** The payload encoding an encrypted payload carries (the name Temporal's samples use). */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** Metadata key naming the key a payload was encrypted with. */
export const KEY_ID_METADATA = 'encryption-key-id';
/** Prefix of a sealed stored value: not valid JSON, so it can never be taken for a plain (older) value. */
export const SEALED_PREFIX = 'opgraph-aes256gcm:v1:';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const Payload = proto.temporal.api.common.v1.Payload;

/** A payload or stored value this process cannot decrypt; names the key id and what to do. */
export class CodecKeyError extends OpgraphError {
  override readonly name = 'CodecKeyError';
}

const ADD_KEY_HINT =
  `Every worker, client, CLI and codec server must know every key that data in flight was written with: ` +
  `add the key to ${CODEC_ENV.keys} (or ${CODEC_ENV.keyFile}), and keep retired keys until no run or stored value uses them.`;

/** `iv | ciphertext | tag`, with the key id as additional data (a blob cannot be replayed under another id). */
export function encryptBytes(plain: Uint8Array, key: CodecKey): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.key, iv);
  cipher.setAAD(Buffer.from(key.id));
  return Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

/** Inverse of encryptBytes; `what` says what was being read, for the error. */
export function decryptBytes(blob: Uint8Array, keyId: string, keyring: Keyring | undefined, what: string): Buffer {
  if (!keyring) {
    throw new CodecKeyError(
      `${what} is encrypted with key id "${keyId}", but this process has no codec keys: set ${CODEC_ENV.keys} (or ${CODEC_ENV.keyFile}) ` +
        `with the key "${keyId}". ${ADD_KEY_HINT}`,
    );
  }
  const key = keyring.get(keyId);
  if (!key) {
    throw new CodecKeyError(
      `${what} is encrypted with key id "${keyId}", which is not among this process's keys (${keyring.ids.join(', ')}). ${ADD_KEY_HINT}`,
    );
  }
  if (blob.length < IV_BYTES + TAG_BYTES) throw new CodecKeyError(`${what} (key id "${keyId}") is truncated: ${blob.length} bytes.`);
  const bytes = Buffer.from(blob);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.key, bytes.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(keyId));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]);
  } catch (err) {
    throw new CodecKeyError(
      `${what} could not be decrypted with key id "${keyId}": the key material configured as "${keyId}" is not the one it was ` +
        `written with (or the data was altered). Give "${keyId}" the same base64 key in ${CODEC_ENV.keys} everywhere.`,
      { cause: err },
    );
  }
}

/**
 * The payload codec. Without a keyring it encodes nothing and only turns an encrypted payload into an error
 * naming its key id (instead of the SDK's "Unknown encoding: binary/encrypted").
 */
export class AesGcmCodec implements PayloadCodec {
  constructor(readonly keyring: Keyring | undefined) {}

  encode(payloads: Payload[]): Promise<Payload[]> {
    const keyring = this.keyring;
    if (!keyring) return Promise.resolve(payloads);
    const key = keyring.current;
    return Promise.resolve(
      payloads.map((payload) => ({
        metadata: { encoding: Buffer.from(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: Buffer.from(key.id) },
        data: encryptBytes(Payload.encode(payload).finish(), key),
      })),
    );
  }

  // async: a bad payload must reject the promise, not throw synchronously.
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.decodeOne(payload));
  }

  private decodeOne(payload: Payload): Payload {
    // Payloads written before encryption was enabled (or by a process without keys) pass through.
    if (!isEncrypted(payload)) return payload;
    const keyId = Buffer.from(payload.metadata?.[KEY_ID_METADATA] ?? []).toString();
    const plain = decryptBytes(payload.data ?? new Uint8Array(), keyId || '(none)', this.keyring, 'a Temporal payload');
    const decoded = Payload.decode(plain);
    return { metadata: decoded.metadata, data: decoded.data };
  }
}

export function isEncrypted(payload: Payload): boolean {
  const encoding = payload.metadata?.encoding;
  return encoding !== undefined && encoding !== null && Buffer.from(encoding).toString() === ENCRYPTED_ENCODING;
}

/** A stored value's text, sealed with the current key: `opgraph-aes256gcm:v1:<key id>:<base64>`. */
export function sealText(text: string, keyring: Keyring): string {
  const key = keyring.current;
  return `${SEALED_PREFIX}${key.id}:${encryptBytes(Buffer.from(text), key).toString('base64')}`;
}

export function isSealed(text: string): boolean {
  return text.startsWith(SEALED_PREFIX);
}

/** Opens a sealed value (`what` names it for errors); text that is not sealed (an older value) is returned as is. */
export function openText(text: string, keyring: Keyring | undefined, what: string): string {
  if (!isSealed(text)) return text;
  const rest = text.slice(SEALED_PREFIX.length);
  const separator = rest.indexOf(':');
  const keyId = separator < 0 ? '(none)' : rest.slice(0, separator);
  return decryptBytes(Buffer.from(rest.slice(separator + 1), 'base64'), keyId, keyring, what).toString();
}
