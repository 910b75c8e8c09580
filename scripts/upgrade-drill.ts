/**
 * Upgrade drill: runs started on a worker built from test/upgrade/BASELINE, SIGKILLed mid-run, finish on a worker
 * built from the working tree with exact results and no nondeterminism (see test/upgrade/drill.ts).
 *
 *   npm run upgrade-drill [-- --baseline <commit>]
 *
 * Starts its own dev server; exits 1 when the drill fails.
 */
import { parseArgs } from 'node:util';
import { runUpgradeDrill, secs } from '../test/upgrade/drill.ts';

const { values } = parseArgs({ options: { baseline: { type: 'string' } } });
const report = await runUpgradeDrill(values.baseline ? { baseline: values.baseline } : {});
for (const note of report.notes) console.log(`[drill] note: ${note}`);
for (const problem of report.problems) console.log(`[drill] ✗ ${problem}`);
const t = report.timings;
console.log(
  `[drill] ${report.passed ? 'PASSED' : 'FAILED'}: ${report.shapes.filter((s) => s.correct && s.nondeterminism.length === 0).length}/${report.shapes.length} shapes ` +
    `crossed ${report.baseline.slice(0, 7)} → ${report.head} · setup ${secs(t.setupMs)}, kill at +${secs(t.toKillMs)}, ` +
    `finished ${secs(t.afterKillMs)} after the kill, total ${secs(t.totalMs)}`,
);
process.exit(report.passed ? 0 : 1);
