import { z } from 'zod';
import { RunConfigError, type RunConfigIssue } from './errors.ts';
import type { JobDefinition } from './job.ts';
import { formatBytes, jsonIssue, utf8Length } from './json.ts';
import type { OpSpec } from './op.ts';
import type { InputSource } from './plan.ts';
import { unknownKeys } from './unknownKeys.ts';
import { PAYLOAD } from './limits.ts';

/** Run config as users write it: `{ ops: { node: { config, inputs, ops } } }`; graphs nest `ops`. */
export interface RunConfig {
  ops?: Record<string, NodeRunConfig>;
}
export interface NodeRunConfig {
  config?: unknown;
  inputs?: Record<string, unknown>;
  ops?: Record<string, NodeRunConfig>;
}

const NodeRunConfigSchema: z.ZodType<NodeRunConfig> = z.lazy(() =>
  z
    .object({
      config: z.unknown().optional(),
      inputs: z.record(z.string(), z.unknown()).optional(),
      ops: z.record(z.string(), NodeRunConfigSchema).optional(),
    })
    .strict(),
);
const RunConfigSchema = z.object({ ops: z.record(z.string(), NodeRunConfigSchema).optional() }).strict();

/** Run config flattened by node id, as it travels with a run. */
export const ResolvedRunConfig = z.record(
  z.string(),
  z.object({ config: z.unknown().optional(), inputs: z.record(z.string(), z.unknown()) }),
);
export type ResolvedRunConfig = z.infer<typeof ResolvedRunConfig>;

/**
 * Run config travels inside the start of every workflow of a run (the job's and each mapped key's),
 * and the client cannot hand it to the store as ops do with large outputs: above this size it is
 * refused before the run starts, rather than failing in Temporal (2 MiB payload limit).
 */
export const RUN_CONFIG_LIMIT_BYTES = PAYLOAD.runConfig;

/**
 * Checks run config against the job before the run starts: unknown nodes, op config failing the
 * op's schema or giving keys it does not declare (zod would drop them silently), missing values
 * for unwired inputs, inputs failing their `In` schema, values JSON cannot carry, and run config
 * too large to travel. Every problem is reported at once, each with its path in the run config,
 * what is wrong and how to fix it.
 */
export function resolveRunConfig(job: JobDefinition, runConfig: unknown = {}): ResolvedRunConfig {
  const parsed = RunConfigSchema.safeParse(runConfig ?? {});
  if (!parsed.success)
    throw new RunConfigError(
      job.name,
      parsed.error.issues.map((issue) => shapeIssue(issue, job, runConfig)),
    );
  const issues: RunConfigIssue[] = [];
  const flat = new Map<string, NodeRunConfig>();
  flatten(parsed.data.ops ?? {}, '', flat, job, issues);
  const resolved: ResolvedRunConfig = {};
  for (const [nodeId, spec] of job.nodeOps) {
    const nodeConfig = flat.get(nodeId) ?? {};
    const planNode = job.plan.nodes.find((n) => n.id === nodeId);
    const configPath = `${userPath(nodeId)}.config`;
    if (spec.configSchema) {
      const result = spec.configSchema.safeParse(nodeConfig.config);
      if (!result.success && nodeConfig.config === undefined) {
        issues.push({
          path: configPath,
          message: `missing; op "${spec.name}" requires config matching its config schema (${result.error.issues.map((i) => i.message).join('; ')})`,
          fix: `supply it: ${runConfigExample(nodeId, `{ config: ${configSkeleton(spec.configSchema)} }`)}`,
        });
      } else {
        if (!result.success) {
          issues.push(...schemaIssues(result.error.issues, nodeConfig.config, configPath, `op "${spec.name}" config schema`));
        }
        issues.push(...unknownKeyIssues(spec.configSchema, nodeConfig.config, configPath, spec.name));
      }
      const notJson = notJsonIssue(nodeConfig.config, configPath);
      if (notJson) issues.push(notJson);
    } else if (nodeConfig.config !== undefined) {
      issues.push({
        path: configPath,
        message: `op "${spec.name}" declares no config schema, so it takes no config`,
        fix: `remove ${configPath}, or declare the op's config: op({ name: '${spec.name}', config: z.object({ … }) }, …)`,
      });
    }
    const inputs: Record<string, unknown> = {};
    for (const input of planNode?.inputs ?? []) {
      const given = nodeConfig.inputs?.[input.name];
      const inputPath = `${userPath(nodeId)}.inputs.${input.name}`;
      if (input.source.kind === 'config') {
        if (given === undefined) {
          issues.push({
            path: inputPath,
            message: `input "${input.name}" of op "${spec.name}" is not wired in the job, so run config must supply it`,
            fix: `supply it: ${runConfigExample(nodeId, `{ inputs: { ${input.name}: … } }`)}, or wire the input to an upstream op's output in the job`,
          });
        } else {
          inputs[input.name] = given;
          issues.push(...configInputIssues(spec, inputPath, input.name, given));
        }
      } else if (given !== undefined) {
        issues.push({
          path: inputPath,
          message: `input "${input.name}" of op "${spec.name}" is already wired to ${wiredFrom(input.source)}`,
          fix: `remove ${inputPath} from run config; only inputs the job leaves unwired take a value from run config`,
        });
      }
    }
    for (const name of Object.keys(nodeConfig.inputs ?? {})) {
      if (!planNode?.inputs.some((i) => i.name === name)) {
        const names = planNode?.inputs.map((i) => i.name) ?? [];
        issues.push({
          path: `${userPath(nodeId)}.inputs.${name}`,
          message: `op "${spec.name}" has no input named "${name}"`,
          fix:
            names.length === 0
              ? `remove ${userPath(nodeId)}.inputs.${name}; op "${spec.name}" has no inputs`
              : `${renameTo(name, names, 'input', `use one of its inputs (${names.join(', ')})`)}, or remove ${userPath(nodeId)}.inputs.${name}`,
        });
      }
    }
    resolved[nodeId] = { ...(nodeConfig.config === undefined ? {} : { config: nodeConfig.config }), inputs };
  }
  if (issues.length === 0) issues.push(...sizeIssues(resolved));
  if (issues.length > 0) throw new RunConfigError(job.name, issues);
  return resolved;
}

/** Where a node's entry is in run config as written: `ops.outer.ops.inner` for node `outer.inner` of a graph. */
export function userPath(nodeId: string): string {
  return `ops.${nodeId.split('.').join('.ops.')}`;
}

/** Run config that is not shaped `{ ops: { <node>: { config, inputs, ops } } }`. */
function shapeIssue(issue: z.core.$ZodIssue, job: JobDefinition, raw: unknown): RunConfigIssue {
  const path = issue.path.map(String).join('.') || '(root)';
  if (issue.code === 'unrecognized_keys') {
    const where = issue.path.length === 0 ? 'run config takes only "ops"' : 'a node takes only "config", "inputs" and (for a graph) "ops"';
    const corrected = correctedShape(issue.path.map(String), issue.keys, job, raw);
    return {
      path,
      message: issue.message,
      fix: `${corrected ? `write it as ${corrected}` : `remove or rename ${issue.keys.map((k) => `"${k}"`).join(', ')}`}: ${where}`,
    };
  }
  return { path, message: issue.message, fix: `shape run config as ${SHAPE}` };
}

/** A value as compact JSON-like text for a suggestion, cut when long. */
function shown(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? '…';
  } catch {
    text = '…';
  }
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

/** `{ ops: { a: { ops: { b: <leaf> } } } }` for node `a.b`. */
function nested(nodeId: string, leaf: string): string {
  let text = leaf;
  for (const part of nodeId.split('.').reverse()) text = `{ ops: { ${part}: ${text} } }`;
  return text;
}

function fieldsOf(spec: OpSpec | undefined): string[] {
  const shape: unknown = (spec?.configSchema as { shape?: unknown } | undefined)?.shape;
  return typeof shape === 'object' && shape !== null ? Object.keys(shape) : [];
}

/**
 * The run config the user most likely meant, with their own values, when keys sit one level off:
 * node names at the root (`ops:` missing), or an op's config fields / input names directly under
 * the node (`config:` / `inputs:` missing), or config fields under a node that is not one.
 */
function correctedShape(path: readonly string[], keys: readonly string[], job: JobDefinition, raw: unknown): string | undefined {
  const at = path.reduce<unknown>((v, k) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined), raw);
  if (typeof at !== 'object' || at === null) return undefined;
  const value = at as Record<string, unknown>;
  const nodeIds = [...job.nodeOps.keys()];
  if (path.length === 0) {
    // `{ files_in_directory: { config: … } }`: node names at the root, without `ops:`.
    const tops = new Set(nodeIds.map((n) => n.split('.')[0]));
    const nodes = keys.filter((k) => tops.has(k));
    if (nodes.length === 0) return undefined;
    return `{ ops: { ${nodes.map((k) => `${k}: ${shown(value[k])}`).join(', ')} } }`;
  }
  // path is ops.<a>(.ops.<b>)*: the node id the user wrote.
  const nodeId = path.filter((_, i) => i % 2 === 1).join('.');
  const spec = job.nodeOps.get(nodeId);
  const fields = spec ? fieldsOf(spec) : [];
  const inputs = job.plan.nodes.find((n) => n.id === nodeId)?.inputs.map((i) => i.name) ?? [];
  if (spec && keys.every((k) => fields.includes(k) || inputs.includes(k))) {
    const config = keys.filter((k) => fields.includes(k));
    const given = keys.filter((k) => !fields.includes(k));
    const merge = (existing: unknown, moved: readonly string[]) =>
      shown({
        ...(typeof existing === 'object' && existing !== null ? existing : {}),
        ...Object.fromEntries(moved.map((k) => [k, value[k]])),
      });
    const parts = [
      ...(config.length > 0 || value.config !== undefined ? [`config: ${merge(value.config, config)}`] : []),
      ...(given.length > 0 || value.inputs !== undefined ? [`inputs: ${merge(value.inputs, given)}`] : []),
    ];
    return nested(nodeId, `{ ${parts.join(', ')} }`);
  }
  if (!spec && path.length === 2 && (nodeId === 'config' || nodeId === 'inputs')) {
    // `{ ops: { config: { path: … } } }`: the node's name left out. The op(s) whose config declares these keys:
    const owners = nodeIds.filter((n) => keys.every((k) => fieldsOf(job.nodeOps.get(n)).includes(k)));
    const owner = owners.length === 1 ? owners[0] : undefined;
    if (owner === undefined) return undefined;
    return nested(owner, `{ ${nodeId}: ${shown(value)} }`);
  }
  return undefined;
}

const SHAPE = '{ ops: { <node>: { config: { … }, inputs: { <input>: … } } } } (a graph: { ops: { <graph>: { ops: { <op>: { … } } } } })';

/** zod issues of a value in run config: each at its own path, with what to change there. */
function schemaIssues(issues: readonly z.core.$ZodIssue[], value: unknown, path: string, schema: string): RunConfigIssue[] {
  return issues.map((issue) => {
    const at = [path, ...issue.path.map(String)].join('.');
    const message = `${issue.message} (${schema})`;
    if (issue.code === 'unrecognized_keys') {
      return {
        path: at,
        message,
        fix: `remove ${issue.keys.map((k) => `${at}.${k}`).join(', ')}: the ${schema} does not declare ${issue.keys.length === 1 ? 'it' : 'them'}`,
      };
    }
    if (issue.path.length > 0 && valueAt(value, issue.path) === undefined) {
      return { path: at, message, fix: `add ${at}: the ${schema} requires it` };
    }
    return { path: at, message, fix: `change ${at} to a value the ${schema} accepts` };
  });
}

/**
 * Keys of op config that its schema does not declare, at any depth: zod's objects strip them, so a
 * typo would run with the default. Dagster rejects unexpected config entries too. Schemas that ask
 * for extra keys (`z.looseObject`, `.passthrough()`, `.catchall(…)`) keep accepting them.
 */
function unknownKeyIssues(schema: unknown, config: unknown, configPath: string, op: string): RunConfigIssue[] {
  return unknownKeys(schema, config).map(({ path, declared, unused }) => {
    const at = [configPath, ...path.map(String)].join('.');
    const key = String(path[path.length - 1]);
    const where = path.length === 1 ? `op "${op}" config schema` : `op "${op}" config schema at ${at.slice(0, at.length - key.length - 1)}`;
    const takes =
      declared.length === 0 ? `${where} declares no keys` : `${where} declares only ${declared.map((k) => `"${k}"`).join(', ')}`;
    const meant = closestName(key, unused) ?? closestName(key, declared);
    const accept = 'or, to accept undeclared keys, make that object z.looseObject(…) in the schema';
    return meant
      ? { path: at, message: `unknown key; did you mean "${meant}"?`, fix: `rename it to "${meant}" (${takes}), remove it, ${accept}` }
      : { path: at, message: `unknown key; ${takes}`, fix: `remove ${at}, declare "${key}" in the schema, ${accept}` };
  });
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** A value in run config that JSON cannot carry (run config travels as JSON). */
function notJsonIssue(value: unknown, path: string): RunConfigIssue | undefined {
  const issue = jsonIssue(value, path);
  if (!issue) return undefined;
  return {
    path: issue.path,
    message: `the value is ${issue.found}`,
    fix: `${issue.hint ? `${issue.hint}; ` : ''}run config travels as JSON, so use plain data (objects, arrays, strings, numbers, booleans, null)`,
  };
}

/** A value supplied for an unwired input: plain JSON, and valid for the input's `In` schema. */
function configInputIssues(spec: OpSpec, path: string, name: string, given: unknown): RunConfigIssue[] {
  const notJson = notJsonIssue(given, path);
  if (notJson) return [notJson];
  const schema = spec.inputs.find((d) => d.name === name)?.schema;
  const result = schema?.safeParse(given);
  if (!result || result.success) return [];
  return schemaIssues(result.error.issues, given, path, `input "${name}" of op "${spec.name}" schema`);
}

function wiredFrom(source: InputSource): string {
  switch (source.kind) {
    case 'output':
      return `output "${source.output}" of node "${source.node}"`;
    case 'item':
      return `an item of dynamic output "${source.output}" of node "${source.node}"`;
    case 'collect':
      return `the collected outputs of node "${source.node}"`;
    case 'fanin':
      return `a fan-in of ${source.sources.map((s) => `"${s.node}"`).join(', ')}`;
    default:
      return 'an upstream op';
  }
}

function sizeIssues(resolved: ResolvedRunConfig): RunConfigIssue[] {
  const size = utf8Length(JSON.stringify(resolved));
  if (size <= RUN_CONFIG_LIMIT_BYTES) return [];
  const entries: [string, number][] = [];
  for (const [nodeId, node] of Object.entries(resolved)) {
    if (node.config !== undefined) entries.push([`${userPath(nodeId)}.config`, utf8Length(JSON.stringify(node.config))]);
    for (const [name, value] of Object.entries(node.inputs))
      entries.push([`${userPath(nodeId)}.inputs.${name}`, utf8Length(JSON.stringify(value) ?? '')]);
  }
  const largest = entries
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([path, bytes]) => `${path} (${formatBytes(bytes)})`)
    .join(', ');
  return [
    {
      path: '(root)',
      message: `run config is ${formatBytes(size)} of JSON, over the ${formatBytes(RUN_CONFIG_LIMIT_BYTES)} limit: it travels inside the start of every workflow of the run, and Temporal refuses payloads over 2 MiB. Largest: ${largest}`,
      fix: 'pass a path or URL and load the data inside the op, or produce the data with an upstream op (op outputs of any size go to the store)',
    },
  ];
}

/** `runConfig { ops: { outer: { ops: { inner: { config: { … } } } } } }` for node `outer.inner`. */
function runConfigExample(nodeId: string, leaf: string): string {
  let text = leaf;
  for (const part of nodeId.split('.').reverse()) text = `{ ops: { ${part}: ${text} } }`;
  return `runConfig ${text}`;
}

/** `{ factor: …, label: … }` for a z.object config schema; `{ … }` when its fields cannot be listed. */
function configSkeleton(schema: unknown): string {
  const shape: unknown = (schema as { shape?: unknown } | undefined)?.shape;
  if (typeof shape !== 'object' || shape === null) return '{ … }';
  const keys = Object.keys(shape);
  return keys.length === 0 ? '{}' : `{ ${keys.map((k) => `${k}: …`).join(', ')} }`;
}

/** `rename it to "list_files" (the closest input name)` when one name is close to what was written, else `otherwise`. */
function renameTo(written: string, names: readonly string[], noun: string, otherwise: string): string {
  const best = closestName(written, names);
  return best !== undefined ? `rename it to "${best}" (the closest ${noun} name)` : otherwise;
}

/** The name closest to what was written (case-insensitive edit distance), when it is close enough to be a typo. */
function closestName(written: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of names) {
    const distance = editDistance(written.toLowerCase(), name.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [name, distance];
  }
  // Close: a few edits, and not all of it (`b` is no typo of `a`).
  const close = bestDistance <= Math.max(2, Math.floor(written.length / 3)) && bestDistance < written.length;
  return close ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function flatten(
  ops: Record<string, NodeRunConfig>,
  prefix: string,
  into: Map<string, NodeRunConfig>,
  job: JobDefinition,
  issues: RunConfigIssue[],
): void {
  const nodeIds = [...job.nodeOps.keys()];
  for (const [name, nodeConfig] of Object.entries(ops)) {
    const id = `${prefix}${name}`;
    const isGraph = nodeIds.some((n) => n.startsWith(`${id}.`));
    if (job.nodeOps.has(id)) {
      if (nodeConfig.ops) {
        issues.push({
          path: `${userPath(id)}.ops`,
          message: `"${id}" is an op, not a graph; it has no nested ops`,
          fix: `remove ${userPath(id)}.ops; configure the op itself with ${runConfigExample(id, '{ config: { … }, inputs: { … } }')}`,
        });
      }
      into.set(id, nodeConfig);
    } else if (isGraph) {
      if (nodeConfig.config !== undefined || nodeConfig.inputs !== undefined) {
        const children = nodeIds.filter((n) => n.startsWith(`${id}.`)).map((n) => n.slice(id.length + 1).split('.')[0]);
        issues.push({
          path: userPath(id),
          message: `"${id}" is a graph; a graph takes no config or inputs of its own`,
          fix: `configure its ops under ${userPath(id)}.ops.<op> (its ops: ${[...new Set(children)].join(', ')}), e.g. ${runConfigExample(`${id}.${children[0] ?? '<op>'}`, '{ config: { … } }')}`,
        });
      }
      flatten(nodeConfig.ops ?? {}, `${id}.`, into, job, issues);
    } else {
      // Names a user can write at this level: direct children of the prefix (ops, or graphs).
      const siblings = [...new Set(nodeIds.filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length).split('.')[0] ?? ''))];
      // The op exists, but inside a graph: its config goes under the graph's `ops`.
      const nested = nodeIds.find((n) => n.endsWith(`.${name}`) && n !== id);
      issues.push({
        path: userPath(id),
        message: `job "${job.name}" has no node named "${id}" (nodes: ${nodeIds.join(', ')})`,
        fix: nested
          ? `node "${nested}" is inside a graph: configure it there, ${runConfigExample(nested, '{ config: { … } }')}`
          : `${renameTo(name, siblings, 'node', "use one of the job's node names")}, or remove ${userPath(id)}`,
      });
    }
  }
}
