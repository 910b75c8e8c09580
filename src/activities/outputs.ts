import { OutputContractError } from '../dsl/errors.ts';
import { mappingKeyProblem } from '../dsl/keys.ts';
import type { OpSpec, OutputDecl } from '../dsl/op.ts';
import { DynamicOutput, Output } from '../dsl/outputs.ts';
import type { TaskOutput } from '../dsl/protocol.ts';
import { jsonProblem } from './json.ts';

/**
 * Gathers what an op body produced — a returned value, a returned list of DynamicOutput, or the
 * items of an (async) generator — and checks it against the op's outputs (Dagster execute_step.py).
 */
export class OutputCollector {
  private readonly plain = new Map<string, unknown>();
  private readonly dynamic = new Map<string, [string, unknown][]>();
  private readonly seenKeys = new Map<string, Set<string>>();

  constructor(
    private readonly spec: OpSpec,
    private readonly stepKey: string,
  ) {}

  /** Consumes the body's return value; iterates generators item by item. */
  async consume(returned: unknown): Promise<void> {
    if (isAsyncIterator(returned)) {
      for await (const item of returned) this.yielded(item);
    } else if (isSyncGenerator(returned)) {
      for (const item of returned) this.yielded(item);
    } else {
      this.returned(await returned);
    }
  }

  /** The op's outputs in declaration order, checked against required / dynamic / schema rules. */
  finish(): TaskOutput[] {
    const outputs: TaskOutput[] = [];
    for (const decl of this.spec.outputs) {
      if (decl.dynamic) {
        const items = this.dynamic.get(decl.name) ?? [];
        // Zero items: required → an empty mapping (collect gets []); optional → not produced (skip).
        if (items.length > 0 || decl.required) outputs.push({ kind: 'items', name: decl.name, items });
      } else if (this.plain.has(decl.name)) {
        // JSON has no undefined: an op that returns nothing produces null (Dagster: an Output of None).
        outputs.push({ kind: 'value', name: decl.name, value: this.plain.get(decl.name) ?? null });
      } else if (decl.required) {
        throw this.error(
          `did not produce a value for its required output "${decl.name}"`,
          `return or yield it, or declare it optional: new Out({ isRequired: false })`,
        );
      }
    }
    return outputs;
  }

  private yielded(item: unknown): void {
    if (item instanceof DynamicOutput) return this.addDynamic(item);
    if (item instanceof Output) return this.addPlain(item.outputName, item.value);
    const only = this.spec.multiOutput ? undefined : this.spec.outputs[0];
    if (only?.dynamic) {
      throw this.error(
        `yielded ${describe(item)} from output "${only.name}", which is a DynamicOut: each item needs a mapping key`,
        `yield new DynamicOutput(value, mappingKey) for each item, e.g. new DynamicOutput(value, String(index))`,
      );
    }
    throw this.error(
      `yielded ${describe(item)}, which is neither an Output nor a DynamicOutput`,
      `generator ops yield new Output(value, { outputName }) or new DynamicOutput(value, mappingKey); or return the value instead`,
    );
  }

  private returned(value: unknown): void {
    if (!this.spec.multiOutput) {
      const decl = this.spec.outputs[0] as OutputDecl;
      if (decl.dynamic) return this.addDynamicList(decl, value);
      if (value instanceof DynamicOutput) return this.addDynamic(value, 'returned');
      if (value instanceof Output) return this.addPlain(value.outputName, value.value);
      return this.addPlain(decl.name, value);
    }
    if (value === undefined) return; // nothing returned: only optional outputs may be absent (checked in finish)
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw this.error(
        `has several outputs (${this.names()}) but returned ${describe(value)}`,
        'return a record keyed by output name, e.g. { values: [...], total: 3 }, or yield Output / DynamicOutput items',
      );
    }
    for (const [name, outputValue] of Object.entries(value)) {
      const decl = this.decl(name);
      if (decl.dynamic) this.addDynamicList(decl, outputValue);
      else if (outputValue instanceof Output) {
        this.checkReturnedName(outputValue, decl);
        this.addPlain(name, outputValue.value);
      } else this.addPlain(name, outputValue);
    }
  }

  /**
   * A returned Output / DynamicOutput lands in the output it is returned for; an explicit
   * `outputName` other than the default must agree (Dagster compute_generator.py
   * `_check_output_object_name`: "Output was explicitly named …, which does not match …").
   */
  private checkReturnedName(item: Output | DynamicOutput, decl: OutputDecl, position?: number): void {
    if (item.outputName === 'result' || item.outputName === decl.name) return;
    const kind = item instanceof DynamicOutput ? 'a DynamicOutput' : 'an Output';
    throw this.error(
      `returned ${kind}${position === undefined ? '' : ` (list position ${position})`} explicitly named "${item.outputName}" for output "${decl.name}", which does not match the output definition`,
      `drop outputName or set it to "${decl.name}"${this.spec.multiOutput ? "; return each output's items under its own name" : ''}`,
    );
  }

  private addDynamicList(decl: OutputDecl, value: unknown): void {
    if (!Array.isArray(value)) {
      throw this.error(
        `dynamic output "${decl.name}" expected a list of DynamicOutput objects, but received ${describe(value)}`,
        'return an array of new DynamicOutput(value, mappingKey), or make the op a generator that yields them',
      );
    }
    value.forEach((item: unknown, position) => {
      if (!(item instanceof DynamicOutput)) {
        throw this.error(
          `dynamic output "${decl.name}" at position ${position} expected a DynamicOutput, but received ${describe(item)}`,
          'wrap each item: new DynamicOutput(value, mappingKey)',
        );
      }
      this.checkReturnedName(item, decl, position);
      this.addDynamic(new DynamicOutput(item.value, { mappingKey: item.mappingKey, outputName: decl.name }));
    });
  }

  private addDynamic(item: DynamicOutput, verb: 'yielded' | 'returned' = 'yielded'): void {
    const decl = this.decl(item.outputName);
    if (!decl.dynamic) {
      throw this.error(
        `${verb} a DynamicOutput for output "${decl.name}", which is not declared with DynamicOut`,
        `declare it as out: new DynamicOut(), or ${verb === 'yielded' ? 'yield new Output(value)' : 'return the plain value'} instead`,
      );
    }
    const keyProblem = mappingKeyProblem(item.mappingKey);
    if (keyProblem) throw this.error(`output "${decl.name}": ${keyProblem}`, 'yield only valid mapping keys');
    const seen = this.seenKeys.get(decl.name) ?? new Set<string>();
    if (seen.has(item.mappingKey)) {
      throw this.error(
        `yielded a DynamicOutput with mapping_key "${item.mappingKey}" multiple times (output "${decl.name}")`,
        'make mapping keys unique per output, e.g. append the item index',
      );
    }
    seen.add(item.mappingKey);
    this.seenKeys.set(decl.name, seen);
    const value = this.checked(decl, item.value, `item "${item.mappingKey}" of output "${decl.name}"`);
    const items = this.dynamic.get(decl.name) ?? [];
    items.push([item.mappingKey, value]);
    this.dynamic.set(decl.name, items);
  }

  private addPlain(name: string, value: unknown): void {
    const decl = this.decl(name);
    if (decl.dynamic) {
      throw this.error(
        `output "${name}" is defined as dynamic and must yield DynamicOutput, got ${value === undefined ? 'no value' : 'a plain value (Output)'}`,
        'yield new DynamicOutput(value, mappingKey) for each item, or return a list of them',
      );
    }
    if (this.plain.has(name)) {
      throw this.error(`produced output "${name}" more than once`, 'yield each Output once');
    }
    this.plain.set(name, this.checked(decl, value, `output "${name}"`));
  }

  private checked(decl: OutputDecl, value: unknown, what: string): unknown {
    let result = value;
    if (decl.schema) {
      const parsed = decl.schema.safeParse(value);
      if (!parsed.success) {
        throw this.error(
          `${what} failed its schema: ${issuesText(parsed.error.issues)}`,
          `make the op produce a value of the declared type, or change the output's schema (new Out({ schema }))`,
        );
      }
      result = parsed.data;
    }
    const problem = jsonProblem(result);
    if (problem) {
      throw this.error(
        `${what} cannot travel as JSON: ${problem}`,
        'return plain data (objects, arrays, strings, numbers, booleans, null)',
      );
    }
    return result;
  }

  private decl(name: string): OutputDecl {
    const decl = this.spec.outputs.find((o) => o.name === name);
    if (!decl) {
      throw this.error(
        `returned an output "${name}" that does not exist; the available outputs are [${this.names()}]`,
        'use one of the declared output names',
      );
    }
    return decl;
  }

  private names(): string {
    return this.spec.outputs.map((o) => o.name).join(', ');
  }

  private error(what: string, fix: string): OutputContractError {
    return new OutputContractError(`op "${this.spec.name}" (step ${this.stepKey}) ${what}. Fix: ${fix}.`);
  }
}

/** zod issues as `path: message; …`, at most a few: a failing 1M-element array must not make a 1M-line message. */
export function issuesText(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  const shown = issues.slice(0, 5).map((i) => `${i.path.map(String).join('.') || '(value)'}: ${i.message}`);
  return issues.length > 5 ? `${shown.join('; ')}; … and ${issues.length - 5} more issues` : shown.join('; ');
}

function isAsyncIterator(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value && 'next' in value;
}

function isSyncGenerator(value: unknown): value is Iterable<unknown> {
  return typeof value === 'object' && value !== null && Object.prototype.toString.call(value) === '[object Generator]';
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined (nothing)';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof DynamicOutput) return 'a single DynamicOutput (not in a list)';
  if (typeof value === 'object') return `an object of type ${value.constructor?.name ?? 'Object'}`;
  return `a value of type ${typeof value}`;
}
