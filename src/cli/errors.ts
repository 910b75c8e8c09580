import { OpgraphError, RunConfigError, JobDefinitionError } from '../dsl/errors.ts';
import { StoreConfigError } from '../store/config.ts';
import { CodecConfigError } from '../codec/keys.ts';

/** Exit codes of the `opgraph` command. */
export const EXIT = {
  ok: 0,
  /** The run failed or was cancelled, or the server could not be reached. */
  failed: 1,
  /** Bad arguments, module, job name or run config: nothing was started. */
  usage: 2,
} as const;

/** A mistake in how the command was called (arguments, files, environment): exit code 2. */
export class UsageError extends OpgraphError {
  override readonly name = 'UsageError';
}

/** Errors that mean "fix the command line / config", as opposed to runtime failures (a malformed OPGRAPH_STORAGE_URL too). */
export function isUsageError(err: unknown): boolean {
  return (
    err instanceof UsageError ||
    err instanceof RunConfigError ||
    err instanceof JobDefinitionError ||
    err instanceof StoreConfigError ||
    err instanceof CodecConfigError
  );
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
