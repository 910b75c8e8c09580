/** Run config files for `--config`: JSON (`.json`) or YAML (`.yaml`/`.yml`), shaped `{ ops: { node: { config, inputs } } }`. */
import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { RunConfig } from '../dsl/runConfig.ts';
import { errorMessage, UsageError } from './errors.ts';

/** Parses run config text; `source` names the file in error messages. Empty input is `{}`. */
export function parseRunConfig(text: string, format: 'json' | 'yaml', source: string): RunConfig {
  let value: unknown;
  if (format === 'json') {
    try {
      value = text.trim() === '' ? {} : JSON.parse(text);
    } catch (err) {
      throw new UsageError(`run config file ${source} is not valid JSON: ${errorMessage(err)}`);
    }
  } else {
    const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
    const [first] = doc.errors;
    if (first) {
      throw new UsageError(`run config file ${source} is not valid YAML: ${first.message}`);
    }
    value = doc.toJS() as unknown;
  }
  value ??= {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    const got = Array.isArray(value) ? 'a list' : `a ${typeof value}`;
    throw new UsageError(`run config file ${source} must hold an object like { "ops": { "<node>": { "config": ... } } }, not ${got}`);
  }
  return value as RunConfig;
}

/** Reads `--config <file>`; the extension picks the format. */
export function readRunConfigFile(path: string, cwd: string = process.cwd()): RunConfig {
  const file = resolve(cwd, path);
  const ext = extname(file).toLowerCase();
  const format = ext === '.json' ? 'json' : ext === '.yaml' || ext === '.yml' ? 'yaml' : undefined;
  if (!format) {
    throw new UsageError(`run config file ${file}: unknown extension "${ext}"; use .json, .yaml or .yml`);
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read run config file ${file}: ${errorMessage(err)}`);
  }
  return parseRunConfig(text, format, file);
}
