/**
 * opgraph's payload codec for this process: the keys OPGRAPH_CODEC_KEYS / OPGRAPH_CODEC_KEY_FILE configure
 * (read once), and the Temporal data converter every client and worker opgraph builds uses.
 */
import type { DataConverter, LoadedDataConverter, Payload } from '@temporalio/common';
import { AesGcmCodec } from './aesGcm.ts';
import { type Keyring, keyringFromEnv } from './keys.ts';

export { AesGcmCodec, CodecKeyError, ENCRYPTED_ENCODING, KEY_ID_METADATA } from './aesGcm.ts';
export { CODEC_ENV, CodecConfigError, Keyring, keyringFromEnv, parseKeys } from './keys.ts';

let defaultKeyring: { keyring: Keyring | undefined } | undefined;

/** This process's keys (`keyringFromEnv()` on first use); undefined when encryption is off. */
export function getDefaultKeyring(): Keyring | undefined {
  defaultKeyring ??= { keyring: keyringFromEnv() };
  return defaultKeyring.keyring;
}

/** Replaces this process's keys (tests; embedding applications that hold keys elsewhere). */
export function setDefaultKeyring(keyring: Keyring | undefined): void {
  defaultKeyring = { keyring };
}

/**
 * The data converter for `keyring` (undefined: no keys). The codec is installed even without keys, so that
 * an encrypted payload fails with its key id and the variable to set.
 */
export function codecDataConverter(keyring: Keyring | undefined): DataConverter {
  return { payloadCodecs: [new AesGcmCodec(keyring)] };
}

/** The data converter every client and worker opgraph builds uses: this process's keys. */
export function defaultDataConverter(): DataConverter {
  return codecDataConverter(getDefaultKeyring());
}

/**
 * A payload read from raw history (`getWorkflowExecutionHistory`) decoded as the SDK would: the client's
 * codecs in reverse (decryption), then its payload converter.
 */
export async function decodeRawPayload(converter: LoadedDataConverter, payload: Payload): Promise<unknown> {
  let decoded = [payload];
  for (const codec of [...converter.payloadCodecs].reverse()) decoded = await codec.decode(decoded);
  return converter.payloadConverter.fromPayload(decoded[0] ?? payload);
}
