/**
 * `opgraph codec-server` (src/codec/server.ts) over real HTTP: CORS for the UI's origin (preflight included),
 * the bearer token, and encode → decode round trips in the proto3-JSON shape the Temporal Web UI sends.
 */
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keyring, parseKeys } from '../../src/codec/keys.ts';
import { type RunningCodecServer, startCodecServer } from '../../src/codec/server.ts';

const UI = 'http://127.0.0.1:8233';
const TOKEN = 'codec-test-token';
const keyring = (text: string): Keyring => new Keyring(parseKeys(text, 'test'));
const k1 = randomBytes(32).toString('base64');
const k2 = randomBytes(32).toString('base64');

interface JsonPayload {
  metadata: Record<string, string>;
  data: string;
}

/** A payload as the UI sends it: every bytes field base64 (proto3 JSON). */
function jsonPayload(value: unknown): JsonPayload {
  const p = defaultPayloadConverter.toPayload(value);
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    data: Buffer.from(p.data ?? []).toString('base64'),
  };
}

function valueOf(p: JsonPayload): unknown {
  return defaultPayloadConverter.fromPayload({
    metadata: Object.fromEntries(Object.entries(p.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(p.data, 'base64'),
  });
}

describe('codec server', () => {
  let open: RunningCodecServer;
  let guarded: RunningCodecServer;
  beforeAll(async () => {
    open = await startCodecServer({ keyring: keyring(`k1=${k1}`), corsOrigins: [UI], port: 0 });
    guarded = await startCodecServer({ keyring: keyring(`k1=${k1},k2=${k2}`), corsOrigins: [UI], token: TOKEN, port: 0 });
  });
  afterAll(async () => {
    await open?.close();
    await guarded?.close();
  });

  const post = (server: RunningCodecServer, path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', Origin: UI, ...headers },
      body: JSON.stringify(body),
    });

  it('answers the preflight for the UI origin, and not for another origin', async () => {
    const preflight = await fetch(`${open.url}/decode`, {
      method: 'OPTIONS',
      headers: { Origin: UI, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-namespace' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(UI);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Content-Type.*X-Namespace.*Authorization/);
    expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');

    const other = await fetch(`${open.url}/decode`, { method: 'OPTIONS', headers: { Origin: 'http://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const post = await fetch(`${open.url}/decode`, { method: 'POST', headers: { Origin: 'http://evil.example' }, body: '{"payloads":[]}' });
    expect(post.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('encode then decode round-trips the UI payload shape; encoded payloads are binary/encrypted under the current key', async () => {
    const values = [{ secret: 'codec-server-value' }, 42, 'text'];
    const encodedResponse = await post(open, '/encode', { payloads: values.map(jsonPayload) });
    expect(encodedResponse.status).toBe(200);
    expect(encodedResponse.headers.get('access-control-allow-origin')).toBe(UI);
    const encoded = (await encodedResponse.json()) as { payloads: JsonPayload[] };
    expect(encoded.payloads).toHaveLength(3);
    for (const p of encoded.payloads) {
      expect(Buffer.from(p.metadata.encoding!, 'base64').toString()).toBe('binary/encrypted');
      expect(Buffer.from(p.metadata['encryption-key-id']!, 'base64').toString()).toBe('k1');
      expect(Buffer.from(p.data, 'base64').toString('latin1')).not.toContain('codec-server-value');
    }
    // The namespace-prefixed route (the CLI's --codec-endpoint templating) decodes too.
    const decoded = (await (await post(open, '/default/decode', encoded)).json()) as { payloads: JsonPayload[] };
    expect(decoded.payloads.map(valueOf)).toEqual(values);
  });

  it('with a token: refuses a request without it or with a wrong one (401), accepts the right one', async () => {
    const body = { payloads: [jsonPayload('guarded')] };
    const missing = await post(guarded, '/encode', body);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    // The browser can read the refusal (CORS headers on errors too).
    expect(missing.headers.get('access-control-allow-origin')).toBe(UI);
    expect((await post(guarded, '/encode', body, { Authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await post(guarded, '/encode', body, { Authorization: TOKEN })).status).toBe(401);
    const accepted = await post(guarded, '/encode', body, { Authorization: `Bearer ${TOKEN}` });
    expect(accepted.status).toBe(200);
    const encoded = (await accepted.json()) as { payloads: JsonPayload[] };
    expect(Buffer.from(encoded.payloads[0]!.metadata['encryption-key-id']!, 'base64').toString()).toBe('k2');
    // The preflight never carries the token: it is answered without one.
    const preflight = await fetch(`${guarded.url}/decode`, { method: 'OPTIONS', headers: { Origin: UI } });
    expect(preflight.status).toBe(204);
  });

  it('decoding data under a key it does not have answers 422 naming the key id; bad requests get 400/404/405', async () => {
    const underK2 = (await (
      await post(guarded, '/encode', { payloads: [jsonPayload('x')] }, { Authorization: `Bearer ${TOKEN}` })
    ).json()) as {
      payloads: JsonPayload[];
    };
    const refused = await post(open, '/decode', underK2);
    expect(refused.status).toBe(422);
    expect(((await refused.json()) as { message: string }).message).toMatch(/key id "k2", which is not among this process's keys \(k1\)/);
    expect((await post(open, '/decode', { nope: 1 })).status).toBe(400);
    expect((await fetch(`${open.url}/decode`, { method: 'POST', body: 'not json' })).status).toBe(400);
    expect((await fetch(`${open.url}/decode`)).status).toBe(405);
    expect((await post(open, '/other', {})).status).toBe(404);
  });
});
