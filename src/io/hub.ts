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
 * Every downloaded file is verified: its size (from the listing, else a HEAD request, else the
 * download's own headers) and its checksum (LFS files by sha256, regular files by git blob sha1).
 * Timeouts follow HF_HUB_DOWNLOAD_TIMEOUT (seconds without data, default 10 as huggingface_hub);
 * retries TUNEKIT_HUB_RETRIES (default 4). Names and messages from the server are shown with
 * control characters escaped, and names with control characters are never created on disk.
 */
import { createHash, type Hash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fsyncFolder, writeFileAtomic } from './files.js';
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

/**
 * The Hub endpoint from HF_ENDPOINT (trailing slashes removed), default {@link DEFAULT_ENDPOINT}.
 * @throws Error naming HF_ENDPOINT when it is not an http:// or https:// URL
 */
export function hubEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  return checkEndpoint(env.HF_ENDPOINT || DEFAULT_ENDPOINT, 'HF_ENDPOINT');
}

/**
 * Checks that `url` is an http:// or https:// URL and removes trailing slashes.
 * @param source what to name in the error (e.g. "HF_ENDPOINT", "endpoint")
 */
export function checkEndpoint(url: string, source = 'endpoint'): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`${source}=${displaySafe(url)}: not a URL (expected e.g. https://huggingface.co)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new Error(
      `${source}=${displaySafe(url)}: the scheme "${displaySafe(parsed.protocol.replace(/:$/, ''))}" is not supported; expected an http:// or https:// URL`,
    );
  }
  return url.replace(/\/+$/, '');
}

/** huggingface_hub's default HF_HUB_DOWNLOAD_TIMEOUT, in seconds. */
export const DEFAULT_DOWNLOAD_TIMEOUT_S = 10;
/** Default retries after a failed attempt (so 5 attempts in all). */
export const DEFAULT_RETRIES = 4;

function envNumber(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  ok: (v: number) => boolean,
  expected: string,
): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || !ok(v)) throw new Error(`${name}=${displaySafe(raw)}: expected ${expected}`);
  return v;
}

/** Milliseconds without data before a request is abandoned: HF_HUB_DOWNLOAD_TIMEOUT (seconds), default 10 s. */
export function hubDownloadTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  return (
    1000 *
    envNumber(
      env,
      'HF_HUB_DOWNLOAD_TIMEOUT',
      DEFAULT_DOWNLOAD_TIMEOUT_S,
      (v) => v > 0 && v <= 86_400,
      'a number of seconds > 0',
    )
  );
}

/** Retries after a failed attempt: TUNEKIT_HUB_RETRIES, default {@link DEFAULT_RETRIES}. */
export function hubRetries(env: NodeJS.ProcessEnv = process.env): number {
  return envNumber(
    env,
    'TUNEKIT_HUB_RETRIES',
    DEFAULT_RETRIES,
    (v) => Number.isInteger(v) && v >= 0 && v <= 100,
    'an integer in [0, 100]',
  );
}

/**
 * Text from a server made safe to print: control characters (C0, DEL, C1 such as the CSI that
 * starts terminal escape sequences) and bidirectional overrides are shown as \uXXXX escapes, and
 * the text is cut at `max` characters.
 */
export function displaySafe(text: string, max = 300): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return cut.replace(
    // eslint-disable-next-line no-control-regex -- escapes control characters for display
    /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * Checks a model repo id ("name" or "org/name", letters, digits, '-', '_', '.'; no "--" or "..",
 * at most 96 characters), as the Hub's validator does.
 * @throws Error explaining the expected form
 */
export function validateRepoId(repoId: string): void {
  const ok =
    /^[A-Za-z0-9][\w.-]*(\/[\w.-]+)?$/.test(repoId) &&
    !repoId.includes('--') &&
    !repoId.includes('..') &&
    repoId.length <= 96 &&
    !repoId.endsWith('.') &&
    !repoId.endsWith('-');
  if (!ok)
    throw new Error(
      `invalid repo id ${JSON.stringify(repoId)}: expected "org/name" (letters, digits, "-", "_", "."; no "--" or "..")`,
    );
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
  revision?: string | undefined;
  /** Cache root; default {@link hubCacheDir}(). */
  cacheDir?: string | undefined;
  /** fnmatch-style patterns (as huggingface_hub's allow_patterns; "dir/" means "dir/*"); default all files. */
  include?: string[] | undefined;
  /** Bearer token; default HF_TOKEN. */
  token?: string | undefined;
  /** Hub URL; default HF_ENDPOINT or https://huggingface.co. */
  endpoint?: string | undefined;
  /** Show a progress bar on stderr; default only when stderr is a TTY. */
  progress?: boolean | undefined;
  /**
   * Attempts per request (listing, HEAD, each file) after a dropped connection, a timeout or a 5xx
   * answer, downloads resuming with a Range request; default TUNEKIT_HUB_RETRIES + 1 (5).
   */
  maxAttempts?: number | undefined;
  /** Abort a request when no data arrives for this long; default HF_HUB_DOWNLOAD_TIMEOUT (10 s). */
  idleTimeoutMs?: number | undefined;
  /** Receives one line per event ("downloading x", "cached x"); default silent. */
  log?: ((line: string) => void) | undefined;
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
  const bad =
    path === '' ||
    path.startsWith('/') ||
    path.includes('\\') ||
    path.includes('\0') ||
    path.split('/').some((seg) => seg === '' || seg === '.' || seg === '..');
  if (bad) throw new HubError(`the Hub listed an unsafe file path "${displaySafe(path)}"`, null);
}

/**
 * Rejects a path this machine should not create: control characters (terminal escapes, newlines)
 * or a name longer than a file system allows.
 */
function checkLocalName(path: string): void {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(path)) {
    throw new HubError(
      `the Hub listed a file name with control characters, "${displaySafe(path)}"; it is not created on disk (select other files with --include)`,
      null,
    );
  }
  if (path.split('/').some((seg) => Buffer.byteLength(seg) > 255)) {
    throw new HubError(`the Hub listed a file name longer than 255 bytes, "${displaySafe(path, 80)}"`, null);
  }
}

/** Rejects listings where a path is both a file and a folder ("a" and "a/b"), or appears twice. */
function checkNoConflicts(paths: readonly string[], what: string): void {
  const files = new Set<string>();
  for (const p of paths) {
    if (files.has(p)) throw new HubError(`${what}: the Hub listed "${displaySafe(p)}" twice`, null);
    files.add(p);
  }
  for (const p of paths) {
    const segs = p.split('/');
    for (let i = 1; i < segs.length; i++) {
      const dir = segs.slice(0, i).join('/');
      if (files.has(dir))
        throw new HubError(
          `${what}: the Hub listed "${displaySafe(dir)}" both as a file and as a folder (of "${displaySafe(p)}")`,
          null,
        );
    }
  }
}

/** Reads a response body of at most `maxBytes` bytes as text (the rest is not read). */
async function readBodyBounded(res: Response, maxBytes: number, what: string, truncate = false): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (!truncate && Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel();
    throw new HubError(`${what}: the answer (${declared} bytes) is larger than the ${maxBytes}-byte limit`, null);
  }
  if (!res.body) return '';
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    chunks.push(Buffer.from(chunk));
    total += chunk.length;
    if (total > maxBytes) {
      await res.body.cancel().catch(() => {});
      if (truncate) break;
      throw new HubError(`${what}: the answer is larger than the ${maxBytes}-byte limit`, null);
    }
  }
  return Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8');
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
  maxAttempts: number;
  log: (line: string) => void;
}

/**
 * fetch with redirects followed by hand (up to 10), so the Authorization header is only sent to the
 * endpoint's own origin, never to a CDN or another host a redirect points at.
 */
async function hubFetch(
  ctx: RequestContext,
  url: string,
  init: { method?: string; headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<Response> {
  const origin = new URL(ctx.endpoint).origin;
  let current = url;
  for (let hop = 0; hop <= 10; hop++) {
    const headers: Record<string, string> = { 'user-agent': 'tunekit', ...init.headers };
    if (ctx.token && new URL(current).origin === origin) headers.authorization = `Bearer ${ctx.token}`;
    let res: Response;
    try {
      res = await fetch(current, {
        method: init.method ?? 'GET',
        headers,
        redirect: 'manual',
        signal: init.signal ?? null,
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      if (init.signal?.aborted) {
        const reason = init.signal.reason as Error | undefined;
        const why =
          reason?.name === 'TimeoutError'
            ? `no data for ${ctx.idleTimeoutMs / 1000} s`
            : (reason?.message ?? 'timed out');
        throw new HubError(`no answer from ${new URL(current).origin} (${why})`, null, null, true);
      }
      throw new HubError(
        `cannot reach ${new URL(current).origin} (${cause?.code ?? cause?.message ?? (err as Error).message})`,
        null,
        null,
        true,
      );
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
      const text = await readBodyBounded(res, 4096, what, true);
      try {
        detail = (JSON.parse(text) as { error?: string }).error ?? text;
      } catch {
        detail = text;
      }
    } catch {
      detail = '';
    }
  }
  const suffix = detail ? `: ${displaySafe(detail.trim())}` : '';
  if (res.status === 401) {
    return new HubError(
      `${what}: 401 Unauthorized — the repo is private or gated, or does not exist; set HF_TOKEN to a token with access${suffix}`,
      401,
      code,
    );
  }
  if (res.status === 403)
    return new HubError(
      `${what}: 403 Forbidden — your token has no access (gated repo: accept its terms on the Hub)${suffix}`,
      403,
      code,
    );
  if (res.status === 404) {
    const kind =
      code === 'RevisionNotFound' ? 'revision not found' : code === 'EntryNotFound' ? 'file not found' : 'not found';
    return new HubError(`${what}: 404 ${kind}${suffix}`, 404, code);
  }
  return new HubError(
    `${what}: HTTP ${res.status}${suffix}`,
    res.status,
    code === null ? null : displaySafe(code),
    res.status >= 500 || res.status === 429,
  );
}

/**
 * Lists a revision of a model repo: its commit hash and files (with sizes, blob ids and LFS sha256).
 * @throws HubError on 401/403/404/network failures (after the retries), or a malformed answer
 *   (invalid JSON, unsafe paths, a path listed both as a file and as a folder)
 */
export async function listRepoFiles(
  repoId: string,
  options: Pick<PullOptions, 'revision' | 'token' | 'endpoint' | 'idleTimeoutMs' | 'maxAttempts' | 'log'> = {},
): Promise<{ commit: string; files: RepoFile[] }> {
  validateRepoId(repoId);
  const revision = options.revision ?? 'main';
  const ctx = requestContext(options);
  const what = `listing ${repoId}@${displaySafe(revision)}`;
  const url = `${ctx.endpoint}/api/models/${repoId}/revision/${encodeURIComponent(revision)}?blobs=true`;
  const text = await withRetries(ctx, what, async () => {
    const res = await hubFetch(ctx, url, { signal: AbortSignal.timeout(ctx.idleTimeoutMs) });
    if (!res.ok) throw await failure(res, what);
    return readBodyBounded(res, MAX_LISTING_BYTES, what);
  });
  let info: { sha?: unknown; siblings?: unknown };
  try {
    info = JSON.parse(text) as typeof info;
  } catch {
    throw new HubError(`${what}: the Hub answered with invalid JSON`, null);
  }
  if (
    info === null ||
    typeof info !== 'object' ||
    typeof info.sha !== 'string' ||
    !/^[0-9a-f]{40}$/.test(info.sha) ||
    !Array.isArray(info.siblings)
  ) {
    throw new HubError(`${what}: expected {sha: <40-hex commit>, siblings: [...]}`, null);
  }
  const files = info.siblings.map((s: unknown): RepoFile => {
    const sib = (s ?? {}) as {
      rfilename?: unknown;
      size?: unknown;
      blobId?: unknown;
      lfs?: { sha256?: unknown } | null;
    };
    if (typeof sib.rfilename !== 'string') throw new HubError(`${what}: a sibling has no rfilename`, null);
    checkRepoPath(sib.rfilename);
    const sha256 = typeof sib.lfs?.sha256 === 'string' && /^[0-9a-f]{64}$/.test(sib.lfs.sha256) ? sib.lfs.sha256 : null;
    return {
      path: sib.rfilename,
      size: typeof sib.size === 'number' && Number.isSafeInteger(sib.size) && sib.size >= 0 ? sib.size : null,
      blobId: typeof sib.blobId === 'string' && /^[0-9a-f]{40}$/.test(sib.blobId) ? sib.blobId : null,
      lfsSha256: sha256,
    };
  });
  checkNoConflicts(
    files.map((f) => f.path),
    what,
  );
  return { commit: info.sha, files };
}

/** Largest accepted listing answer. */
const MAX_LISTING_BYTES = 200_000_000;

function requestContext(
  options: Pick<PullOptions, 'token' | 'endpoint' | 'idleTimeoutMs' | 'maxAttempts' | 'log'>,
): RequestContext {
  const maxAttempts = options.maxAttempts ?? hubRetries() + 1;
  const idleTimeoutMs = options.idleTimeoutMs ?? hubDownloadTimeoutMs();
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1)
    throw new Error(`maxAttempts must be an integer >= 1, got ${maxAttempts}`);
  if (!Number.isFinite(idleTimeoutMs) || idleTimeoutMs <= 0)
    throw new Error(`idleTimeoutMs must be a number > 0, got ${idleTimeoutMs}`);
  return {
    endpoint: options.endpoint !== undefined ? checkEndpoint(options.endpoint) : hubEndpoint(),
    token: options.token ?? process.env.HF_TOKEN,
    idleTimeoutMs,
    maxAttempts,
    log: options.log ?? (() => {}),
  };
}

/** The message of an error and of its cause (fetch wraps socket errors). */
function reasonOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? err.cause.message : null;
  return cause && !err.message.includes(cause) ? `${err.message}: ${cause}` : err.message;
}

/**
 * Runs `attempt` until it succeeds, at most `ctx.maxAttempts` times: dropped connections, timeouts
 * and 5xx/429 answers are retried (with a line to `ctx.log` each time); other HubErrors (4xx,
 * checksum mismatches) are final.
 */
async function withRetries<T>(
  ctx: RequestContext,
  what: string,
  attempt: () => Promise<T>,
  finalHint = '',
): Promise<T> {
  let last: unknown = null;
  for (let n = 1; n <= ctx.maxAttempts; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (err instanceof HubError && !err.transient) throw err;
      last = err;
      if (n < ctx.maxAttempts) {
        ctx.log(`${what}: ${displaySafe(reasonOf(err))}; retrying (attempt ${n + 1} of ${ctx.maxAttempts})`);
        await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS * n));
      }
    }
  }
  const reason = displaySafe(reasonOf(last));
  const timeoutHint = /no data for|timed out|timeout/i.test(reason)
    ? '; set HF_HUB_DOWNLOAD_TIMEOUT (seconds) to wait longer'
    : '';
  throw new HubError(`${what}: failed after ${ctx.maxAttempts} attempts (${reason})${timeoutHint}${finalHint}`, null);
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

/** A byte count from a header, or null when absent or not a plain non-negative integer. */
function sizeHeader(value: string | null): number | null {
  if (value === null || !/^\s*\d+\s*$/.test(value)) return null;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : null;
}

/** Asks the Hub for a file's etag and size (HEAD), for listings without that information. */
async function headFile(
  ctx: RequestContext,
  url: string,
  path: string,
): Promise<{ etag: string; size: number | null }> {
  const what = `fetching ${displaySafe(path)}`;
  const res = await hubFetch(ctx, url, {
    method: 'HEAD',
    headers: { 'accept-encoding': 'identity' },
    signal: AbortSignal.timeout(ctx.idleTimeoutMs),
  });
  if (!res.ok) throw await failure(res, what);
  const etag = normalizeEtag(res.headers.get('x-linked-etag') ?? res.headers.get('etag'));
  if (!etag || !/^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(etag))
    throw new HubError(`${what}: the Hub sent no usable ETag`, res.status);
  // No size header means "unknown", not 0: the download's own headers or the checksum then decide.
  return { etag, size: sizeHeader(res.headers.get('x-linked-size')) ?? sizeHeader(res.headers.get('content-length')) };
}

/** The full size of a file from a GET answer: Content-Length of a 200, the total of a 206's Content-Range. */
function sizeFromResponse(res: Response): number | null {
  if (res.status === 200) return sizeHeader(res.headers.get('content-length'));
  if (res.status === 206) {
    const m = /\/(\d+)\s*$/.exec(res.headers.get('content-range') ?? '');
    return m ? sizeHeader(m[1] ?? null) : null;
  }
  return null;
}

/** git's blob sha1 of a whole file ("blob <size>\0" + content). */
async function gitBlobSha1OfFile(path: string): Promise<string> {
  const hash = createHash('sha1');
  hash.update(`blob ${statSync(path).size}\0`);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Pause before retry n is n × this (linear backoff). */
const RETRY_DELAY_MS = 200;

/**
 * Streams one file into `blobs/<etag>.incomplete` (resuming an existing partial file with a Range
 * request), verifies size and checksum, and renames it to `blobs/<etag>`. A size unknown to the
 * listing and the HEAD answer is taken from the download's headers; the checksum is always checked
 * (for git blob ids of unknown size, over the finished file).
 */
async function downloadBlob(
  ctx: RequestContext,
  url: string,
  path: string,
  blobPath: string,
  etag: string,
  knownSize: number | null,
  onBytes: (done: number, total: number | null) => void,
): Promise<void> {
  const incomplete = `${blobPath}.incomplete`;
  const what = `fetching ${displaySafe(path)}`;
  let size = knownSize;
  await withRetries(
    ctx,
    what,
    async () => {
      let have = existsSync(incomplete) ? statSync(incomplete).size : 0;
      if (size !== null && have > size) {
        rmSync(incomplete);
        have = 0;
      }
      const controller = new AbortController();
      let idle: NodeJS.Timeout | undefined;
      const touch = (): void => {
        clearTimeout(idle);
        idle = setTimeout(
          () => controller.abort(new Error(`no data for ${ctx.idleTimeoutMs / 1000} s`)),
          ctx.idleTimeoutMs,
        );
      };
      try {
        touch();
        const headers: Record<string, string> = { 'accept-encoding': 'identity' };
        if (have > 0) headers.range = `bytes=${have}-`;
        const res = await hubFetch(ctx, url, { headers, signal: controller.signal });
        if (res.status === 416 && have > 0 && (size === null || have === size)) {
          await res.body?.cancel(); // nothing left to fetch: verify what we have
        } else if (!res.ok) {
          throw await failure(res, what);
        }
        if (res.status !== 206 && res.status !== 416 && have > 0) {
          rmSync(incomplete); // the server ignored the Range request: start over
          have = 0;
        }
        size ??= sizeFromResponse(res);
        const hasher = blobHasher(etag, size);
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
              if (size !== null && done + chunk.length > size) {
                await res.body.cancel().catch(() => {});
                throw new HubError(
                  `${what}: the server sent more than the expected ${size} bytes; download discarded`,
                  null,
                );
              }
              await file.write(chunk);
              hasher?.hash.update(chunk);
              done += chunk.length;
              onBytes(done, size);
            }
          }
          await file.sync(); // on disk before the rename below makes it a complete blob
        } catch (err) {
          if (err instanceof HubError && !err.transient) rmSync(incomplete, { force: true });
          throw err;
        } finally {
          await file.close();
        }
        clearTimeout(idle);
        const got = statSync(incomplete).size;
        if (size !== null && got < size) throw new Error(`connection closed after ${got} of ${size} bytes`);
        const digest = hasher ? hasher.hash.digest('hex') : await gitBlobSha1OfFile(incomplete);
        if (digest !== etag) {
          rmSync(incomplete);
          const kind = hasher?.kind ?? 'git-sha1';
          const unknown = size === null ? ` (the server gave no size; ${got} bytes arrived, possibly truncated)` : '';
          throw new HubError(
            `${what}: ${kind} checksum mismatch (expected ${etag}, got ${digest})${unknown}; the corrupted download was discarded`,
            null,
          );
        }
        renameSync(incomplete, blobPath);
        fsyncFolder(dirname(blobPath));
      } finally {
        clearTimeout(idle);
      }
    },
    '; the partial file is kept and the next pull resumes it',
  );
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
 *   endpoint HF_ENDPOINT, progress on a TTY, maxAttempts TUNEKIT_HUB_RETRIES + 1 (5), idleTimeoutMs
 *   HF_HUB_DOWNLOAD_TIMEOUT × 1000 (10000)
 * @throws HubError with the HTTP status for 401/403/404, on network failures after the retries, and
 *   on checksum mismatches
 */
export async function pullRepo(repoId: string, options: PullOptions = {}): Promise<PullResult> {
  validateRepoId(repoId);
  const revision = options.revision ?? 'main';
  if (revision.split('/').some((seg) => seg === '' || seg === '.' || seg === '..'))
    throw new Error(`invalid revision "${displaySafe(revision)}"`);
  const ctx = requestContext(options);
  const log = ctx.log;
  const { commit, files } = await listRepoFiles(repoId, {
    revision,
    endpoint: ctx.endpoint,
    idleTimeoutMs: ctx.idleTimeoutMs,
    maxAttempts: ctx.maxAttempts,
    log,
    ...(ctx.token !== undefined ? { token: ctx.token } : {}),
  });
  const include = options.include ?? [];
  const selected = include.length > 0 ? files.filter((f) => matchesAny(f.path, include)) : files;
  if (selected.length === 0) {
    throw new Error(
      `${repoId}@${displaySafe(revision)}: no file matches ${include.length > 0 ? include.join(', ') : 'the listing (empty repo)'}`,
    );
  }
  for (const file of selected) checkLocalName(file.path);
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
    // A verified blob is in the cache under its etag; otherwise get what the listing lacks.
    const cached =
      etag !== null &&
      existsSync(join(blobsDir, etag)) &&
      (size === null || statSync(join(blobsDir, etag)).size === size);
    if (!cached && (etag === null || size === null)) {
      const head = await withRetries(ctx, `fetching ${displaySafe(file.path)}`, () => headFile(ctx, url, file.path));
      etag ??= head.etag;
      size ??= head.size;
    }
    if (etag === null) throw new HubError(`fetching ${displaySafe(file.path)}: no checksum known`, null); // unreachable: headFile checks it
    const blobPath = join(blobsDir, etag);
    if (cached || (existsSync(blobPath) && (size === null || statSync(blobPath).size === size))) {
      result.cached.push(file.path);
      log(`cached ${file.path}`);
    } else {
      log(`downloading ${file.path}${size !== null ? ` (${formatBytes(size)})` : ' (size unknown)'}`);
      const bar = showProgress
        ? new cliProgress.SingleBar(
            {
              format: '{file} [{bar}] {percentage}% | {done} / {size}',
              stream: process.stderr,
              noTTYOutput: !process.stderr.isTTY,
              hideCursor: true,
            },
            cliProgress.Presets.shades_classic,
          )
        : null;
      bar?.start(size ?? 0, 0, {
        file: displaySafe(file.path, 60),
        done: formatBytes(0),
        size: size === null ? '?' : formatBytes(size),
      });
      try {
        await downloadBlob(ctx, url, file.path, blobPath, etag, size, (done, total) => {
          if (bar) {
            bar.setTotal(total ?? done);
            bar.update(done, { done: formatBytes(done), size: total === null ? '?' : formatBytes(total) });
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
