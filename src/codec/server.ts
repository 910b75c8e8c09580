/**
 * The Temporal Web UI's (and CLI's) remote codec endpoint: POST /encode and /decode (also under
 * /<namespace>/…) with proto3-JSON payloads, `{ "payloads": [{ "metadata": { "<key>": "<base64>" }, "data": "<base64>" }] }`.
 * CORS answers only the configured UI origins; with a token, every POST must carry `Authorization: Bearer <token>`.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload } from '@temporalio/common';
import { z } from 'zod';
import { AesGcmCodec } from './aesGcm.ts';
import type { Keyring } from './keys.ts';

export const CODEC_SERVER_TOKEN_ENV = 'OPGRAPH_CODEC_SERVER_TOKEN';
export const DEFAULT_CODEC_SERVER_PORT = 8888;
/** The UI of `temporal server start-dev` (port 8233), under both names a browser may use. */
export const DEFAULT_UI_ORIGINS = ['http://localhost:8233', 'http://127.0.0.1:8233'];
/** Temporal payloads are at most 2 MiB; the UI sends a few at a time. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

const Base64 = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'must be base64');
const JsonPayloads = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string(), Base64).nullish(), data: Base64.nullish() }).loose()),
});
type JsonPayloads = z.infer<typeof JsonPayloads>;

export interface CodecServerOptions {
  keyring: Keyring;
  /** Browser origins allowed to call (e.g. the Web UI's `http://localhost:8233`); `*` allows any. */
  corsOrigins: readonly string[];
  /** When set, POSTs need `Authorization: Bearer <token>`. */
  token?: string;
}

export interface RunningCodecServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

function fromJson(body: JsonPayloads): Payload[] {
  return body.payloads.map(({ metadata, data }) => ({
    metadata: Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(data ?? '', 'base64'),
  }));
}

function toJson(payloads: Payload[]): JsonPayloads {
  return {
    payloads: payloads.map(({ metadata, data }) => ({
      metadata: Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')])),
      data: Buffer.from(data ?? []).toString('base64'),
    })),
  };
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The request handler (exported for tests that want no socket). */
export function codecRequestHandler(options: CodecServerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const codec = new AesGcmCodec(options.keyring);
  const anyOrigin = options.corsOrigins.includes('*');
  const allowed = new Set(options.corsOrigins.map((o) => o.replace(/\/+$/, '')));

  const cors = (req: IncomingMessage, res: ServerResponse): void => {
    const origin = req.headers.origin;
    res.setHeader('Vary', 'Origin');
    if (origin && (anyOrigin || allowed.has(origin))) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      // The UI can be told to send cookies ("include cross-origin credentials").
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
      res.setHeader('Access-Control-Max-Age', '600');
    }
  };

  const send = (res: ServerResponse, status: number, body: unknown): void => {
    res.statusCode = status;
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    cors(req, res);
    const path = new URL(req.url ?? '/', 'http://codec').pathname;
    const operation = /^(?:\/[^/]+)?\/(encode|decode)\/?$/.exec(path)?.[1];
    if (!operation) throw new HttpError(404, `no route ${path}: use POST /encode or /decode`);
    if (req.method === 'OPTIONS') {
      res.statusCode = 204;
      res.end();
      return;
    }
    if (req.method !== 'POST') throw new HttpError(405, `${req.method ?? '?'} ${path}: use POST`);
    if (options.token !== undefined) {
      const auth = req.headers.authorization ?? '';
      if (!auth.startsWith('Bearer ') || !sameSecret(auth.slice('Bearer '.length), options.token)) {
        res.setHeader('WWW-Authenticate', 'Bearer');
        throw new HttpError(401, 'missing or wrong bearer token');
      }
    }
    let json: unknown;
    try {
      json = JSON.parse(await readBody(req));
    } catch (err) {
      if (err instanceof HttpError) throw err;
      throw new HttpError(400, `the body is not JSON: ${(err as Error).message}`);
    }
    const body = JsonPayloads.safeParse(json);
    if (!body.success) throw new HttpError(400, `the body must be { payloads: [{ metadata, data }] }: ${body.error.message}`);
    const payloads = fromJson(body.data);
    send(res, 200, toJson(operation === 'encode' ? await codec.encode(payloads) : await codec.decode(payloads)));
  };

  return (req, res) => {
    handle(req, res).catch((err: unknown) => {
      // A payload under an unknown key is the caller's problem to see (422), not a crash.
      const status = err instanceof HttpError ? err.status : 422;
      send(res, status, { message: (err as Error).message });
    });
  };
}

/** Listens on `host:port` (port 0: a free one). */
export async function startCodecServer(options: CodecServerOptions & { host?: string; port?: number }): Promise<RunningCodecServer> {
  const server = createServer(codecRequestHandler(options));
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_CODEC_SERVER_PORT, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const dialHost = host === '0.0.0.0' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${dialHost}:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
