import type { z } from 'zod';
import { OpgraphError } from './errors.ts';

/** A zod schema producing values of type T. */
export type Schema<T> = z.ZodType<T>;

export interface OutOptions<T> {
  schema?: Schema<T>;
  /** An optional output may be left unproduced; its consumers are then SKIPPED. Default true. */
  isRequired?: boolean;
  description?: string;
}

/** A regular op output. The type parameter is the value type (inferred from `schema` when given). */
export class Out<T = unknown> {
  readonly dynamic: boolean = false;
  readonly schema: Schema<T> | undefined;
  readonly isRequired: boolean;
  readonly description: string | undefined;
  declare readonly __value?: T;

  constructor(options: OutOptions<T> = {}) {
    this.schema = options.schema;
    this.isRequired = options.isRequired ?? true;
    this.description = options.description;
  }
}

/** An output that yields any number of items, each with a mapping key; consumed with `.map` / `.collect`. */
export class DynamicOut<T = unknown> extends Out<T> {
  override readonly dynamic: boolean = true;
  declare readonly __dynamic: true;
}

export interface InOptions<T> {
  schema?: Schema<T>;
  description?: string;
}

/** An op input declaration (only needed to attach a schema or description). */
export class In<T = unknown> {
  readonly schema: Schema<T> | undefined;
  readonly description: string | undefined;
  declare readonly __value?: T;

  constructor(options: InOptions<T> = {}) {
    this.schema = options.schema;
    this.description = options.description;
  }
}

/** A value for one named output, yielded or returned by an op with several outputs. */
export class Output<T = unknown> {
  readonly value: T;
  readonly outputName: string;
  readonly metadata: Readonly<Record<string, unknown>> | undefined;

  constructor(value: T, options: { outputName?: string; metadata?: Record<string, unknown> } = {}) {
    this.value = value;
    this.outputName = options.outputName ?? 'result';
    this.metadata = options.metadata;
  }
}

export interface DynamicOutputOptions {
  mappingKey: string;
  outputName?: string;
  metadata?: Record<string, unknown>;
}

/** One item of a dynamic output: `new DynamicOutput(piece, '7')` or `new DynamicOutput(piece, { mappingKey: '7' })`. */
export class DynamicOutput<T = unknown> {
  readonly value: T;
  readonly mappingKey: string;
  readonly outputName: string;
  readonly metadata: Readonly<Record<string, unknown>> | undefined;

  constructor(value: T, keyOrOptions: string | DynamicOutputOptions) {
    // Anything but an options object is the key itself (a number passed as key is named in the error).
    const options: DynamicOutputOptions =
      typeof keyOrOptions === 'object' && keyOrOptions !== null && !Array.isArray(keyOrOptions)
        ? keyOrOptions
        : { mappingKey: keyOrOptions as string };
    this.value = value;
    // Validated by the op runner, which knows the step key to name in the error.
    this.mappingKey = options.mappingKey;
    this.outputName = options.outputName ?? 'result';
    this.metadata = options.metadata;
  }
}

export type Backoff = 'linear' | 'exponential';
export type Jitter = 'full' | 'plus_minus';

export interface RetryPolicyOptions {
  /** Retries after the first attempt for failures raised by op code. Default 1 (as Dagster). */
  maxRetries?: number;
  /** Seconds before the first retry. Default 0. */
  delay?: number;
  /** Retry n waits `delay` (none), `delay·n` (linear) or `delay·(2ⁿ−1)` (exponential). */
  backoff?: Backoff;
  /** `full`: random·backed-off delay; `plus_minus`: backed-off delay ± `delay` (Dagster's formulas). */
  jitter?: Jitter;
}

/** Retries of user-code failures, counted per step key (`compute_piece[3]` has its own count). */
export class RetryPolicy {
  readonly maxRetries: number;
  readonly delay: number;
  readonly backoff: Backoff | undefined;
  readonly jitter: Jitter | undefined;

  constructor(options: RetryPolicyOptions = {}) {
    const maxRetries = options.maxRetries ?? 1;
    const delay = options.delay ?? 0;
    if (!Number.isInteger(maxRetries) || maxRetries < 0) {
      throw new OpgraphError(`RetryPolicy.maxRetries must be a non-negative integer, got ${maxRetries}`);
    }
    if (!(delay >= 0)) throw new OpgraphError(`RetryPolicy.delay must be >= 0 seconds, got ${delay}`);
    this.maxRetries = maxRetries;
    this.delay = delay;
    this.backoff = options.backoff;
    this.jitter = options.jitter;
  }
}
