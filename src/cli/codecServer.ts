/** `opgraph codec-server`: the Web UI's remote codec endpoint with this process's codec keys, until Ctrl+C. */
import { getDefaultKeyring } from '../codec/index.ts';
import { CODEC_ENV } from '../codec/keys.ts';
import { CODEC_SERVER_TOKEN_ENV, DEFAULT_CODEC_SERVER_PORT, DEFAULT_UI_ORIGINS, startCodecServer } from '../codec/server.ts';
import { EXIT, UsageError } from './errors.ts';
import { type CliIO, printer } from './io.ts';
import { uiUrlFromEnv } from './server.ts';

export interface CodecServerCommandOptions {
  port?: string;
  ip?: string;
  corsOrigin?: string[];
}

export async function codecServerCommand(options: CodecServerCommandOptions, io: CliIO): Promise<number> {
  const keyring = getDefaultKeyring();
  if (!keyring) {
    throw new UsageError(
      `opgraph codec-server needs the codec keys the workers use: set ${CODEC_ENV.keys} (or ${CODEC_ENV.keyFile}) as for them.`,
    );
  }
  const port = options.port === undefined ? DEFAULT_CODEC_SERVER_PORT : Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number, got "${options.port}"`);
  const uiUrl = uiUrlFromEnv(io.env);
  const corsOrigins = options.corsOrigin ?? (uiUrl ? [new URL(uiUrl).origin] : DEFAULT_UI_ORIGINS);
  const token = io.env[CODEC_SERVER_TOKEN_ENV]?.trim() || undefined;
  const server = await startCodecServer({ keyring, corsOrigins, ...(token ? { token } : {}), port, host: options.ip ?? '127.0.0.1' });
  const out = printer(io.stdout);
  out(`opgraph codec server at ${server.url} (keys ${keyring.ids.join(', ')}; new data under "${keyring.current.id}")`);
  out(`  CORS origins: ${corsOrigins.join(', ')}`);
  out(`  Bearer token: ${token ? `required (${CODEC_SERVER_TOKEN_ENV})` : `none (set ${CODEC_SERVER_TOKEN_ENV} to require one)`}`);
  out(`Point the Web UI at it: opgraph dev --ui-codec-endpoint ${server.url} (or the UI's Codec Server settings). Ctrl+C to stop.`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await server.close();
  return EXIT.ok;
}
