/** The worker-process supervisor's restart rules (src/cli/supervise.ts), with tiny stand-in children instead of workers. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/errors.ts';
import { DEFAULT_RESTART_POLICY, describeChildExit, formatDelay, nextRestartDelay, superviseProcesses } from '../../src/cli/supervise.ts';

describe('nextRestartDelay', () => {
  it('starts at 1 s, doubles on each quick crash, caps at 30 s', () => {
    const delays: number[] = [];
    let previous: number | undefined;
    for (let i = 0; i < 8; i++) {
      previous = nextRestartDelay(previous, 500);
      delays.push(previous);
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('goes back to 1 s after a child ran healthy for a minute', () => {
    expect(nextRestartDelay(30_000, DEFAULT_RESTART_POLICY.resetAfterMs)).toBe(1_000);
    expect(nextRestartDelay(30_000, DEFAULT_RESTART_POLICY.resetAfterMs - 1)).toBe(30_000);
  });

  it('describes how a child ended and the delay', () => {
    expect([250, 1_000, 1_500, 30_000].map(formatDelay)).toEqual(['250 ms', '1 s', '1.5 s', '30 s']);
    expect(describeChildExit(1, null)).toBe('exited with code 1');
    expect(describeChildExit(null, 'SIGKILL')).toBe('was killed by SIGKILL');
  });
});

describe('superviseProcesses', () => {
  it('restarts a crashing child with growing delays and gives up on a usage error (exit code 2), logging each restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opgraph-supervise-'));
    try {
      // Each start appends a line; runs 1–3 crash (exit 1, then SIGKILL, then exit 1), run 4 exits 2.
      const script = `
        const fs = require('node:fs');
        const file = ${JSON.stringify(join(dir, 'starts'))};
        fs.appendFileSync(file, 'x');
        const n = fs.readFileSync(file, 'utf8').length;
        if (n === 2) process.kill(process.pid, 'SIGKILL');
        process.exit(n >= 4 ? 2 : 1);`;
      const lines: string[] = [];
      const started = Date.now();
      const code = await superviseProcesses({
        processes: 1,
        command: process.execPath,
        args: ['-e', script],
        cwd: dir,
        env: process.env,
        log: (line) => lines.push(line),
        policy: { initialDelayMs: 100, maxDelayMs: 250, resetAfterMs: 60_000 },
      });
      expect(code).toBe(EXIT.usage);
      expect(lines[0]).toMatch(/starting 1 worker processes/);
      const restarts = lines.filter((l) => l.includes('restarting it in'));
      expect(restarts).toHaveLength(3);
      expect(restarts[0]).toMatch(/process 1 \(pid \d+\) exited with code 1 after [\d.]+ s; restarting it in 100 ms \(restart #1\)/);
      expect(restarts[1]).toMatch(/process 1 \(pid \d+\) was killed by SIGKILL after [\d.]+ s; restarting it in 200 ms \(restart #2\)/);
      expect(restarts[2]).toMatch(/restarting it in 250 ms \(restart #3\)/);
      expect(lines.filter((l) => /process 1 started \(pid \d+\), restart #\d/.test(l))).toHaveLength(3);
      expect(lines.some((l) => /exited with code 2 .*usage or definitions error/.test(l))).toBe(true);
      expect(lines.at(-1)).toMatch(/all 1 worker processes stopped/);
      // 100 + 200 + 250 ms of backoff at least.
      expect(Date.now() - started).toBeGreaterThanOrEqual(550);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
