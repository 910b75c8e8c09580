/** Where the Temporal server is, read from the environment (the same variables the Temporal CLI uses). */
export interface TemporalTarget {
  readonly address: string;
  readonly namespace: string;
}

export const DEFAULT_NAMESPACE = 'default';
export const DEFAULT_TASK_QUEUE = 'opgraph';

/** `TEMPORAL_ADDRESS` (+ `TEMPORAL_NAMESPACE`), or undefined when no server is configured. */
export function temporalTargetFromEnv(env: NodeJS.ProcessEnv = process.env): TemporalTarget | undefined {
  const address = env.TEMPORAL_ADDRESS?.trim();
  if (!address) return undefined;
  return { address, namespace: env.TEMPORAL_NAMESPACE?.trim() || DEFAULT_NAMESPACE };
}
