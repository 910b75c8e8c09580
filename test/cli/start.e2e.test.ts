/**
 * `npm start` (examples/main.ts) keeps the embedded dev server and its Web UI up after the run, so the
 * link it prints works, until Enter; then the server stops and the link with it.
 * (OPGRAPH_KEEP_UI=1 stands in for a terminal: the test's stdin is a pipe.)
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ROOT } from './spawn.ts';

/** The README's sample of `npm start`, each line as a pattern: `…` and numbers stand for what varies. */
function readmeSample(): RegExp[] {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const block = readme.split('`npm start` prints something like:\n\n```\n')[1]?.split('\n```')[0] ?? '';
  return block.split('\n').map(
    (line) =>
      new RegExp(
        `^${line
          .replace(/[0-9a-f]{8}-…/g, '…') // a run id cut short
          .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
          .replaceAll('…', '.*')
          .replace(/\d+/g, '\\d+')}$`,
      ),
  );
}

describe('npm start', () => {
  it('keeps the Web UI up until Enter, then stops it', async () => {
    const { TEMPORAL_ADDRESS: _a, NODE_OPTIONS: _o, ...inherited } = process.env;
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/main.ts'], {
      cwd: ROOT,
      env: { ...inherited, OPGRAPH_KEEP_UI: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const deadline = Date.now() + 150_000;
    while (!out.includes('press Enter or Ctrl+C') && Date.now() < deadline && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(out, err).toContain('The dev server and its Web UI stay up so the link works: press Enter or Ctrl+C to stop them.');
    expect(out).toContain('merge_and_analyze = [4900,5000]');
    const link = /See the run in the Temporal Web UI: (\S+)/.exec(out)?.[1];
    expect(link).toBeDefined();
    const page = await fetch(link ?? '');
    expect(page.status).toBe(200);
    await page.text();

    // The README's sample is what it prints, line for line.
    const lines = out.trimEnd().split('\n');
    const sample = readmeSample();
    expect(sample.length).toBeGreaterThan(4);
    expect(lines).toHaveLength(sample.length);
    sample.forEach((pattern, i) => expect(lines[i]).toMatch(pattern));

    child.stdin.write('\n');
    expect(await exited).toBe(0);
    expect(out).toContain('Stopping the dev server.');
    await expect(fetch(link ?? '')).rejects.toThrow();
  }, 180_000);
});
