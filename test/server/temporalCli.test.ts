import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  cachedCliPath,
  candidatePaths,
  checkGo,
  defaultCacheDir,
  isGoVersionSufficient,
  parseGoVersion,
  resolveTemporalCli,
  TEMPORAL_CLI_VERSION,
  TemporalCliError,
} from '../../src/server/temporalCli.ts';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'opgraph-cli-test-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function writeScript(path: string, body: string, mode = 0o755): Promise<string> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, mode);
  return path;
}

/** A fake `temporal` binary in `dir`. */
function fakeTemporal(dir: string, mode = 0o755): Promise<string> {
  return writeScript(join(dir, 'temporal'), 'echo fake temporal', mode);
}

/**
 * A fake `go` that reports `version` and, for `go install`, writes a fake binary into $GOBIN
 * (or fails with `installExit`). Each install appends a line to <root>/installs.log.
 */
function fakeGo(dir: string, version: string, installExit = 0): Promise<string> {
  return writeScript(
    join(dir, 'go'),
    [
      'PATH=/usr/bin:/bin',
      `if [ "$1" = env ]; then echo ${version}; exit 0; fi`,
      'if [ "$1" = install ]; then',
      `  echo "install $2" >> "${join(root, 'installs.log')}"`,
      '  sleep 0.3',
      `  if [ ${installExit} -ne 0 ]; then echo "go: downloading something" >&2; echo "compile error: boom" >&2; exit ${installExit}; fi`,
      '  printf "#!/bin/sh\\necho built\\n" > "$GOBIN/temporal"',
      '  chmod 755 "$GOBIN/temporal"',
      '  exit 0',
      'fi',
      'exit 2',
    ].join('\n'),
  );
}

function baseEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { OPGRAPH_CACHE_DIR: join(root, 'cache'), PATH: join(root, 'empty-bin'), ...extra };
}

describe('defaultCacheDir', () => {
  it('prefers OPGRAPH_CACHE_DIR, then XDG_CACHE_HOME, then ~/.cache', () => {
    expect(defaultCacheDir({ OPGRAPH_CACHE_DIR: '/a', XDG_CACHE_HOME: '/x' })).toBe('/a');
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x' })).toBe('/x/opgraph');
    expect(defaultCacheDir({})).toBe(join(homedir(), '.cache', 'opgraph'));
  });
});

describe('candidatePaths', () => {
  it('lists TEMPORAL_CLI_PATH, then each PATH entry, then the cache, skipping empty PATH entries', () => {
    const env = { TEMPORAL_CLI_PATH: '/opt/t', PATH: ['/p1', '', '/p2'].join(delimiter) };
    expect(candidatePaths(env, '/cache')).toEqual([
      { path: '/opt/t', source: 'env' },
      { path: join('/p1', 'temporal'), source: 'path' },
      { path: join('/p2', 'temporal'), source: 'path' },
      { path: join('/cache', `temporal-cli-${TEMPORAL_CLI_VERSION}`, 'temporal'), source: 'cache' },
    ]);
  });

  it('works without PATH or TEMPORAL_CLI_PATH', () => {
    expect(candidatePaths({}, '/cache')).toEqual([{ path: cachedCliPath('/cache'), source: 'cache' }]);
  });
});

describe('go version checks', () => {
  it('parses go version strings', () => {
    expect(parseGoVersion('go1.25.0')).toEqual([1, 25]);
    expect(parseGoVersion('go version go1.26rc1 linux/amd64')).toEqual([1, 26]);
    expect(parseGoVersion('nonsense')).toBeUndefined();
  });

  it('requires at least Go 1.25', () => {
    expect(isGoVersionSufficient([1, 24])).toBe(false);
    expect(isGoVersionSufficient([1, 25])).toBe(true);
    expect(isGoVersionSufficient([2, 0])).toBe(true);
  });
});

describe('resolveTemporalCli', () => {
  it('TEMPORAL_CLI_PATH wins over PATH and the cache', async () => {
    const explicit = await fakeTemporal(join(root, 'explicit'));
    await fakeTemporal(join(root, 'bin'));
    await fakeTemporal(join(root, 'cache', `temporal-cli-${TEMPORAL_CLI_VERSION}`));
    const env = baseEnv({ TEMPORAL_CLI_PATH: explicit, PATH: join(root, 'bin') });
    await expect(resolveTemporalCli({ env, allowBuild: false })).resolves.toEqual({ path: explicit, source: 'env' });
  });

  it('uses the first executable `temporal` on PATH before the cache', async () => {
    await fakeTemporal(join(root, 'bin1'), 0o644); // not executable: skipped
    const onPath = await fakeTemporal(join(root, 'bin2'));
    await fakeTemporal(join(root, 'cache', `temporal-cli-${TEMPORAL_CLI_VERSION}`));
    const env = baseEnv({ PATH: [join(root, 'missing'), join(root, 'bin1'), join(root, 'bin2')].join(delimiter) });
    await expect(resolveTemporalCli({ env, allowBuild: false })).resolves.toEqual({ path: onPath, source: 'path' });
  });

  it('falls back to the cached build', async () => {
    const cached = await fakeTemporal(join(root, 'cache', `temporal-cli-${TEMPORAL_CLI_VERSION}`));
    await expect(resolveTemporalCli({ env: baseEnv(), allowBuild: false })).resolves.toEqual({
      path: cached,
      source: 'cache',
    });
  });

  it('honours XDG_CACHE_HOME for the cache location', async () => {
    const cached = await fakeTemporal(join(root, 'xdg', 'opgraph', `temporal-cli-${TEMPORAL_CLI_VERSION}`));
    const env = { PATH: join(root, 'empty-bin'), XDG_CACHE_HOME: join(root, 'xdg') };
    await expect(resolveTemporalCli({ env, allowBuild: false })).resolves.toEqual({ path: cached, source: 'cache' });
  });

  it('fails clearly when TEMPORAL_CLI_PATH points at a missing file, even if PATH has one', async () => {
    await fakeTemporal(join(root, 'bin'));
    const env = baseEnv({ TEMPORAL_CLI_PATH: join(root, 'nope', 'temporal'), PATH: join(root, 'bin') });
    const err = await resolveTemporalCli({ env, allowBuild: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TemporalCliError);
    expect((err as TemporalCliError).code).toBe('CLI_PATH_INVALID');
    expect((err as Error).message).toMatch(/TEMPORAL_CLI_PATH/);
    expect((err as Error).message).toContain(join(root, 'nope', 'temporal'));
  });

  it('fails clearly when TEMPORAL_CLI_PATH points at a non-executable file', async () => {
    const notExec = await fakeTemporal(join(root, 'explicit'), 0o644);
    const env = baseEnv({ TEMPORAL_CLI_PATH: notExec });
    await expect(resolveTemporalCli({ env, allowBuild: false })).rejects.toThrow(/TEMPORAL_CLI_PATH.*not an executable/);
  });

  it('with allowBuild:false and nothing found, names all the ways out', async () => {
    const err = await resolveTemporalCli({ env: baseEnv(), allowBuild: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TemporalCliError);
    expect((err as TemporalCliError).code).toBe('CLI_NOT_FOUND');
    const msg = (err as Error).message;
    expect(msg).toMatch(/allowBuild: false/);
    expect(msg).toMatch(/Go >= 1\.25/);
    expect(msg).toMatch(/TEMPORAL_ADDRESS/);
    expect(msg).toMatch(/TEMPORAL_CLI_PATH/);
    expect(msg).toMatch(/PATH/);
  });
});

describe('building with a fake `go`', () => {
  it('reports a missing go with the ways out', async () => {
    const err = await checkGo({ PATH: join(root, 'empty-bin') }).catch((e: unknown) => e);
    expect((err as TemporalCliError).code).toBe('GO_MISSING');
    expect((err as Error).message).toMatch(/Go is not installed/);
    expect((err as Error).message).toMatch(/TEMPORAL_ADDRESS/);
  });

  it('reports a too-old go without attempting a build', async () => {
    await fakeGo(join(root, 'gobin'), 'go1.24.3');
    const env = baseEnv({ PATH: join(root, 'gobin') });
    const err = await resolveTemporalCli({ env }).catch((e: unknown) => e);
    expect((err as TemporalCliError).code).toBe('GO_TOO_OLD');
    expect((err as Error).message).toMatch(/go1\.24\.3.*too old.*Go >= 1\.25/s);
    await expect(readFile(join(root, 'installs.log'), 'utf8')).rejects.toThrow();
  });

  it('builds once into the cache, announcing it, even with concurrent callers', async () => {
    await fakeGo(join(root, 'gobin'), 'go1.26.0');
    const env = baseEnv({ PATH: join(root, 'gobin') });
    const notices: string[] = [];
    const onNotice = (m: string): void => void notices.push(m);
    const [a, b] = await Promise.all([resolveTemporalCli({ env, onNotice }), resolveTemporalCli({ env, onNotice })]);
    const expected = cachedCliPath(join(root, 'cache'));
    expect(a.path).toBe(expected);
    expect(b.path).toBe(expected);
    expect([a.source, b.source]).toEqual(['built', 'built']);
    const installs = (await readFile(join(root, 'installs.log'), 'utf8')).trim().split('\n');
    expect(installs).toEqual([`install github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`]);
    expect(notices.some((n) => /few minutes/.test(n))).toBe(true);
    // No lock or temp build dir left behind.
    expect(await readdir(join(root, 'cache'))).toEqual([`temporal-cli-${TEMPORAL_CLI_VERSION}`]);
    // The next call finds the cache.
    await expect(resolveTemporalCli({ env, allowBuild: false })).resolves.toEqual({ path: expected, source: 'cache' });
  });

  it('on a failed build, includes the stderr tail and leaves no half binary', async () => {
    await fakeGo(join(root, 'gobin'), 'go1.26.0', 1);
    const env = baseEnv({ PATH: join(root, 'gobin') });
    const notices: string[] = [];
    const err = await resolveTemporalCli({ env, onNotice: (m) => void notices.push(m) }).catch((e: unknown) => e);
    expect((err as TemporalCliError).code).toBe('BUILD_FAILED');
    expect((err as Error).message).toMatch(/exit code 1/);
    expect((err as Error).message).toMatch(/compile error: boom/);
    expect(notices.join('\n')).toMatch(/compile error: boom/);
    expect(await readdir(join(root, 'cache'))).toEqual([]);
  });

  it('breaks a stale lock left by a dead process', async () => {
    await fakeGo(join(root, 'gobin'), 'go1.26.0');
    await mkdir(join(root, 'cache'), { recursive: true });
    // PID 2^22+1 is above Linux's pid_max default range, so it is not running.
    await writeFile(join(root, 'cache', `temporal-cli-${TEMPORAL_CLI_VERSION}.lock`), String(4194305));
    const env = baseEnv({ PATH: join(root, 'gobin') });
    await expect(resolveTemporalCli({ env })).resolves.toMatchObject({ source: 'built' });
  });
});
