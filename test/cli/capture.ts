import { Writable } from 'node:stream';
import type { CliIO } from '../../src/cli/io.ts';

/** A CliIO whose stdout/stderr are captured (not TTYs), for running commands in-process. */
export function captureIO(env: NodeJS.ProcessEnv = {}, cwd = process.cwd()): { io: CliIO; stdout: () => string; stderr: () => string } {
  const sink = (chunks: string[]): Writable =>
    new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        chunks.push(chunk.toString());
        callback();
      },
    });
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: sink(out), stderr: sink(err), env, cwd },
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  };
}
