/**
 * Port of the Dagster guide's full dynamic-graph example ("a mocked large dataset"):
 * shared/seeds/dagster-dynamic-graphs-guide.txt.
 *
 * load_pieces splits 0..99 into 50 chunks of 2 (mapping keys "0".."49"); compute_piece doubles each
 * chunk, once per key, as its own durable step; merge_and_analyze sums the pieces. numpy's `sum`
 * over arrays is elementwise, so the faithful result is [4900, 5000].
 */
import { DynamicOut, DynamicOutput, Definitions, job, op } from 'opgraph';

/** Mock a large dataset by creating an array of numbers, with a chunk method. */
function loadBigData(): { chunk(chunkSize?: number): Generator<[number, number[]]> } {
  const data = Array.from({ length: 100 }, (_, i) => i);
  return {
    *chunk(chunkSize = 2) {
      for (let i = 0; i < data.length; i += chunkSize) yield [i / chunkSize, data.slice(i, i + chunkSize)];
    },
  };
}

export const loadPieces = op({ name: 'load_pieces', out: new DynamicOut() }, async function* () {
  const largeData = loadBigData();
  for (const [idx, piece] of largeData.chunk()) {
    yield new DynamicOutput(piece, { mappingKey: String(idx) });
  }
});

export const computePiece = op({ name: 'compute_piece' }, async (ctx, piece: number[]) => {
  ctx.log.info(`Computing piece: ${JSON.stringify(piece)}`);
  const computedPiece = piece.map((x) => x * 2);
  ctx.log.info(`Computed piece: ${JSON.stringify(computedPiece)}`);
  return computedPiece;
});

/** Python's sum() over numpy arrays adds them elementwise. */
export const mergeAndAnalyze = op({ name: 'merge_and_analyze' }, async (ctx, pieces: number[][]) => {
  const total = pieces.reduce((acc, piece) => acc.map((x, i) => x + (piece[i] ?? 0)), [0, 0]);
  ctx.log.info(`Total sum of pieces: ${JSON.stringify(total)}`);
  return total;
});

export const dynamicGraph = job({ name: 'dynamic_graph' }, () => {
  const pieces = loadPieces();
  const results = pieces.map(computePiece);
  mergeAndAnalyze(results.collect());
});

export const defs = new Definitions({ jobs: [dynamicGraph] });
