/**
 * Downloading model repositories from the Hugging Face Hub into a cache laid out like
 * huggingface_hub's, so files fetched here are reused by Python tools and the other way round:
 *
 *   <cache>/models--<org>--<name>/
 *     blobs/<etag>                      file contents (etag = sha256 for LFS files, git blob sha1 otherwise)
 *     blobs/<etag>.incomplete           partial download, resumed with an HTTP Range request
 *     snapshots/<commit>/<path>         relative symlink to ../../blobs/<etag>
 *     refs/<revision>                   commit hash the revision (branch/tag) pointed to
 *
 * Endpoint and credentials follow huggingface_hub: HF_ENDPOINT (default https://huggingface.co),
 * HF_TOKEN (sent as `Authorization: Bearer`, and never to another origin after a redirect), cache at
 * HF_HUB_CACHE, else HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
 * Every downloaded file is verified: LFS files by sha256, regular files by git blob sha1.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { writeFileAtomic } from './files.js';
import cliProgress from 'cli-progress';

/** Default Hub endpoint. */
export const DEFAULT_ENDPOINT = 'https://huggingface.co';

/** Where the Hub cache lives, resolved from the environment as huggingface_hub does. */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HUGGINGFACE_HUB_CACHE) return env.HUGGINGFACE_HUB_CACHE;
  const hfHome = env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface');
  return join(hfHome, 'hub');
}

/** The Hub endpoint from HF_ENDPOINT (trailing slashes removed), default {@link DEFAULT_ENDPOINT}. */
export function hubEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  return (env.HF_ENDPOINT || DEFAULT_ENDPOINT).replace(/\/+$/, '');
}

/**
 * Checks a model repo id ("name" or "org/name", letters, digits, '-', '_', '.'; no "--" or "..",
 * at most 96 characters), as the Hub's validator does.
 * @throws Error explaining the expected form
 */
export function validateRepoId(repoId: string): void {
  const ok = /^[A-Za-z0-9][\w.-]*(\/[\w.-]+)?$/.test(repoId) && !repoId.includes('--') && !repoId.includes('..') && repoId.length <= 96
    && !repoId.endsWith('.') && !repoId.endsWith('-');
  if (!ok) throw new Error(`invalid repo id ${JSON.stringify(repoId)}: expected "org/name" (letters, digits, "-", "_", "."; no "--" or "..")`);
}

/** Cache folder of a model repo: `<cache>/models--org--name`. */
export function repoCacheDir(repoId: string, cacheDir = hubCacheDir()): string {
  validateRepoId(repoId);
  return join(cacheDir, `models--${repoId.replace('/', '--')}`);
}

/**
 * The snapshot folder of an already-downloaded revision (a branch/tag via refs/, or a commit hash),
 * or null when it is not in the cache. Works offline.
 */
export function cachedSnapshotDir(repoId: string, revision = 'main', cacheDir = hubCacheDir()): string | null {
  const repoDir = repoCacheDir(repoId, cacheDir);
  let commit = revision;
  if (!/^[0-9a-f]{40}$/.test(revision)) {
    const ref = join(repoDir, 'refs', revision);
    if (!existsSync(ref)) return null;
    commit = readFileSync(ref, 'utf8').trim();
  }
  const dir = join(repoDir, 'snapshots', commit);
  return existsSync(dir) ? dir : null;
}

/** One file of a repo listing (`/api/models/{repo}/revision/{rev}?blobs=true` → siblings). */
export interface RepoFile {
  path: string;
  /** Bytes, when the listing says. */
  size: number | null;
  /** git blob sha1 of the file (for LFS files: of the pointer). */
  blobId: string | null;
  /** sha256 of the content of LFS files. */
  lfsSha256: string | null;
}

/** Options of {@link pullRepo}. */
export interface PullOptions {
  /** Branch, tag or commit; default "main". */
  revision?: string;
  /** Cache root; default {@link hubCacheDir}(). */
  cacheDir?: string;
  /** fnmatch-style patterns (as huggingface_hub's allow_patterns; "dir/" means "dir/*"); default all files. */
  include?: string[];
  /** Bearer token; default HF_TOKEN. */
  token?: string;
  /** Hub URL; default HF_ENDPOINT or https://huggingface.co. */
  endpoint?: string;
  /** Show a progress bar on stderr; default only when stderr is a TTY. */
  progress?: boolean;
  /** Attempts per file after a dropped connection, each resuming with a Range request; default 5. */
  maxAttempts?: number;
  /** Abort a request when no data arrives for this long; default 60 s. */
  idleTimeoutMs?: number;
  /** Receives one line per event ("downloading x", "cached x"); default silent. */
  log?: (line: string) => void;
}

/** What {@link pullRepo} fetched and where the snapshot is. */
export interface PullResult {
  repoId: string;
  commit: string;
  /** `<cache>/models--org--name/snapshots/<commit>`: a folder usable as a model directory. */
  snapshotDir: string;
  /** Paths fetched over the network in this call. */
  downloaded: string[];
  /** Paths already present in the cache. */
  cached: string[];
}

/** An HTTP error from the Hub with its status and the Hub's X-Error-Code when present. */
export class HubError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly errorCode: string | null = null,
    /** Network failures and 5xx answers: worth retrying. */
    readonly transient = false,
  ) {
    super(message);
    this.name = 'HubError';
  }
}

/** Translates a fnmatch pattern (`*`, `?`, `[seq]`, `[!seq]`; `*` also matches "/") into a RegExp. */
export function fnmatchToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = pattern.slice(i + 1, end);
        const negate = body.startsWith('!');
        if (negate) body = body.slice(1);
        re += `[${negate ? '^' : ''}${body.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

/** Whether `path` matches any pattern (a pattern ending in "/" matches everything under it). */
function matchesAny(path: string, patterns: string[]): boolean {
  return patterns.some((p) => fnmatchToRegExp(p.endsWith('/') ? `${p}*` : p).test(path));
}

/** Rejects listing paths that could escape the snapshot folder. */
function checkRepoPath(path: string): void {
  const bad = path === '' || path.startsWith('/') || path.includes('\\') || path.includes('\0')
    || path.split('/').some((seg) => seg === '' || seg === '.' || seg === '..');
  if (bad) throw new HubError(`the Hub listed an unsafe file path ${JSON.stringify(path)}`, null);
}

/** Removes quotes and the weak-validator prefix from an ETag header. */
function normalizeEtag(value: string | null): string | null {
  if (!value) return null;
  return value.replace(/^W\//, '').replace(/^"|"$/g, '');
}

interface RequestContext {
  endpoint: string;
  token: string | undefined;
  idleTimeoutMs: number;
}

/**
 * fetch with redirects followed by hand (up to 10), so the Authorization header is only sent to the
 * endpoint's own origin, never to a CDN or another host a redirect points at.
 */
async function hubFetch(ctx: RequestContext, url: string, init: { method?: string; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Response> {
  const origin = new URL(ctx.endpoint).origin;
  let current = url;
  for (let hop = 0; hop <= 10; hop++) {
    const headers: Record<string, string> = { 'user-agent': 'tunekit', ...init.headers };
    if (ctx.token && new URL(current).origin === origin) headers.authorization = `Bearer ${ctx.token}`;
    let res: Response;
    try {
      res = await fetch(current, { method: init.method ?? 'GET', headers, redirect: 'manual', signal: init.signal });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      if (init.signal?.aborted) {
        const reason = init.signal.reason as Error | undefined;
        throw new HubError(`no answer from ${new URL(current).origin} (${reason?.message ?? 'timed out'})`, null, null, true);
      }
      throw new HubError(`cannot reach ${new URL(current).origin} (${cause?.code ?? cause?.message ?? (err as Error).message})`, null, null, true);
    }
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel();
      current = new URL(location, current).toString();
      continue;
    }
    return res;
  }
  throw new HubError(`too many redirects fetching ${url}`, null);
}

/** Turns a non-2xx Hub response into a HubError with an actionable message. */
async function failure(res: Response, what: string): Promise<HubError> {
  const code = res.headers.get('x-error-code');
  let detail = res.headers.get('x-error-message') ?? '';
  if (!detail) {
    try {
      const text = (await res.text()).slice(0, 300);
      try {
        detail = (JSON.parse(text) as { error?: string }).error ?? text;
      } catch {
        detail = text;
      }
    } catch {
      detail = '';
    }
  }
  const suffix = detail ? `: ${detail}` : '';
  if (res.status === 401) {
    return new HubError(`${what}: 401 Unauthorized — the repo is private or gated, or does not exist; set HF_TOKEN to a token with access${suffix}`, 401, code);
  }
  if (res.status === 403) return new HubError(`${what}: 403 Forbidden — your token has no access (gated repo: accept its terms on the Hub)${suffix}`, 403, code);
  if (res.status === 404) {
    const kind = code === 'RevisionNotFound' ? 'revision not found' : code === 'EntryNotFound' ? 'file not found' : 'not found';
    return new HubError(`${what}: 404 ${kind}${suffix}`, 404, code);
  }
  return new HubError(`${what}: HTTP ${res.status}${suffix}`, res.status, code, res.status >= 500);
}

/**
 * Lists a revision of a model repo: its commit hash and files (with sizes, blob ids and LFS sha256).
 * @throws HubError on 401/403/404/network failures, or a malformed answer
 */
export async function listRepoFiles(repoId: string, options: Pick<PullOptions, 'revision' | 'token' | 'endpoint' | 'idleTimeoutMs'> = {}): Promise<{ commit: string; files: RepoFile[] }> {
  validateRepoId(repoId);
  const revision = options.revision ?? 'main';
  const ctx: RequestContext = { endpoint: options.endpoint ?? hubEndpoint(), token: options.token ?? process.env.HF_TOKEN, idleTimeoutMs: options.idleTimeoutMs ?? 60_000 };
  const url = `${ctx.endpoint}/api/models/${repoId}/revision/${encodeURIComponent(revision)}?blobs=true`;
  const res = await hubFetch(ctx, url, { signal: AbortSignal.timeout(ctx.idleTimeoutMs) });
  if (!res.ok) throw await failure(res, `listing ${repoId}@${revision}`);
  const text = await res.text();
  if (text.length > 200_000_000) throw new HubError(`listing ${repoId}@${revision}: answer too large`, null);
  let info: { sha?: unknown; siblings?: unknown };
  try {
    info = JSON.parse(text) as typeof info;
  } catch {
    throw new HubError(`listing ${repoId}@${revision}: the Hub answered with invalid JSON`, null);
  }
  if (typeof info.sha !== 'string' || !/^[0-9a-f]{40}$/.test(info.sha) || !Array.isArray(info.siblings)) {
    throw new HubError(`listing ${repoId}@${revision}: expected {sha: <40-hex commit>, siblings: [...]}`, null);
  }
  const files = info.siblings.map((s: unknown): RepoFile => {
    const sib = s as { rfilename?: unknown; size?: unknown; blobId?: unknown; lfs?: { sha256?: unknown } | null };
    if (typeof sib.rfilename !== 'string') throw new HubError(`listing ${repoId}@${revision}: a sibling has no rfilename`, null);
    checkRepoPath(sib.rfilename);
    const sha256 = typeof sib.lfs?.sha256 === 'string' && /^[0-9a-f]{64}$/.test(sib.lfs.sha256) ? sib.lfs.sha256 : null;
    return {
      path: sib.rfilename,
      size: typeof sib.size === 'number' && Number.isSafeInteger(sib.size) && sib.size >= 0 ? sib.size : null,
      blobId: typeof sib.blobId === 'string' && /^[0-9a-f]{40}$/.test(sib.blobId) ? sib.blobId : null,
      lfsSha256: sha256,
    };
  });
  return { commit: info.sha, files };
}

/** Hash that identifies a blob: sha256 of the content (LFS) or git's sha1 of "blob <size>\0<content>". */
function blobHasher(etag: string, size: number | null): { hash: Hash; kind: 'sha256' | 'git-sha1' } | null {
  if (/^[0-9a-f]{64}$/.test(etag)) return { hash: createHash('sha256'), kind: 'sha256' };
  if (/^[0-9a-f]{40}$/.test(etag) && size !== null) {
    const hash = createHash('sha1');
    hash.update(`blob ${size}\0`);
    return { hash, kind: 'git-sha1' };
  }
  return null;
}

/** Asks the Hub for a file's etag and size (HEAD), for listings without blob information. */
async function headFile(ctx: RequestContext, url: string, path: string): Promise<{ etag: string; size: number | null }> {
  const res = await hubFetch(ctx, url, { method: 'HEAD', headers: { 'accept-encoding': 'identity' }, signal: AbortSignal.timeout(ctx.idleTimeoutMs) });
  if (!res.ok) throw await failure(res, `fetching ${path}`);
  const etag = normalizeEtag(res.headers.get('x-linked-etag') ?? res.headers.get('etag'));
  if (!etag || !/^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(etag)) throw new HubError(`fetching ${path}: the Hub sent no usable ETag`, res.status);
  const size = Number(res.headers.get('x-linked-size') ?? res.headers.get('content-length'));
  return { etag, size: Number.isSafeInteger(size) && size >= 0 ? size : null };
}

/** Pause before retry n is n × this (linear backoff). */
const RETRY_DELAY_MS = 200;

/**
 * Streams one file into `blobs/<etag>.incomplete` (resuming an existing partial file with a Range
 * request), verifies size and checksum, and renames it to `blobs/<etag>`.
 */
async function downloadBlob(
  ctx: RequestContext, url: string, path: string, blobPath: string, etag: string, size: number | null,
  maxAttempts: number, onBytes: (done: number, total: number | null) => void,
): Promise<void> {
  const incomplete = `${blobPath}.incomplete`;
  let lastError: unknown = null;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const hasher = blobHasher(etag, size);
    let have = existsSync(incomplete) ? statSync(incomplete).size : 0;
    if (size !== null && have > size) {
      rmSync(incomplete);
      have = 0;
    }
    const controller = new AbortController();
    let idle: NodeJS.Timeout | undefined;
    const touch = (): void => {
      clearTimeout(idle);
      idle = setTimeout(() => controller.abort(new Error(`no data for ${ctx.idleTimeoutMs} ms`)), ctx.idleTimeoutMs);
    };
    try {
      touch();
      const headers: Record<string, string> = { 'accept-encoding': 'identity' };
      if (have > 0) headers.range = `bytes=${have}-`;
      const res = await hubFetch(ctx, url, { headers, signal: controller.signal });
      if (res.status === 416 && have > 0 && (size === null || have === size)) {
        await res.body?.cancel(); // nothing left to fetch: verify what we have
      } else if (!res.ok) {
        throw await failure(res, `fetching ${path}`);
      }
      if (res.status !== 206 && res.status !== 416 && have > 0) {
        rmSync(incomplete); // the server ignored the Range request: start over
        have = 0;
      }
      if (hasher && have > 0) {
        for await (const chunk of createReadStream(incomplete)) hasher.hash.update(chunk as Buffer);
      }
      const file = await open(incomplete, have > 0 ? 'a' : 'w');
      try {
        let done = have;
        onBytes(done, size);
        if (res.status !== 416 && res.body) {
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            touch();
            await file.write(chunk);
            hasher?.hash.update(chunk);
            done += chunk.length;
            onBytes(done, size);
          }
        }
      } finally {
        await file.close();
      }
      clearTimeout(idle);
      const got = statSync(incomplete).size;
      if (size !== null && got !== size) {
        if (got < size) throw new Error(`connection closed after ${got} of ${size} bytes`);
        rmSync(incomplete);
        throw new HubError(`fetching ${path}: received ${got} bytes, expected ${size}; download discarded`, null);
      }
      if (hasher) {
        const digest = hasher.hash.digest('hex');
        if (digest !== etag) {
          rmSync(incomplete);
          throw new HubError(`fetching ${path}: ${hasher.kind} checksum mismatch (expected ${etag}, got ${digest}); the corrupted download was discarded`, null);
        }
      }
      renameSync(incomplete, blobPath);
      return;
    } catch (err) {
      clearTimeout(idle);
      // Checksum and client errors are final; dropped connections, timeouts and 5xx are retried.
      if (err instanceof HubError && !err.transient) throw err;
      lastError = err;
      if (attempt < maxAttempts) await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS * attempt));
    }
  }
  const reason = lastError instanceof Error ? (lastError.cause instanceof Error ? lastError.cause.message : lastError.message) : String(lastError);
  throw new HubError(`fetching ${path}: failed after ${maxAttempts} attempts (${reason}); the partial file is kept and the next pull resumes it`, null);
}

/** Creates (or replaces) the snapshot symlink `snapshots/<commit>/<path>` → `../../blobs/<etag>`. */
function linkIntoSnapshot(snapshotDir: string, path: string, blobPath: string): void {
  const linkPath = join(snapshotDir, path);
  mkdirSync(dirname(linkPath), { recursive: true });
  const target = relative(dirname(linkPath), blobPath);
  try {
    if (lstatSync(linkPath).isSymbolicLink() && readlinkSync(linkPath) === target) return;
    unlinkSync(linkPath);
  } catch {
    // absent: nothing to replace
  }
  symlinkSync(target, linkPath);
}

/** Writes `refs/<revision>` (atomically) when the revision is a branch or tag. */
function writeRef(repoDir: string, revision: string, commit: string): void {
  if (revision === commit) return;
  const refPath = join(repoDir, 'refs', revision);
  mkdirSync(dirname(refPath), { recursive: true });
  writeFileAtomic(refPath, commit);
}

function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/**
 * Downloads (the matching files of) a model repo revision into the Hub cache and returns its
 * snapshot folder. Files already in the cache are not fetched again; interrupted downloads resume.
 *
 * @param repoId "org/name"
 * @param options revision "main", cacheDir from the environment, include all files, token HF_TOKEN,
 *   endpoint HF_ENDPOINT, progress on a TTY, maxAttempts 5, idleTimeoutMs 60000
 * @throws HubError with the HTTP status for 401/403/404, on network failures after the retries, and
 *   on checksum mismatches
 */
export async function pullRepo(repoId: string, options: PullOptions = {}): Promise<PullResult> {
  validateRepoId(repoId);
  const revision = options.revision ?? 'main';
  if (revision.split('/').some((seg) => seg === '' || seg === '.' || seg === '..')) throw new Error(`invalid revision ${JSON.stringify(revision)}`);
  const ctx: RequestContext = {
    endpoint: options.endpoint ?? hubEndpoint(),
    token: options.token ?? process.env.HF_TOKEN,
    idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
  };
  const log = options.log ?? (() => {});
  const { commit, files } = await listRepoFiles(repoId, { revision, token: ctx.token, endpoint: ctx.endpoint, idleTimeoutMs: ctx.idleTimeoutMs });
  const selected = options.include?.length ? files.filter((f) => matchesAny(f.path, options.include!)) : files;
  if (selected.length === 0) {
    throw new Error(`${repoId}@${revision}: no file matches ${options.include?.length ? options.include.join(', ') : 'the listing (empty repo)'}`);
  }
  const repoDir = repoCacheDir(repoId, options.cacheDir ?? hubCacheDir());
  const blobsDir = join(repoDir, 'blobs');
  const snapshotDir = join(repoDir, 'snapshots', commit);
  mkdirSync(blobsDir, { recursive: true });
  mkdirSync(snapshotDir, { recursive: true });

  const showProgress = options.progress ?? Boolean(process.stderr.isTTY);
  const result: PullResult = { repoId, commit, snapshotDir, downloaded: [], cached: [] };
  for (const file of selected) {
    const url = `${ctx.endpoint}/${repoId}/resolve/${commit}/${file.path.split('/').map(encodeURIComponent).join('/')}`;
    let etag = file.lfsSha256 ?? file.blobId;
    let size = file.size;
    if (etag === null) ({ etag, size } = await headFile(ctx, url, file.path));
    const blobPath = join(blobsDir, etag);
    if (existsSync(blobPath) && (size === null || statSync(blobPath).size === size)) {
      result.cached.push(file.path);
      log(`cached ${file.path}`);
    } else {
      log(`downloading ${file.path}${size !== null ? ` (${formatBytes(size)})` : ''}`);
      const bar = showProgress
        ? new cliProgress.SingleBar({
          format: `${file.path} [{bar}] {percentage}% | {done} / {size}`,
          stream: process.stderr,
          noTTYOutput: !process.stderr.isTTY,
          hideCursor: true,
        }, cliProgress.Presets.shades_classic)
        : null;
      bar?.start(size ?? 0, 0, { done: formatBytes(0), size: size === null ? '?' : formatBytes(size) });
      try {
        await downloadBlob(ctx, url, file.path, blobPath, etag, size, options.maxAttempts ?? 5, (done, total) => {
          if (bar) {
            if (total === null) bar.setTotal(done);
            bar.update(done, { done: formatBytes(done) });
          }
        });
      } finally {
        bar?.stop();
      }
      result.downloaded.push(file.path);
    }
    linkIntoSnapshot(snapshotDir, file.path, blobPath);
  }
  writeRef(repoDir, revision, commit);
  return result;
}
