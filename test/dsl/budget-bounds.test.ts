/**
 * Definition-time bounds of the workflow budget (DESIGN §4 Limits): `.map()` options past what one
 * workflow may hold, and scopes whose own steps (retries included) cannot fit one history, are a
 * JobDefinitionError when `job()` runs — never a stuck run.
 */
import { describe, expect, it } from 'vitest';
import { DynamicOut, DynamicOutput, job, JobDefinitionError, op, RetryPolicy } from 'opgraph';
import { KEY_EVENT_ROOM, MAP_OPTION_BOUNDS, maxShardSize } from '../../src/dsl/limits.ts';

const emit = op({ name: 'bounds_emit', out: new DynamicOut<number>() }, async function* () {
  yield new DynamicOutput(1, 'a');
});
const work = op({ name: 'bounds_work' }, async (_ctx, x: number) => x);
const collectAll = op({ name: 'bounds_collect' }, async (_ctx, xs: number[]) => xs.length);

function definitionError(body: () => unknown): JobDefinitionError {
  try {
    job({ name: 'bounds_job' }, body);
  } catch (err) {
    if (err instanceof JobDefinitionError) return err;
    throw err;
  }
  throw new Error('expected a JobDefinitionError');
}

describe('map option bounds', () => {
  it('rejects maxConcurrency over the workflow budget, naming the bound and the fix', () => {
    const err = definitionError(() =>
      collectAll(
        emit()
          .map(work, { maxConcurrency: MAP_OPTION_BOUNDS.maxConcurrency + 1 })
          .collect(),
      ),
    );
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]).toMatchObject({ code: 'map-options', node: 'bounds_emit' });
    expect(err.issues[0]?.message).toContain(
      `maxConcurrency ${MAP_OPTION_BOUNDS.maxConcurrency + 1} is over ${MAP_OPTION_BOUNDS.maxConcurrency}`,
    );
    expect(err.issues[0]?.fix).toContain(`maxConcurrency ≤ ${MAP_OPTION_BOUNDS.maxConcurrency}`);
  });

  it('accepts maxConcurrency at the bound', () => {
    expect(() =>
      job({ name: 'bounds_ok' }, () => collectAll(emit().map(work, { maxConcurrency: MAP_OPTION_BOUNDS.maxConcurrency }).collect())),
    ).not.toThrow();
  });

  it('rejects batchSize over its bound', () => {
    const err = definitionError(() =>
      collectAll(
        emit()
          .map(work, { mode: 'batch', batchSize: MAP_OPTION_BOUNDS.batchSize + 1 })
          .collect(),
      ),
    );
    expect(err.issues.map((i) => i.message).join('\n')).toContain(
      `batchSize ${MAP_OPTION_BOUNDS.batchSize + 1} is over ${MAP_OPTION_BOUNDS.batchSize}`,
    );
  });

  it.each([
    ['child', undefined],
    ['activity', undefined],
    ['batch', 10],
  ] as const)('rejects a %s-mode shardSize past what one shard history holds', (mode, batchSize) => {
    const limit = maxShardSize(mode, batchSize);
    const options = { mode, shardSize: limit + 1, ...(batchSize ? { batchSize } : {}) };
    const err = definitionError(() => collectAll(emit().map(work, options).collect()));
    expect(err.issues.map((i) => i.message).join('\n')).toContain(`shardSize ${limit + 1} is over ${limit}`);
    expect(() =>
      job({ name: `bounds_ok_${mode}` }, () =>
        collectAll(
          emit()
            .map(work, { ...options, shardSize: limit })
            .collect(),
        ),
      ),
    ).not.toThrow();
  });
});

describe('history budget of a scope', () => {
  it('rejects a top level whose steps, with every retry, cannot fit one history', () => {
    const retried = op({ name: 'bounds_retried', retryPolicy: new RetryPolicy({ maxRetries: 200 }) }, async () => 1);
    const err = definitionError(() => {
      for (let i = 0; i < 5; i++) retried();
    });
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]).toMatchObject({ code: 'history-budget' });
    expect(err.issues[0]?.message).toContain("the job's top level runs 5 steps");
    expect(err.issues[0]?.message).toContain(`within ${KEY_EVENT_ROOM} events`);
    expect(err.issues[0]?.fix).toContain('lower maxRetries');
  });

  it('rejects a mapped scope with too many retried steps, and names the map', () => {
    const retried = op({ name: 'bounds_retried_map', retryPolicy: new RetryPolicy({ maxRetries: 300 }) }, async (_ctx, x: number) => x);
    const err = definitionError(() =>
      collectAll(
        emit()
          .map((x) => retried(retried(retried(x))))
          .collect(),
      ),
    );
    expect(err.issues[0]?.message).toContain('one mapping key of the map over bounds_emit:result');
  });

  it('accepts the same ops with retries that fit', () => {
    const retried = op({ name: 'bounds_retried_ok', retryPolicy: new RetryPolicy({ maxRetries: 5 }) }, async () => 1);
    expect(() =>
      job({ name: 'bounds_retry_ok' }, () => {
        for (let i = 0; i < 5; i++) retried();
      }),
    ).not.toThrow();
  });
});
