/**
 * The `opgraph` command: `npx opgraph <command>` (bin/opgraph.js) or `npm run opgraph -- <command>`.
 * Exits with the command's code once it is done (the embedded dev server and workers are stopped first).
 */
import { runCli } from './commands.ts';

const code = await runCli(process.argv.slice(2));
process.exit(code);
