/**
 * docker-compose.yml and the Dockerfiles: the production-like stack (PostgreSQL, Temporal, its setup
 * step, Web UI, MinIO and its bucket, the opgraph worker) is wired the way the README says and matches
 * what CI tests — the Temporal server version and persistence of src/server/cluster.ts, the MinIO
 * version of src/server/minio.ts, opgraph's search attributes. There is no Docker engine here, so
 * this checks everything that can be checked without one: the files parse, versions and settings agree,
 * the setup step's commands register the attributes on a real Temporal server, the images' commands
 * exist, the worker's environment selects the S3 store.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '@temporalio/client';
import { parse } from 'yaml';
import { describe, expect, inject, it } from 'vitest';
import { temporalTargetFromEnv } from '../../src/connection.ts';
import { OPGRAPH_SEARCH_ATTRIBUTES } from '../../src/searchAttributes.ts';
import { CLUSTER_DYNAMIC_CONFIG, DEFAULT_HISTORY_SHARDS, renderDynamicConfig, TEMPORAL_SERVER_VERSION } from '../../src/server/cluster.ts';
import { MINIO_PROGRAM, MINIO_VERSION } from '../../src/server/minio.ts';
import { resolveTemporalCli } from '../../src/server/temporalCli.ts';
import { storeConfigFromEnv } from '../../src/store/config.ts';
import { storeFromEnv } from '../../src/store/store.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Service {
  image?: string;
  build?: string | { context: string; dockerfile?: string };
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string | string[]; interval?: string; timeout?: string; retries?: number; disable?: boolean };
  ports?: (string | { target: number; published?: string | number })[];
  volumes?: (string | { type?: string; source?: string; target: string })[];
  restart?: string;
  init?: boolean;
}

interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

// `merge: true`: YAML merge keys (`<<: *s3-env`), which Compose supports.
const compose = parse(readFileSync(`${ROOT}docker-compose.yml`, 'utf8'), { merge: true }) as ComposeFile;
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as {
  version: string;
  engines: { node: string };
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

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

function mounts(name: string): string[] {
  return (service(name).volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`));
}

function namedVolumeSources(s: Service): string[] {
  return (s.volumes ?? [])
    .map((v) => (typeof v === 'string' ? (v.split(':')[0] ?? '') : v.type === 'volume' || v.type === undefined ? (v.source ?? '') : ''))
    .filter((src) => src !== '' && !src.startsWith('.') && !src.startsWith('/') && !src.startsWith('~') && !src.startsWith('$'));
}

function imageTag(image: string | undefined): string | undefined {
  return /^[^@]+?:([^:/@]+)$/.exec(image ?? '')?.[1];
}

/** A Dockerfile's instructions: comments dropped, `\` continuations joined. */
function dockerfile(path: string): { op: string; args: string }[] {
  const joined = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [op = '', ...rest] = line.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

/** Path of the Dockerfile a service builds from. */
function dockerfileOf(name: string): string {
  const build = service(name).build;
  if (!build) throw new Error(`${name} has no build`);
  const { context, dockerfile: file = 'Dockerfile' } = typeof build === 'string' ? { context: build } : build;
  return join(ROOT, context, file);
}

/** The command in exec form (`["a", "b"]`) or shell form, as words. */
function words(args: string): string[] {
  return args.trim().startsWith('[') ? (JSON.parse(args) as string[]) : args.split(/\s+/);
}

const PINNED = /^v?\d+\.\d+/;

/**
 * Docker Compose itself, when this machine has it (OPGRAPH_COMPOSE_PATH, `docker-compose` on PATH, or the
 * `docker compose` plugin): `config` parses and validates the file without a Docker engine.
 */
const COMPOSE_CLI = [
  process.env.OPGRAPH_COMPOSE_PATH,
  ...(process.env.PATH ?? '').split(delimiter).map((dir) => dir && join(dir, 'docker-compose')),
  join(homedir(), '.docker/cli-plugins/docker-compose'),
  '/usr/libexec/docker/cli-plugins/docker-compose',
  '/usr/lib/docker/cli-plugins/docker-compose',
  '/usr/local/lib/docker/cli-plugins/docker-compose',
].find((path): path is string => !!path && existsSync(path) && statSync(path).isFile());
const SERVICES = ['postgresql', 'temporal', 'temporal-setup', 'temporal-ui', 'minio', 's3-setup', 'opgraph-worker'] as const;

describe('docker-compose.yml', () => {
  it.runIf(COMPOSE_CLI)('is valid for Docker Compose (`docker compose config`)', async () => {
    const resolved = parse(await run(COMPOSE_CLI as string, ['-f', `${ROOT}docker-compose.yml`, 'config'])) as ComposeFile;
    expect(Object.keys(resolved.services).sort()).toEqual(Object.keys(compose.services).sort());
    expect(resolved.services['opgraph-worker']?.environment).toEqual(environmentOf('opgraph-worker', {}));
  });

  it('has the services of the stack', () => {
    expect(Object.keys(compose.services).sort()).toEqual([...SERVICES].sort());
  });

  it('pins every image to an explicit version tag (never latest, never untagged), also in the Dockerfiles it builds', () => {
    const pinned = (where: string, image: string) => {
      const m = /^(?<repo>[^@]+?)(?::(?<tag>[^:/@]+))?(?:@(?<digest>sha256:[0-9a-f]{64}))?$/.exec(image);
      expect(m, `${where}: unparseable image ${image}`).not.toBeNull();
      const { tag, digest } = m?.groups ?? {};
      if (digest) return;
      expect(tag, `${where}: image ${image} has no tag`).toBeDefined();
      expect(tag, `${where}: image ${image}`).not.toMatch(/latest/i);
      // A version number: major.minor at least (e.g. 16.4-alpine, 1.29.1, 20.19-bookworm-slim).
      expect(tag, `${where}: image ${image} is not pinned to a version`).toMatch(PINNED);
    };
    for (const [name, s] of Object.entries(compose.services)) {
      expect(s.image, `${name} has no image`).toBeTypeOf('string');
      pinned(name, s.image as string);
      if (!s.build) continue;
      for (const from of dockerfile(dockerfileOf(name)).filter((i) => i.op === 'FROM')) {
        pinned(`${name}'s Dockerfile`, from.args.split(/\s+/)[0] ?? '');
      }
    }
    expect(service('postgresql').image).toMatch(/^postgres:/);
    expect(service('temporal').image).toMatch(/^temporalio\/auto-setup:/);
    expect(service('temporal-ui').image).toMatch(/^temporalio\/ui:/);
  });

  it('runs the Temporal server version that CI tests (src/server/cluster.ts)', () => {
    const version = TEMPORAL_SERVER_VERSION.replace(/^v/, '');
    expect(version).toBe('1.29.1');
    expect(imageTag(service('temporal').image)).toBe(version);
    // The setup step runs the same image (its `temporal` CLI) against the server.
    expect(service('temporal-setup').image).toBe(service('temporal').image);
  });

  it("persists like the CI cluster: PostgreSQL (SQL visibility), the cluster's history shard count, its dynamic config", () => {
    const temporal = environmentOf('temporal');
    expect(temporal.DB).toBe('postgres12');
    expect(temporal.POSTGRES_SEEDS).toBe('postgresql');
    expect(temporal.DB_PORT).toBe('5432');
    expect(temporal.POSTGRES_USER).toBe(environmentOf('postgresql').POSTGRES_USER);
    expect(temporal.POSTGRES_PWD).toBe(environmentOf('postgresql').POSTGRES_PASSWORD);
    // No Elasticsearch: visibility in PostgreSQL too, as on the cluster (temporal_visibility).
    expect(temporal.ENABLE_ES ?? 'false').toBe('false');
    expect(Number(temporal.NUM_HISTORY_SHARDS)).toBe(DEFAULT_HISTORY_SHARDS);
    expect(Number(temporal.NUM_HISTORY_SHARDS)).toBeGreaterThanOrEqual(4);
    // The cluster registers only opgraph's attributes; auto-setup's Custom*Field samples would take visibility columns.
    expect(temporal.SKIP_ADD_CUSTOM_SEARCH_ATTRIBUTES).toBe('true');

    const dynamicConfigPath = temporal.DYNAMIC_CONFIG_FILE_PATH;
    expect(dynamicConfigPath).toMatch(/^\//);
    const mount = mounts('temporal').find((m) => m.split(':')[1] === dynamicConfigPath);
    expect(mount, `no volume mounts ${dynamicConfigPath}`).toBeDefined();
    const hostFile = join(ROOT, (mount ?? '').split(':')[0] ?? '');
    expect(parse(readFileSync(hostFile, 'utf8'))).toEqual(renderDynamicConfig(CLUSTER_DYNAMIC_CONFIG));
  });

  it('has health checks where others wait for health; Temporal is healthy once the default namespace answers', () => {
    for (const name of ['postgresql', 'temporal', 'minio']) {
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
    expect((service('temporal').healthcheck?.test as string[]).join(' ')).toMatch(
      /temporal operator namespace describe --namespace default --address temporal:7233/,
    );
    expect(JSON.stringify(service('minio').healthcheck?.test)).toContain('/minio/health/live');
  });

  it('starts each service only after what it needs is healthy, or done', () => {
    expect(dependsOn('temporal')).toEqual({ postgresql: { condition: 'service_healthy' } });
    expect(dependsOn('temporal-setup')).toEqual({ temporal: { condition: 'service_healthy' } });
    expect(dependsOn('temporal-ui')).toEqual({ temporal: { condition: 'service_healthy' } });
    expect(dependsOn('s3-setup')).toEqual({ minio: { condition: 'service_healthy' } });
    expect(dependsOn('opgraph-worker')).toEqual({
      temporal: { condition: 'service_healthy' },
      'temporal-setup': { condition: 'service_completed_successfully' },
      's3-setup': { condition: 'service_completed_successfully' },
    });
    for (const name of SERVICES) {
      for (const [dep, { condition }] of Object.entries(dependsOn(name))) {
        expect(compose.services[dep], `${name} depends on unknown service ${dep}`).toBeDefined();
        // Compose would wait forever for the health of a service without a check…
        if (condition === 'service_healthy') expect(service(dep).healthcheck, `${dep} needs a healthcheck`).toBeDefined();
        // …and for the completion of one that never exits.
        if (condition === 'service_completed_successfully') {
          expect(service(dep).ports, `${dep} is a one-shot step: no ports`).toBeUndefined();
          expect(service(dep).restart, `${dep} retries until it succeeds`).toBe('on-failure');
        }
      }
    }
    expect(environmentOf('temporal-ui').TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(containerPorts('temporal')).toContain(7233);
    expect(containerPorts('temporal-ui')).toContain(8080);
  });

  describe('the setup step registers every search attribute of src/searchAttributes.ts', () => {
    /** The `temporal …` command lines of temporal-setup (entrypoint `sh -ec`, script in `command`). */
    const setupLines = (): string[][] => {
      const s = service('temporal-setup');
      expect(s.entrypoint).toEqual(['/bin/sh', '-ec']);
      const script = Array.isArray(s.command) ? s.command.join('\n') : (s.command ?? '');
      return script
        .split('\n')
        .map((line) => line.trim())
        .filter(Boolean)
        .map((line) => line.split(/\s+/));
    };

    it('names each attribute with its type, in the default namespace', () => {
      const registered: Record<string, string> = {};
      for (const argv of setupLines()) {
        expect(argv.slice(0, 4), argv.join(' ')).toEqual(['temporal', 'operator', 'search-attribute', 'create']);
        const flag = (name: string) => argv[argv.indexOf(name) + 1];
        expect(flag('--namespace')).toBe('default');
        registered[flag('--name') ?? ''] = flag('--type') ?? '';
      }
      expect(registered).toEqual(OPGRAPH_SEARCH_ATTRIBUTES);
      expect(environmentOf('temporal-setup').TEMPORAL_ADDRESS).toBe('temporal:7233');
    });

    it('and those commands do register them on a real Temporal server (the suite’s, in a fresh namespace)', async () => {
      const address = inject('temporalAddress');
      const cli = (await resolveTemporalCli({ allowBuild: false })).path;
      const namespace = `compose-${randomBytes(4).toString('hex')}`;
      await run(cli, ['operator', 'namespace', 'create', '--namespace', namespace, '--address', address]);
      // As compose's `restart: on-failure` would: retry while the new namespace is not usable yet.
      for (const argv of setupLines()) {
        const args = argv.slice(1).map((word, i, all) => (all[i - 1] === '--namespace' ? namespace : word));
        await retry(() => run(cli, args, { TEMPORAL_ADDRESS: address }), 30_000);
        // Idempotent: a second `docker compose up` runs the step again.
        await run(cli, args, { TEMPORAL_ADDRESS: address });
      }
      const connection = await Connection.connect({ address });
      try {
        const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
        for (const name of Object.keys(OPGRAPH_SEARCH_ATTRIBUTES)) expect(Object.keys(customAttributes ?? {})).toContain(name);
      } finally {
        await connection.close();
      }
    });
  });

  it('runs MinIO built from source at the version the tests run (src/server/minio.ts), with a persistent volume', () => {
    const instructions = dockerfile(dockerfileOf('minio'));
    const arg = instructions.find((i) => i.op === 'ARG' && i.args.startsWith('MINIO_VERSION='));
    expect(arg?.args).toBe(`MINIO_VERSION=${MINIO_VERSION}`);
    expect(
      instructions.some(
        (i) => i.op === 'RUN' && i.args.includes(`go install`) && i.args.includes('github.com/minio/minio@${MINIO_VERSION}'),
      ),
    ).toBe(true);
    expect(imageTag(service('minio').image)).toBe(MINIO_VERSION);
    // The Go image can build it (MinIO's go.mod: Go >= MINIO_PROGRAM.minGo).
    const goImage = instructions.find((i) => i.op === 'FROM' && i.args.startsWith('golang:'))?.args ?? '';
    const [major = 0, minor = 0] = (/^golang:(\d+)\.(\d+)/.exec(goImage) ?? []).slice(1).map(Number);
    expect(major > MINIO_PROGRAM.minGo[0] || (major === MINIO_PROGRAM.minGo[0] && minor >= MINIO_PROGRAM.minGo[1]), goImage).toBe(true);
    expect(instructions.find((i) => i.op === 'CMD')?.args).toMatch(/"server", "\/data"/);
    expect(mounts('minio').some((m) => /^[a-z][\w-]*:\/data$/.test(m))).toBe(true);
    expect(containerPorts('minio')).toContain(9000);
  });

  describe('the worker', () => {
    it("is built from ./Dockerfile (tagged with package.json's version) and its environment selects the S3 store on MinIO", () => {
      const worker = service('opgraph-worker');
      expect(worker.build).toBe('.');
      expect(worker.image).toBe(`opgraph-worker:${pkg.version}`);
      expect(worker.init).toBe(true);
      // The code is in the image: no checkout mounted over it, no node_modules volume, no npm at start.
      expect(worker.volumes ?? []).toEqual([]);
      expect(worker.command).toBeUndefined();

      const env = environmentOf('opgraph-worker');
      expect(env.OPGRAPH_STORAGE_DIR).toBeUndefined();
      expect(storeConfigFromEnv(env)).toEqual({
        kind: 's3',
        bucket: 'opgraph',
        prefix: 'values',
        endpoint: 'http://minio:9000',
        region: 'us-east-1',
        forcePathStyle: true,
      });
      expect(storeFromEnv(env).location).toBe('s3://opgraph/values at http://minio:9000');
      // MinIO's root credentials are the worker's keys.
      const minio = environmentOf('minio');
      expect([env.AWS_ACCESS_KEY_ID, env.AWS_SECRET_ACCESS_KEY]).toEqual([minio.MINIO_ROOT_USER, minio.MINIO_ROOT_PASSWORD]);
      expect((env.AWS_SECRET_ACCESS_KEY ?? '').length).toBeGreaterThanOrEqual(8); // MinIO refuses shorter root passwords
    });

    it('against the temporal service, with the example definitions', () => {
      const env = environmentOf('opgraph-worker');
      expect(env.TEMPORAL_ADDRESS).toBe('temporal:7233');
      expect(env.TEMPORAL_NAMESPACE).toBe('default');
      expect(env.OPGRAPH_TASK_QUEUE).toBe('opgraph');
      expect(existsSync(`${ROOT}${env.OPGRAPH_DEFINITIONS}`), `OPGRAPH_DEFINITIONS=${env.OPGRAPH_DEFINITIONS}`).toBe(true);
      expect(temporalTargetFromEnv(env)).toEqual({ address: 'temporal:7233', namespace: 'default' });
    });

    it("takes compose-only knobs for the store, so a shell's own OPGRAPH_STORAGE_URL / AWS_* / TEMPORAL_ADDRESS never leak in", () => {
      const shell = {
        TEMPORAL_ADDRESS: 'localhost:7233',
        OPGRAPH_STORAGE_URL: 's3://somewhere-else/x',
        AWS_ENDPOINT_URL_S3: 'http://localhost:9000',
        AWS_ACCESS_KEY_ID: 'AKIA-my-own',
        AWS_SECRET_ACCESS_KEY: 'my-own-secret',
      };
      expect(environmentOf('opgraph-worker', shell)).toEqual(environmentOf('opgraph-worker'));
      expect(environmentOf('minio', shell)).toEqual(environmentOf('minio'));
      // AWS S3 instead of MinIO.
      const aws = environmentOf('opgraph-worker', {
        OPGRAPH_S3_URL: 's3://my-bucket/opgraph',
        OPGRAPH_S3_ENDPOINT: '',
        OPGRAPH_S3_REGION: 'eu-west-1',
        OPGRAPH_S3_ACCESS_KEY: 'AKIAEXAMPLE',
        OPGRAPH_S3_SECRET_KEY: 'example-secret',
      });
      expect(storeConfigFromEnv(aws)).toEqual({
        kind: 's3',
        bucket: 'my-bucket',
        prefix: 'opgraph',
        region: 'eu-west-1',
        forcePathStyle: false,
      });
      expect([aws.AWS_ACCESS_KEY_ID, aws.AWS_SECRET_ACCESS_KEY]).toEqual(['AKIAEXAMPLE', 'example-secret']);
    });

    it('passes Temporal Cloud settings through (empty by default)', () => {
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
      });
      const mtls = environmentOf('opgraph-worker', {
        OPGRAPH_TEMPORAL_ADDRESS: 'my-ns.a1b2c.tmprl.cloud:7233',
        TEMPORAL_TLS_CERT: '/certs/client.pem',
        TEMPORAL_TLS_KEY: '/certs/client.key',
      });
      expect(temporalTargetFromEnv(mtls)?.tls).toEqual({
        clientCert: { path: '/certs/client.pem' },
        clientKey: { path: '/certs/client.key' },
      });
    });

    it('gets its bucket from a one-shot step with the same image and the same store settings', () => {
      const setup = service('s3-setup');
      expect(setup.build).toBe(service('opgraph-worker').build);
      expect(setup.image).toBe(service('opgraph-worker').image);
      const argv = Array.isArray(setup.command) ? setup.command : [];
      expect(argv.slice(0, 3)).toEqual(['node', '--import', 'tsx']);
      expect(existsSync(join(ROOT, argv[3] ?? '')), argv.join(' ')).toBe(true);
      const storeVars = (env: Record<string, string>) =>
        Object.fromEntries(Object.entries(env).filter(([k]) => /^(OPGRAPH_STORAGE_|AWS_)/.test(k)));
      expect(storeVars(environmentOf('s3-setup'))).toEqual(storeVars(environmentOf('opgraph-worker')));
    });
  });

  it('declares every named volume it mounts, and persists PostgreSQL and MinIO', () => {
    const declared = Object.keys(compose.volumes ?? {});
    for (const [name, s] of Object.entries(compose.services)) {
      for (const source of namedVolumeSources(s)) expect(declared, `${name} mounts undeclared volume ${source}`).toContain(source);
    }
    expect(mounts('postgresql').some((m) => /^[a-z][\w-]*:\/var\/lib\/postgresql\/data$/.test(m))).toBe(true);
    // Bind mounts exist in the checkout.
    for (const [name] of Object.entries(compose.services)) {
      for (const m of mounts(name).filter((v) => v.startsWith('./')))
        expect(existsSync(join(ROOT, m.split(':')[0] ?? '')), `${name}: ${m}`).toBe(true);
    }
  });
});

describe('Dockerfile (the worker image)', () => {
  const instructions = dockerfile(`${ROOT}Dockerfile`);
  const runs = instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
  const cmd = words(instructions.filter((i) => i.op === 'CMD').at(-1)?.args ?? '[]');

  it("runs on a Node version that satisfies package.json's engines", () => {
    const [minMajor = 0, minMinor = 0] = (/>=\s*(\d+)\.(\d+)/.exec(pkg.engines.node) ?? []).slice(1).map(Number);
    const from = instructions.find((i) => i.op === 'FROM')?.args ?? '';
    const [major = 0, minor = 0] = (/^node:(\d+)\.(\d+)/.exec(from) ?? []).slice(1).map(Number);
    expect(major > minMajor || (major === minMajor && minor >= minMinor), `${from} vs engines ${pkg.engines.node}`).toBe(true);
  });

  it('installs with `npm ci` from the lockfile, copied in before the code, without devDependencies', () => {
    const npmCi = instructions.findIndex((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args));
    expect(npmCi, 'RUN npm ci').toBeGreaterThan(0);
    expect(
      runs.some((r) => /\bnpm (install|i)\b/.test(r)),
      'npm install would not use the lockfile as is',
    ).toBe(false);
    const copyLock = instructions.findIndex(
      (i) => i.op === 'COPY' && /\bpackage-lock\.json\b/.test(i.args) && /\bpackage\.json\b/.test(i.args),
    );
    expect(copyLock).toBeGreaterThan(-1);
    expect(copyLock).toBeLessThan(npmCi);
    expect(instructions[npmCi]?.args).toMatch(/--omit=dev/);
    // `npm ci` fails when the lockfile does not match package.json: same dependencies on both sides.
    const lock = JSON.parse(readFileSync(`${ROOT}package-lock.json`, 'utf8')) as {
      lockfileVersion: number;
      packages: Record<string, { dependencies?: Record<string, string>; devDependencies?: Record<string, string> }>;
    };
    expect(lock.lockfileVersion).toBeGreaterThanOrEqual(2);
    expect(lock.packages['']?.dependencies).toEqual(pkg.dependencies);
    expect(lock.packages['']?.devDependencies).toEqual(pkg.devDependencies);
  });

  it("runs commands that exist: npm scripts in package.json, the worker's entry file, tsx as a runtime dependency", () => {
    for (const line of [...runs, cmd.join(' ')]) {
      for (const [, script] of line.matchAll(/\bnpm run ([\w:-]+)/g))
        expect(pkg.scripts, `npm run ${script}`).toHaveProperty(script as string);
    }
    expect(cmd).toEqual(['node', '--import', 'tsx', 'worker.ts']);
    expect(existsSync(`${ROOT}worker.ts`)).toBe(true);
    expect(pkg.dependencies).toHaveProperty('tsx');
    // The compose command for the bucket and package.json's own worker script run the same way.
    expect(pkg.scripts.worker).toMatch(/\btsx worker\.ts\b/);
  });

  it('has every package that the worker, the client code and the setup script import at run time (devDependencies are not installed)', () => {
    const files = ['worker.ts', 'scripts/create-bucket.ts', ...tsFiles('src'), ...tsFiles('examples')];
    const runtime = new Set<string>();
    for (const file of files) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      const specifiers = [
        ...text.matchAll(/^\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\s+from\s+)?'([^']+)'/gm),
        ...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g),
      ].map((m) => m[1] as string);
      for (const spec of specifiers) {
        if (spec.startsWith('.') || spec.startsWith('node:') || spec === 'opgraph' || spec.startsWith('opgraph/')) continue;
        runtime.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string));
      }
    }
    expect(runtime.size).toBeGreaterThan(5);
    for (const name of runtime) expect(Object.keys(pkg.dependencies), `${name} is imported at run time`).toContain(name);
  });

  it('leaves node_modules, git and local state out of the build context', () => {
    const ignored = readFileSync(`${ROOT}.dockerignore`, 'utf8')
      .split('\n')
      .map((l) => l.trim());
    for (const entry of ['node_modules', '.git', '.opgraph', '.env', 'certs']) expect(ignored, entry).toContain(entry);
  });
});

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts') && statSync(join(ROOT, dir, f)).isFile())
    .map((f) => join(dir, f));
}

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${out}`))));
  });
}

async function retry<T>(fn: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
