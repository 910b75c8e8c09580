/**
 * Model-based fuzzing: random jobs (test/model/ast.ts) run in child, activity and batch modes on a
 * real Temporal server, each compared with the reference evaluator (test/model/reference.ts).
 *
 *   npm run fuzz -- --runs 200 --seed 42 [--concurrency 6] [--address host:7233] [--no-two-dynamic-outputs] [--run-timeout 60]
 *
 * Without --address it starts a headless dev server. Prints the seed, every counterexample (its job
 * AST, expected vs actual) and a summary; exits 1 when any job disagreed with the reference.
 */
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import fc from 'fast-check';
import { OPGRAPH_SEARCH_ATTRIBUTES } from '../src/searchAttributes.ts';
import { startDevServer, type DevServer } from '../src/server/devServer.ts';
import { connectNative, createWorker, interpreterBundle } from '../src/worker/createWorker.ts';
import { Definitions } from '../src/index.ts';
import { installRuntimeLogger } from '../src/logging.ts';
import { modelJobArb, opCount } from '../test/model/ast.ts';
import { makeCase, runCases } from '../test/model/check.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '100' },
    seed: { type: 'string' },
    concurrency: { type: 'string', default: '6' },
    address: { type: 'string' },
    'no-two-dynamic-outputs': { type: 'boolean', default: false },
    /** Seconds one run may take before it counts as hung (raise it on a loaded machine). */
    'run-timeout': { type: 'string', default: '60' },
  },
});
const runs = Number(values.runs);
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
const concurrency = Number(values.concurrency);
console.log(`fuzz: seed ${seed}, ${runs} jobs × 3 modes (child, activity, batch), concurrency ${concurrency}`);

const started = Date.now();
const cases = fc
  .sample(modelJobArb({ twoDynamicOutputs: !values['no-two-dynamic-outputs'] }), { seed, numRuns: runs })
  .map((model, i) => makeCase(model, `fz${i}`));
installRuntimeLogger(process.env.OPGRAPH_LOG_LEVEL ?? 'ERROR');
let server: DevServer | undefined;
const address =
  values.address ??
  (server = await startDevServer({ searchAttributes: OPGRAPH_SEARCH_ATTRIBUTES, onNotice: (m) => console.error(`[fuzz] ${m}`) })).address;
const connection = await Connection.connect({ address });
const client = new Client({ connection });
const taskQueue = `fuzz-${seed}-${Date.now()}`;
const worker = await createWorker({
  definitions: new Definitions({ jobs: cases.flatMap((c) => Object.values(c.jobs)) }),
  connection: await connectNative(address),
  taskQueue,
  workflowBundle: await interpreterBundle(),
});
let done = 0;
let failedJobs = 0;
const results = await worker.runUntil(
  runCases(
    client,
    taskQueue,
    cases,
    concurrency,
    (c, mismatches) => {
      done++;
      if (mismatches.length > 0) {
        failedJobs++;
        console.log(`\nCOUNTEREXAMPLE ${c.prefix} (seed ${seed}, index ${c.prefix.slice(2)}):`);
        console.log(`  job: ${JSON.stringify(c.model)}`);
        for (const m of mismatches)
          console.log(`  [${m.mode}] ${m.what}: expected ${JSON.stringify(m.expected)}, actual ${JSON.stringify(m.actual)}`);
      }
      if (done % 20 === 0)
        console.log(`… ${done}/${cases.length} jobs, ${failedJobs} counterexample(s), ${((Date.now() - started) / 1000).toFixed(0)}s`);
    },
    Number(values['run-timeout']) * 1000,
  ),
);
await connection.close();
await server?.stop();

const steps = cases.reduce((n, c) => n + Object.keys(c.expected.statuses).length, 0);
const failing = cases.filter((c) => !c.expected.success).length;
const ops = cases.reduce((n, c) => n + opCount(c.model.nodes), 0);
console.log(
  `\nsummary: seed ${seed}; ${cases.length} jobs × 3 modes = ${cases.length * 3} runs; ${ops} ops, ${steps} steps per mode; ` +
    `${failing} jobs expected to fail; ${[...results.values()].filter((m) => m.length > 0).length} counterexample(s); ` +
    `${((Date.now() - started) / 1000).toFixed(1)}s`,
);
process.exit(failedJobs > 0 ? 1 : 0);
