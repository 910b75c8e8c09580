import { OpgraphError } from './errors.ts';
import type { Tracer } from './trace.ts';

/**
 * The tracer of the job body being traced, if any. Bodies run synchronously, once, at definition
 * time, so one active tracer at a time is enough. Kept apart from trace.ts so that handles (which
 * record `.map` / `.collect`) and the tracer (which creates handles) do not import each other.
 */
let active: Tracer | undefined;

export function currentTracer(what: string): Tracer {
  if (!active) {
    throw new OpgraphError(
      `${what} was used outside of a job or graph body; op invocations, .map() and .collect() only describe wiring inside job(...) or graph(...)`,
    );
  }
  return active;
}

/** Runs `body` with `tracer` active. */
export function withTracer(tracer: Tracer, body: () => unknown): void {
  if (active) {
    throw new OpgraphError(`job "${tracer.jobName}" was defined inside another job's body; define jobs at module level`);
  }
  active = tracer;
  try {
    body();
  } finally {
    active = undefined;
  }
}
