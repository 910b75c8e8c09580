/**
 * Port of the DynamicOut example in Dagster's API reference ("Dynamic Mapping & Collect"):
 * shared/seeds/dagster-dynamic-api-reference.txt. The op bodies the reference leaves out
 * (`_clean`, `process_file`, `summarize_directory`) follow Dagster's docs snippet for the same job:
 * the size of each file, then the total.
 *
 * files_in_directory lists the files of the directory named by its op config (default: the sample
 * files shipped in examples/data/sample-files) and yields one path per file, keyed by a cleaned file
 * name; process_file runs once per file; summarize_directory totals the sizes.
 *
 * Differences from the Python, on purpose:
 * - Mapping keys must match ^[A-Za-z0-9_]+$. Dagster's snippet only replaces "." and "-", so a file
 *   named "notes v2.txt" would fail the step; here every other character becomes "_", and a name that
 *   collides with an earlier one gets "_2", "_3"… so keys stay unique ("a.b.json" and "a_b.json").
 * - os.walk lists files in directory order, which varies by file system; here they are sorted by
 *   name, so keys, clones and the collected list come in the same order on every machine.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { DynamicOut, DynamicOutput, job, op } from 'opgraph';

/** The directory of sample files shipped with the examples. */
export const SAMPLE_FILES_DIR = fileURLToPath(new URL('./data/sample-files', import.meta.url));

const MAX_KEY_LENGTH = 200;

/** A file name as a valid mapping key: every character outside [A-Za-z0-9_] becomes "_". */
export function clean(file: string): string {
  return file.replace(/[^A-Za-z0-9_]/g, '_');
}

/** Cleaned keys for `files`, in order, made unique with "_2", "_3"… suffixes and kept within 200 chars. */
export function mappingKeysFor(files: readonly string[]): string[] {
  const used = new Set<string>();
  return files.map((file) => {
    const base = clean(file).slice(0, MAX_KEY_LENGTH) || '_';
    let key = base;
    for (let n = 2; used.has(key); n++) {
      const suffix = `_${n}`;
      key = `${base.slice(0, MAX_KEY_LENGTH - suffix.length)}${suffix}`;
    }
    used.add(key);
    return key;
  });
}

export const filesInDirectoryConfig = z
  .object({
    /** The directory whose files are processed (not recursive, like `next(os.walk(path))`). */
    path: z.string().min(1).default(SAMPLE_FILES_DIR),
  })
  .strict()
  .prefault({});

export const filesInDirectory = op(
  { name: 'files_in_directory', config: filesInDirectoryConfig, out: new DynamicOut<string>() },
  async function* (ctx) {
    const dirname = ctx.opConfig.path;
    const entries = await readdir(dirname, { withFileTypes: true });
    const filenames = entries
      .filter((e) => e.isFile())
      .map((e) => e.name)
      .sort();
    const keys = mappingKeysFor(filenames);
    for (const [i, file] of filenames.entries()) {
      // create a mapping key from the file name
      yield new DynamicOutput(join(dirname, file), { mappingKey: keys[i] ?? clean(file) });
    }
  },
);

/** Simple example of calculating size. */
export const processFile = op({ name: 'process_file' }, async (_ctx, path: string) => (await stat(path)).size);

/** Simple example of totalling sizes. */
export const summarizeDirectory = op({ name: 'summarize_directory' }, async (_ctx, sizes: number[]) =>
  sizes.reduce((total, size) => total + size, 0),
);

export const processDirectory = job({ name: 'process_directory' }, () => {
  const files = filesInDirectory();

  // use map to invoke an op on each dynamic output
  const fileResults = files.map(processFile);

  // use collect to gather the results in to a list
  summarizeDirectory(fileResults.collect());
});
