import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/opgraph.js', import.meta.url));

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface OpgraphProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once `pattern` appears on stderr (or stdout); rejects if the process ends first or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  done: Promise<Finished>;
}

/** Runs `bin/opgraph.js <args>` as a child process (pipes, so plain progress mode) from the repo root. */
export function opgraph(args: readonly string[], env: NodeJS.ProcessEnv = {}): OpgraphProcess {
  // The test decides these; a developer's shell settings must not leak in.
  const {
    NODE_OPTIONS: _o,
    TEMPORAL_ADDRESS: _a,
    TEMPORAL_NAMESPACE: _n,
    TEMPORAL_UI_URL: _u,
    CI: _c,
    OPGRAPH_DEFINITIONS: _d,
    OPGRAPH_TASK_QUEUE: _q,
    ...inherited
  } = process.env;
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    for (const l of listeners) l();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    for (const l of listeners) l();
  });
  let exited = false;
  const done = new Promise<Finished>((resolve) => {
    child.once('close', (code, signal) => {
      exited = true;
      for (const l of listeners) l();
      resolve({ code, signal, stdout: out, stderr: err });
    });
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    done,
    waitFor: (pattern, timeoutMs = 90_000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`timed out waiting for ${pattern}; stderr:\n${err}\nstdout:\n${out}`)), timeoutMs);
        const check = (): void => {
          if (pattern.test(err) || pattern.test(out)) finish();
          else if (exited) finish(new Error(`opgraph exited before printing ${pattern}; stderr:\n${err}\nstdout:\n${out}`));
        };
        const finish = (error?: Error): void => {
          clearTimeout(timer);
          listeners.delete(check);
          if (error) reject(error);
          else resolve();
        };
        listeners.add(check);
        check();
      }),
  };
}

/** Runs a command to completion. */
export function runOpgraph(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Finished> {
  return opgraph(args, env).done;
}
