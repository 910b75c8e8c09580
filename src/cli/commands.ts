/** The `opgraph` command line: commander program, `list` and `graph`, and exit-code handling. */
import { Command, CommanderError, Option } from 'commander';
import { DEFAULT_TASK_QUEUE } from '../connection.ts';
import { MAP_OPTION_BOUNDS } from '../dsl/limits.ts';
import { DEFAULT_HISTORY_SHARDS } from '../server/cluster.ts';
import { clusterCommand } from './cluster.ts';
import { codecServerCommand } from './codecServer.ts';
import { CODEC_ENV } from '../codec/keys.ts';
import { CODEC_SERVER_TOKEN_ENV, DEFAULT_CODEC_SERVER_PORT, DEFAULT_UI_ORIGINS } from '../codec/server.ts';
import type { Definitions } from '../dsl/job.ts';
import { DEFAULT_MODULE, loadDefinitions } from './definitions.ts';
import { errorMessage, EXIT, isUsageError } from './errors.ts';
import { type CliIO, printer, processIO } from './io.ts';
import { mapCommand } from './mapControl.ts';
import { addRedriveCommands } from './redrive.ts';
import { cancelCommand, launchCommand, reexecuteCommand, statusCommand } from './remote.ts';
import { runCommand } from './run.ts';
import { addRunsCommand } from './runs.ts';
import { registerRunViewCommands } from './runViewCommands.ts';
import { addScheduleCommands } from './schedule.ts';
import { devCommand, workerCommand } from './serve.ts';
import { DEFAULT_HEARTBEAT_RATE } from '../activities/heartbeatPacer.ts';
import { DEFAULT_HEARTBEAT_THROTTLE_MS, DEFAULT_STICKY_TIMEOUT_MS, WORKER_TIMING_ENV } from '../worker/timing.ts';

/** `opgraph list`: every job, then its nodes (ids), with op name, fan-outs and mapping. */
export function listLines(definitions: Definitions): string[] {
  const lines: string[] = [];
  for (const job of definitions.jobs.values()) {
    lines.push(job.description ? `${job.name} — ${job.description}` : job.name);
    const width = Math.max(0, ...job.plan.nodes.map((n) => n.id.length));
    for (const node of job.plan.nodes) {
      const notes: string[] = [];
      if (node.op !== node.id) notes.push(`op ${node.op}`);
      const dynamic = node.outputs.filter((o) => o.dynamic).map((o) => o.name);
      if (dynamic.length > 0) notes.push(`DynamicOut${dynamic.length === 1 && dynamic[0] === 'result' ? '' : ` ${dynamic.join(', ')}`}`);
      if (node.dim.length > 0) notes.push(`mapped over ${node.dim.join(' → ')}`);
      lines.push(`  ${notes.length ? `${node.id.padEnd(width)}  ${notes.join('; ')}` : node.id}`);
    }
  }
  return lines;
}

/** OPGRAPH_DEFINITIONS / OPGRAPH_TASK_QUEUE, as worker.ts and docker-compose use them, else the built-in defaults. */
function defaults(env: NodeJS.ProcessEnv): { module: string; taskQueue: string } {
  return {
    module: env.OPGRAPH_DEFINITIONS?.trim() || DEFAULT_MODULE,
    taskQueue: env.OPGRAPH_TASK_QUEUE?.trim() || DEFAULT_TASK_QUEUE,
  };
}

function taskQueueOption(description: string): Option {
  return new Option('-q, --task-queue <queue>', description);
}

/** `--metrics-port` (env OPGRAPH_METRICS_PORT): the runtime's Prometheus endpoint (src/telemetry/metrics.ts). */
function metricsPortOption(env: NodeJS.ProcessEnv): Option {
  return new Option(
    '--metrics-port <port>',
    "serve Prometheus metrics (the worker's and opgraph's) on this port, or host:port (default host 0.0.0.0); with --processes n, ports port..port+n-1",
  ).default(env.OPGRAPH_METRICS_PORT?.trim() || undefined);
}

/** `--sticky-timeout` / `--heartbeat-throttle` / `--heartbeat-rate` (env OPGRAPH_STICKY_TIMEOUT / …): src/worker/timing.ts. */
function stickyTimeoutOption(): Option {
  return new Option(
    '--sticky-timeout <duration>',
    `how long a run's next task waits for the worker that has it cached before any worker takes it (default ${DEFAULT_STICKY_TIMEOUT_MS / 1000}s; env ${WORKER_TIMING_ENV.stickyTimeout})`,
  );
}

function heartbeatThrottleOption(): Option {
  return new Option(
    '--heartbeat-throttle <duration>',
    `longest pause between two heartbeats of a running op, i.e. how long a cancel takes to reach ctx.signal (default ${DEFAULT_HEARTBEAT_THROTTLE_MS / 1000}s; env ${WORKER_TIMING_ENV.heartbeatThrottle})`,
  );
}

function heartbeatRateOption(): Option {
  return new Option(
    '--heartbeat-rate <n>',
    `heartbeats per second this worker's running ops send together: up to n ops beat every throttle interval, more beat less often (a cancel still reaches them all within about a second) (default ${DEFAULT_HEARTBEAT_RATE}; env ${WORKER_TIMING_ENV.heartbeatRate})`,
  );
}

/** Builds the program; `setExit` receives each command's exit code. */
export function buildProgram(io: CliIO, setExit: (code: number) => void): Command {
  const out = printer(io.stdout);
  const fallback = defaults(io.env);
  const moduleOption = (): Option =>
    new Option('-m, --module <path>', 'definitions module exporting `defs` (or a default Definitions); env OPGRAPH_DEFINITIONS').default(
      fallback.module,
    );
  const program = new Command('opgraph')
    .description('Run Dagster-style op/job graphs (with dynamic outputs) durably on Temporal.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      `
Environment:
  TEMPORAL_ADDRESS    host:port of an existing Temporal server (run/worker/launch/status/cancel)
  TEMPORAL_NAMESPACE  namespace on that server (default "default")
  TEMPORAL_UI_URL     Web UI base URL, for links to runs on that server
  OPGRAPH_DEFINITIONS default for -m/--module (else ${DEFAULT_MODULE})
  OPGRAPH_TASK_QUEUE  default task queue for worker/dev/launch/run --no-worker (else ${DEFAULT_TASK_QUEUE})
  OPGRAPH_LOG_LEVEL   worker log level (TRACE, DEBUG, INFO, WARN, ERROR)
  OPGRAPH_STICKY_TIMEOUT / OPGRAPH_HEARTBEAT_THROTTLE / OPGRAPH_HEARTBEAT_RATE  worker timings (as --sticky-timeout / --heartbeat-throttle / --heartbeat-rate); README "Reliability"
  OPGRAPH_CODEC_KEYS  payload encryption keys, <id>=<base64 32 bytes>,… (or OPGRAPH_CODEC_KEY_FILE); README "Security"

Exit codes: 0 success, 1 run failed / cancelled / server error, 2 usage or config error.`,
    );

  program
    .command('run')
    .description('run a job to completion with live progress, then print its result and Web UI link')
    .argument('<job>', 'job name (see `opgraph list`)')
    .option('-c, --config <file>', 'run config file (.json, .yaml or .yml): { ops: { <node>: { config, inputs } } }')
    .addOption(moduleOption())
    .addOption(
      taskQueueOption(`task queue for the run (default: a fresh one for the in-process worker; "${fallback.taskQueue}" with --no-worker)`),
    )
    .option('--no-worker', 'do not start a worker in this process (needs TEMPORAL_ADDRESS and a running `opgraph worker`)')
    .option('--keep-server', 'embedded dev server only: keep it (and the Web UI) up after the run until Ctrl+C')
    .option('-v, --verbose', "print every step's ctx.log lines at the end (failed steps' lines are always printed)")
    .addHelpText(
      'after',
      `
Without TEMPORAL_ADDRESS, starts a local Temporal dev server with the Web UI for the duration of the command.
Ctrl+C against TEMPORAL_ADDRESS cancels the run (ops see ctx.signal) and waits for it to end CANCELLED.`,
    )
    .action(
      async (
        job: string,
        opts: { config?: string; module: string; taskQueue?: string; worker: boolean; keepServer?: boolean; verbose?: boolean },
      ) => {
        setExit(await runCommand(job, opts, io));
      },
    );

  program
    .command('worker')
    .description("run a long-lived worker for the module's jobs on TEMPORAL_ADDRESS (until Ctrl+C)")
    .addOption(moduleOption())
    .addOption(taskQueueOption('task queue to poll').default(fallback.taskQueue))
    .option('-p, --processes <n>', 'worker processes, so CPU-bound ops use every core (default: one per core)')
    .addOption(metricsPortOption(io.env))
    .addOption(stickyTimeoutOption())
    .addOption(heartbeatThrottleOption())
    .addOption(heartbeatRateOption())
    .action(
      async (opts: {
        module: string;
        taskQueue?: string;
        processes?: string;
        metricsPort?: string;
        stickyTimeout?: string;
        heartbeatThrottle?: string;
        heartbeatRate?: string;
      }) => {
        setExit(await workerCommand(opts, io));
      },
    );

  program
    .command('dev')
    .description('start a Temporal dev server with the Web UI and a worker, until Ctrl+C')
    .option('-p, --port <port>', 'frontend gRPC port (default: a free port)')
    .option('--ui-port <port>', 'Web UI port (default: a free port)')
    .option('--ip <ip>', 'address to bind (default 127.0.0.1)')
    .option('--db-filename <file>', 'SQLite file, to keep runs across restarts (default: in memory)')
    .option('--ui-codec-endpoint <url>', 'codec server the Web UI decodes payloads with (e.g. `opgraph codec-server`)')
    .addOption(moduleOption())
    .addOption(taskQueueOption('task queue the worker polls').default(fallback.taskQueue))
    .option('--no-worker', 'server and UI only')
    .addOption(metricsPortOption(io.env))
    .addOption(stickyTimeoutOption())
    .addOption(heartbeatThrottleOption())
    .addOption(heartbeatRateOption())
    .action(
      async (opts: {
        port?: string;
        uiPort?: string;
        ip?: string;
        dbFilename?: string;
        uiCodecEndpoint?: string;
        module: string;
        taskQueue?: string;
        worker: boolean;
        metricsPort?: string;
        stickyTimeout?: string;
        heartbeatThrottle?: string;
        heartbeatRate?: string;
      }) => {
        setExit(await devCommand(opts, io));
      },
    );

  program
    .command('codec-server')
    .description("serve the Web UI's remote codec endpoint (POST /encode, /decode) with this process's codec keys, until Ctrl+C")
    .option('-p, --port <port>', `port (default ${DEFAULT_CODEC_SERVER_PORT})`)
    .option('--ip <ip>', 'address to bind (default 127.0.0.1)')
    .option(
      '--cors-origin <origins...>',
      `Web UI origins allowed to call it ("*": any); default TEMPORAL_UI_URL, else ${DEFAULT_UI_ORIGINS.join(' ')}`,
    )
    .addHelpText(
      'after',
      `
Keys: ${CODEC_ENV.keys} or ${CODEC_ENV.keyFile} (as for workers). With ${CODEC_SERVER_TOKEN_ENV} set, every request
must carry "Authorization: Bearer <token>". Point the UI at it: \`opgraph dev --ui-codec-endpoint http://127.0.0.1:${DEFAULT_CODEC_SERVER_PORT}\`,
\`temporal server start-dev --ui-codec-endpoint …\`, or the UI's "Codec Server" settings.`,
    )
    .action(async (opts: { port?: string; ip?: string; corsOrigin?: string[] }) => {
      setExit(await codecServerCommand(opts, io));
    });

  program
    .command('cluster')
    .description('start a real Temporal server (go.temporal.io/server) on a throwaway PostgreSQL, until Ctrl+C')
    .option('-p, --port <port>', 'frontend gRPC port on 127.0.0.1 (default: a free port)')
    .option('--data-dir <dir>', "keep PostgreSQL's data (and the runs) in this directory across restarts (default: a temporary one)")
    .option('--shards <n>', `history shards, fixed when the database is created (default ${DEFAULT_HISTORY_SHARDS})`)
    .option('--log-level <level>', 'server log level: debug, info, warn, error (default warn)')
    .addHelpText(
      'after',
      `
Builds the Temporal server and its SQL schema tool once with \`go install\` (cached under ~/.cache/opgraph), runs
Debian's PostgreSQL (/usr/lib/postgresql/<version>/bin) as the postgres user, creates the temporal and
temporal_visibility databases, and registers the default namespace and opgraph's search attributes.`,
    )
    .action(async (opts: { port?: string; dataDir?: string; shards?: string; logLevel?: string }) => {
      setExit(await clusterCommand(opts, io));
    });

  program
    .command('launch')
    .description('submit a run to TEMPORAL_ADDRESS and print its workflow id (does not wait)')
    .argument('<job>', 'job name (see `opgraph list`)')
    .option('-c, --config <file>', 'run config file (.json, .yaml or .yml)')
    .addOption(moduleOption())
    .addOption(taskQueueOption('task queue a worker serves').default(fallback.taskQueue))
    .action(async (job: string, opts: { config?: string; module: string; taskQueue?: string }) => {
      setExit(await launchCommand(job, opts, io));
    });

  addRunsCommand(program, io, setExit);
  addScheduleCommands(program, io, setExit, { moduleOption, taskQueue: fallback.taskQueue });

  program
    .command('status')
    .description("show a run's status and progress; once closed, its result (read from the server: no worker needed)")
    .argument('<workflowId>', 'the workflow id printed by `opgraph launch` / `opgraph run`, or the run id')
    .addHelpText('after', '\nExit code: 0 while running or once succeeded; 1 once failed, cancelled, terminated or timed out.')
    .action(async (workflowId: string) => {
      setExit(await statusCommand(workflowId, io));
    });

  program
    .command('reexecute')
    .description("re-run an ended run's failed steps (or selected ones), taking over every other succeeded step's output")
    .argument('<workflowId>', 'the workflow id of the ended run, or its run id')
    .option('--from-failure', 'run failed steps, the steps they abandoned or skipped, and steps that never ran')
    .option('--step-keys <keys...>', 'also run these steps again: op, op[key], op[outer,inner] or op[*]')
    .addOption(taskQueueOption("task queue a worker serves (default: the parent run's)"))
    .option('--no-wait', 'print the new workflow id and return without following the run')
    .action(async (workflowId: string, opts: { fromFailure?: boolean; stepKeys?: string[]; taskQueue?: string; wait: boolean }) => {
      setExit(await reexecuteCommand(workflowId, opts, io));
    });

  program
    .command('cancel')
    .description('cancel a run: running ops see ctx.signal, the run ends CANCELLED')
    .argument('<workflowId>', 'the workflow id of the run, or its run id')
    .action(async (workflowId: string) => {
      setExit(await cancelCommand(workflowId, io));
    });

  addRedriveCommands(program, io, setExit);

  const map = program
    .command('map')
    .description('control a running map of a run: pause, resume, or resize its window (on TEMPORAL_ADDRESS)')
    .addHelpText(
      'after',
      `
<map> is the fan-out node a map runs over (e.g. load_pieces), or node:output for a DynamicOut not named "result";
maps nested in other maps are controlled in every workflow that runs their keys. The state shows in
\`opgraph status\`, the live view of \`opgraph run\` and the Web UI's current details.`,
    );
  map
    .command('pause')
    .description('stop admitting new keys of the map; keys in flight finish')
    .argument('<workflowId>', 'the workflow id of the run, or its run id')
    .argument('<map>', 'the map: its fan-out node (load_pieces) or node:output')
    .action(async (workflowId: string, name: string) => {
      setExit(await mapCommand('pause', workflowId, name, {}, io));
    });
  map
    .command('resume')
    .description('let a paused map admit keys again')
    .argument('<workflowId>', 'the workflow id of the run, or its run id')
    .argument('<map>', 'the map: its fan-out node (load_pieces) or node:output')
    .action(async (workflowId: string, name: string) => {
      setExit(await mapCommand('resume', workflowId, name, {}, io));
    });
  map
    .command('resize')
    .description("change how many keys of the map run at once (batches, in batch mode), within the workflow's budget")
    .argument('<workflowId>', 'the workflow id of the run, or its run id')
    .argument('<map>', 'the map: its fan-out node (load_pieces) or node:output')
    .requiredOption('--max-concurrency <n>', `the new window, 1 to ${MAP_OPTION_BOUNDS.maxConcurrency}`)
    .action(async (workflowId: string, name: string, opts: { maxConcurrency: string }) => {
      setExit(await mapCommand('resize', workflowId, name, opts, io));
    });

  // graph, logs, view: src/cli/runViewCommands.ts
  registerRunViewCommands(program, io, setExit, moduleOption);

  program
    .command('list')
    .description('list the jobs of the definitions module and their ops (node ids)')
    .addOption(moduleOption())
    .action(async (opts: { module: string }) => {
      for (const line of listLines(await loadDefinitions(opts.module, io.cwd))) out(line);
      setExit(EXIT.ok);
    });

  return program;
}

/** Runs the CLI on `args` (without `node` and the script); resolves to the exit code. */
export async function runCli(args: readonly string[], io: CliIO = processIO()): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(io, (c) => (code = c));
  try {
    await program.parseAsync([...args], { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    io.stderr.write(`opgraph: ${errorMessage(err)}\n`);
    return isUsageError(err) ? EXIT.usage : EXIT.failed;
  }
}
