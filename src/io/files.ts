/**
 * File safety primitives: atomic file and folder writes that survive a crash (kill -9, power loss)
 * at any point, cleanup of the temporaries a killed run leaves behind, and bounded reads that work
 * on any file type (regular files, pipes, devices such as /dev/zero).
 *
 * Temporary names are recognisable and carry their owner, so that cleanup only ever touches our own
 * leftovers of runs that are no longer alive:
 *
 *     .<name>.tunekit-tmp-<host>-<pid>-<rand>   a file or folder being written
 *     .<name>.tunekit-old-<host>-<pid>-<rand>   the previous version of a folder during its swap
 *
 * `<host>` is a short hash of the host name (a pid is only meaningful on its own machine: entries
 * of other hosts are never touched), `<pid>` the writer's process id, `<rand>` 6 random hex digits.
 * Names longer than 180 bytes are replaced by a hash (kinds `tmph` / `oldh`).
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  cpSync,
  existsSync,
  fstatSync,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';

// ---------------------------------------------------------------------------------------------
// Temporary names and liveness

const HOST = createHash('sha256').update(hostname()).digest('hex').slice(0, 6);
const TEMP_RE = /^\.(.*)\.tunekit-(tmp|old|tmph|oldh)-([0-9a-f]{6})-(\d+)-([0-9a-f]{6})$/;
const MAX_STEM_BYTES = 180;

interface TempName {
  stem: string;
  kind: 'tmp' | 'old';
  hashed: boolean;
  host: string;
  pid: number;
}

function stemOf(name: string): { stem: string; hashed: boolean } {
  if (Buffer.byteLength(name) <= MAX_STEM_BYTES) return { stem: name, hashed: false };
  return { stem: createHash('sha256').update(name).digest('hex').slice(0, 32), hashed: true };
}

/** A fresh operation token: `<host>-<pid>-<rand>`. */
function newToken(): string {
  return `${HOST}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** The temporary name of `kind` for the entry `name`, under the operation token. */
function tempName(name: string, kind: 'tmp' | 'old', token: string): string {
  const { stem, hashed } = stemOf(name);
  return `.${stem}.tunekit-${kind}${hashed ? 'h' : ''}-${token}`;
}

function parseTempName(name: string): TempName | null {
  const m = TEMP_RE.exec(name);
  if (!m) return null;
  const [, stem = '', kind = '', host = '', pid = ''] = m;
  return { stem, kind: kind.startsWith('tmp') ? 'tmp' : 'old', hashed: kind.endsWith('h'), host, pid: Number(pid) };
}

/** True unless the process is known to be gone (a process of another user counts as alive). */
function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True for a temporary of ours (this host) whose writer has died. */
function isStale(t: TempName): boolean {
  return t.host === HOST && !processAlive(t.pid);
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

const cleanedFolders = new Set<string>();

/**
 * Removes (or, for an interrupted folder swap, restores) the temporaries that killed runs of this
 * host left in `folder`. Only names of the form described at the top of this file whose writer
 * process is gone are touched:
 * - `…tunekit-tmp-…` (an unfinished file or folder) is deleted;
 * - `…tunekit-old-…` (a previous folder version moved aside during a swap) is renamed back to its
 *   name when that name is absent (the swap was interrupted between its two renames), else deleted.
 *   Hashed long names (`oldh`) are resolved only by {@link recoverFolder}, which knows the name.
 *
 * Called by every write of this module (once per folder and process); call it directly before
 * reading a folder that a crashed run may have been writing.
 *
 * @returns the names removed or restored (for logs and tests)
 */
export function cleanStaleTemps(folder: string): string[] {
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return [];
  }
  const touched: string[] = [];
  for (const name of names) {
    const t = parseTempName(name);
    if (!t || !isStale(t)) continue;
    const path = join(folder, name);
    try {
      if (t.kind === 'old' && !t.hashed && !exists(join(folder, t.stem))) renameSync(path, join(folder, t.stem));
      else if (t.kind === 'tmp' || !t.hashed) rmSync(path, { recursive: true, force: true });
      else continue;
      touched.push(name);
    } catch {
      // another process cleaned it first, or no permission: leave it
    }
  }
  cleanedFolders.add(resolve(folder));
  return touched;
}

function cleanOnce(folder: string): void {
  if (!cleanedFolders.has(resolve(folder))) cleanStaleTemps(folder);
}

/**
 * Brings back `dir` if a killed run was swapping it (see {@link writeFolderAtomicSync}): when `dir`
 * is absent and a stale `.old` copy exists, the copy is renamed back. Also cleans the other stale
 * temporaries next to `dir`. Returns true when `dir` was restored.
 */
export function recoverFolder(dir: string): boolean {
  const path = resolve(dir);
  const parent = dirname(path);
  const { stem, hashed } = stemOf(basename(path));
  let restored = false;
  if (!exists(path)) {
    let names: string[] = [];
    try {
      names = readdirSync(parent);
    } catch {
      // no parent folder: nothing to recover
    }
    for (const name of names) {
      const t = parseTempName(name);
      if (!t || t.kind !== 'old' || t.stem !== stem || t.hashed !== hashed || !isStale(t)) continue;
      try {
        renameSync(join(parent, name), path);
        restored = true;
        break;
      } catch {
        // raced with another recovery
      }
    }
  }
  cleanStaleTemps(parent);
  return restored;
}

// ---------------------------------------------------------------------------------------------
// Durability helpers

/** fsync a folder so that renames and creations inside it are on disk. */
export function fsyncFolder(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch (err) {
    // Some platforms and filesystems cannot fsync a directory; the data files themselves were synced.
    if (!['EINVAL', 'EPERM', 'EISDIR', 'EBADF', 'ENOTSUP'].includes(errCode(err) ?? '')) throw err;
  } finally {
    closeSync(fd);
  }
}

/** fsync every regular file and folder under `root` (files first, then their folders). */
function fsyncTree(root: string): void {
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const path = join(root, entry.name);
    if (entry.isDirectory()) fsyncTree(path);
    else if (entry.isFile()) {
      const fd = openSync(path, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
  }
  fsyncFolder(root);
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}

// ---------------------------------------------------------------------------------------------
// Atomic file writes

/** What {@link writeFileAtomic} writes: text (UTF-8), bytes, or a function writing to the open fd. */
export type FileContents = string | Uint8Array | ((fd: number) => void);

/**
 * Writes a file so that readers (and a crash at any point) see either the previous file or the
 * complete new one: the contents go to a temporary file in the same folder, which is fsynced,
 * renamed over `path`, and the folder fsynced so the rename is durable. A failure removes the
 * temporary; a kill leaves it to `cleanStaleTemps` of the next run.
 *
 * @param path destination file (its folder must exist)
 * @param contents text, bytes, or `(fd) => void` that writes the bytes with `writeSync`
 * @throws Error naming `path` when it is a folder or the folder is missing
 */
export function writeFileAtomic(path: string, contents: FileContents): void {
  const dir = dirname(resolve(path));
  let st: Stats | null = null;
  try {
    st = lstatSync(path);
  } catch {
    // a new file
  }
  if (st?.isDirectory()) throw new Error(`${path}: is a folder, cannot write a file there`);
  cleanOnce(dir);
  const tmp = join(dir, tempName(basename(path), 'tmp', newToken()));
  let fd: number;
  try {
    fd = openSync(tmp, 'wx', 0o644);
  } catch (err) {
    if (errCode(err) === 'ENOENT') throw new Error(`${path}: the folder ${dir} does not exist`, { cause: err });
    if (errCode(err) === 'ENOTDIR') throw new Error(`${path}: ${dir} is not a folder`, { cause: err });
    throw err;
  }
  try {
    if (typeof contents === 'function') contents(fd);
    else writeAll(fd, typeof contents === 'string' ? Buffer.from(contents, 'utf8') : contents);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tmp, { force: true });
    throw err;
  }
  fsyncFolder(dir);
}

/** Writes `value` as pretty-printed JSON (2-space indent, trailing newline) with {@link writeFileAtomic}. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

// ---------------------------------------------------------------------------------------------
// Atomic folder writes

/** Options of the whole-or-nothing folder writes. */
export interface FolderWriteOptions {
  /**
   * Entries of the previous version that the new one did not write and should keep (e.g. a
   * tokenizer next to model weights). Called with each top-level name; default: keep none, the
   * folder is exactly what `fill` wrote. Kept files are hard-linked (copied where links fail).
   */
  keep?: (name: string) => boolean;
}

interface FolderWrite {
  dir: string;
  parent: string;
  tmp: string;
  token: string;
}

function beginFolderWrite(target: string): FolderWrite {
  let dir = resolve(target);
  try {
    if (lstatSync(dir).isSymbolicLink()) dir = realpathSync(dir);
  } catch {
    // absent (or a dangling link, which the swap then replaces)
  }
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  recoverFolder(dir);
  let st: Stats | null = null;
  try {
    st = lstatSync(dir);
  } catch {
    // a new folder
  }
  if (st && !st.isDirectory()) throw new Error(`${target}: exists and is not a folder`);
  const token = newToken();
  const tmp = join(parent, tempName(basename(dir), 'tmp', token));
  mkdirSync(tmp);
  return { dir, parent, tmp, token };
}

function carryOver(w: FolderWrite, keep: (name: string) => boolean): void {
  let names: string[];
  try {
    names = readdirSync(w.dir);
  } catch {
    return;
  }
  for (const name of names) {
    const to = join(w.tmp, name);
    if (!keep(name) || exists(to) || parseTempName(name)) continue;
    const from = join(w.dir, name);
    const st = lstatSync(from);
    if (st.isDirectory()) cpSync(from, to, { recursive: true, verbatimSymlinks: true });
    else if (st.isFile()) {
      try {
        linkSync(from, to);
      } catch {
        copyFileSync(from, to);
      }
    } else cpSync(from, to, { verbatimSymlinks: true });
  }
}

/**
 * The swap. Sequence, and what a crash after each step leaves:
 *   (0) the new version is complete and fsynced in `tmp`   -> `dir` = previous version; `tmp` is
 *       deleted by the next run's cleanup.
 *   (1) rename `dir` -> `old`, fsync parent                 -> `dir` absent, `old` = previous version,
 *       `tmp` = new version; the next run's cleanup renames `old` back to `dir` (the save never
 *       returned, so the previous version stands) and deletes `tmp`.
 *   (2) rename `tmp` -> `dir`, fsync parent                 -> `dir` = new version; `old` is deleted
 *       by the next run's cleanup.
 *   (3) delete `old`                                        -> done (a partly deleted `old` is
 *       finished off by the next run's cleanup).
 * So `dir` is always the complete previous version or the complete new one, and it is absent only
 * between (1) and (2), where the next start (or {@link recoverFolder}) restores it.
 * POSIX has no atomic exchange of two folders (Linux's renameat2 RENAME_EXCHANGE is not reachable
 * from Node), hence the two renames.
 */
function finishFolderWrite(w: FolderWrite, opts: FolderWriteOptions): void {
  if (opts.keep) carryOver(w, opts.keep);
  fsyncTree(w.tmp);
  let old: string | null = join(w.parent, tempName(basename(w.dir), 'old', w.token));
  try {
    renameSync(w.dir, old);
    fsyncFolder(w.parent);
  } catch (err) {
    if (errCode(err) !== 'ENOENT') throw err;
    old = null;
  }
  try {
    renameSync(w.tmp, w.dir);
  } catch (err) {
    if (old && !existsSync(w.dir)) {
      // The swap itself failed (not a race): put the previous version back, so nothing is lost.
      renameSync(old, w.dir);
      throw new Error(
        `${w.dir}: could not move the new version into place; the previous version is kept (${(err as Error).message})`,
        { cause: err },
      );
    }
    // Another process created `dir` between our two renames: its version stands, ours is dropped.
    if (old) rmSync(old, { recursive: true, force: true });
    throw new Error(
      `${w.dir}: another process wrote this folder at the same time; this save was not applied (${(err as Error).message})`,
      { cause: err },
    );
  }
  fsyncFolder(w.parent);
  if (old) rmSync(old, { recursive: true, force: true });
}

function abortFolderWrite(w: FolderWrite): void {
  rmSync(w.tmp, { recursive: true, force: true });
}

/**
 * Writes a whole folder atomically: `fill(tmpDir)` writes the files into a temporary sibling folder
 * (plain `writeFileSync` is fine there), which is then fsynced and swapped in place of `dir`, so
 * `dir` is always either the complete previous version or the complete new one (the rename sequence
 * and the state a crash leaves at each point are described at `finishFolderWrite` in the source).
 * If `fill` throws, `dir` is untouched and the temporary folder removed. The previous version is
 * replaced entirely unless `opts.keep` keeps some of its entries.
 *
 * A symlink at `dir` is followed (its target folder is replaced). The parent folder is created.
 *
 * @throws Error naming `dir` when it exists and is not a folder
 */
export function writeFolderAtomicSync(
  dir: string,
  fill: (tmpDir: string) => void,
  opts: FolderWriteOptions = {},
): void {
  const w = beginFolderWrite(dir);
  try {
    fill(w.tmp);
  } catch (err) {
    abortFolderWrite(w);
    throw err;
  }
  try {
    finishFolderWrite(w, opts);
  } catch (err) {
    abortFolderWrite(w);
    throw err;
  }
}

/** {@link writeFolderAtomicSync} for a `fill` that may be asynchronous. */
export async function writeFolderAtomic(
  dir: string,
  fill: (tmpDir: string) => void | Promise<void>,
  opts: FolderWriteOptions = {},
): Promise<void> {
  const w = beginFolderWrite(dir);
  try {
    await fill(w.tmp);
  } catch (err) {
    abortFolderWrite(w);
    throw err;
  }
  try {
    finishFolderWrite(w, opts);
  } catch (err) {
    abortFolderWrite(w);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Bounded reads

/** A file-system error as a message naming the file: "not found", "is a folder", ... */
export function describeFsError(label: string, err: unknown, verb = 'read'): Error {
  switch (errCode(err)) {
    case 'ENOENT':
      return new Error(`${label}: file not found`);
    case 'EISDIR':
      return new Error(`${label}: is a folder, expected a file`);
    case 'ENOTDIR':
      return new Error(`${label}: a part of the path is not a folder`);
    case 'EACCES':
    case 'EPERM':
      return new Error(`${label}: permission denied`);
    default:
      return new Error(`${label}: cannot ${verb} (${(err as Error).message})`);
  }
}

function formatLimit(n: number): string {
  if (n >= 1e9 && n % 1e6 === 0) return `${n / 1e9} GB`;
  if (n >= 1e6 && n % 1e3 === 0) return `${n / 1e6} MB`;
  if (n >= 1e3) return `${n / 1e3} kB`;
  return `${n} bytes`;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Reads a whole file of at most `maxBytes` bytes. Unlike a `stat` size check this also bounds
 * pipes, character devices (`/dev/zero`) and files that grow while read: reading stops with an error
 * as soon as more than `maxBytes` bytes arrive.
 *
 * @param path file to read (a FIFO blocks until a writer opens it, like any reader)
 * @param maxBytes largest accepted size in bytes
 * @param label name used in error messages; default `path`
 * @throws Error `<label>: file not found` / `is a folder, expected a file` / `larger than the <limit> limit`
 */
export function readFileBounded(path: string, maxBytes: number, label = path): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw describeFsError(label, err);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new Error(`${label}: is a folder, expected a file`);
    const tooLarge = (size: string): Error =>
      new Error(`${label}: ${size} is larger than the limit of ${formatLimit(maxBytes)} (${maxBytes} bytes)`);
    if (st.isFile() && st.size > maxBytes) throw tooLarge(`the file (${st.size} bytes)`);
    const chunks: Buffer[] = [];
    let total = 0;
    // Regular files: one read of the stated size (+1 to notice growth); others: 64 kB at a time.
    let chunkSize = st.isFile() && st.size > 0 ? st.size + 1 : 65536;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(chunkSize, maxBytes + 1 - total));
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        if (errCode(err) === 'EAGAIN') {
          Atomics.wait(sleeper, 0, 0, 5); // a non-blocking pipe (e.g. stdin) with no data yet
          continue;
        }
        throw describeFsError(label, err);
      }
      if (n === 0) break;
      chunks.push(n === buf.length ? buf : buf.subarray(0, n));
      total += n;
      if (total > maxBytes) throw tooLarge(st.isFile() ? 'the file' : 'the input (not a regular file)');
      chunkSize = 65536;
    }
    return chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

/** {@link readFileBounded} decoded as UTF-8 (invalid sequences become U+FFFD, a BOM is kept). */
export function readTextBounded(path: string, maxBytes: number, label = path): string {
  return readFileBounded(path, maxBytes, label).toString('utf8');
}
