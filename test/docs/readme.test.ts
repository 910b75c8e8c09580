/** The README's examples table and sample output say what the code does. */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defs } from '../../examples/definitions.ts';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The rows of the table under `## Examples`: file and the job names in backquotes. */
function exampleRows(): { file: string; jobs: string[] }[] {
  const section = README.split('\n## Examples\n')[1]?.split('\n## ')[0] ?? '';
  return section
    .split('\n')
    .filter((line) => /^\| `[\w-]+\.ts` \|/.test(line))
    .map((line) => {
      const [, file = '', jobs = ''] = line.split('|').map((c) => c.trim());
      const names = [...jobs.matchAll(/`(\w+)`/g)].map((m) => m[1] ?? '');
      // `dynamic_fanout_option_a` / `_b` / `_c`: suffixes of the first name.
      const first = names[0] ?? '';
      return {
        file: file.replaceAll('`', ''),
        jobs: names.map((n) => (n.startsWith('_') ? first.replace(/_[^_]+$/, n) : n)),
      };
    });
}

describe('README', () => {
  it("the examples table lists every job the examples' Definitions serve, each in the file it names", async () => {
    const rows = exampleRows();
    expect(rows.flatMap((r) => r.jobs).sort()).toEqual([...defs.jobs.keys()].sort());
    for (const row of rows) {
      const exported: Record<string, unknown> = await import(`../../examples/${row.file}`);
      const jobs = Object.values(exported).flatMap((v) =>
        [...defs.jobs.values()].includes(v as never) ? [(v as { name: string }).name] : [],
      );
      expect(jobs.sort(), `the jobs examples/${row.file} exports`).toEqual([...row.jobs].sort());
    }
  });

  it('the sample `opgraph run` output counts the jobs the worker serves', () => {
    expect(README).toContain(`Starting a worker in this process for ${defs.jobs.size} job(s) …`);
  });

  it('cancelled is spelled one way (CANCELLED, cancelled) in the README and what the CLI and client print', () => {
    const root = new URL('../../', import.meta.url);
    const files = ['README.md', ...['src/cli', 'src/client'].flatMap((dir) => readdirSync(new URL(dir, root)).map((f) => `${dir}/${f}`))];
    const found = files.flatMap((file) =>
      readFileSync(new URL(file, root), 'utf8')
        .split('\n')
        .flatMap((line, i) =>
          // Temporal's visibility query value is 'Canceled'; `--status canceled` is accepted as cancelled.
          /\bCANCELED\b|\bcanceled\b/.test(line) && !line.includes(".replace('canceled', 'cancelled')")
            ? [`${file}:${i + 1}: ${line.trim()}`]
            : [],
        ),
    );
    expect(found).toEqual([]);
  });
});
