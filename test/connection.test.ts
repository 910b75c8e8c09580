/**
 * Temporal Cloud / secured-server settings (envconfig: TEMPORAL_* variables and temporal.toml profiles):
 * pure tests on a fake env, a temp config file and temp certificate files (no server is contacted).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { connectClient } from '../src/client/connect.ts';
import {
  clientConnectionOptions,
  nativeConnectionOptions,
  targetForAddress,
  temporalTargetFromEnv,
  type TemporalTarget,
} from '../src/connection.ts';
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

describe('temporalTargetFromEnv (the environment variables)', () => {
  it('is undefined without TEMPORAL_ADDRESS (nor a profile with an address), whatever else is set', () => {
    expect(temporalTargetFromEnv({})).toBeUndefined();
    expect(temporalTargetFromEnv({ TEMPORAL_ADDRESS: '  ', TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'true' })).toBeUndefined();
  });

  it('reads a plain local server: address, namespace (default "default"), no TLS, no API key', () => {
    expect(temporalTargetFromEnv({ TEMPORAL_ADDRESS: ' localhost:7233 ' })).toEqual({ address: 'localhost:7233', namespace: 'default' });
    expect(temporalTargetFromEnv({ TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_NAMESPACE: 'prod' })).toEqual({
      address: 'temporal:7233',
      namespace: 'prod',
    });
  });

  it('blank variables count as unset (docker compose passes ${VAR:-} as "")', () => {
    const blank = { TEMPORAL_API_KEY: '', TEMPORAL_TLS: '', TEMPORAL_TLS_CERT: '', TEMPORAL_TLS_KEY: '', TEMPORAL_TLS_CA: ' ' };
    const target = temporalTargetFromEnv({ TEMPORAL_ADDRESS: 'temporal:7233', ...blank });
    expect(target).toEqual({ address: 'temporal:7233', namespace: 'default' });
    expect(clientConnectionOptions(target as TemporalTarget)).toEqual({ address: 'temporal:7233' });
  });

  it('an API key switches TLS on (Temporal Cloud)', () => {
    const target = temporalTargetFromEnv({ TEMPORAL_ADDRESS: CLOUD, TEMPORAL_NAMESPACE: 'my-ns.a1b2c', TEMPORAL_API_KEY: 'secret-key' });
    expect(target).toEqual({ address: CLOUD, namespace: 'my-ns.a1b2c', apiKey: 'secret-key' });
    expect(clientConnectionOptions(target as TemporalTarget)).toEqual({ address: CLOUD, apiKey: 'secret-key', tls: true });
  });

  it('TEMPORAL_TLS=false keeps an API key on a plain-text connection (tls explicitly false)', () => {
    const target = temporalTargetFromEnv({ TEMPORAL_ADDRESS: 'proxy:7233', TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' });
    expect(target).toEqual({ address: 'proxy:7233', namespace: 'default', apiKey: 'k', tls: { disabled: true } });
    expect(clientConnectionOptions(target as TemporalTarget)).toEqual({ address: 'proxy:7233', apiKey: 'k', tls: false });
  });

  it('TEMPORAL_TLS=true alone means TLS with the system roots', () => {
    for (const value of ['true', 'TRUE', '1']) {
      const target = temporalTargetFromEnv({ TEMPORAL_ADDRESS: 'h:7233', TEMPORAL_TLS: value });
      expect(target).toEqual({ address: 'h:7233', namespace: 'default', tls: { disabled: false } });
      const tls = nativeConnectionOptions(target as TemporalTarget).tls;
      expect(typeof tls === 'object' && tls !== null && Object.values(tls).every((v) => v === undefined)).toBe(true);
    }
  });

  it('rejects a TEMPORAL_TLS that is not a boolean (envconfig would read it as false)', () => {
    expect(() => temporalTargetFromEnv({ TEMPORAL_ADDRESS: 'h:7233', TEMPORAL_TLS: 'maybe' })).toThrow(
      'TEMPORAL_TLS="maybe" is not a boolean; use true or false.',
    );
  });

  it('mTLS: certificate and key paths (TLS implied), plus CA and server name — under the names README has always documented', () => {
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
      tls: {
        clientCert: { path: certPath },
        clientKey: { path: keyPath },
        serverCACert: { path: caPath },
        serverName: 'my-ns.a1b2c.tmprl.cloud',
      },
    });
  });

  it("… and under envconfig's names, which win over the older ones", () => {
    const target = temporalTargetFromEnv({
      TEMPORAL_ADDRESS: CLOUD,
      TEMPORAL_TLS_CLIENT_CERT_PATH: certPath,
      TEMPORAL_TLS_CERT: '/old/ignored.pem',
      TEMPORAL_TLS_CLIENT_KEY_DATA: KEY_PEM,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: caPath,
    });
    expect(target?.tls).toEqual({
      clientCert: { path: certPath },
      clientKey: { data: new TextEncoder().encode(KEY_PEM) },
      serverCACert: { path: caPath },
    });
    const tls = nativeConnectionOptions(target as TemporalTarget).tls;
    if (typeof tls !== 'object' || tls === null) throw new Error(`expected a TLS config, got ${String(tls)}`);
    expect(Buffer.from(tls.clientCertPair?.crt ?? []).toString()).toBe(CERT_PEM);
    expect(Buffer.from(tls.clientCertPair?.key ?? []).toString()).toBe(KEY_PEM);
  });

  it('a certificate without its key (or the reverse) is an error naming the missing setting', () => {
    expect(() => temporalTargetFromEnv({ TEMPORAL_ADDRESS: CLOUD, TEMPORAL_TLS_CERT: certPath })).toThrow(
      /a client certificate but not its private key \(TEMPORAL_TLS_CLIENT_KEY_PATH \/ TEMPORAL_TLS_KEY/,
    );
    expect(() => temporalTargetFromEnv({ TEMPORAL_ADDRESS: CLOUD, TEMPORAL_TLS_KEY: keyPath })).toThrow(
      /a client key but not its certificate \(TEMPORAL_TLS_CLIENT_CERT_PATH \/ TEMPORAL_TLS_CERT/,
    );
  });

  it('TEMPORAL_TLS=false with a client certificate is a contradiction', () => {
    expect(() =>
      temporalTargetFromEnv({ TEMPORAL_ADDRESS: CLOUD, TEMPORAL_TLS: 'false', TEMPORAL_TLS_CERT: certPath, TEMPORAL_TLS_KEY: keyPath }),
    ).toThrow(/disable TLS \(TEMPORAL_TLS=false or tls.disabled\) but also give TLS certificates/);
  });

  it('TEMPORAL_GRPC_META_* become gRPC headers', () => {
    const target = temporalTargetFromEnv({ TEMPORAL_ADDRESS: 'h:7233', TEMPORAL_GRPC_META_X_TENANT: 'acme' });
    expect(target?.grpcMeta).toEqual({ 'x-tenant': 'acme' });
    expect(clientConnectionOptions(target as TemporalTarget).metadata).toEqual({ 'x-tenant': 'acme' });
  });
});

describe('temporalTargetFromEnv (temporal.toml profiles)', () => {
  let configFile: string;
  beforeAll(() => {
    configFile = join(dir, 'temporal.toml');
    writeFileSync(
      configFile,
      [
        '[profile.default]',
        'address = "localhost:7233"',
        '',
        '[profile.prod]',
        `address = "${CLOUD}"`,
        'namespace = "my-ns.a1b2c"',
        '[profile.prod.tls]',
        `client_cert_path = "${certPath}"`,
        `client_key_path = "${keyPath}"`,
        '',
        '[profile.cloud]',
        'address = "us-east-1.aws.api.temporal.io:7233"',
        'namespace = "ns.acct"',
        'api_key = "profile-key"',
        '[profile.cloud.grpc_meta]',
        'x-team = "data"',
        '',
      ].join('\n'),
    );
  });

  it('TEMPORAL_CONFIG_FILE alone: its default profile gives the server (no TEMPORAL_ADDRESS needed)', () => {
    expect(temporalTargetFromEnv({ TEMPORAL_CONFIG_FILE: configFile })).toEqual({ address: 'localhost:7233', namespace: 'default' });
  });

  it('TEMPORAL_PROFILE picks a profile; its mTLS files are read when the options are built', () => {
    const target = temporalTargetFromEnv({ TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: 'prod' });
    expect(target).toEqual({
      address: CLOUD,
      namespace: 'my-ns.a1b2c',
      tls: { clientCert: { path: certPath }, clientKey: { path: keyPath } },
    });
    const tls = nativeConnectionOptions(target as TemporalTarget).tls;
    if (typeof tls !== 'object' || tls === null) throw new Error(`expected a TLS config, got ${String(tls)}`);
    expect(Buffer.from(tls.clientCertPair?.crt ?? []).toString()).toBe(CERT_PEM);
  });

  it('an API key profile with gRPC metadata; environment variables override the profile', () => {
    const env = { TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: 'cloud' };
    expect(temporalTargetFromEnv(env)).toEqual({
      address: 'us-east-1.aws.api.temporal.io:7233',
      namespace: 'ns.acct',
      apiKey: 'profile-key',
      grpcMeta: { 'x-team': 'data' },
    });
    expect(temporalTargetFromEnv({ ...env, TEMPORAL_NAMESPACE: 'other.acct', TEMPORAL_API_KEY: 'env-key' })).toMatchObject({
      namespace: 'other.acct',
      apiKey: 'env-key',
    });
  });

  it('an unknown profile, or a malformed file, is an error naming the profile and the file', () => {
    expect(() => temporalTargetFromEnv({ TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: 'staging' })).toThrow(
      `cannot load the Temporal connection settings (profile "staging" of ${configFile}): Profile 'staging' not found`,
    );
    const bad = join(dir, 'bad.toml');
    writeFileSync(bad, '[profile.default\naddress = 1\n');
    expect(() => temporalTargetFromEnv({ TEMPORAL_CONFIG_FILE: bad })).toThrow(`(profile "default" of ${bad})`);
  });

  it('a missing config file is no error: the environment alone decides', () => {
    expect(temporalTargetFromEnv({ TEMPORAL_CONFIG_FILE: join(dir, 'absent.toml') })).toBeUndefined();
    expect(temporalTargetFromEnv({ TEMPORAL_CONFIG_FILE: join(dir, 'absent.toml'), TEMPORAL_ADDRESS: 'h:1' })?.address).toBe('h:1');
  });
});

describe('clientConnectionOptions / nativeConnectionOptions', () => {
  it('plain target: just the address', () => {
    const target = { address: 'localhost:7233', namespace: 'default' };
    expect(clientConnectionOptions(target)).toEqual({ address: 'localhost:7233' });
    expect(nativeConnectionOptions(target)).toEqual({ address: 'localhost:7233' });
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

  it('an unreadable certificate file is an error naming the server and the path', () => {
    const missing = join(dir, 'nope.pem');
    const target = { address: CLOUD, namespace: 'default', tls: { clientCert: { path: missing }, clientKey: { path: keyPath } } };
    for (const build of [clientConnectionOptions, nativeConnectionOptions]) {
      expect(() => build(target)).toThrow(new RegExp(`cannot read the TLS files for the Temporal server at ${CLOUD}: .*${missing}`));
    }
  });
});

describe('targetForAddress', () => {
  const env = { TEMPORAL_ADDRESS: CLOUD, TEMPORAL_NAMESPACE: 'my-ns.a1b2c', TEMPORAL_API_KEY: 'secret-key' };

  it("uses the environment's credentials for the environment's address", () => {
    expect(targetForAddress(CLOUD, undefined, env)).toEqual({ address: CLOUD, namespace: 'my-ns.a1b2c', apiKey: 'secret-key' });
    expect(targetForAddress(CLOUD, 'other-ns', env)).toEqual({ address: CLOUD, namespace: 'other-ns', apiKey: 'secret-key' });
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
      `cannot read the TLS files for the Temporal server at 127.0.0.1:1: ENOENT: no such file or directory, open '${missing}'`,
    );
  });

  it('connectNative reads the mTLS files from the environment', async () => {
    const missing = join(dir, 'missing-worker.key');
    vi.stubEnv('TEMPORAL_ADDRESS', '127.0.0.1:1');
    vi.stubEnv('TEMPORAL_TLS_CERT', certPath);
    vi.stubEnv('TEMPORAL_TLS_KEY', missing);
    await expect(connectNative('127.0.0.1:1')).rejects.toThrow(
      `cannot read the TLS files for the Temporal server at 127.0.0.1:1: ENOENT: no such file or directory, open '${missing}'`,
    );
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
