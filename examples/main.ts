/**
 * `npm start`: runs the seed's dynamic_graph job on a real Temporal dev server (with its Web UI)
 * and a worker in this process, prints the result and where to see the run. In a terminal (or with
 * OPGRAPH_KEEP_UI=1) it keeps the server and its Web UI up, so the link works, until Enter or Ctrl+C;
 * otherwise it shuts down at once and says the link dies with it.
 * With TEMPORAL_ADDRESS set, uses that server instead of starting one.
 */
import { executeInProcess, localDevServer, stopLocalDevServer, temporalTargetFromEnv } from 'opgraph';
import { dynamicGraph } from './dynamic-graph.ts';

async function main(): Promise<number> {
  const external = temporalTargetFromEnv();
  let uiUrl = external ? undefined : (await localDevServer({ ui: true })).uiUrl;
  if (external) console.log(`Using the Temporal server at ${external.address} (TEMPORAL_ADDRESS)`);
  else console.log(`Started a Temporal dev server; Web UI at ${uiUrl}`);
  try {
    const started = Date.now();
    const result = await executeInProcess(dynamicGraph, {
      onLaunched: ({ workflowId }) => console.log(`Running job dynamic_graph as workflow ${workflowId} …`),
    });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const namespace = external?.namespace ?? 'default';
    uiUrl ??= process.env.TEMPORAL_UI_URL;
    if (!result.success) {
      console.error(`Run ${result.runId} FAILED after ${seconds}s:`);
      for (const f of result.failures) console.error(`  ${f.stepKey}: ${f.type}: ${f.message}`);
      return 1;
    }
    const steps = Object.keys(result.stepStatuses()).length;
    console.log(`Run ${result.runId} succeeded in ${seconds}s (${steps} steps).`);
    console.log(`merge_and_analyze = ${JSON.stringify(await result.outputFor('merge_and_analyze'))}`);
    if (uiUrl)
      console.log(
        `See the run in the Temporal Web UI: ${uiUrl}/namespaces/${namespace}/workflows/${encodeURIComponent(result.workflowId)}`,
      );
    if (!external) await keepUiUp();
    return 0;
  } finally {
    await stopLocalDevServer();
  }
}

/** The embedded server (and the link above) lives as long as this process: wait for Enter or Ctrl+C where someone can press them. */
async function keepUiUp(): Promise<void> {
  if (!process.stdin.isTTY && process.env.OPGRAPH_KEEP_UI !== '1') {
    console.log('The dev server stops now, so the Web UI link stops working; `npx opgraph dev` keeps a server and its UI up.');
    return;
  }
  console.log('The dev server and its Web UI stay up so the link works: press Enter or Ctrl+C to stop them.');
  await new Promise<void>((resolve) => {
    const done = () => {
      process.stdin.pause();
      process.off('SIGINT', done);
      resolve();
    };
    process.stdin.once('data', done);
    process.stdin.once('end', done);
    process.once('SIGINT', done);
    process.stdin.resume();
  });
  console.log('Stopping the dev server.');
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
