import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from '@temporalio/client';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { OpgraphError } from './dsl/errors.ts';

/**
 * Where the Temporal server is and how to authenticate to it, read from the environment (the same
 * variables the Temporal CLI uses).
 */
export interface TemporalTarget {
  readonly address: string;
  readonly namespace: string;
  /** Temporal Cloud API key (`TEMPORAL_API_KEY`), sent as `Authorization: Bearer <key>`. */
  readonly apiKey?: string;
  /** Present when the connection uses TLS; absent for a plain-text connection (local servers). */
  readonly tls?: TemporalTls;
}

/** TLS settings; files are given by path and read when connection options are built. */
export interface TemporalTls {
  /** mTLS client certificate (`TEMPORAL_TLS_CERT`), PEM file. */
  readonly clientCertPath?: string;
  /** mTLS client private key (`TEMPORAL_TLS_KEY`), PEM file. */
  readonly clientKeyPath?: string;
  /** CA that signed the server's certificate (`TEMPORAL_TLS_CA`); default: the system's roots. */
  readonly serverCaPath?: string;
  /** Server name for SNI and certificate checks (`TEMPORAL_TLS_SERVER_NAME`); default: the host. */
  readonly serverName?: string;
}

export const DEFAULT_NAMESPACE = 'default';
export const DEFAULT_TASK_QUEUE = 'opgraph';

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  return env[name]?.trim() || undefined;
}

function envBoolean(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const raw = envValue(env, name);
  if (raw === undefined) return undefined;
  if (TRUE.has(raw.toLowerCase())) return true;
  if (FALSE.has(raw.toLowerCase())) return false;
  throw new OpgraphError(`${name}="${raw}" is not a boolean; use true or false.`);
}

/**
 * `TEMPORAL_ADDRESS` (+ `TEMPORAL_NAMESPACE`), or undefined when no server is configured. Temporal
 * Cloud / secured servers: `TEMPORAL_API_KEY`, `TEMPORAL_TLS_CERT` + `TEMPORAL_TLS_KEY` (mTLS, file
 * paths), `TEMPORAL_TLS_CA`, `TEMPORAL_TLS_SERVER_NAME`, and `TEMPORAL_TLS` (true/false). TLS is on
 * when `TEMPORAL_TLS=true`, or a client certificate or an API key is set — unless `TEMPORAL_TLS=false`
 * (allowed with an API key, e.g. behind a TLS-terminating proxy; an error with a client certificate).
 */
export function temporalTargetFromEnv(env: NodeJS.ProcessEnv = process.env): TemporalTarget | undefined {
  const address = envValue(env, 'TEMPORAL_ADDRESS');
  if (!address) return undefined;
  const namespace = envValue(env, 'TEMPORAL_NAMESPACE') ?? DEFAULT_NAMESPACE;
  const apiKey = envValue(env, 'TEMPORAL_API_KEY');
  const tlsFlag = envBoolean(env, 'TEMPORAL_TLS');
  const clientCertPath = envValue(env, 'TEMPORAL_TLS_CERT');
  const clientKeyPath = envValue(env, 'TEMPORAL_TLS_KEY');
  const serverCaPath = envValue(env, 'TEMPORAL_TLS_CA');
  const serverName = envValue(env, 'TEMPORAL_TLS_SERVER_NAME');

  if ((clientCertPath === undefined) !== (clientKeyPath === undefined)) {
    const [set, missing] = clientCertPath ? ['TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY'] : ['TEMPORAL_TLS_KEY', 'TEMPORAL_TLS_CERT'];
    throw new OpgraphError(`${set} is set but ${missing} is not: mTLS needs both the client certificate and its private key (file paths).`);
  }
  const tlsFiles = clientCertPath !== undefined || serverCaPath !== undefined || serverName !== undefined;
  if (tlsFlag === false && tlsFiles) {
    throw new OpgraphError(
      'TEMPORAL_TLS=false contradicts TEMPORAL_TLS_CERT / TEMPORAL_TLS_KEY / TEMPORAL_TLS_CA / TEMPORAL_TLS_SERVER_NAME; unset one or the other.',
    );
  }
  const useTls = tlsFlag ?? (tlsFiles || apiKey !== undefined);
  const tls: TemporalTls | undefined = useTls
    ? {
        ...(clientCertPath !== undefined && clientKeyPath !== undefined ? { clientCertPath, clientKeyPath } : {}),
        ...(serverCaPath !== undefined ? { serverCaPath } : {}),
        ...(serverName !== undefined ? { serverName } : {}),
      }
    : undefined;
  return { address, namespace, ...(apiKey !== undefined ? { apiKey } : {}), ...(tls ? { tls } : {}) };
}

/**
 * The target for a server at `address`: the environment's (with its TLS / API key) when
 * `TEMPORAL_ADDRESS` names this address, else a plain-text one (e.g. a local dev server).
 */
export function targetForAddress(address: string, namespace?: string, env: NodeJS.ProcessEnv = process.env): TemporalTarget {
  const fromEnv = temporalTargetFromEnv(env);
  if (fromEnv?.address === address) return namespace === undefined ? fromEnv : { ...fromEnv, namespace };
  return { address, namespace: namespace ?? DEFAULT_NAMESPACE };
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new OpgraphError(`cannot read the ${what} at ${path}: ${(err as Error).message}`, { cause: err });
  }
}

interface TlsAndAuth {
  address: string;
  tls?: NonNullable<ConnectionOptions['tls']>;
  apiKey?: string;
}

function tlsAndAuth(target: TemporalTarget): TlsAndAuth {
  const { tls, apiKey } = target;
  // `tls: false` explicitly, so the SDK doesn't switch TLS on by itself because an API key is set.
  const options: TlsAndAuth = { address: target.address, tls: false };
  if (apiKey !== undefined) options.apiKey = apiKey;
  if (tls === undefined) return options;
  const custom = tls.clientCertPath !== undefined || tls.serverCaPath !== undefined || tls.serverName !== undefined;
  if (!custom) {
    options.tls = true;
    return options;
  }
  options.tls = {
    ...(tls.clientCertPath !== undefined && tls.clientKeyPath !== undefined
      ? {
          clientCertPair: {
            crt: readPem(tls.clientCertPath, 'TLS client certificate (TEMPORAL_TLS_CERT)'),
            key: readPem(tls.clientKeyPath, 'TLS client key (TEMPORAL_TLS_KEY)'),
          },
        }
      : {}),
    ...(tls.serverCaPath !== undefined
      ? { serverRootCACertificate: readPem(tls.serverCaPath, 'server CA certificate (TEMPORAL_TLS_CA)') }
      : {}),
    ...(tls.serverName !== undefined ? { serverNameOverride: tls.serverName } : {}),
  };
  return options;
}

/** Options for `Connection.connect` (clients): address, TLS (certificate files read now) and API key. */
export function clientConnectionOptions(target: TemporalTarget): ConnectionOptions {
  return tlsAndAuth(target);
}

/** Options for `NativeConnection.connect` (workers): address, TLS (certificate files read now) and API key. */
export function nativeConnectionOptions(target: TemporalTarget): NativeConnectionOptions {
  return tlsAndAuth(target);
}
