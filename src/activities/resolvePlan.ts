import { ApplicationFailure } from '@temporalio/activity';
import { z } from 'zod';
import { OpgraphError } from '../dsl/errors.ts';
import type { Definitions } from '../dsl/job.ts';
import { FailureType } from '../dsl/protocol.ts';
import { resolveRunConfig } from '../dsl/runConfig.ts';

const ResolvePlanInput = z.object({ job: z.string(), runConfig: z.unknown() });

/**
 * `__opgraph_resolve_plan`: for a run started by job name alone, the plan of that job in this
 * worker's definitions and the validated run config. Errors are final: a wrong name or config
 * will not fix itself on retry.
 */
export async function resolvePlan(definitions: Definitions, raw: unknown): Promise<{ plan: unknown; runConfig: unknown }> {
  const input = ResolvePlanInput.parse(raw);
  try {
    const job = definitions.getJob(input.job);
    return { plan: job.plan, runConfig: resolveRunConfig(job, input.runConfig) };
  } catch (err) {
    if (err instanceof OpgraphError) {
      throw ApplicationFailure.nonRetryable(`cannot start job "${input.job}" by name: ${err.message}`, FailureType.Definition);
    }
    throw err;
  }
}
