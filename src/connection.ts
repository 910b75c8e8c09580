import type { ConnectionOptions } from '@temporalio/client';
import { type ClientConfigProfile, type ClientConfigTLS, loadClientConfigProfile, toClientOptions } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { OpgraphError } from './dsl/errors.ts';

/**
 * Where the Temporal server is and how to authenticate to it: Temporal's environment configuration
 * (@temporalio/envconfig), i.e. a `temporal.toml` profile overridden by the TEMPORAL_* variables —
 * the same settings the Temporal CLI and the other SDKs read.
 */
export interface TemporalTarget {
  readonly address: string;
  readonly namespace: string;
  /** Temporal Cloud API key, sent as `Authorization: Bearer <key>` (switches TLS on unless TLS is disabled). */
  readonly apiKey?: string;
  /** TLS settings (certificates by path or inline data); absent for a plain-text connection unless an API key is set. */
  readonly tls?: ClientConfigTLS;
  /** Extra gRPC headers (`grpc_meta` in a profile, `TEMPORAL_GRPC_META_*`). */
  readonly grpcMeta?: Readonly<Record<string, string>>;
}

export const DEFAULT_NAMESPACE = 'default';
export const DEFAULT_TASK_QUEUE = 'opgraph';

/**
 * Older names opgraph documented (the Temporal CLI's flag variables), read as envconfig's names when
 * those are unset, so existing deployments keep working.
 */
const LEGACY_NAMES: Readonly<Record<string, string>> = {
  TEMPORAL_TLS_CERT: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
  TEMPORAL_TLS_KEY: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
  TEMPORAL_TLS_CA: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
};

const BOOLEAN_VALUES: Readonly<Record<string, string>> = { true: 'true', '1': 'true', false: 'false', '0': 'false' };

/**
 * The environment as envconfig should see it: blank values count as unset (docker compose passes
 * `${VAR:-}` as ""; envconfig would read an empty TEMPORAL_API_KEY as a key and switch TLS on), legacy
 * names map to envconfig's, and TEMPORAL_TLS must be a boolean (envconfig reads anything else as false).
 */
function envconfigEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    const trimmed = value?.trim();
    // Inline certificates (`…_DATA`) keep their exact bytes.
    if (trimmed) out[name] = name.endsWith('_DATA') ? (value as string) : trimmed;
  }
  for (const [legacy, name] of Object.entries(LEGACY_NAMES)) {
    if (out[legacy] !== undefined && out[name] === undefined) out[name] = out[legacy];
  }
  const tls = out.TEMPORAL_TLS;
  if (tls !== undefined) {
    const normalized = BOOLEAN_VALUES[tls.toLowerCase()];
    if (normalized === undefined) throw new OpgraphError(`TEMPORAL_TLS="${tls}" is not a boolean; use true or false.`);
    out.TEMPORAL_TLS = normalized;
  }
  return out;
}

function profileName(env: Record<string, string>): string {
  const file = env.TEMPORAL_CONFIG_FILE ?? 'the default temporal.toml';
  return `profile "${env.TEMPORAL_PROFILE ?? 'default'}" of ${file}`;
}

/** Mistakes envconfig passes over silently (it would connect without the client certificate, or without TLS). */
function checkTls(tls: ClientConfigTLS | undefined, where: string): void {
  if (tls === undefined) return;
  if ((tls.clientCert === undefined) !== (tls.clientKey === undefined)) {
    const [set, missing] = tls.clientCert
      ? ['a client certificate', 'its private key (TEMPORAL_TLS_CLIENT_KEY_PATH / TEMPORAL_TLS_KEY, or client_key_path)']
      : ['a client key', 'its certificate (TEMPORAL_TLS_CLIENT_CERT_PATH / TEMPORAL_TLS_CERT, or client_cert_path)'];
    throw new OpgraphError(`the Temporal connection settings (${where}) have ${set} but not ${missing}: mTLS needs both.`);
  }
  const custom = tls.clientCert !== undefined || tls.serverCACert !== undefined || tls.serverName !== undefined;
  if (tls.disabled === true && custom) {
    throw new OpgraphError(
      `the Temporal connection settings (${where}) disable TLS (TEMPORAL_TLS=false or tls.disabled) but also give TLS certificates or a server name; remove one or the other.`,
    );
  }
}

/**
 * The configured server, or undefined when none is (no address in the environment or the profile):
 * then opgraph starts a local dev server where it can. Reads `TEMPORAL_CONFIG_FILE` (default
 * `~/.config/temporalio/temporal.toml`, optional) and its profile `TEMPORAL_PROFILE` (default
 * `default`), overridden by `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`,
 * `TEMPORAL_TLS`, `TEMPORAL_TLS_*` and `TEMPORAL_GRPC_META_*`.
 */
export function temporalTargetFromEnv(env: NodeJS.ProcessEnv = process.env): TemporalTarget | undefined {
  const vars = envconfigEnv(env);
  const where = profileName(vars);
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({ overrideEnvVars: vars });
  } catch (err) {
    throw new OpgraphError(`cannot load the Temporal connection settings (${where}): ${(err as Error).message}`, { cause: err });
  }
  const address = profile.address?.trim();
  if (!address) return undefined;
  checkTls(profile.tls, where);
  return {
    address,
    namespace: profile.namespace ?? DEFAULT_NAMESPACE,
    ...(profile.apiKey !== undefined ? { apiKey: profile.apiKey } : {}),
    ...(profile.tls !== undefined ? { tls: profile.tls } : {}),
    ...(profile.grpcMeta !== undefined ? { grpcMeta: profile.grpcMeta } : {}),
  };
}

/**
 * The target for a server at `address`: the configured one (with its TLS / API key) when its address
 * is this one, else a plain-text one (e.g. a local dev server), so credentials never go elsewhere.
 */
export function targetForAddress(address: string, namespace?: string, env: NodeJS.ProcessEnv = process.env): TemporalTarget {
  const configured = temporalTargetFromEnv(env);
  if (configured?.address === address) return namespace === undefined ? configured : { ...configured, namespace };
  return { address, namespace: namespace ?? DEFAULT_NAMESPACE };
}

/** envconfig's connection options (certificate files read now), without unset fields. */
function connectionOptions(target: TemporalTarget): NativeConnectionOptions {
  let options: NativeConnectionOptions;
  try {
    ({ connectionOptions: options } = toClientOptions({ ...target, grpcMeta: target.grpcMeta && { ...target.grpcMeta } }));
  } catch (err) {
    throw new OpgraphError(`cannot read the TLS files for the Temporal server at ${target.address}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
}

/** Options for `Connection.connect` (clients): address, TLS, API key and gRPC metadata. */
export function clientConnectionOptions(target: TemporalTarget): ConnectionOptions {
  return connectionOptions(target);
}

/** Options for `NativeConnection.connect` (workers): address, TLS, API key and gRPC metadata. */
export function nativeConnectionOptions(target: TemporalTarget): NativeConnectionOptions {
  return connectionOptions(target);
}
