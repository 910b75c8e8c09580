/**
 * docker-compose.yml: the production-like stack (PostgreSQL, Temporal, Web UI, opgraph worker) is
 * wired the way the README says. Parsed with `yaml`; no Docker needed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { temporalTargetFromEnv } from '../../src/connection.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Service {
  image?: string;
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string | string[]; interval?: string; timeout?: string; retries?: number; disable?: boolean };
  ports?: (string | { target: number; published?: string | number })[];
  volumes?: (string | { type?: string; source?: string; target: string })[];
}

interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const compose = parse(readFileSync(`${ROOT}docker-compose.yml`, 'utf8')) as ComposeFile;

function service(name: string): Service {
  const s = compose.services[name];
  if (!s) throw new Error(`docker-compose.yml has no service "${name}"`);
  return s;
}

/** Compose's interpolation: `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `$$`. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}/g, (whole, name?: string, op?: string, fallback?: string) => {
    if (whole === '$$') return '$';
    const v = env[name as string];
    if (op === ':-') return v ? v : (fallback ?? '');
    if (op === '-') return v ?? fallback ?? '';
    return v ?? '';
  });
}

/** A service's environment as compose would pass it, given the shell's environment `hostEnv`. */
function environmentOf(name: string, hostEnv: Record<string, string> = {}): Record<string, string> {
  const raw = service(name).environment ?? {};
  const entries: [string, string][] = Array.isArray(raw)
    ? raw.map((line) => {
        const i = line.indexOf('=');
        return i < 0 ? [line, hostEnv[line] ?? ''] : [line.slice(0, i), line.slice(i + 1)];
      })
    : Object.entries(raw).map(([k, v]) => [k, v === null ? (hostEnv[k] ?? '') : String(v)]);
  return Object.fromEntries(entries.map(([k, v]) => [k, interpolate(v, hostEnv)]));
}

function dependsOn(name: string): Record<string, { condition?: string }> {
  const d = service(name).depends_on ?? {};
  return Array.isArray(d) ? Object.fromEntries(d.map((n) => [n, {}])) : d;
}

function containerPorts(name: string): number[] {
  return (service(name).ports ?? []).map((p) => (typeof p === 'string' ? Number(p.split(':').at(-1)?.split('/')[0]) : p.target));
}

function namedVolumeSources(s: Service): string[] {
  return (s.volumes ?? [])
    .map((v) => (typeof v === 'string' ? (v.split(':')[0] ?? '') : v.type === 'volume' || v.type === undefined ? (v.source ?? '') : ''))
    .filter((src) => src !== '' && !src.startsWith('.') && !src.startsWith('/') && !src.startsWith('~') && !src.startsWith('$'));
}

const SERVICES = ['postgresql', 'temporal', 'temporal-ui', 'opgraph-worker'] as const;

describe('docker-compose.yml', () => {
  it('has the four services of the stack', () => {
    expect(Object.keys(compose.services).sort()).toEqual([...SERVICES].sort());
  });

  it('pins every image to an explicit version tag (never latest, never untagged)', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      const image = s.image;
      expect(image, `${name} has no image`).toBeTypeOf('string');
      const m = /^(?<repo>[^@]+?)(?::(?<tag>[^:/@]+))?(?:@(?<digest>sha256:[0-9a-f]{64}))?$/.exec(image as string);
      expect(m, `${name}: unparseable image ${image}`).not.toBeNull();
      const { tag, digest } = m?.groups ?? {};
      if (digest) continue;
      expect(tag, `${name}: image ${image} has no tag`).toBeDefined();
      expect(tag, `${name}: image ${image}`).not.toMatch(/latest/i);
      // A version number: major.minor at least (e.g. 16.4-alpine, 1.29.1, 20.19-bookworm-slim).
      expect(tag, `${name}: image ${image} is not pinned to a version`).toMatch(/^v?\d+\.\d+/);
    }
    expect(service('postgresql').image).toMatch(/^postgres:/);
    expect(service('temporal').image).toMatch(/^temporalio\/(auto-setup|server):/);
    expect(service('temporal-ui').image).toMatch(/^temporalio\/ui:/);
  });

  it("runs the worker on a Node version that satisfies package.json's engines", () => {
    const engines = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { engines: { node: string } }).engines.node;
    const [minMajor = 0, minMinor = 0] = (/>=\s*(\d+)\.(\d+)/.exec(engines) ?? []).slice(1).map(Number);
    const [major = 0, minor = 0] = (/^node:(\d+)\.(\d+)/.exec(service('opgraph-worker').image ?? '') ?? []).slice(1).map(Number);
    expect(major > minMajor || (major === minMajor && minor >= minMinor), `node ${major}.${minor} vs engines ${engines}`).toBe(true);
  });

  it('has health checks on postgresql and temporal', () => {
    for (const name of ['postgresql', 'temporal']) {
      const hc = service(name).healthcheck;
      expect(hc, `${name} has no healthcheck`).toBeDefined();
      expect(hc?.disable).not.toBe(true);
      const test = Array.isArray(hc?.test) ? hc.test : [hc?.test];
      expect(test.length, `${name} healthcheck has no test`).toBeGreaterThan(0);
      expect(test[0]).toMatch(/^(CMD|CMD-SHELL)$/);
      expect(hc?.interval).toMatch(/^\d+(ms|s|m)$/);
      expect(hc?.retries).toBeGreaterThan(0);
    }
    expect(JSON.stringify(service('postgresql').healthcheck?.test)).toContain('pg_isready');
    expect(JSON.stringify(service('temporal').healthcheck?.test)).toMatch(/temporal.*health|tctl.*health/);
  });

  it('starts each service only after what it needs is healthy', () => {
    expect(dependsOn('temporal')).toEqual({ postgresql: { condition: 'service_healthy' } });
    expect(dependsOn('temporal-ui')).toEqual({ temporal: { condition: 'service_healthy' } });
    expect(dependsOn('opgraph-worker')).toEqual({ temporal: { condition: 'service_healthy' } });
    // Every service_healthy dependency must have a health check, or compose would wait forever.
    for (const name of SERVICES) {
      for (const [dep, { condition }] of Object.entries(dependsOn(name))) {
        expect(compose.services[dep], `${name} depends on unknown service ${dep}`).toBeDefined();
        if (condition === 'service_healthy') expect(service(dep).healthcheck, `${dep} needs a healthcheck`).toBeDefined();
      }
    }
  });

  it('points Temporal at PostgreSQL, and the UI at Temporal', () => {
    const temporal = environmentOf('temporal');
    expect(temporal.DB).toMatch(/^postgres/);
    expect(temporal.POSTGRES_SEEDS).toBe('postgresql');
    expect(temporal.POSTGRES_USER).toBe(environmentOf('postgresql').POSTGRES_USER);
    expect(temporal.POSTGRES_PWD).toBe(environmentOf('postgresql').POSTGRES_PASSWORD);
    expect(containerPorts('temporal')).toContain(7233);
    expect(environmentOf('temporal-ui').TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(containerPorts('temporal-ui')).toContain(8080);
  });

  it('runs worker.ts against the temporal service, with the example definitions', () => {
    const worker = service('opgraph-worker');
    const command = Array.isArray(worker.command) ? worker.command.join(' ') : (worker.command ?? '');
    expect(command).toMatch(/\btsx worker\.ts\b/);
    expect(existsSync(`${ROOT}worker.ts`)).toBe(true);
    const env = environmentOf('opgraph-worker');
    expect(env.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(env.TEMPORAL_NAMESPACE).toBe('default');
    expect(env.OPGRAPH_TASK_QUEUE).toBe('opgraph');
    expect(existsSync(`${ROOT}${env.OPGRAPH_DEFINITIONS}`), `OPGRAPH_DEFINITIONS=${env.OPGRAPH_DEFINITIONS}`).toBe(true);
    // What the worker process makes of that environment: the compose server, plain text.
    expect(temporalTargetFromEnv(env)).toEqual({ address: 'temporal:7233', namespace: 'default' });
  });

  it('passes Temporal Cloud settings through to the worker (empty by default)', () => {
    const cloudVars = [
      'TEMPORAL_API_KEY',
      'TEMPORAL_TLS',
      'TEMPORAL_TLS_CERT',
      'TEMPORAL_TLS_KEY',
      'TEMPORAL_TLS_CA',
      'TEMPORAL_TLS_SERVER_NAME',
    ];
    const defaults = environmentOf('opgraph-worker');
    for (const name of cloudVars) expect(defaults[name], name).toBe('');

    const cloud = environmentOf('opgraph-worker', {
      OPGRAPH_TEMPORAL_ADDRESS: 'my-ns.a1b2c.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'my-ns.a1b2c',
      TEMPORAL_API_KEY: 'secret-key',
    });
    expect(temporalTargetFromEnv(cloud)).toEqual({
      address: 'my-ns.a1b2c.tmprl.cloud:7233',
      namespace: 'my-ns.a1b2c',
      apiKey: 'secret-key',
      tls: {},
    });

    const mtls = environmentOf('opgraph-worker', {
      OPGRAPH_TEMPORAL_ADDRESS: 'my-ns.a1b2c.tmprl.cloud:7233',
      TEMPORAL_TLS_CERT: 'certs/client.pem',
      TEMPORAL_TLS_KEY: 'certs/client.key',
    });
    expect(temporalTargetFromEnv(mtls)?.tls).toEqual({ clientCertPath: 'certs/client.pem', clientKeyPath: 'certs/client.key' });
  });

  it('declares every named volume it mounts, and persists PostgreSQL and the value store', () => {
    const declared = Object.keys(compose.volumes ?? {});
    for (const [name, s] of Object.entries(compose.services)) {
      for (const source of namedVolumeSources(s)) expect(declared, `${name} mounts undeclared volume ${source}`).toContain(source);
    }
    const mounts = (name: string): string[] =>
      (service(name).volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`));
    expect(mounts('postgresql').some((m) => /^[a-z][\w-]*:\/var\/lib\/postgresql\/data$/.test(m))).toBe(true);
    const storage = environmentOf('opgraph-worker').OPGRAPH_STORAGE_DIR;
    expect(mounts('opgraph-worker').some((m) => /^[a-z][\w-]*:/.test(m) && m.endsWith(`:${storage}`))).toBe(true);
    // The container installs its own node_modules; it must not write into the host's checkout.
    expect(mounts('opgraph-worker').some((m) => /^[a-z][\w-]*:\/app\/node_modules$/.test(m))).toBe(true);
  });
});
