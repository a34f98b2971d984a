/**
 * `pullRepo` / `tunekit pull` against a local node:http server that serves the Hub's URL layout
 * (never the real network).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import {
  HubError,
  cachedSnapshotDir,
  fnmatchToRegExp,
  hubCacheDir,
  hubEndpoint,
  pullRepo,
  repoCacheDir,
} from '../../src/io/hub.js';
import { repoRoot } from '../helpers/shared.js';

const distRoot = join(repoRoot, 'dist');

const tmp = mkdtempSync(join(tmpdir(), 'tunekit-hub-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
let cacheCounter = 0;
const freshCache = (): string => join(tmp, `cache-${cacheCounter++}`);

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
// Git's blob id: sha1 of "blob <size>\0" followed by the content (as `git hash-object` computes it).
const gitBlobId = (b: Buffer): string => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

interface FakeFile {
  path: string;
  content: Buffer;
  lfs: boolean;
}
interface FakeRepo {
  id: string;
  commit: string;
  files: FakeFile[];
  private?: boolean;
}

/** What the fake Hub saw, for assertions. */
interface RequestLog {
  method: string;
  url: string;
  range: string | undefined;
  authorization: string | undefined;
  host: string;
}

class FakeHub {
  readonly log: RequestLog[] = [];
  /** Content paths whose next GET is cut after half the body. */
  readonly interrupt = new Set<string>();
  /** Content paths whose next GET answers 503 Service Unavailable. */
  readonly unavailable = new Set<string>();
  /** Content paths served with one byte flipped. */
  readonly corrupt = new Set<string>();
  /** Origin LFS downloads are redirected to (a "CDN"); default this server. */
  cdnOrigin: string | null = null;
  /** Listing without sizes/blob ids (forces HEAD requests). */
  bareListing = false;
  private server!: Server;
  origin = '';

  constructor(
    readonly repos: FakeRepo[],
    readonly token = 'hf_secret',
  ) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  contentRequests(): RequestLog[] {
    return this.log.filter((r) => r.method === 'GET' && (r.url.includes('/resolve/') || r.url.startsWith('/cdn/')));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url!, this.origin);
    const authorized = req.headers.authorization === `Bearer ${this.token}`;
    this.log.push({
      method: req.method!,
      url: req.url!,
      range: req.headers.range,
      authorization: req.headers.authorization,
      host: req.headers.host!,
    });
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url.pathname);
    if (api) {
      const repo = this.findRepo(api[1]!, authorized, res);
      if (!repo) return;
      const rev = decodeURIComponent(api[2]!);
      if (rev !== 'main' && rev !== repo.commit) {
        res
          .writeHead(404, { 'x-error-code': 'RevisionNotFound', 'content-type': 'application/json' })
          .end(JSON.stringify({ error: `Invalid rev id: ${rev}` }));
        return;
      }
      const siblings = repo.files.map((f) => {
        if (this.bareListing) return { rfilename: f.path };
        const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(f.content)}\nsize ${f.content.length}\n`;
        return {
          rfilename: f.path,
          size: f.content.length,
          blobId: f.lfs ? gitBlobId(Buffer.from(pointer)) : gitBlobId(f.content),
          ...(f.lfs ? { lfs: { sha256: sha256(f.content), size: f.content.length, pointerSize: pointer.length } } : {}),
        };
      });
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ id: repo.id, sha: repo.commit, siblings }));
      return;
    }
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([0-9a-f]{40})\/(.+)$/.exec(url.pathname);
    if (resolve) {
      const repo = this.findRepo(resolve[1]!, authorized, res);
      if (!repo) return;
      const path = resolve[3]!.split('/').map(decodeURIComponent).join('/');
      const file = repo.files.find((f) => f.path === path);
      if (!file || resolve[2] !== repo.commit) {
        res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end();
        return;
      }
      if (file.lfs) {
        // The Hub answers LFS files with a redirect to the CDN and the sha256 in X-Linked-Etag.
        res
          .writeHead(302, {
            location: `${this.cdnOrigin ?? ''}/cdn/${repo.id}/${sha256(file.content)}`,
            'x-linked-etag': `"${sha256(file.content)}"`,
            'x-linked-size': String(file.content.length),
            'x-repo-commit': repo.commit,
            etag: `"${gitBlobId(file.content)}"`,
          })
          .end();
        return;
      }
      this.sendContent(req, res, `${repo.id}/${file.path}`, file.content, `"${gitBlobId(file.content)}"`);
      return;
    }
    const cdn = /^\/cdn\/([^/]+\/[^/]+)\/([0-9a-f]{64})$/.exec(url.pathname);
    if (cdn) {
      const repo = this.repos.find((r) => r.id === cdn[1]);
      const file = repo?.files.find((f) => sha256(f.content) === cdn[2]);
      if (!file) {
        res.writeHead(404).end();
        return;
      }
      this.sendContent(req, res, `${repo!.id}/${file.path}`, file.content, `"${cdn[2]}"`);
      return;
    }
    res.writeHead(404).end();
  }

  private findRepo(id: string, authorized: boolean, res: ServerResponse): FakeRepo | null {
    const repo = this.repos.find((r) => r.id === id);
    // Like the Hub, a private repo without valid credentials answers 401 (as a missing one would).
    if (repo?.private && !authorized) {
      res
        .writeHead(401, {
          'x-error-code': 'RepoNotFound',
          'x-error-message': 'Invalid credentials in Authorization header',
        })
        .end();
      return null;
    }
    if (!repo) {
      res
        .writeHead(404, { 'x-error-code': 'RepoNotFound', 'content-type': 'application/json' })
        .end(JSON.stringify({ error: 'Repository not found' }));
      return null;
    }
    return repo;
  }

  /** Serves content with Range support, honouring the interrupt/corrupt switches. */
  private sendContent(req: IncomingMessage, res: ServerResponse, key: string, content: Buffer, etag: string): void {
    let body = content;
    if (this.corrupt.has(key)) {
      body = Buffer.from(content);
      body[body.length >> 1]! ^= 0xff;
    }
    if (req.method === 'GET' && this.unavailable.delete(key)) {
      res.writeHead(503).end('try again');
      return;
    }
    if (req.method === 'HEAD') {
      res.writeHead(200, { etag, 'content-length': String(content.length) }).end();
      return;
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    let start = 0;
    if (range) {
      start = Number(range[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, {
        etag,
        'content-length': String(body.length - start),
        'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
      });
    } else {
      res.writeHead(200, { etag, 'content-length': String(body.length) });
    }
    const rest = body.subarray(start);
    if (this.interrupt.has(key)) {
      this.interrupt.delete(key);
      // A graceful close after half the body: the client sees a short response (no RST losing data).
      res.write(rest.subarray(0, rest.length >> 1), () => res.socket?.end());
      return;
    }
    res.end(rest);
  }
}

const COMMIT = 'a'.repeat(39) + '1';
const weights = randomBytes(300_000);
const repo: FakeRepo = {
  id: 'tiny-org/tiny-model',
  commit: COMMIT,
  files: [
    { path: 'config.json', content: Buffer.from('{"model_type": "llama"}\n'), lfs: false },
    { path: 'model.safetensors', content: weights, lfs: true },
    { path: 'nested/dir/notes.txt', content: Buffer.from('hello\n'), lfs: false },
  ],
};
const privateRepo: FakeRepo = {
  id: 'secret-org/gated',
  commit: 'b'.repeat(40),
  private: true,
  files: [{ path: 'a.bin', content: randomBytes(1000), lfs: true }],
};

const hub = await new FakeHub([repo, privateRepo]).start();
const cdn = await new FakeHub([repo]).start(); // a second origin playing the CDN
after(async () => {
  await hub.stop();
  await cdn.stop();
});

const base = () => ({
  endpoint: hub.origin,
  token: undefined as string | undefined,
  progress: false,
  idleTimeoutMs: 5000,
});

test('pull lays the cache out like huggingface_hub and reuses it', async () => {
  const cacheDir = freshCache();
  const result = await pullRepo(repo.id, { ...base(), cacheDir });
  const repoDir = join(cacheDir, 'models--tiny-org--tiny-model');
  assert.equal(result.commit, COMMIT);
  assert.equal(result.snapshotDir, join(repoDir, 'snapshots', COMMIT));
  assert.deepEqual(result.downloaded.sort(), ['config.json', 'model.safetensors', 'nested/dir/notes.txt']);
  assert.equal(readFileSync(join(repoDir, 'refs', 'main'), 'utf8'), COMMIT);
  // Blobs are named by sha256 (LFS) or git blob id (regular files); snapshots hold relative symlinks.
  assert.deepEqual(
    readdirSync(join(repoDir, 'blobs')).sort(),
    [gitBlobId(repo.files[0]!.content), gitBlobId(repo.files[2]!.content), sha256(weights)].sort(),
  );
  assert.equal(readlinkSync(join(result.snapshotDir, 'model.safetensors')), `../../blobs/${sha256(weights)}`);
  assert.equal(
    readlinkSync(join(result.snapshotDir, 'nested/dir/notes.txt')),
    `../../../../blobs/${gitBlobId(Buffer.from('hello\n'))}`,
  );
  for (const f of repo.files) assert.deepEqual(readFileSync(join(result.snapshotDir, f.path)), f.content);
  assert.equal(cachedSnapshotDir(repo.id, 'main', cacheDir), result.snapshotDir);
  assert.equal(cachedSnapshotDir(repo.id, COMMIT, cacheDir), result.snapshotDir);
  assert.equal(cachedSnapshotDir(repo.id, 'v2', cacheDir), null);

  // A second pull fetches nothing.
  const before = hub.contentRequests().length;
  const again = await pullRepo(repo.id, { ...base(), cacheDir });
  assert.deepEqual(again.downloaded, []);
  assert.equal(again.cached.length, 3);
  assert.equal(hub.contentRequests().length, before);
});

test('include patterns select files (fnmatch, "dir/" = everything under it)', async () => {
  const cacheDir = freshCache();
  const r = await pullRepo(repo.id, { ...base(), cacheDir, include: ['*.json', 'nested/'] });
  assert.deepEqual(r.downloaded.sort(), ['config.json', 'nested/dir/notes.txt']);
  assert.ok(!existsSync(join(r.snapshotDir, 'model.safetensors')));
  await assert.rejects(pullRepo(repo.id, { ...base(), cacheDir, include: ['*.gguf'] }), /no file matches \*\.gguf/);
  assert.ok(fnmatchToRegExp('*.safetensors').test('sub/model.safetensors')); // * crosses "/" as in fnmatch
  assert.ok(fnmatchToRegExp('model-0000[1-2]-of-?????.bin').test('model-00002-of-00002.bin'));
  assert.ok(!fnmatchToRegExp('[!a]*').test('abc'));
  assert.ok(!fnmatchToRegExp('config.json').test('configXjson'));
});

test('an interrupted transfer is resumed with an HTTP Range request', async () => {
  const cacheDir = freshCache();
  const key = `${repo.id}/model.safetensors`;
  hub.interrupt.add(key);
  const start = hub.log.length;
  const r = await pullRepo(repo.id, { ...base(), cacheDir, include: ['model.safetensors'] });
  assert.deepEqual(readFileSync(join(r.snapshotDir, 'model.safetensors')), weights);
  const cdnGets = hub.log.slice(start).filter((l) => l.url.startsWith('/cdn/'));
  assert.equal(cdnGets.length, 2);
  assert.equal(cdnGets[0]!.range, undefined);
  // The retry asks for the rest of what reached the disk: at most the half the server sent (bytes
  // still buffered in the client when the connection dropped are lost, as on a real network).
  const resumedAt = Number(/^bytes=(\d+)-$/.exec(cdnGets[1]!.range ?? '')?.[1]);
  assert.ok(resumedAt > 0 && resumedAt <= weights.length >> 1, `range ${cdnGets[1]!.range}`);

  // With a single attempt the partial file stays as .incomplete and the next pull resumes it.
  const cache2 = freshCache();
  hub.interrupt.add(key);
  await assert.rejects(
    pullRepo(repo.id, { ...base(), cacheDir: cache2, include: ['model.safetensors'], maxAttempts: 1 }),
    (e: Error) => {
      assert.ok(e instanceof HubError);
      assert.match(e.message, /model.safetensors: failed after 1 attempts .*the next pull resumes it/);
      return true;
    },
  );
  const partial = join(repoCacheDir(repo.id, cache2), 'blobs', `${sha256(weights)}.incomplete`);
  const kept = readFileSync(partial);
  assert.ok(kept.length > 0 && kept.length <= weights.length >> 1);
  assert.deepEqual(kept, weights.subarray(0, kept.length));
  const mark = hub.log.length;
  const resumed = await pullRepo(repo.id, { ...base(), cacheDir: cache2, include: ['model.safetensors'] });
  assert.equal(hub.log.slice(mark).find((l) => l.url.startsWith('/cdn/'))!.range, `bytes=${kept.length}-`);
  assert.ok(!existsSync(partial));
  assert.deepEqual(readFileSync(join(resumed.snapshotDir, 'model.safetensors')), weights);
});

test('a 503 answer is retried', async () => {
  const cacheDir = freshCache();
  hub.unavailable.add(`${repo.id}/config.json`);
  const start = hub.log.length;
  const r = await pullRepo(repo.id, { ...base(), cacheDir, include: ['config.json'] });
  assert.deepEqual(r.downloaded, ['config.json']);
  assert.equal(hub.log.slice(start).filter((l) => l.url.endsWith('/config.json')).length, 2);
});

test('a corrupted file fails the checksum and leaves nothing behind', async () => {
  const cacheDir = freshCache();
  hub.corrupt.add(`${repo.id}/model.safetensors`);
  hub.corrupt.add(`${repo.id}/config.json`);
  try {
    await assert.rejects(
      pullRepo(repo.id, { ...base(), cacheDir, include: ['model.safetensors'] }),
      /model.safetensors: sha256 checksum mismatch \(expected [0-9a-f]{64}, got [0-9a-f]{64}\)/,
    );
    await assert.rejects(
      pullRepo(repo.id, { ...base(), cacheDir, include: ['config.json'] }),
      /config.json: git-sha1 checksum mismatch/,
    );
  } finally {
    hub.corrupt.clear();
  }
  assert.deepEqual(readdirSync(join(repoCacheDir(repo.id, cacheDir), 'blobs')), []);
});

test('HF_TOKEN is sent to the Hub but not to another origin after a redirect', async () => {
  cdn.log.length = 0;
  hub.cdnOrigin = cdn.origin;
  try {
    const r = await pullRepo(repo.id, {
      ...base(),
      token: 'hf_secret',
      cacheDir: freshCache(),
      include: ['model.safetensors'],
    });
    assert.deepEqual(readFileSync(join(r.snapshotDir, 'model.safetensors')), weights);
  } finally {
    hub.cdnOrigin = null;
  }
  const apiCall = hub.log.filter((l) => l.url.startsWith('/api/')).at(-1)!;
  assert.equal(apiCall.authorization, 'Bearer hf_secret');
  assert.equal(cdn.log.length, 1);
  assert.equal(cdn.log[0]!.authorization, undefined);
});

test('401 for private repos without a token, 404 for unknown repos, revisions and hosts', async () => {
  await assert.rejects(pullRepo(privateRepo.id, { ...base(), cacheDir: freshCache() }), (e: Error) => {
    assert.ok(e instanceof HubError);
    assert.equal(e.status, 401);
    assert.match(e.message, /401 Unauthorized .*set HF_TOKEN/);
    return true;
  });
  const ok = await pullRepo(privateRepo.id, { ...base(), token: 'hf_secret', cacheDir: freshCache() });
  assert.deepEqual(ok.downloaded, ['a.bin']);
  await assert.rejects(
    pullRepo('nobody/nothing', { ...base(), cacheDir: freshCache() }),
    /listing nobody\/nothing@main: 404 not found: Repository not found/,
  );
  await assert.rejects(pullRepo(repo.id, { ...base(), revision: 'v9', cacheDir: freshCache() }), (e: Error) => {
    assert.ok(e instanceof HubError);
    assert.equal(e.errorCode, 'RevisionNotFound');
    assert.match(e.message, /404 revision not found/);
    return true;
  });
  // A port nothing listens on.
  const closed = await new FakeHub([]).start();
  const deadOrigin = closed.origin;
  await closed.stop();
  await assert.rejects(
    pullRepo(repo.id, { ...base(), endpoint: deadOrigin, cacheDir: freshCache() }),
    /cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
  );
  await assert.rejects(pullRepo('../etc', { ...base() }), /invalid repo id "..\/etc"/);
  await assert.rejects(pullRepo('a--b/c', { ...base() }), /invalid repo id/);
});

test('listings without blob info fall back to HEAD for the etag', async () => {
  hub.bareListing = true;
  try {
    const r = await pullRepo(repo.id, { ...base(), cacheDir: freshCache() });
    assert.equal(r.downloaded.length, 3);
    for (const f of repo.files) assert.deepEqual(readFileSync(join(r.snapshotDir, f.path)), f.content);
    assert.ok(existsSync(join(repoCacheDir(repo.id, join(r.snapshotDir, '../../..')), 'blobs', sha256(weights))));
  } finally {
    hub.bareListing = false;
  }
});

test('cache dir and endpoint come from the environment like huggingface_hub', () => {
  assert.equal(hubCacheDir({ HF_HUB_CACHE: '/x/hub', HF_HOME: '/y' }), '/x/hub');
  assert.equal(hubCacheDir({ HF_HOME: '/y' }), '/y/hub');
  assert.equal(hubCacheDir({ XDG_CACHE_HOME: '/z' }), '/z/huggingface/hub');
  assert.match(hubCacheDir({}), /\.cache\/huggingface\/hub$/);
  assert.equal(hubEndpoint({}), 'https://huggingface.co');
  assert.equal(hubEndpoint({ HF_ENDPOINT: 'https://hf-mirror.com/' }), 'https://hf-mirror.com');
});

test('tunekit pull prints the snapshot folder (HF_ENDPOINT, --include, --cache-dir, --progress)', async () => {
  const cacheDir = freshCache();
  // Run the command in a child process, as a user would, with HF_ENDPOINT pointing at the fake Hub.
  const run = (...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [join(distRoot, 'src/cli/main.js'), ...args],
        {
          cwd: repoRoot,
          env: { ...process.env, HF_ENDPOINT: hub.origin, HF_TOKEN: '' },
        },
        (error, stdout, stderr) =>
          resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  const snapshot = `${join(cacheDir, 'models--tiny-org--tiny-model', 'snapshots', COMMIT)}\n`;
  const ok = await run('pull', repo.id, '--cache-dir', cacheDir, '--include', '*.json');
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, snapshot);
  assert.match(ok.stderr, /downloading config\.json/);
  assert.match(ok.stderr, /1 downloaded, 0 already cached/);
  const missing = await run('pull', 'nobody/nothing', '--cache-dir', cacheDir);
  assert.equal(missing.code, 1);
  assert.equal(missing.stdout, '');
  assert.match(missing.stderr, /error: listing nobody\/nothing@main: 404/);
  // --progress forces a bar even without a terminal.
  const bar = await run(
    'pull',
    repo.id,
    '--cache-dir',
    cacheDir,
    '--include',
    'model.safetensors',
    '--progress',
    '--quiet',
  );
  assert.equal(bar.stdout, snapshot);
  assert.match(bar.stderr, /model\.safetensors \[.*\] 100% \| 300\.0 kB \/ 300\.0 kB/);
});
