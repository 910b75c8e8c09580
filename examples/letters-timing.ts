/**
 * `npx tsx examples/letters-timing.ts`: runs the letters a..z job both ways (examples/letters.ts) with
 * executeInProcess and prints each run's submit-to-result wall time (from the moment the run was
 * submitted to the moment its result was in; worker start-up and workflow bundling excluded).
 *
 * python_parallelism runs twice: with the seed's pool size (CPU count - 1) and with 7 threads, the
 * pool the seed's "~4 seconds" figure implies (an 8-core machine). With TEMPORAL_ADDRESS set, uses
 * that server; otherwise starts a local dev server for the duration.
 */
import { executeInProcess, type JobDefinition, type RunConfig, stopLocalDevServer } from 'opgraph';
import { defaultPoolSize, dynamicOutputs, pythonParallelism } from './letters.ts';

async function timed(label: string, job: JobDefinition, runConfig?: RunConfig): Promise<number> {
  let submitted = 0;
  const result = await executeInProcess(job, {
    ...(runConfig ? { runConfig } : {}),
    onLaunched: () => {
      submitted = performance.now();
    },
  });
  const seconds = (performance.now() - submitted) / 1000;
  if (!result.success) {
    throw new Error(`${label}: run ${result.runId} failed: ${result.failures.map((f) => `${f.stepKey}: ${f.message}`).join('; ')}`);
  }
  console.log(`${label.padEnd(48)} ${seconds.toFixed(2)} s`);
  return seconds;
}

async function main(): Promise<void> {
  console.log('letters a..z, 26 one-second units; submit-to-result wall time:');
  await timed('dynamic_outputs (26 mapped steps)', dynamicOutputs);
  const pool = defaultPoolSize();
  await timed(`python_parallelism (${pool} thread${pool === 1 ? '' : 's'}: CPU count - 1)`, pythonParallelism);
  await timed('python_parallelism (7 threads)', pythonParallelism, {
    ops: { load_and_process_pieces: { config: { num_threads: 7 } } },
  });
}

main().then(
  async () => {
    await stopLocalDevServer();
    process.exit(0);
  },
  async (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    await stopLocalDevServer();
    process.exit(1);
  },
);
