import { z } from 'zod';
import { RunConfigError } from './errors.ts';
import type { JobDefinition } from './job.ts';
import { formatBytes, jsonProblem, utf8Length } from './json.ts';
import type { OpSpec } from './op.ts';

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
export const RUN_CONFIG_LIMIT_BYTES = 128 * 1024;

/**
 * Checks run config against the job before the run starts: unknown nodes, op config failing the
 * op's schema, missing values for unwired inputs, inputs failing their `In` schema, values JSON
 * cannot carry, and run config too large to travel. Every problem is reported at once.
 */
export function resolveRunConfig(job: JobDefinition, runConfig: unknown = {}): ResolvedRunConfig {
  const parsed = RunConfigSchema.safeParse(runConfig ?? {});
  if (!parsed.success) {
    throw new RunConfigError(job.name, parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  const problems: string[] = [];
  const flat = new Map<string, NodeRunConfig>();
  flatten(parsed.data.ops ?? {}, '', flat, job, problems);
  const resolved: ResolvedRunConfig = {};
  for (const [nodeId, spec] of job.nodeOps) {
    const nodeConfig = flat.get(nodeId) ?? {};
    const planNode = job.plan.nodes.find((n) => n.id === nodeId);
    if (spec.configSchema) {
      const result = spec.configSchema.safeParse(nodeConfig.config);
      if (!result.success && nodeConfig.config === undefined) {
        problems.push(
          `ops.${nodeId}.config: missing; op "${spec.name}" requires config matching its config schema (${result.error.issues.map((i) => i.message).join('; ')}). Supply it: ${configExample(nodeId)}`,
        );
      } else if (!result.success) {
        for (const issue of result.error.issues) {
          const path = ['ops', nodeId, 'config', ...issue.path.map(String)].join('.');
          problems.push(`${path}: ${issue.message} (op "${spec.name}" config schema)`);
        }
      }
      const notJson = jsonProblem(nodeConfig.config, `ops.${nodeId}.config`);
      if (notJson) problems.push(`${notJson}; run config travels as JSON: use plain data`);
    } else if (nodeConfig.config !== undefined) {
      problems.push(`ops.${nodeId}.config: op "${spec.name}" declares no config schema; remove the config or add { config: z.object(...) } to the op`);
    }
    const inputs: Record<string, unknown> = {};
    for (const input of planNode?.inputs ?? []) {
      const given = nodeConfig.inputs?.[input.name];
      if (input.source.kind === 'config') {
        if (given === undefined) {
          problems.push(`ops.${nodeId}.inputs.${input.name}: input "${input.name}" of op "${spec.name}" is not wired in the job, so run config must supply it`);
        } else {
          inputs[input.name] = given;
          problems.push(...configInputProblems(spec, nodeId, input.name, given));
        }
      } else if (given !== undefined) {
        problems.push(`ops.${nodeId}.inputs.${input.name}: input "${input.name}" is already wired to an upstream op; remove it from run config`);
      }
    }
    for (const name of Object.keys(nodeConfig.inputs ?? {})) {
      if (!planNode?.inputs.some((i) => i.name === name)) {
        problems.push(`ops.${nodeId}.inputs.${name}: op "${spec.name}" has no input named "${name}"`);
      }
    }
    resolved[nodeId] = { ...(nodeConfig.config === undefined ? {} : { config: nodeConfig.config }), inputs };
  }
  if (problems.length === 0) problems.push(...sizeProblems(resolved));
  if (problems.length > 0) throw new RunConfigError(job.name, problems);
  return resolved;
}

/** A value supplied for an unwired input: plain JSON, and valid for the input's `In` schema. */
function configInputProblems(spec: OpSpec, nodeId: string, name: string, given: unknown): string[] {
  const path = `ops.${nodeId}.inputs.${name}`;
  const notJson = jsonProblem(given, path);
  if (notJson) return [`${notJson}; run config travels as JSON: use plain data`];
  const schema = spec.inputs.find((d) => d.name === name)?.schema;
  const result = schema?.safeParse(given);
  if (!result || result.success) return [];
  return result.error.issues.map(
    (issue) => `${[path, ...issue.path.map(String)].join('.')}: ${issue.message} (input "${name}" of op "${spec.name}" schema); fix the value in run config`,
  );
}

function sizeProblems(resolved: ResolvedRunConfig): string[] {
  const size = utf8Length(JSON.stringify(resolved));
  if (size <= RUN_CONFIG_LIMIT_BYTES) return [];
  const entries: [string, number][] = [];
  for (const [nodeId, node] of Object.entries(resolved)) {
    if (node.config !== undefined) entries.push([`ops.${nodeId}.config`, utf8Length(JSON.stringify(node.config))]);
    for (const [name, value] of Object.entries(node.inputs)) entries.push([`ops.${nodeId}.inputs.${name}`, utf8Length(JSON.stringify(value) ?? '')]);
  }
  const largest = entries
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([path, bytes]) => `${path} (${formatBytes(bytes)})`)
    .join(', ');
  return [
    `run config is ${formatBytes(size)} of JSON, over the ${formatBytes(RUN_CONFIG_LIMIT_BYTES)} limit: it travels inside the start of every workflow of the run, and Temporal refuses payloads over 2 MiB. Largest: ${largest}. Fix: pass a path or URL and load the data inside the op, or produce the data with an upstream op (op outputs of any size go to the store)`,
  ];
}

/** `{ ops: { outer: { ops: { inner: { config: { … } } } } } }` for node `outer.inner`. */
function configExample(nodeId: string): string {
  let text = '{ config: { … } }';
  for (const part of nodeId.split('.').reverse()) text = `{ ops: { ${part}: ${text} } }`;
  return `runConfig ${text}`;
}

function flatten(
  ops: Record<string, NodeRunConfig>,
  prefix: string,
  into: Map<string, NodeRunConfig>,
  job: JobDefinition,
  problems: string[],
): void {
  for (const [name, nodeConfig] of Object.entries(ops)) {
    const id = `${prefix}${name}`;
    const isGraph = [...job.nodeOps.keys()].some((n) => n.startsWith(`${id}.`));
    if (job.nodeOps.has(id)) {
      if (nodeConfig.ops) problems.push(`ops.${id}.ops: "${id}" is an op, not a graph; it has no nested ops`);
      into.set(id, nodeConfig);
    } else if (isGraph) {
      if (nodeConfig.config !== undefined || nodeConfig.inputs !== undefined) {
        problems.push(`ops.${id}: "${id}" is a graph; configure its ops under ops.${id}.ops.<op>`);
      }
      flatten(nodeConfig.ops ?? {}, `${id}.`, into, job, problems);
    } else {
      const known = [...job.nodeOps.keys()].join(', ');
      problems.push(`ops.${id}: job "${job.name}" has no node named "${id}" (nodes: ${known})`);
    }
  }
}
