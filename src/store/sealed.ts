import { openText, sealText } from '../codec/aesGcm.ts';
import type { Keyring } from '../codec/keys.ts';
import type { StoredRef } from '../dsl/protocol.ts';
import type { ValueStore } from './types.ts';

/**
 * A store whose values are encrypted with the codec's keys (README "Security"). The inner store keeps the
 * sealed text (its reference's sha256 and bytes describe that text); values written before encryption was
 * enabled are plain JSON and still read.
 */
export class SealedStore implements ValueStore {
  constructor(
    readonly inner: ValueStore,
    readonly keyring: Keyring,
  ) {}

  get name(): string {
    return this.inner.name;
  }

  get location(): string {
    return this.inner.location;
  }

  put(json: string): Promise<StoredRef> {
    return this.inner.put(sealText(json, this.keyring));
  }

  async get(ref: StoredRef): Promise<string> {
    return openText(await this.inner.get(ref), this.keyring, `stored value ${ref.key} (${this.inner.location})`);
  }

  /** Named records (per-step logs) are sealed too: they hold what ops log. */
  putNamed(name: string, json: string): Promise<void> {
    return this.inner.putNamed(name, sealText(json, this.keyring));
  }

  async getNamed(name: string): Promise<string | undefined> {
    const text = await this.inner.getNamed(name);
    return text === undefined ? undefined : openText(text, this.keyring, `record ${name} (${this.inner.location})`);
  }

  listNamed(prefix: string): Promise<string[]> {
    return this.inner.listNamed(prefix);
  }

  check(): Promise<void> {
    return this.inner.check?.() ?? Promise.resolve();
  }
}
