/**
 * The error taxonomy of DESIGN §8, checked without a server: RunConfigError lists structured issues
 * (path, message, fix) for every kind of run config problem; OutputContractError and
 * OpExecutionError are OpgraphErrors.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { thrownClassOf } from '../../src/dsl/constants.ts';
import {
  graph,
  In,
  job,
  type JobDefinition,
  op,
  OpExecutionError,
  OpgraphError,
  OutputContractError,
  resolveRunConfig,
  RunConfigError,
  type RunConfigIssue,
} from '../../src/dsl/index.ts';

const listFiles = op(
  { name: 'rc_list_files', config: z.object({ dir: z.string(), limit: z.number().int().positive() }).strict() },
  async (ctx) => [ctx.opConfig.dir],
);
const count = op({ name: 'rc_count' }, async (_ctx, files: string[]) => files.length);
const scale = op({ name: 'rc_scale', ins: { x: new In({ schema: z.number().positive() }) } }, async (_ctx, x: number) => x * 2);
const plain = op({ name: 'rc_plain' }, async () => 1);
const inner = graph({ name: 'rc_inner' }, () => {
  plain();
});
const configured = job({ name: 'rc_job' }, () => {
  count(listFiles());
  scale.alias('scale_me')();
  inner();
});

/** The RunConfigError `resolveRunConfig` throws for this run config. */
function rejected(definition: JobDefinition, runConfig: unknown): RunConfigError {
  try {
    resolveRunConfig(definition, runConfig);
  } catch (err) {
    expect(err).toBeInstanceOf(RunConfigError);
    return err as RunConfigError;
  }
  throw new Error('run config was accepted');
}

const valid = { ops: { rc_list_files: { config: { dir: '/data', limit: 5 } }, scale_me: { inputs: { x: 3 } } } };

describe('RunConfigError: structured issues with path, message and fix', () => {
  it('accepts valid run config', () => {
    expect(resolveRunConfig(configured, valid)).toEqual({
      rc_list_files: { config: { dir: '/data', limit: 5 }, inputs: {} },
      rc_count: { inputs: {} },
      scale_me: { inputs: { x: 3 } },
      'rc_inner.rc_plain': { inputs: {} },
    });
  });

  it('is an OpgraphError naming the job, with one issue per problem, all reported at once', () => {
    const error = rejected(configured, {});
    expect(error).toBeInstanceOf(OpgraphError);
    expect(error.name).toBe('RunConfigError');
    expect(error.job).toBe('rc_job');
    expect(error.issues).toEqual<RunConfigIssue[]>([
      {
        path: 'ops.rc_list_files.config',
        message:
          'missing; op "rc_list_files" requires config matching its config schema (Invalid input: expected object, received undefined)',
        fix: 'supply it: runConfig { ops: { rc_list_files: { config: { dir: …, limit: … } } } }',
      },
      {
        path: 'ops.scale_me.inputs.x',
        message: 'input "x" of op "rc_scale" is not wired in the job, so run config must supply it',
        fix: "supply it: runConfig { ops: { scale_me: { inputs: { x: … } } } }, or wire the input to an upstream op's output in the job",
      },
    ]);
  });

  it('formats the message as path, message and fix for each issue; `problems` keeps one line per issue', () => {
    const error = rejected(configured, { ops: { ...valid.ops, rc_list_files: { config: { dir: 7, limit: 5 } } } });
    expect(error.message).toBe(
      [
        'Run config for job "rc_job" is invalid:',
        '  - ops.rc_list_files.config.dir: Invalid input: expected string, received number (op "rc_list_files" config schema)',
        '    fix: change ops.rc_list_files.config.dir to a value the op "rc_list_files" config schema accepts',
      ].join('\n'),
    );
    expect(error.problems).toEqual([
      'ops.rc_list_files.config.dir: Invalid input: expected string, received number (op "rc_list_files" config schema). Fix: change ops.rc_list_files.config.dir to a value the op "rc_list_files" config schema accepts',
    ]);
  });

  it('config failing the op schema: one issue per field, missing fields to add, unknown keys to remove', () => {
    const error = rejected(configured, { ops: { ...valid.ops, rc_list_files: { config: { dir: '/data', extra: true } } } });
    expect(error.issues).toEqual<RunConfigIssue[]>([
      {
        path: 'ops.rc_list_files.config.limit',
        message: 'Invalid input: expected number, received undefined (op "rc_list_files" config schema)',
        fix: 'add ops.rc_list_files.config.limit: the op "rc_list_files" config schema requires it',
      },
      {
        path: 'ops.rc_list_files.config',
        message: 'Unrecognized key: "extra" (op "rc_list_files" config schema)',
        fix: 'remove ops.rc_list_files.config.extra: the op "rc_list_files" config schema does not declare it',
      },
    ]);
  });

  it('config for an op without a config schema', () => {
    const error = rejected(configured, { ops: { ...valid.ops, rc_count: { config: { n: 1 } } } });
    expect(error.issues).toEqual<RunConfigIssue[]>([
      {
        path: 'ops.rc_count.config',
        message: 'op "rc_count" declares no config schema, so it takes no config',
        fix: "remove ops.rc_count.config, or declare the op's config: op({ name: 'rc_count', config: z.object({ … }) }, …)",
      },
    ]);
  });

  it('unknown node names: the closest name is suggested, and an op inside a graph is shown where it lives', () => {
    const error = rejected(configured, { ops: { ...valid.ops, rc_list_file: {}, rc_plain: {}, zzz: {} } });
    const nodes = '(nodes: rc_list_files, rc_count, scale_me, rc_inner.rc_plain)';
    expect(error.issues).toEqual<RunConfigIssue[]>([
      {
        path: 'ops.rc_list_file',
        message: `job "rc_job" has no node named "rc_list_file" ${nodes}`,
        fix: 'rename it to "rc_list_files" (the closest node name), or remove ops.rc_list_file',
      },
      {
        path: 'ops.rc_plain',
        message: `job "rc_job" has no node named "rc_plain" ${nodes}`,
        fix: 'node "rc_inner.rc_plain" is inside a graph: configure it there, runConfig { ops: { rc_inner: { ops: { rc_plain: { config: { … } } } } } }',
      },
      {
        path: 'ops.zzz',
        message: `job "rc_job" has no node named "zzz" ${nodes}`,
        fix: "use one of the job's node names, or remove ops.zzz",
      },
    ]);
  });

  it('graphs and ops confused: config on a graph, nested ops under an op', () => {
    const error = rejected(configured, { ops: { ...valid.ops, rc_inner: { config: {} }, rc_count: { ops: {} } } });
    expect(error.issues).toEqual<RunConfigIssue[]>([
      {
        path: 'ops.rc_inner',
        message: '"rc_inner" is a graph; a graph takes no config or inputs of its own',
        fix: 'configure its ops under ops.rc_inner.ops.<op> (its ops: rc_plain), e.g. runConfig { ops: { rc_inner: { ops: { rc_plain: { config: { … } } } } } }',
      },
      {
        path: 'ops.rc_count.ops',
        message: '"rc_count" is an op, not a graph; it has no nested ops',
        fix: 'remove ops.rc_count.ops; configure the op itself with runConfig { ops: { rc_count: { config: { … }, inputs: { … } } } }',
      },
    ]);
  });

  it('inputs: wired inputs given a value, unknown input names, values failing the In schema', () => {
    const error = rejected(configured, {
      ops: { ...valid.ops, rc_count: { inputs: { files: ['a'], file: 1 } }, scale_me: { inputs: { x: -1 } } },
    });
    expect(error.issues).toEqual<RunConfigIssue[]>([
      {
        path: 'ops.rc_count.inputs.files',
        message: 'input "files" of op "rc_count" is already wired to output "result" of node "rc_list_files"',
        fix: 'remove ops.rc_count.inputs.files from run config; only inputs the job leaves unwired take a value from run config',
      },
      {
        path: 'ops.rc_count.inputs.file',
        message: 'op "rc_count" has no input named "file"',
        fix: 'rename it to "files" (the closest input name), or remove ops.rc_count.inputs.file',
      },
      {
        path: 'ops.scale_me.inputs.x',
        message: 'Too small: expected number to be >0 (input "x" of op "rc_scale" schema)',
        fix: 'change ops.scale_me.inputs.x to a value the input "x" of op "rc_scale" schema accepts',
      },
    ]);
  });

  it('values JSON cannot carry are named at their exact path, with the conversion to use', () => {
    const error = rejected(configured, { ops: { ...valid.ops, scale_me: { inputs: { x: { big: 10n } } } } });
    expect(error.issues).toEqual<RunConfigIssue[]>([
      {
        path: 'ops.scale_me.inputs.x.big',
        message: 'the value is a BigInt, which JSON cannot carry',
        fix: 'convert with String(x) or Number(x); run config travels as JSON, so use plain data (objects, arrays, strings, numbers, booleans, null)',
      },
    ]);
  });

  it('run config not shaped { ops: { <node>: { config, inputs } } }', () => {
    const error = rejected(configured, { opz: {}, ops: { rc_count: { input: {} } } });
    expect(error.issues).toEqual<RunConfigIssue[]>([
      {
        path: 'ops.rc_count',
        message: 'Unrecognized key: "input"',
        fix: 'remove or rename "input": a node takes only "config", "inputs" and (for a graph) "ops"',
      },
      { path: '(root)', message: 'Unrecognized key: "opz"', fix: 'remove or rename "opz": run config takes only "ops"' },
    ]);
    const notObject = rejected(configured, { ops: { rc_count: { inputs: 5 } } });
    expect(notObject.issues).toHaveLength(1);
    expect(notObject.issues[0]).toMatchObject({ path: 'ops.rc_count.inputs', message: 'Invalid input: expected record, received number' });
    expect(notObject.issues[0]?.fix).toMatch(
      /^shape run config as \{ ops: \{ <node>: \{ config: \{ … \}, inputs: \{ <input>: … \} \} \} \}/,
    );
  });

  it('keys one level off: the fix prints the corrected run config, with the values given', () => {
    const config = { dir: '/data', limit: 5 };
    // `ops:` missing.
    expect(rejected(configured, { rc_list_files: { config } }).issues).toEqual<RunConfigIssue[]>([
      {
        path: '(root)',
        message: 'Unrecognized key: "rc_list_files"',
        fix: 'write it as { ops: { rc_list_files: {"config":{"dir":"/data","limit":5}} } }: run config takes only "ops"',
      },
    ]);
    // `config:` missing under the node; an input name lands under `inputs:`.
    expect(rejected(configured, { ops: { rc_list_files: config, scale_me: { x: 3 } } }).issues).toEqual<RunConfigIssue[]>([
      {
        path: 'ops.rc_list_files',
        message: 'Unrecognized keys: "dir", "limit"',
        fix: 'write it as { ops: { rc_list_files: { config: {"dir":"/data","limit":5} } } }: a node takes only "config", "inputs" and (for a graph) "ops"',
      },
      {
        path: 'ops.scale_me',
        message: 'Unrecognized key: "x"',
        fix: 'write it as { ops: { scale_me: { inputs: {"x":3} } } }: a node takes only "config", "inputs" and (for a graph) "ops"',
      },
    ]);
    // The node's name missing: `ops.config` holds the fields of the one op whose schema declares them.
    expect(rejected(configured, { ops: { config } }).issues).toEqual<RunConfigIssue[]>([
      {
        path: 'ops.config',
        message: 'Unrecognized keys: "dir", "limit"',
        fix: 'write it as { ops: { rc_list_files: { config: {"dir":"/data","limit":5} } } }: a node takes only "config", "inputs" and (for a graph) "ops"',
      },
    ]);
  });

  it('an op inside a graph: the path printed is where it goes in run config, as the fix says', () => {
    const error = rejected(configured, { ops: { ...valid.ops, rc_inner: { ops: { rc_plain: { config: { a: 1 } } } } } });
    expect(error.issues).toEqual<RunConfigIssue[]>([
      {
        path: 'ops.rc_inner.ops.rc_plain.config',
        message: 'op "rc_plain" declares no config schema, so it takes no config',
        fix: "remove ops.rc_inner.ops.rc_plain.config, or declare the op's config: op({ name: 'rc_plain', config: z.object({ … }) }, …)",
      },
    ]);
  });

  it('run config too large to travel names the largest entries', () => {
    const error = rejected(configured, { ops: { ...valid.ops, rc_list_files: { config: { dir: 'd'.repeat(200_000), limit: 1 } } } });
    expect(error.issues).toEqual<RunConfigIssue[]>([
      {
        path: '(root)',
        message:
          'run config is 195.5 KiB of JSON, over the 128.0 KiB limit: it travels inside the start of every workflow of the run, and Temporal refuses payloads over 2 MiB. Largest: ops.rc_list_files.config (195.3 KiB), ops.scale_me.inputs.x (1 B)',
        fix: 'pass a path or URL and load the data inside the op, or produce the data with an upstream op (op outputs of any size go to the store)',
      },
    ]);
  });
});

describe('op errors are OpgraphErrors', () => {
  it('OutputContractError is an OpgraphError named OutputContractError', () => {
    const error = new OutputContractError('op "x" (step x) yielded a value twice. Fix: yield once.');
    expect(error).toBeInstanceOf(OutputContractError);
    expect(error).toBeInstanceOf(OpgraphError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('OutputContractError');
    expect(error.message).toBe('op "x" (step x) yielded a value twice. Fix: yield once.');
  });

  it('OpExecutionError keeps the step key, the thrown value as cause and its class name', () => {
    class QuotaExceeded extends Error {}
    const thrown = new QuotaExceeded('quota');
    const error = new OpExecutionError('fetch[3]', 'op "fetch" raised Error: quota', { cause: thrown });
    expect(error).toBeInstanceOf(OpgraphError);
    expect(error.name).toBe('OpExecutionError');
    expect(error.stepKey).toBe('fetch[3]');
    expect(error.cause).toBe(thrown);
    // `name` is still "Error" for a subclass that does not set it; the class name is kept apart.
    expect(thrown.name).toBe('Error');
    expect(error.errorClass).toBe('QuotaExceeded');
    expect(new OpExecutionError('s', 'm', { cause: new RangeError('x') }).errorClass).toBe('RangeError');
    expect(new OpExecutionError('s', 'm', { cause: 'text' }).errorClass).toBe('string');
    expect(new OpExecutionError('s', 'm', { cause: null }).errorClass).toBe('null');
    expect(new OpExecutionError('s', 'm', { cause: { code: 1 } }).errorClass).toBe('Object');
    expect(new OpExecutionError('s', 'm').errorClass).toBeUndefined();
  });
});

describe('thrownClassOf: the class of what an op threw, from an OpUserError failure', () => {
  it('reads details[0].errorClass, else the cause’s type; nothing for other failure types or older failures', () => {
    const details = [{ errorName: 'Error', errorClass: 'QuotaExceeded', stack: null }];
    expect(thrownClassOf({ type: 'OpUserError', details, cause: { type: 'Other' } })).toBe('QuotaExceeded');
    expect(thrownClassOf({ type: 'OpUserError', details: [], cause: { type: 'RangeError' } })).toBe('RangeError');
    // Recorded before errorClass existed: details with errorName only, no cause; records stay as they were.
    expect(thrownClassOf({ type: 'OpUserError', details: [{ errorName: 'RangeError', stack: null }] })).toBeUndefined();
    expect(thrownClassOf({ type: 'OpValidationError', details, cause: { type: 'RangeError' } })).toBeUndefined();
    expect(thrownClassOf({ type: 'OpUserError', details: null })).toBeUndefined();
  });
});
