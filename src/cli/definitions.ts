/** Loading the definitions module (`-m, --module`): a TypeScript/JavaScript file exporting `defs` or a default `Definitions`. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Definitions, JobDefinition } from '../dsl/job.ts';
import { errorMessage, UsageError } from './errors.ts';

export const DEFAULT_MODULE = 'examples/definitions.ts';

/** Structural check, so a module that got `opgraph` through another path (a second copy) still loads. */
function isDefinitions(value: unknown): value is Definitions {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<Definitions>;
  return candidate.jobs instanceof Map && candidate.ops instanceof Map && typeof candidate.getJob === 'function';
}

/** Imports `modulePath` (relative to `cwd`) and returns its `defs` export, or its default export. */
export async function loadDefinitions(modulePath: string = DEFAULT_MODULE, cwd: string = process.cwd()): Promise<Definitions> {
  const file = resolve(cwd, modulePath);
  if (!existsSync(file)) {
    throw new UsageError(
      `definitions module ${file} does not exist; pass -m/--module <path> to a module exporting \`defs\` (new Definitions({ jobs: [...] }))`,
    );
  }
  let loaded: Record<string, unknown>;
  try {
    loaded = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`could not load definitions module ${file}:\n${errorMessage(err)}`, { cause: err });
  }
  const definitions = loaded.defs ?? loaded.default;
  if (!isDefinitions(definitions)) {
    const exported = Object.keys(loaded).join(', ') || '(nothing)';
    throw new UsageError(
      `definitions module ${file} must export \`defs\` (or a default export) created with new Definitions({ jobs: [...] }); it exports: ${exported}`,
    );
  }
  return definitions;
}

export function getJob(definitions: Definitions, name: string, modulePath: string): JobDefinition {
  const found = definitions.jobs.get(name);
  if (!found) {
    const known = [...definitions.jobs.keys()].join(', ') || '(none)';
    throw new UsageError(`unknown job "${name}" in ${modulePath}; known jobs: ${known} (see \`opgraph list\`)`);
  }
  return found;
}
