/**
 * `opgraph worker --metrics-port`: the worker process serves the runtime's Prometheus endpoint, with
 * opgraph's counters for the runs it served (subprocesses against the suite's dev server).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { opgraph, runOpgraph } from './spawn.ts';

const FIXTURES = 'test/cli/fixtures/defs.ts';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

describe('opgraph worker --metrics-port', () => {
  it("serves the worker's and opgraph's metrics at /metrics", async () => {
    const env = { TEMPORAL_ADDRESS: inject('temporalAddress') };
    const taskQueue = `cli-metrics-${randomUUID()}`;
    const port = await freePort();
    const worker = opgraph(['worker', '-p', '1', '-m', FIXTURES, '-q', taskQueue, '--metrics-port', `127.0.0.1:${port}`], env);
    try {
      await worker.waitFor(
        new RegExp(`on task queue "${taskQueue}" .*, metrics at http://127\\.0\\.0\\.1:${port}/metrics; Ctrl\\+C to stop`),
      );
      const dir = mkdtempSync(join(tmpdir(), 'opgraph-cli-metrics-'));
      const config = join(dir, 'greet.json');
      writeFileSync(config, JSON.stringify({ ops: { greeting: { config: { greeting: 'Hi', times: 1 } } } }));
      const run = await runOpgraph(['run', 'greet', '--no-worker', '-q', taskQueue, '-m', FIXTURES, '-c', config], env);
      rmSync(dir, { recursive: true, force: true });
      expect(run.code, run.stderr).toBe(0);
      let text = '';
      for (let i = 0; i < 40 && !/^opgraph_steps_succeeded_total\{.*job="greet"/m.test(text); i++) {
        text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(text).toMatch(/^opgraph_steps_succeeded_total\{.*job="greet".*op="greeting".*\} 1$/m);
      expect(text).toMatch(/^temporal_\w+/m);
    } finally {
      worker.child.kill('SIGINT');
    }
    const stopped = await worker.done;
    expect(stopped.code, stopped.stderr).toBe(0);
  }, 180_000);

  it('rejects a bad port (exit 2, saying what it takes)', async () => {
    const run = await runOpgraph(['worker', '-p', '1', '-m', FIXTURES, '--metrics-port', 'nine'], {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--metrics-port must be a port (1-65535) or host:port, e.g. 9464 or 127.0.0.1:9464; got "nine"');
  }, 60_000);
});
