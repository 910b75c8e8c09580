/**
 * Where in the user's own code an op failed: the top stack frame of what it threw that is not opgraph's,
 * Node's or a dependency's. A failure's message and details carry it, so a failed step points at
 * `mine/throws.ts:13:30` rather than at the activity that ran the op.
 */
import { dirname, isAbsolute, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** opgraph's own sources (src/), whose frames are never the user's. */
const OPGRAPH_SRC = dirname(dirname(fileURLToPath(import.meta.url))) + sep;

/** `at fn (file:///a/b.ts:1:2)`, `at /a/b.ts:1:2`, `at async fn (/a/b.ts:1:2)`. */
const FRAME = /^\s*at (?:async )?(?:.*?\()?((?:file:\/\/)?[^()\s]+):(\d+):(\d+)\)?\s*$/;

export interface UserFrame {
  /** Relative to the working directory when inside it, else absolute. */
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** `file:line:column`. */
export function frameText(frame: UserFrame): string {
  return `${frame.file}:${frame.line}:${frame.column}`;
}

function pathOf(location: string): string | undefined {
  if (location.startsWith('file://')) {
    try {
      return fileURLToPath(location);
    } catch {
      return undefined;
    }
  }
  return isAbsolute(location) ? location : undefined;
}

/** The first frame of `stack` in user code, or undefined (no stack, or only library frames). */
export function userFrame(stack: string | undefined, cwd: string = process.cwd()): UserFrame | undefined {
  for (const line of stack?.split('\n') ?? []) {
    const match = FRAME.exec(line);
    if (!match?.[1]) continue;
    const path = pathOf(match[1]);
    if (!path || path.startsWith(OPGRAPH_SRC) || path.includes(`${sep}node_modules${sep}`)) continue;
    const inCwd = relative(cwd, path);
    const file = inCwd && !inCwd.startsWith('..') && !isAbsolute(inCwd) ? inCwd : path;
    return { file, line: Number(match[2]), column: Number(match[3]) };
  }
  return undefined;
}
