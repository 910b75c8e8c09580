/**
 * The `opgraph` command: `npx opgraph <command>` (bin/opgraph.js) or `npm run opgraph -- <command>`.
 * Exits with the command's code once it is done (the embedded dev server and workers are stopped first).
 */
import { flushTracing } from '../telemetry/tracing.ts';
import { runCli } from './commands.ts';

const code = await runCli(process.argv.slice(2));
// Spans still buffered for the OTLP exporter (when OTEL_* set one up) go out before the process ends.
await flushTracing().catch((err: unknown) => console.error(`opgraph: could not export the last traces: ${(err as Error).message}`));
process.exit(code);
