/**
 * Temporal Cloud / secured-server settings from the environment: pure tests on a fake env and temp
 * certificate files (no server is contacted).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { connectClient } from '../src/client/connect.ts';
import { clientConnectionOptions, nativeConnectionOptions, targetForAddress, temporalTargetFromEnv } from '../src/connection.ts';
import { connectNative } from '../src/worker/createWorker.ts';

const CLOUD = 'my-ns.a1b2c.tmprl.cloud:7233';
const CERT_PEM = '-----BEGIN CERTIFICATE-----\nMIIBfakecert\n-----END CERTIFICATE-----\n';
const KEY_PEM = '-----BEGIN PRIVATE KEY-----\nMIIEfakekey\n-----END PRIVATE KEY-----\n';
const CA_PEM = '-----BEGIN CERTIFICATE-----\nMIIBfakeca\n-----END CERTIFICATE-----\n';

let dir: string;
let certPath: string;
let keyPath: string;
let caPath: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'opgraph-connection-test-'));
  certPath = join(dir, 'client.pem');
  keyPath = join(dir, 'client.key');
  caPath = join(dir, 'ca.pem');
  writeFileSync(certPath, CERT_PEM);
  writeFileSync(keyPath, KEY_PEM);
  writeFileSync(caPath, CA_PEM);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('temporalTargetFromEnv', () => {
  it('is undefined without TEMPORAL_ADDRESS, whatever else is set', () => {
    expect(temporalTargetFromEnv({})).toBeUndefined();
    expect(temporalTargetFromEnv({ TEMPORAL_ADDRESS: '  ', TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'true' })).toBeUndefined();
  });

  it('reads a plain local server: address, namespace (default "default"), no TLS, no API key', () => {
    expect(temporalTargetFromEnv({ TEMPORAL_ADDRESS: ' localhost:7233 ' })).toEqual({ address: 'localhost:7233', namespace: 'default' });
    expect(temporalTargetFromEnv({ TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_NAMESPACE: 'prod', TEMPORAL_TLS: 'false' })).toEqual({
      address: 'temporal:7233',
      namespace: 'prod',
    });
  });

  it('an API key switches TLS on (Temporal Cloud)', () => {
    expect(temporalTargetFromEnv({ TEMPORAL_ADDRESS: CLOUD, TEMPORAL_NAMESPACE: 'my-ns.a1b2c', TEMPORAL_API_KEY: 'secret-key' })).toEqual({
      address: CLOUD,
      namespace: 'my-ns.a1b2c',
      apiKey: 'secret-key',
      tls: {},
    });
  });

  it('TEMPORAL_TLS=false keeps an API key on a plain-text connection', () => {
    expect(temporalTargetFromEnv({ TEMPORAL_ADDRESS: 'proxy:7233', TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' })).toEqual({
      address: 'proxy:7233',
      namespace: 'default',
      apiKey: 'k',
    });
  });

  it('TEMPORAL_TLS=true alone means TLS with the system roots', () => {
    for (const value of ['true', 'TRUE', '1', 'yes']) {
      expect(temporalTargetFromEnv({ TEMPORAL_ADDRESS: 'h:7233', TEMPORAL_TLS: value })).toEqual({
        address: 'h:7233',
        namespace: 'default',
        tls: {},
      });
    }
  });

  it('rejects a TEMPORAL_TLS that is not a boolean', () => {
    expect(() => temporalTargetFromEnv({ TEMPORAL_ADDRESS: 'h:7233', TEMPORAL_TLS: 'maybe' })).toThrow(
      'TEMPORAL_TLS="maybe" is not a boolean; use true or false.',
    );
  });

  it('mTLS: certificate and key paths (TLS implied), plus CA and server name', () => {
    expect(
      temporalTargetFromEnv({
        TEMPORAL_ADDRESS: CLOUD,
        TEMPORAL_TLS_CERT: certPath,
        TEMPORAL_TLS_KEY: keyPath,
        TEMPORAL_TLS_CA: caPath,
        TEMPORAL_TLS_SERVER_NAME: 'my-ns.a1b2c.tmprl.cloud',
      }),
    ).toEqual({
      address: CLOUD,
      namespace: 'default',
      tls: { clientCertPath: certPath, clientKeyPath: keyPath, serverCaPath: caPath, serverName: 'my-ns.a1b2c.tmprl.cloud' },
    });
  });

  it('a certificate without its key (or the reverse) is an error naming the missing variable', () => {
    expect(() => temporalTargetFromEnv({ TEMPORAL_ADDRESS: CLOUD, TEMPORAL_TLS_CERT: certPath })).toThrow(
      /TEMPORAL_TLS_CERT is set but TEMPORAL_TLS_KEY is not/,
    );
    expect(() => temporalTargetFromEnv({ TEMPORAL_ADDRESS: CLOUD, TEMPORAL_TLS_KEY: keyPath })).toThrow(
      /TEMPORAL_TLS_KEY is set but TEMPORAL_TLS_CERT is not/,
    );
  });

  it('TEMPORAL_TLS=false with a client certificate is a contradiction', () => {
    expect(() =>
      temporalTargetFromEnv({ TEMPORAL_ADDRESS: CLOUD, TEMPORAL_TLS: 'false', TEMPORAL_TLS_CERT: certPath, TEMPORAL_TLS_KEY: keyPath }),
    ).toThrow(/TEMPORAL_TLS=false contradicts/);
  });
});

describe('clientConnectionOptions / nativeConnectionOptions', () => {
  it('plain target: address and tls false, no API key', () => {
    const target = { address: 'localhost:7233', namespace: 'default' };
    expect(clientConnectionOptions(target)).toEqual({ address: 'localhost:7233', tls: false });
    expect(nativeConnectionOptions(target)).toEqual({ address: 'localhost:7233', tls: false });
  });

  it('API key: tls true and apiKey', () => {
    const target = temporalTargetFromEnv({ TEMPORAL_ADDRESS: CLOUD, TEMPORAL_API_KEY: 'secret-key' });
    if (!target) throw new Error('expected a target');
    expect(clientConnectionOptions(target)).toEqual({ address: CLOUD, tls: true, apiKey: 'secret-key' });
    expect(nativeConnectionOptions(target)).toEqual({ address: CLOUD, tls: true, apiKey: 'secret-key' });
  });

  it('API key with TEMPORAL_TLS=false: apiKey on a plain-text connection (tls explicitly false)', () => {
    const target = temporalTargetFromEnv({ TEMPORAL_ADDRESS: 'proxy:7233', TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' });
    if (!target) throw new Error('expected a target');
    expect(clientConnectionOptions(target)).toEqual({ address: 'proxy:7233', tls: false, apiKey: 'k' });
  });

  it('mTLS: reads the certificate pair (and CA) from the files', () => {
    const target = temporalTargetFromEnv({
      TEMPORAL_ADDRESS: CLOUD,
      TEMPORAL_TLS_CERT: certPath,
      TEMPORAL_TLS_KEY: keyPath,
      TEMPORAL_TLS_CA: caPath,
      TEMPORAL_TLS_SERVER_NAME: 'override.example',
    });
    if (!target) throw new Error('expected a target');
    for (const options of [clientConnectionOptions(target), nativeConnectionOptions(target)]) {
      expect(options.address).toBe(CLOUD);
      expect(options.apiKey).toBeUndefined();
      const tls = options.tls;
      if (typeof tls !== 'object' || tls === null) throw new Error(`expected a TLS config, got ${String(tls)}`);
      expect(Buffer.from(tls.clientCertPair?.crt ?? []).toString()).toBe(CERT_PEM);
      expect(Buffer.from(tls.clientCertPair?.key ?? []).toString()).toBe(KEY_PEM);
      expect(Buffer.from(tls.serverRootCACertificate ?? []).toString()).toBe(CA_PEM);
      expect(tls.serverNameOverride).toBe('override.example');
    }
  });

  it('mTLS without CA: only the client pair', () => {
    const target = temporalTargetFromEnv({ TEMPORAL_ADDRESS: CLOUD, TEMPORAL_TLS_CERT: certPath, TEMPORAL_TLS_KEY: keyPath });
    if (!target) throw new Error('expected a target');
    const options = nativeConnectionOptions(target);
    expect(Object.keys(options.tls as object)).toEqual(['clientCertPair']);
  });

  it('an unreadable certificate file is an error naming the variable and the path', () => {
    const missing = join(dir, 'nope.pem');
    const target = { address: CLOUD, namespace: 'default', tls: { clientCertPath: missing, clientKeyPath: keyPath } };
    expect(() => clientConnectionOptions(target)).toThrow(`cannot read the TLS client certificate (TEMPORAL_TLS_CERT) at ${missing}`);
    expect(() => nativeConnectionOptions(target)).toThrow(`cannot read the TLS client certificate (TEMPORAL_TLS_CERT) at ${missing}`);
  });
});

describe('targetForAddress', () => {
  const env = { TEMPORAL_ADDRESS: CLOUD, TEMPORAL_NAMESPACE: 'my-ns.a1b2c', TEMPORAL_API_KEY: 'secret-key' };

  it("uses the environment's credentials for the environment's address", () => {
    expect(targetForAddress(CLOUD, undefined, env)).toEqual({ address: CLOUD, namespace: 'my-ns.a1b2c', apiKey: 'secret-key', tls: {} });
    expect(targetForAddress(CLOUD, 'other-ns', env)).toEqual({ address: CLOUD, namespace: 'other-ns', apiKey: 'secret-key', tls: {} });
  });

  it('sends no credentials to any other address (e.g. a local dev server)', () => {
    expect(targetForAddress('127.0.0.1:40000', undefined, env)).toEqual({ address: '127.0.0.1:40000', namespace: 'default' });
    expect(targetForAddress('127.0.0.1:40000', 'ns', {})).toEqual({ address: '127.0.0.1:40000', namespace: 'ns' });
  });
});

describe('connectClient / connectNative use the environment settings for its address', () => {
  // A missing certificate file fails while building the options, before any network call: proof that
  // both functions read TEMPORAL_TLS_CERT for the TEMPORAL_ADDRESS server, without needing a server.
  it('connectClient reads the mTLS files from the environment', async () => {
    const missing = join(dir, 'missing-client.pem');
    vi.stubEnv('TEMPORAL_ADDRESS', '127.0.0.1:1');
    vi.stubEnv('TEMPORAL_TLS_CERT', missing);
    vi.stubEnv('TEMPORAL_TLS_KEY', keyPath);
    await expect(connectClient('127.0.0.1:1', 'default', 1_000)).rejects.toThrow(
      `cannot read the TLS client certificate (TEMPORAL_TLS_CERT) at ${missing}`,
    );
  });

  it('connectNative reads the mTLS files from the environment', async () => {
    const missing = join(dir, 'missing-worker.key');
    vi.stubEnv('TEMPORAL_ADDRESS', '127.0.0.1:1');
    vi.stubEnv('TEMPORAL_TLS_CERT', certPath);
    vi.stubEnv('TEMPORAL_TLS_KEY', missing);
    await expect(connectNative('127.0.0.1:1')).rejects.toThrow(`cannot read the TLS client key (TEMPORAL_TLS_KEY) at ${missing}`);
  });

  it('explicit options win over the environment', async () => {
    // The environment's certificate is unreadable; explicit plain-text options skip it, so the
    // failure is the (refused) connection itself.
    vi.stubEnv('TEMPORAL_ADDRESS', '127.0.0.1:1');
    vi.stubEnv('TEMPORAL_TLS_CERT', join(dir, 'never-read.pem'));
    vi.stubEnv('TEMPORAL_TLS_KEY', keyPath);
    const plain = clientConnectionOptions({ address: '127.0.0.1:1', namespace: 'default' });
    await expect(connectClient('127.0.0.1:1', 'default', 1_000, plain)).rejects.toThrow(
      /cannot reach the Temporal server at 127\.0\.0\.1:1 within 1s/,
    );
    await expect(connectNative('127.0.0.1:1', nativeConnectionOptions({ address: '127.0.0.1:1', namespace: 'default' }))).rejects.toThrow(
      /cannot reach the Temporal server at 127\.0\.0\.1:1:/,
    );
  });
});
