/**
 * safetensors reader and writer (https://github.com/huggingface/safetensors), independent of the
 * tensor core: tensors come back as plain typed arrays plus shapes.
 *
 * File layout: an 8-byte little-endian u64 N, N bytes of UTF-8 JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}`, then the byte
 * buffer that the offsets index (relative to the end of the header).
 *
 * Files are untrusted. The reader applies the checks of the Rust reference (`Metadata::validate` and
 * `SafeTensors::read_metadata`): header at most 100 MB, valid JSON object, known dtypes, byte size ==
 * product(shape) × dtype size, offsets sorted by begin cover the buffer contiguously (no overlaps, no
 * holes) and end exactly at the end of the file. Every error names the file, the tensor and what was
 * expected.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { isPlainObject, readJsonObject } from './json.js';
import { describeFsError, writeFileAtomic } from './files.js';

/**
 * Element types, listed in the order of the Rust reference's `Dtype` enum (increasing alignment). The
 * writer sorts tensors by this order, descending, then by name, as the reference does.
 */
const DTYPE_ORDER = [
  'BOOL',
  'U8',
  'I8',
  'F8_E5M2',
  'F8_E4M3',
  'F8_E8M0',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'F64',
  'I64',
  'U64',
] as const;

/** A safetensors element type. Sub-byte types (F4, F6_*) and complex C64 are not supported. */
export type Dtype = (typeof DTYPE_ORDER)[number];

/** Bytes per element of each dtype. */
export const DTYPE_SIZE: Readonly<Record<Dtype, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

/**
 * Typed array holding a tensor's elements. F16 and BF16 are the raw 16-bit patterns in a Uint16Array
 * (convert with {@link f16ToF32} / {@link bf16ToF32}); BOOL and the F8 types are raw bytes.
 */
export type TensorData =
  | Float32Array
  | Float64Array
  | Uint16Array
  | Int16Array
  | Int32Array
  | Uint32Array
  | Int8Array
  | Uint8Array
  | BigInt64Array
  | BigUint64Array;

/** One tensor as stored in a file: dtype, row-major shape and its elements. */
export interface RawTensor {
  dtype: Dtype;
  shape: number[];
  data: TensorData;
}

/** Contents of a safetensors file. `metadata` is the optional `__metadata__` string map ({} if absent). */
export interface SafetensorsContents {
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
}

/** Largest accepted header, as the Rust reference's MAX_HEADER_SIZE. */
export const MAX_HEADER_BYTES = 100_000_000;

interface HeaderEntry {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

function isDtype(value: unknown): value is Dtype {
  return typeof value === 'string' && (DTYPE_ORDER as readonly string[]).includes(value);
}

function assertLittleEndianHost(): void {
  // Typed arrays use the host byte order; safetensors is little-endian.
  if (endianness() !== 'LE') throw new Error('safetensors: big-endian hosts are not supported');
}

function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Allocates a typed array of `count` elements for `dtype`. */
function allocate(dtype: Dtype, count: number): TensorData {
  switch (dtype) {
    case 'F32':
      return new Float32Array(count);
    case 'F64':
      return new Float64Array(count);
    case 'F16':
    case 'BF16':
    case 'U16':
      return new Uint16Array(count);
    case 'I16':
      return new Int16Array(count);
    case 'I32':
      return new Int32Array(count);
    case 'U32':
      return new Uint32Array(count);
    case 'I64':
      return new BigInt64Array(count);
    case 'U64':
      return new BigUint64Array(count);
    case 'I8':
      return new Int8Array(count);
    case 'BOOL':
    case 'U8':
    case 'F8_E5M2':
    case 'F8_E4M3':
    case 'F8_E8M0':
      return new Uint8Array(count);
  }
}

/**
 * The first key that appears twice at the top level of a JSON object text (already known to be
 * valid JSON), or null. JSON.parse keeps the last of duplicate keys without a word.
 */
function firstDuplicateTopLevelKey(text: string): string | null {
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      while (j < text.length && text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c /* \ */ ? 2 : 1;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (seen.has(key)) return key;
        seen.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
      expectKey = depth === 1;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    } else if (c === 0x2c /* , */ && depth === 1) {
      expectKey = true;
    }
  }
  return null;
}

/**
 * Parses and validates a header's JSON text. `fileLabel` prefixes every error message;
 * `bufferBytes` is the size of the data section the offsets must cover exactly.
 */
function parseHeader(
  fileLabel: string,
  text: string,
  bufferBytes: number,
): { entries: HeaderEntry[]; metadata: Record<string, string> } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${fileLabel}: header is not valid JSON (${(err as Error).message})`, { cause: err });
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new Error(
      `${fileLabel}: header must be a JSON object, got ${Array.isArray(json) ? 'an array' : json === null ? 'null' : typeof json}`,
    );
  }
  const duplicate = firstDuplicateTopLevelKey(text);
  if (duplicate !== null)
    throw new Error(
      `${fileLabel}: the header names tensor "${duplicate}" more than once (JSON would silently keep only the last)`,
    );
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new Error(`${fileLabel}: "__metadata__" must be an object of strings`);
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string')
          throw new Error(`${fileLabel}: "__metadata__"."${k}" must be a string, got ${JSON.stringify(v)}`);
        metadata[k] = v;
      }
      continue;
    }
    const where = `${fileLabel}: tensor "${name}"`;
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      throw new Error(`${where}: expected an object {dtype, shape, data_offsets}`);
    const info = value as Record<string, unknown>;
    if (!isDtype(info.dtype)) {
      throw new Error(
        `${where}: unknown dtype ${JSON.stringify(info.dtype)} (expected one of ${DTYPE_ORDER.join(', ')})`,
      );
    }
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      throw new Error(`${where}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    const offsets = info.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)
    ) {
      throw new Error(
        `${where}: data_offsets must be [begin, end] non-negative integers, got ${JSON.stringify(offsets)}`,
      );
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) throw new Error(`${where}: data_offsets [${begin}, ${end}] end before begin`);
    if (end > bufferBytes) {
      throw new Error(`${where}: data_offsets [${begin}, ${end}] run past the data section (${bufferBytes} bytes)`);
    }
    const elements = numel(shape as number[]);
    const bytes = elements * DTYPE_SIZE[info.dtype];
    if (!Number.isSafeInteger(bytes) || bytes !== end - begin) {
      throw new Error(
        `${where}: shape ${JSON.stringify(shape)} × ${info.dtype} (${DTYPE_SIZE[info.dtype]} bytes) needs ${bytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
      );
    }
    entries.push({ name, dtype: info.dtype, shape: shape as number[], begin, end });
  }
  // Sorted by offsets, the ranges must tile the data section: each begins where the previous ended.
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of byOffset) {
    if (e.begin !== cursor) {
      const what =
        e.begin < cursor
          ? 'overlaps the previous tensor'
          : `leaves a gap of ${e.begin - cursor} bytes after the previous tensor`;
      throw new Error(
        `${fileLabel}: tensor "${e.name}": data_offsets [${e.begin}, ${e.end}] ${what} (expected begin ${cursor})`,
      );
    }
    cursor = e.end;
  }
  if (cursor !== bufferBytes) {
    throw new Error(
      `${fileLabel}: tensors cover ${cursor} bytes but the data section has ${bufferBytes} bytes (truncated or padded file)`,
    );
  }
  return { entries, metadata };
}

function readExactly(fd: number, target: Uint8Array, position: number, fileLabel: string, what: string): void {
  let done = 0;
  while (done < target.length) {
    const n = readSync(fd, target, done, target.length - done, position + done);
    if (n === 0) throw new Error(`${fileLabel}: unexpected end of file while reading ${what}`);
    done += n;
  }
}

/** Header entry of one tensor: dtype, shape and byte range inside the data section. */
export interface TensorInfo {
  dtype: Dtype;
  shape: number[];
  dataOffsets: [number, number];
}

/** Opens a safetensors file, with errors naming it (not found, a folder, not a regular file). */
function openForReading(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw describeFsError(path, err);
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw new Error(
      `${path}: ${st.isDirectory() ? 'is a folder' : 'is not a regular file'}, expected a safetensors file`,
    );
  }
  return fd;
}

/** Reads and validates the header of an open file; see {@link readSafetensors} for the checks. */
function readHeader(
  fd: number,
  label: string,
): { entries: HeaderEntry[]; metadata: Record<string, string>; dataStart: number } {
  assertLittleEndianHost();
  const fileBytes = fstatSync(fd).size;
  if (fileBytes < 8) throw new Error(`${label}: file is ${fileBytes} bytes, too small for the 8-byte header length`);
  const lengthBytes = new Uint8Array(8);
  readExactly(fd, lengthBytes, 0, label, 'the header length');
  const headerLength = new DataView(lengthBytes.buffer).getBigUint64(0, true);
  // Checked before allocating anything, so a lying length cannot exhaust memory.
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw new Error(
      `${label}: header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit (corrupt or not a safetensors file)`,
    );
  }
  const n = Number(headerLength);
  if (8 + n > fileBytes)
    throw new Error(`${label}: header length ${n} runs past the end of the ${fileBytes}-byte file`);
  const headerBytes = new Uint8Array(n);
  readExactly(fd, headerBytes, 8, label, 'the header');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new Error(`${label}: header is not valid UTF-8`);
  }
  if (!text.startsWith('{')) throw new Error(`${label}: header must start with "{" (JSON object)`);
  const dataStart = 8 + n;
  return { ...parseHeader(label, text, fileBytes - dataStart), dataStart };
}

/**
 * Reads only the (validated) header: names, dtypes, shapes and offsets, without loading any data.
 *
 * @param path the .safetensors file
 * @returns tensor infos by name (in header order) and the `__metadata__` map ({} when absent)
 */
export function readSafetensorsHeader(path: string): {
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
} {
  const fd = openForReading(path);
  try {
    const { entries, metadata } = readHeader(fd, path);
    const tensors = new Map(
      entries.map((e): [string, TensorInfo] => [
        e.name,
        { dtype: e.dtype, shape: [...e.shape], dataOffsets: [e.begin, e.end] },
      ]),
    );
    return { tensors, metadata };
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a safetensors file into typed arrays (one copy per tensor, each in its own aligned buffer).
 * Memory is bounded by the header (≤ {@link MAX_HEADER_BYTES}) plus the tensors themselves: data is
 * read straight from the file descriptor into the destination arrays.
 *
 * The header is checked like the Rust reference: length ≤ 100 MB and inside the file, UTF-8 JSON
 * object, known dtypes, non-negative integer shapes, byte size = numel × dtype size, offsets that tile
 * the data section exactly (no overlap, no hole, no trailing bytes), string metadata values.
 *
 * @param path the .safetensors file
 * @param options.names load only these tensors (default: all); a missing name is an error
 * @returns tensors by name (in header order) and the `__metadata__` map ({} when absent)
 * @throws Error naming the file (and tensor) on any malformed header, dtype, shape or offsets
 */
export function readSafetensors(path: string, options: { names?: Iterable<string> } = {}): SafetensorsContents {
  const fd = openForReading(path);
  try {
    const { entries, metadata, dataStart } = readHeader(fd, path);
    let wanted = entries;
    if (options.names !== undefined) {
      const byName = new Map(entries.map((e) => [e.name, e]));
      wanted = [...options.names].map((name) => {
        const e = byName.get(name);
        if (!e) throw new Error(`${path}: no tensor named "${name}"`);
        return e;
      });
    }
    // Tensors keep the header's order, which is also the order the reference writes them.
    const tensors = new Map<string, RawTensor>();
    for (const e of wanted) {
      const data = allocate(e.dtype, numel(e.shape));
      readExactly(
        fd,
        new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
        dataStart + e.begin,
        path,
        `tensor "${e.name}"`,
      );
      tensors.set(e.name, { dtype: e.dtype, shape: [...e.shape], data });
    }
    return { tensors, metadata };
  } finally {
    closeSync(fd);
  }
}

/** Sort key of the writer: descending dtype alignment, then name (as the Rust reference's `prepare`). */
function compareForWriting(a: [string, RawTensor], b: [string, RawTensor]): number {
  const byDtype = DTYPE_ORDER.indexOf(b[1].dtype) - DTYPE_ORDER.indexOf(a[1].dtype);
  if (byDtype !== 0) return byDtype;
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/**
 * Builds the padded JSON header for `tensors` (already in writing order): `__metadata__` first (when
 * given, keys sorted), then each tensor, compact JSON, padded with spaces to a multiple of 8 bytes so
 * the data section starts aligned.
 */
function buildHeader(ordered: [string, RawTensor][], metadata: Record<string, string> | undefined): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    const sorted: Record<string, string> = {};
    for (const k of Object.keys(metadata).sort()) sorted[k] = metadata[k]!;
    header.__metadata__ = sorted;
  }
  let offset = 0;
  for (const [name, t] of ordered) {
    const bytes = t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = new Uint8Array(json.length + ((8 - (json.length % 8)) % 8)).fill(0x20);
  padded.set(json);
  return padded;
}

/**
 * Writes tensors to a safetensors file the way the reference serializer does: tensors sorted by
 * descending dtype alignment then name, header padded with spaces to 8 bytes, dtype preserved.
 * The file is written atomically ({@link writeFileAtomic}: temporary file, fsync, rename), so
 * readers never see a partial file.
 *
 * @param path destination file
 * @param tensors tensors by name (a Map or a plain object); `data.byteLength` must equal numel × dtype size
 * @param metadata optional `__metadata__` string map (e.g. `{format: 'pt'}`); omitted from the header when undefined
 * @throws Error naming the tensor when a dtype, shape or data length is inconsistent, or a name is "__metadata__"
 */
export function writeSafetensors(
  path: string,
  tensors: Map<string, RawTensor> | Record<string, RawTensor>,
  metadata?: Record<string, string>,
): void {
  assertLittleEndianHost();
  const entries: [string, RawTensor][] = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  for (const [name, t] of entries) {
    const where = `writeSafetensors(${path}): tensor "${name}"`;
    if (name === '__metadata__') throw new Error(`${where}: the name "__metadata__" is reserved`);
    if (!isDtype(t.dtype))
      throw new Error(`${where}: unknown dtype ${JSON.stringify(t.dtype)} (expected one of ${DTYPE_ORDER.join(', ')})`);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`${where}: shape must be an array of non-negative integers, got ${JSON.stringify(t.shape)}`);
    }
    const expected = numel(t.shape) * DTYPE_SIZE[t.dtype];
    if (t.data.byteLength !== expected) {
      throw new Error(
        `${where}: shape ${JSON.stringify(t.shape)} × ${t.dtype} needs ${expected} bytes, data has ${t.data.byteLength}`,
      );
    }
  }
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`writeSafetensors(${path}): metadata "${k}" must be a string`);
    }
  }
  const ordered = entries.sort(compareForWriting);
  const header = buildHeader(ordered, metadata);
  const lengthBytes = new Uint8Array(8);
  new DataView(lengthBytes.buffer).setBigUint64(0, BigInt(header.length), true);

  writeFileAtomic(path, (fd) => {
    writeAll(fd, lengthBytes);
    writeAll(fd, header);
    for (const [, t] of ordered) writeAll(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  });
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}

/** Largest accepted model.safetensors.index.json. */
const MAX_INDEX_BYTES = 50_000_000;

/**
 * Reads a sharded checkpoint through `model.safetensors.index.json` (`{"metadata": {...},
 * "weight_map": {tensor: shard file}}`). Every shard listed must exist inside `dir`, each tensor
 * must be found in the shard the map names, and no tensor may appear in two shards.
 *
 * @param dir folder holding the index and the shards
 * @param indexFile index file name; default `model.safetensors.index.json`
 * @returns all tensors, and the metadata of the shards merged (first shard's value wins)
 */
export function readShardedSafetensors(dir: string, indexFile = 'model.safetensors.index.json'): SafetensorsContents {
  const indexPath = join(dir, indexFile);
  const index = readJsonObject(indexPath, MAX_INDEX_BYTES);
  const weightMap = index.weight_map;
  if (!isPlainObject(weightMap))
    throw new Error(`${indexPath}: field "weight_map" must be an object {tensor name: shard file}`);
  const shardToNames = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(weightMap)) {
    if (
      typeof shard !== 'string' ||
      shard === '' ||
      shard.includes('/') ||
      shard.includes('\\') ||
      shard === '..' ||
      shard === '.'
    ) {
      throw new Error(
        `${indexPath}: weight_map["${name}"] must be a file name inside the folder, got ${JSON.stringify(shard)}`,
      );
    }
    (shardToNames.get(shard) ?? shardToNames.set(shard, []).get(shard)!).push(name);
  }
  for (const shard of shardToNames.keys()) {
    if (!existsSync(join(dir, shard)))
      throw new Error(`${indexPath}: shard "${shard}" listed in weight_map does not exist in ${dir}`);
  }
  const tensors = new Map<string, RawTensor>();
  const metadata: Record<string, string> = {};
  for (const [shard, names] of shardToNames) {
    const shardPath = join(dir, shard);
    const contents = readSafetensors(shardPath);
    for (const [k, v] of Object.entries(contents.metadata)) if (!(k in metadata)) metadata[k] = v;
    for (const name of names) {
      if (!contents.tensors.has(name))
        throw new Error(`${shardPath}: tensor "${name}" listed in ${indexFile} is missing from this shard`);
    }
    for (const [name, t] of contents.tensors) {
      if (tensors.has(name)) throw new Error(`${shardPath}: tensor "${name}" also appears in another shard`);
      tensors.set(name, t);
    }
  }
  return { tensors, metadata };
}

/** Half-precision conversions (one implementation, shared with the kernels). */
export { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../dtypes/half.js';
