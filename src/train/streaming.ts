/**
 * Streaming training data: a dataset read record by record, never held whole, for files larger
 * than memory should hold. Shuffling is Hugging Face datasets' `IterableDataset.shuffle(buffer_size)`:
 *
 *   - a buffer of `bufferSize` examples is filled from the stream (in file order);
 *   - then each new example replaces a uniformly drawn buffer slot, whose old example is emitted;
 *   - when the stream ends, the buffer is shuffled (Fisher-Yates) and emitted.
 *
 * So an example comes out at most `bufferSize` places earlier than its file position (it can stay
 * in the buffer arbitrarily long, so later is unbounded): a buffer at least the dataset's size is a full
 * shuffle, a small one only mixes neighbours. A file sorted by label or length needs a buffer that
 * spans the sorted runs (or a pre-shuffled file). The draws are seeded: the same seed, buffer and
 * file give the same order, which is what lets a resumed run skip to where it stopped.
 *
 * Memory is the buffer (plus one example): `bufferSize` examples, whatever the file's size.
 * Errors keep their origin: a record that fails to read or convert names its file and line.
 */
import { Rng } from '../tensor/random.js';
import {
  streamRecords,
  toExample,
  type ColumnMap,
  type Example,
  type ExampleKind,
  type Located,
  type ReadOptions,
} from './data.js';

/** A dataset read as a stream: each `open()` starts a fresh pass in file order. */
export interface StreamingDataset<T> {
  readonly streaming: true;
  /** A new pass over the examples, in file order. */
  open(): AsyncIterable<T>;
  /** Examples held for the shuffle (HF datasets' buffer_size; default 1000). */
  readonly bufferSize: number;
  /** Where the examples come from, for messages and the run log. */
  readonly description: string;
}

/** The default shuffle buffer (Hugging Face datasets' default buffer_size). */
export const DEFAULT_SHUFFLE_BUFFER = 1000;

/** Whether `data` is a {@link StreamingDataset} (rather than an array of examples). */
export function isStreamingDataset<T>(data: readonly T[] | StreamingDataset<T>): data is StreamingDataset<T> {
  return !Array.isArray(data) && (data as StreamingDataset<T>).streaming === true;
}

/** A streaming dataset from a function that opens a pass (e.g. over a generator or a file). */
export function streamingDataset<T>(
  open: () => AsyncIterable<T>,
  opts: { bufferSize?: number; description?: string } = {},
): StreamingDataset<T> {
  const bufferSize = opts.bufferSize ?? DEFAULT_SHUFFLE_BUFFER;
  if (!Number.isInteger(bufferSize) || bufferSize < 1)
    throw new Error(`streaming dataset: bufferSize must be an integer >= 1, got ${bufferSize}`);
  return { streaming: true, open, bufferSize, description: opts.description ?? 'stream' };
}

/**
 * The examples of a JSONL or CSV/TSV file, streamed (JSON and Parquet are read whole by their
 * readers and are better loaded with loadExamples). A bad record is an error naming file:line:field.
 */
export function streamExamples(
  path: string,
  opts: ReadOptions & { kind?: ExampleKind; columns?: ColumnMap; bufferSize?: number } = {},
): StreamingDataset<Located<Example>> {
  const { bufferSize, ...read } = opts;
  return streamingDataset(
    async function* () {
      for await (const r of streamRecords(path, read)) yield toExample(r, read);
    },
    { ...(bufferSize !== undefined ? { bufferSize } : {}), description: path },
  );
}

/**
 * Map each example (e.g. tokenize it). An error thrown by `fn` for an example with a `source`
 * (file and line) is re-thrown with that origin in front, so a bad row is still named.
 */
export function mapStreaming<T, U>(ds: StreamingDataset<T>, fn: (example: T) => U): StreamingDataset<U> {
  return streamingDataset(
    async function* () {
      for await (const x of ds.open()) {
        let y: U;
        try {
          y = fn(x);
        } catch (e) {
          const src = (x as { source?: { file?: unknown; line?: unknown } }).source;
          const msg = (e as Error).message;
          if (src && typeof src.file === 'string' && typeof src.line === 'number' && !msg.startsWith(`${src.file}:`))
            throw new Error(`${src.file}:${src.line}: ${msg}`, { cause: e });
          throw e;
        }
        yield y;
      }
    },
    { bufferSize: ds.bufferSize, description: ds.description },
  );
}

/** Hugging Face datasets' buffered shuffle (see the module comment) of a stream, seeded. */
export async function* shuffleBuffer<T>(source: AsyncIterable<T>, bufferSize: number, seed: number): AsyncGenerator<T> {
  if (!Number.isInteger(bufferSize) || bufferSize < 1)
    throw new Error(`shuffleBuffer: bufferSize must be an integer >= 1, got ${bufferSize}`);
  const rng = new Rng(seed);
  const buffer: T[] = [];
  for await (const x of source) {
    if (buffer.length === bufferSize) {
      const i = rng.int(bufferSize);
      const out = buffer[i] as T;
      buffer[i] = x;
      yield out;
    } else buffer.push(x);
  }
  rng.shuffle(buffer);
  yield* buffer;
}
