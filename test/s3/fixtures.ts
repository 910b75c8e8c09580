/**
 * The two-worker S3 job: `s3_split` fans out COUNT pieces of ITEM_CHARS characters each (above the
 * store threshold, so every piece travels as a stored reference), `s3_process` runs once per piece and
 * returns a larger value, and the graph `s3_processed` collects them for `s3_summarize`. Each value
 * says which worker made it (OPGRAPH_TEST_WORKER), so a test sees values cross machines.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Definitions, DynamicOut, DynamicOutput, graph, job, op } from '../../src/index.ts';
import { PAYLOAD } from '../../src/dsl/limits.ts';

export const COUNT = 6;
/** Each piece's text: above the default store threshold (128 KiB) by itself. */
export const ITEM_CHARS = PAYLOAD.storeThreshold + 30_000;
/** What s3_process appends: its output is larger still. */
export const EXTRA_CHARS = 40_000;

export interface Piece {
  readonly index: number;
  readonly producer: string;
  readonly text: string;
}

export interface Processed {
  readonly index: number;
  /** The worker that ran s3_process for this piece. */
  readonly producer: string;
  /** The worker that produced its input (s3_split). */
  readonly inputProducer: string;
  readonly inputSha: string;
  readonly text: string;
}

export interface Summary {
  readonly count: number;
  readonly producers: string[];
  readonly chars: number;
  readonly shas: string[];
  readonly reader: string;
}

export function workerName(): string {
  return process.env.OPGRAPH_TEST_WORKER ?? `pid ${process.pid}`;
}

export function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Piece `index`'s text: deterministic, different for every index. */
export function pieceText(index: number): string {
  const unit = `piece ${index} · `;
  return unit.repeat(Math.ceil(ITEM_CHARS / unit.length)).slice(0, ITEM_CHARS);
}

export function processedText(index: number): string {
  return pieceText(index).toUpperCase() + '!'.repeat(EXTRA_CHARS);
}

export const s3Split = op({ name: 's3_split', out: new DynamicOut<Piece>() }, async function* () {
  for (let index = 0; index < COUNT; index++) {
    yield new DynamicOutput<Piece>({ index, producer: workerName(), text: pieceText(index) }, { mappingKey: `p${index}` });
  }
});

export const s3Process = op({ name: 's3_process' }, async (_ctx, piece: Piece): Promise<Processed> => {
  // Long enough that, with one activity slot per worker, both workers take pieces.
  await sleep(400);
  return {
    index: piece.index,
    producer: workerName(),
    inputProducer: piece.producer,
    inputSha: sha(piece.text),
    text: piece.text.toUpperCase() + '!'.repeat(EXTRA_CHARS),
  };
});

export const s3Summarize = op({ name: 's3_summarize' }, async (_ctx, all: Processed[]): Promise<Summary> => ({
  count: all.length,
  producers: [...new Set(all.map((p) => p.producer))].sort(),
  chars: all.reduce((n, p) => n + p.text.length, 0),
  shas: all.map((p) => sha(p.text)),
  reader: workerName(),
}));

export const s3Processed = graph({ name: 's3_processed' }, () => s3Split().map(s3Process).collect());

export const s3Job = job({ name: 's3_two_workers' }, () => {
  s3Summarize(s3Processed());
});

export const s3Defs = new Definitions({ jobs: [s3Job] });
