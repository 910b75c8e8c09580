/**
 * Definition-time rules of reference/dagster-semantics.md §2.4 (C1–C13), checked by tracing small
 * jobs. Each rejected job must throw one JobDefinitionError whose `issues` name the rule, the job,
 * the node and a fix. Where opgraph deliberately goes beyond Dagster (nested fan-out: C8, C9 and
 * the nested variants of C10/C11), the job must be accepted and its plan must carry the nested
 * dimension; the rules that stay errors keep their message.
 */
import { describe, expect, it } from 'vitest';
import {
  Definitions,
  type DefinitionIssue,
  DynamicOut,
  DynamicOutput,
  graph,
  type Handle,
  job,
  type JobDefinition,
  JobDefinitionError,
  op,
  OpgraphError,
  type PlanNode,
} from 'opgraph';

// Op bodies never run here: only their wiring is traced.
const dynamicValues = op({ name: 'dynamic_values', out: new DynamicOut<number>() }, async function* () {
  yield new DynamicOutput(1, '1');
  yield new DynamicOutput(2, '2');
});
const otherValues = op({ name: 'other_values', out: new DynamicOut<number>() }, async function* () {
  yield new DynamicOutput(10, 'a');
});
const dynamicAdd = op({ name: 'dynamic_add', out: new DynamicOut<number>() }, async function* (_ctx, x: unknown) {
  yield new DynamicOutput(Number(x) + 1, '1');
  yield new DynamicOutput(Number(x) + 2, '2');
});
const dynamicEcho = op({ name: 'dynamic_echo', out: new DynamicOut<unknown>() }, async function* (_ctx, x: unknown) {
  yield new DynamicOutput(x, 'echo');
});
const emitEach = op({ name: 'emit_each', out: new DynamicOut<unknown>() }, async function* (_ctx, xs: unknown[]) {
  for (const [i, x] of xs.entries()) yield new DynamicOutput(x, String(i));
});
const echo = op({ name: 'echo' }, async (_ctx, x: unknown) => x);
const add = op({ name: 'add' }, async (_ctx, x: unknown, y: unknown) => Number(x) + Number(y));
const addEach = op({ name: 'add_each' }, async (_ctx, xs: unknown, y: unknown) => [xs, y]);
const total = op({ name: 'total' }, async (_ctx, xs: unknown[]) => xs.length);
const one = op({ name: 'one' }, async () => 1);

/** Traces `body` as job `name` and returns the issues of the JobDefinitionError it must throw. */
function rejected(name: string, body: () => unknown): DefinitionIssue[] {
  let thrown: unknown;
  try {
    job({ name }, body);
  } catch (err) {
    thrown = err;
  }
  expect(thrown, `job "${name}" should have been rejected`).toBeInstanceOf(JobDefinitionError);
  const error = thrown as JobDefinitionError;
  expect(error.message).toContain(`Job "${name}"`);
  for (const issue of error.issues) expect(error.message).toContain(`[${issue.code}]`);
  return [...error.issues];
}

/** One issue with this code, on this node, of this job, with a fix. */
function expectIssue(issues: readonly DefinitionIssue[], code: string, job: string, node: string, message: RegExp): DefinitionIssue {
  const found = issues.find((i) => i.code === code && i.node === node);
  expect(found, `expected a ${code} issue on node "${node}", got ${JSON.stringify(issues, null, 2)}`).toBeDefined();
  const issue = found as DefinitionIssue;
  expect(issue.job).toBe(job);
  expect(issue.message).toMatch(message);
  expect(issue.fix.trim().length).toBeGreaterThan(10);
  return issue;
}

function nodeOf(definition: JobDefinition, id: string): PlanNode {
  const node = definition.plan.nodes.find((n) => n.id === id);
  if (!node) throw new Error(`plan of ${definition.name} has no node "${id}": ${definition.plan.nodes.map((n) => n.id).join(', ')}`);
  return node;
}

function dims(definition: JobDefinition): Record<string, string[]> {
  return Object.fromEntries(definition.plan.nodes.map((n) => [n.id, n.dim]));
}

const MORE_THAN_ONE = /cannot be downstream of more than one dynamic output/;

describe('C1: a dynamic handle passed directly to an op', () => {
  it('rejects echo(dynamic_values()) naming the op, the input and .map/.collect', () => {
    const issues = rejected('c1_direct', () => {
      echo(dynamicValues() as never);
    });
    const issue = expectIssue(issues, 'C1', 'c1_direct', 'echo', /received the dynamic output "result" from op "dynamic_values" directly/);
    expect(issue.message).toContain('input "x"');
    expect(issue.fix).toMatch(/\.map\(fn\).*\.collect\(\)/);
  });

  it('rejects total(x.map(f)): a mapped handle must be collected too', () => {
    const issues = rejected('c1_mapped', () => {
      total(dynamicValues().map(echo) as never);
    });
    expectIssue(issues, 'C1', 'c1_mapped', 'total', /received the dynamic output "result" from op "echo" directly/);
  });
});

describe('C2: iterating a dynamic handle', () => {
  it('rejects for…of over dynamic_values() with a pointer to .map', () => {
    const issues = rejected('c2_iterate', () => {
      for (const item of dynamicValues() as unknown as Iterable<Handle<unknown>>) echo(item);
    });
    expect(issues).toHaveLength(1);
    const issue = expectIssue(
      issues,
      'C2',
      'c2_iterate',
      'dynamic_values',
      /attempted to iterate over the dynamic output "result" of op "dynamic_values"/,
    );
    expect(issue.fix).toMatch(/\.map\(fn\)/);
  });

  it('rejects spreading a dynamic handle the same way', () => {
    const issues = rejected('c2_spread', () => {
      total([...(dynamicValues() as unknown as Iterable<Handle<unknown>>)]);
    });
    expectIssue(issues, 'C2', 'c2_spread', 'dynamic_values', /attempted to iterate/);
  });
});

describe('C3: indexing a dynamic handle', () => {
  it('rejects dynamic_values()[0]', () => {
    const issues = rejected('c3_index', () => {
      echo((dynamicValues() as unknown as Handle<unknown>[])[0]);
    });
    expect(issues).toHaveLength(1);
    const issue = expectIssue(
      issues,
      'C3',
      'c3_index',
      'dynamic_values',
      /attempted to index into the dynamic output "result" of op "dynamic_values"/,
    );
    expect(issue.fix).toMatch(/\.map\(fn\).*\.collect\(\)/);
  });
});

describe('C4: alias on a dynamic handle', () => {
  it('rejects dynamic_values().alias("x") and says where the alias belongs', () => {
    const issues = rejected('c4_alias', () => {
      dynamicValues().alias('renamed');
    });
    expect(issues).toHaveLength(1);
    const issue = expectIssue(issues, 'C4', 'c4_alias', 'dynamic_values', /called alias\(\) on the dynamic output of op "dynamic_values"/);
    expect(issue.fix).toMatch(/dynamic_values\.alias\('new_name'\)\(\.\.\.\).*parentheses/);
  });

  it('accepts the alias on the op, before the call', () => {
    const accepted = job({ name: 'c4_alias_ok' }, () => {
      dynamicValues.alias('renamed')().map(echo);
    });
    expect(dims(accepted)).toEqual({ renamed: [], echo: ['renamed:result'] });
  });
});

describe('C5 / C5b / C6: static fan-in lists', () => {
  it('C5: rejects a fan-in list holding the dynamic items themselves (numbers.push inside map)', () => {
    const issues = rejected('c5_fan_in', () => {
      const numbers: Handle<unknown>[] = [];
      dynamicValues().map((n) => {
        numbers.push(n);
      });
      total(numbers);
    });
    expectIssue(
      issues,
      'C5',
      'c5_fan_in',
      'total',
      /item 0 depends on the dynamic output "dynamic_values:result"; items in a fan-in list cannot be downstream of dynamic outputs/,
    );
  });

  it('C5b: rejects a fan-in list holding the output of a mapped op', () => {
    const issues = rejected('c5b_fan_in_mapped', () => {
      const echoed: Handle<unknown>[] = [];
      dynamicValues().map((n) => {
        echoed.push(echo(n));
      });
      total(echoed);
    });
    expectIssue(issues, 'C5b', 'c5b_fan_in_mapped', 'total', /output "echo:result", downstream of dynamic output "dynamic_values:result"/);
  });

  it('C6: rejects a fan-in list containing x.collect()', () => {
    const issues = rejected('c6_collect_in_list', () => {
      const a = one();
      total([a, dynamicValues().collect()]);
    });
    const issue = expectIssue(
      issues,
      'C6',
      'c6_collect_in_list',
      'total',
      /input "xs" received a list containing an invalid item at index 1 \(a collected list\)/,
    );
    expect(issue.fix).toMatch(/pass a collected list directly/);
  });

  it('accepts a fan-in list of static outputs', () => {
    const accepted = job({ name: 'c5_fan_in_ok' }, () => {
      total([one(), one(), one()]);
    });
    expect(nodeOf(accepted, 'total').inputs).toEqual([
      {
        name: 'xs',
        source: {
          kind: 'fanin',
          sources: [
            { node: 'one', output: 'result' },
            { node: 'one_2', output: 'result' },
            { node: 'one_3', output: 'result' },
          ],
        },
      },
    ]);
  });
});

describe('C7: one node downstream of two unrelated dynamic outputs', () => {
  it('rejects add(x, y) over two separate fan-outs (test_multi_direct)', () => {
    const issues = rejected('c7_two_dynamics', () => {
      const xs = dynamicValues();
      const ys = otherValues();
      xs.map((x) => ys.map((y) => add(x, y)));
    });
    const issue = expectIssue(issues, 'C7', 'c7_two_dynamics', 'add', MORE_THAN_ONE);
    expect(issue.message).toMatch(/downstream of both "dynamic_values:result" .* and "other_values:result"/);
  });

  it('rejects the cartesian product dyn().map(x => dyn2().map(y => add(x, y)))', () => {
    const issues = rejected('c7_cartesian', () => {
      dynamicValues().map((x) => dynamicValues().map((y) => add(x, y)));
    });
    // The inner call does not consume x, so it is a second, static fan-out `dynamic_values_2`.
    const issue = expectIssue(issues, 'C7', 'c7_cartesian', 'add', MORE_THAN_ONE);
    expect(issue.message).toContain('"dynamic_values:result"');
    expect(issue.message).toContain('"dynamic_values_2:result"');
  });

  it('rejects it through an intermediate mapped op (test_multi_indirect)', () => {
    const issues = rejected('c7_indirect', () => {
      dynamicValues().map((z) => {
        const x = echo(z);
        dynamicValues().map((y) => add(x, y));
      });
    });
    expectIssue(issues, 'C7', 'c7_indirect', 'add', MORE_THAN_ONE);
  });
});

describe('C8: map over a dynamic output produced inside a map (nested fan-out)', () => {
  it('is accepted: echo is mapped over dynamic_values and then dynamic_add', () => {
    const accepted = job({ name: 'c8_nested_map' }, () => {
      dynamicValues().map((i) => dynamicAdd(i).map(echo));
    });
    expect(dims(accepted)).toEqual({
      dynamic_values: [],
      dynamic_add: ['dynamic_values:result'],
      echo: ['dynamic_values:result', 'dynamic_add:result'],
    });
    expect(nodeOf(accepted, 'echo').dim).toHaveLength(2);
  });
});

describe('C9: collect a dynamic output produced by a mapped op', () => {
  it('rejects echo(dyn().map(dynamic_add).collect()) at the top level: the collect is still dynamic in the outer dimension (test_direct_dep)', () => {
    const issues = rejected('c9_collect_outside', () => {
      echo(dynamicValues().map(dynamicAdd).collect());
    });
    expect(issues).toHaveLength(1);
    const issue = expectIssue(
      issues,
      'C1',
      'c9_collect_outside',
      'echo',
      /input "x" received the collected items of "dynamic_add:result", but "dynamic_add" is itself mapped over the dynamic output "dynamic_values:result".*must be unpacked by invoking map or collect/,
    );
    expect(issue.message).toContain('cannot be downstream of more than one dynamic output');
    expect(issue.fix).toContain('dynamic_values().map((x) => echo(dynamic_add(x).collect()))');
  });

  it('rejects collecting an inner map outside the outer map: total(dyn().map(dynamic_add).map(echo).collect())', () => {
    const issues = rejected('c9_collect_inner_map_outside', () => {
      total(dynamicValues().map(dynamicAdd).map(echo).collect());
    });
    const issue = expectIssue(
      issues,
      'C1',
      'c9_collect_inner_map_outside',
      'total',
      /received the collected "echo" over "dynamic_add:result", but "dynamic_add" is itself mapped over the dynamic output "dynamic_values:result"/,
    );
    expect(issue.fix).toContain('dynamic_values().map((x) => total(dynamic_add(x).map(echo).collect()))');
  });

  it('rejects it one level down: inside the outer map, a collect still dynamic in the middle dimension', () => {
    const issues = rejected('c9_collect_middle_outside', () => {
      dynamicValues().map((v) => total(dynamicAdd(v).map(dynamicEcho).collect()));
    });
    expectIssue(
      issues,
      'C1',
      'c9_collect_middle_outside',
      'total',
      /"dynamic_echo" is itself mapped over the dynamic output "dynamic_add:result"/,
    );
  });

  it('is accepted inside the map: dyn().map((x) => echo(dynamic_add(x).collect())) collects per outer key', () => {
    const accepted = job({ name: 'c9_collect_nested' }, () => {
      dynamicValues().map((x) => echo(dynamicAdd(x).collect()));
    });
    expect(dims(accepted)).toEqual({
      dynamic_values: [],
      dynamic_add: ['dynamic_values:result'],
      // The collect over dynamic_add's items is per dynamic_values key.
      echo: ['dynamic_values:result'],
    });
    expect(nodeOf(accepted, 'echo').inputs[0]?.source).toEqual({ kind: 'collect', node: 'dynamic_add', output: 'result' });
  });

  it('is accepted inside a map over the mapped result: dyn().map(dynamic_add).map((y) => total(dynamic_echo(y).collect()))', () => {
    const accepted = job({ name: 'c9_collect_in_chained_map' }, () => {
      dynamicValues()
        .map(dynamicAdd)
        .map((y) => total(dynamicEcho(y).collect()));
    });
    expect(nodeOf(accepted, 'total').dim).toEqual(['dynamic_values:result', 'dynamic_add:result']);
    // Collecting that per-(outer, inner) result at the top level would be dynamic in the outer dimension again.
    const issues = rejected('c9_collect_chained_outside', () => {
      echo(
        dynamicValues()
          .map(dynamicAdd)
          .map((y) => total(dynamicEcho(y).collect()))
          .collect(),
      );
    });
    expectIssue(issues, 'C1', 'c9_collect_chained_outside', 'echo', /still dynamic/);
  });

  it('is accepted with an inner map: the mapped node has the nested dimension, the collector the outer one', () => {
    const accepted = job({ name: 'c9_collect_inner_map' }, () => {
      const perOuter = dynamicValues().map((i) => total(dynamicAdd(i).map(echo).collect()));
      total(perOuter.collect());
    });
    expect(dims(accepted)).toEqual({
      dynamic_values: [],
      dynamic_add: ['dynamic_values:result'],
      echo: ['dynamic_values:result', 'dynamic_add:result'],
      total: ['dynamic_values:result'],
      total_2: [],
    });
  });
});

describe('C10: a graph that maps internally, used inside another map', () => {
  it('stays an error when the graph fans out over its own, unrelated dynamic output (test_multi_composite_out)', () => {
    const composedEcho = graph('composed_echo', () => dynamicValues().map(echo));
    const issues = rejected('c10_composite_out', () => {
      dynamicValues().map((item) => {
        composedEcho().map((y) => add(y, item));
      });
    });
    const issue = expectIssue(issues, 'C7', 'c10_composite_out', 'add', MORE_THAN_ONE);
    expect(issue.message).toContain('"composed_echo.dynamic_values:result"');
  });

  it('is accepted when the graph fans out over the mapped item (nested)', () => {
    const composedEchoOf = graph('composed_echo_of', (x: Handle<unknown>) => dynamicEcho(x).map(echo));
    const accepted = job({ name: 'c10_composite_nested' }, () => {
      dynamicValues().map((item) => {
        composedEchoOf(item).map((y) => add(y, item));
      });
    });
    expect(dims(accepted)).toEqual({
      dynamic_values: [],
      'composed_echo_of.dynamic_echo': ['dynamic_values:result'],
      'composed_echo_of.echo': ['dynamic_values:result', 'composed_echo_of.dynamic_echo:result'],
      add: ['dynamic_values:result', 'composed_echo_of.dynamic_echo:result'],
    });
  });
});

describe('C11: mapping a value into a graph whose input meets another fan-out', () => {
  const composedAdd = graph('composed_add', (a: Handle<unknown>) => {
    dynamicValues().map((b) => add(a, b));
  });
  const composed = graph('composed', (a: Handle<unknown>) => {
    dynamicEcho(a).map(echo);
  });

  it('stays an error when the graph input meets an unrelated fan-out (test_multi_composite_in)', () => {
    const issues = rejected('c11_composite_in', () => {
      dynamicValues().map((x) => composedAdd(echo(x)));
    });
    expectIssue(issues, 'C7', 'c11_composite_in', 'composed_add.add', MORE_THAN_ONE);
  });

  it('stays an error through an intermediate graph (test_multi_composite_in_2)', () => {
    const indirect = graph('indirect', (a: Handle<unknown>) => {
      composedAdd(a);
    });
    const issues = rejected('c11_composite_in_2', () => {
      dynamicValues().map((x) => indirect(echo(x)));
    });
    expectIssue(issues, 'C7', 'c11_composite_in_2', 'indirect.composed_add.add', MORE_THAN_ONE);
  });

  it('is accepted when the graph starts its own fan-out from the input (test_multi_composite_in_3)', () => {
    const accepted = job({ name: 'c11_composite_in_3' }, () => {
      dynamicValues().map(composed);
    });
    expect(dims(accepted)).toEqual({
      dynamic_values: [],
      'composed.dynamic_echo': ['dynamic_values:result'],
      'composed.echo': ['dynamic_values:result', 'composed.dynamic_echo:result'],
    });
  });

  it('is accepted through an intermediate graph (test_multi_composite_in_4)', () => {
    const indirect = graph('indirect', (a: Handle<unknown>) => {
      composed(a);
    });
    const accepted = job({ name: 'c11_composite_in_4' }, () => {
      dynamicValues().map(indirect);
    });
    expect(nodeOf(accepted, 'indirect.composed.echo').dim).toEqual(['dynamic_values:result', 'indirect.composed.dynamic_echo:result']);
  });
});

describe('C12: one op both mapped over and collecting the same dynamic output', () => {
  it('rejects x.map(y => add(y, x.collect()))', () => {
    const issues = rejected('c12_collect_then_dep', () => {
      const x = dynamicValues();
      x.map((y) => add(y, x.collect()));
    });
    const issue = expectIssue(
      issues,
      'C12',
      'c12_collect_then_dep',
      'add',
      /cannot both collect over dynamic output "dynamic_values:result" \(input "y"\) and be downstream of that same dynamic output/,
    );
    expect(issue.fix).toMatch(/separate op outside the map/);
  });

  it('rejects x.map(y => add(x.collect(), y)) (inputs in the other order)', () => {
    const issues = rejected('c12_dep_then_collect', () => {
      const x = dynamicValues();
      x.map((y) => add(x.collect(), y));
    });
    expectIssue(
      issues,
      'C12',
      'c12_dep_then_collect',
      'add',
      /cannot both collect over dynamic output "dynamic_values:result" \(input "x"\)/,
    );
  });
});

describe('C13: a map callable returning something that is not a handle', () => {
  it('rejects a constant', () => {
    const issues = rejected('c13_constant', () => {
      dynamicValues().map(() => 42);
    });
    expectIssue(
      issues,
      'C13',
      'c13_constant',
      'dynamic_values',
      /could not handle what the callable passed to \.map\(\) on "dynamic_values:result" returned \(a number \(42\)\)/,
    );
  });

  it('rejects a record of handles (only tuples are unpacked)', () => {
    const issues = rejected('c13_record', () => {
      dynamicValues().map((x) => ({ echoed: echo(x) }));
    });
    expectIssue(issues, 'C13', 'c13_record', 'dynamic_values', /returned \(an object \(Object\)\)/);
  });

  it('rejects a collected list', () => {
    const issues = rejected('c13_collect', () => {
      dynamicValues().map((x) => dynamicAdd(x).collect());
    });
    expectIssue(issues, 'C13', 'c13_collect', 'dynamic_add', /returned a collected list, which cannot be mapped again/);
  });
});

describe('allowed patterns of §2.4', () => {
  it('invoking a DynamicOut op inside map is fine while its dynamic output is unused (_is_fine_1)', () => {
    const accepted = job({ name: 'fine_unused_inner_dynamic' }, () => {
      dynamicValues().map((item) => {
        dynamicAdd(item);
      });
    });
    expect(dims(accepted)).toEqual({ dynamic_values: [], dynamic_add: ['dynamic_values:result'] });
  });

  it('mapping a DynamicOut op directly is fine (_is_fine_2)', () => {
    const accepted = job({ name: 'fine_map_dynamic_op' }, () => {
      dynamicValues().map(dynamicAdd);
    });
    expect(dims(accepted)).toEqual({ dynamic_values: [], dynamic_add: ['dynamic_values:result'] });
  });

  it('collect → static op → used inside the map: d1.map(x => add_each(echo(d1.collect()), x))', () => {
    const accepted = job({ name: 'fine_collect_and_map' }, () => {
      const d1 = dynamicValues();
      d1.map((x) => addEach(echo(d1.collect()), x));
    });
    expect(dims(accepted)).toEqual({ dynamic_values: [], echo: [], add_each: ['dynamic_values:result'] });
    expect(nodeOf(accepted, 'echo').inputs[0]?.source).toEqual({ kind: 'collect', node: 'dynamic_values', output: 'result' });
  });

  it('fan_repeat: map → collect → new dynamic op → map → collect, twice', () => {
    const accepted = job({ name: 'fine_fan_repeat' }, () => {
      const first = dynamicValues().map(echo);
      const second = emitEach(first.collect()).map(echo);
      const third = emitEach(second.collect()).map(echo);
      total(third.collect());
    });
    expect(dims(accepted)).toEqual({
      dynamic_values: [],
      echo: ['dynamic_values:result'],
      emit_each: [],
      echo_2: ['emit_each:result'],
      emit_each_2: [],
      echo_3: ['emit_each_2:result'],
      total: [],
    });
  });

  it('an outer-scope static output feeds every clone, and ops in the callable that ignore the item stay static', () => {
    const accepted = job({ name: 'fine_closure' }, () => {
      const nonDynamic = one();
      dynamicValues().map((v) => add(v, nonDynamic));
      dynamicValues().map((v) => add(v, one()));
    });
    expect(dims(accepted)).toEqual({
      one: [],
      dynamic_values: [],
      add: ['dynamic_values:result'],
      dynamic_values_2: [],
      one_2: [],
      add_2: ['dynamic_values_2:result'],
    });
  });

  it('one op may collect several different dynamic outputs in different inputs (test_multi_collect)', () => {
    const accepted = job({ name: 'fine_multi_collect' }, () => {
      add(dynamicValues().collect(), otherValues().map(echo).collect());
    });
    expect(nodeOf(accepted, 'add').dim).toEqual([]);
  });
});

describe('several problems are reported at once', () => {
  it('lists every issue of one job in one JobDefinitionError', () => {
    const issues = rejected('many_problems', () => {
      const xs = dynamicValues();
      const ys = otherValues();
      echo(xs as never); // C1
      total([one(), xs.collect()]); // C6
      xs.map((x) => ys.map((y) => add(x, y))); // C7
      xs.map((y) => add(y, xs.collect())); // C12
      echo.alias('twice')(one());
      echo.alias('twice')(one()); // duplicate alias
      (one as unknown as (...args: unknown[]) => unknown)(one()); // too many arguments
    });
    expect(issues.map((i) => i.code).sort()).toEqual(['C1', 'C12', 'C6', 'C7', 'duplicate-alias', 'too-many-arguments']);
    for (const issue of issues) {
      expect(issue.job).toBe('many_problems');
      expect(issue.node).toBeTruthy();
      expect(issue.fix.length).toBeGreaterThan(10);
    }
    let message = '';
    try {
      job({ name: 'many_problems_message' }, () => {
        echo(dynamicValues() as never);
        total([dynamicValues().collect()]);
      });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^Job "many_problems_message" has 2 definition problems:/);
    expect(message).toContain('[C1] node "echo"');
    expect(message).toContain('[C6] node "total"');
    expect(message).toContain('fix: ');
  });
});

describe('other definition checks', () => {
  it('rejects the same explicit alias used twice', () => {
    const issues = rejected('duplicate_alias', () => {
      const a = one();
      echo.alias('same')(a);
      echo.alias('same')(a);
    });
    expectIssue(issues, 'duplicate-alias', 'duplicate_alias', 'same', /the name "same" is used by more than one invocation/);
  });

  it('auto-aliases repeated calls echo, echo_2, echo_3', () => {
    const accepted = job({ name: 'auto_alias' }, () => {
      echo(echo(echo(one())));
    });
    expect(accepted.plan.nodes.map((n) => n.id)).toEqual(['one', 'echo', 'echo_2', 'echo_3']);
  });

  it('rejects more arguments than the op has inputs', () => {
    const issues = rejected('too_many_args', () => {
      (echo as unknown as (...args: unknown[]) => unknown)(one(), one());
    });
    expectIssue(issues, 'too-many-arguments', 'too_many_args', 'echo', /op "echo" takes 1 input\(s\) \(x\) but was called with 2/);
  });

  it('rejects a job body that invokes no ops', () => {
    const issues = rejected('empty_body', () => undefined);
    expect(issues).toEqual([
      expect.objectContaining({ code: 'empty-job', job: 'empty_body', fix: expect.stringMatching(/call at least one op/) }),
    ]);
  });

  it('rejects an anonymous op body without an explicit name', () => {
    expect(() => op(async () => 1)).toThrow(OpgraphError);
    expect(() => op(async () => 1)).toThrow(/anonymous functions need an explicit name/);
  });

  it('takes the op name from a named function', () => {
    const named = op(async function named_op() {
      return 1;
    });
    expect(named.name).toBe('named_op');
  });

  it('rejects op, job and graph names outside ^[A-Za-z0-9_]+$', () => {
    expect(() => op({ name: 'bad-name' }, async () => 1)).toThrow(/op name "bad-name" is not valid: names must match \^\[A-Za-z0-9_\]\+\$/);
    expect(() => job({ name: 'bad job' }, () => one())).toThrow(/job name "bad job" is not valid/);
    expect(() => graph('bad.graph', () => one())).toThrow(/graph name "bad.graph" is not valid/);
  });

  it('rejects invoking an op outside a job or graph body', () => {
    expect(() => one()).toThrow(/op "one" was used outside of a job or graph body/);
  });

  it('rejects Definitions with two different ops of the same name, naming the op and the fix', () => {
    const echoA = op({ name: 'same_name' }, async (_ctx, x: unknown) => x);
    const echoB = op({ name: 'same_name' }, async (_ctx, x: unknown) => [x]);
    const jobA = job({ name: 'uses_a' }, () => echoA(one()));
    const jobB = job({ name: 'uses_b' }, () => echoB(one()));
    expect(() => new Definitions({ jobs: [jobA, jobB] })).toThrow(OpgraphError);
    expect(() => new Definitions({ jobs: [jobA, jobB] })).toThrow(
      /two different ops are named "same_name" \(one is used by job "uses_b"\).*rename one with op\(\{ name \}\)/,
    );
  });

  it('accepts the same op used by several jobs, and rejects an unknown job name on lookup', () => {
    const jobA = job({ name: 'shares_a' }, () => echo(one()));
    const jobB = job({ name: 'shares_b' }, () => echo(echo(one())));
    const definitions = new Definitions({ jobs: [jobA, jobB] });
    expect([...definitions.ops.keys()].sort()).toEqual(['echo', 'one']);
    expect(definitions.getJob('shares_b')).toBe(jobB);
    expect(() => definitions.getJob('nope')).toThrow(/unknown job "nope"; known jobs: shares_a, shares_b/);
  });

  it('rejects two different jobs with the same name', () => {
    const first = job({ name: 'twin' }, () => one());
    const second = job({ name: 'twin' }, () => echo(one()));
    expect(() => new Definitions({ jobs: [first, second] })).toThrow(/two different jobs are named "twin"/);
  });
});
