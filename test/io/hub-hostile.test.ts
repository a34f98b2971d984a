/**
 * `pullRepo` against a scripted, misbehaving Hub on 127.0.0.1 (never the real network): listings
 * without sizes, truncated bodies, HEAD answers without size headers, stalls, names and error
 * bodies with terminal escapes, conflicting paths, bad HF_ENDPOINT schemes.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  HubError,
  checkEndpoint,
  displaySafe,
  hubDownloadTimeoutMs,
  hubEndpoint,
  hubRetries,
  pullRepo,
  repoCacheDir,
} from '../../src/io/hub.js';
import { repoRoot } from '../helpers/shared.js';

const tmp = mkdtempSync(join(tmpdir(), 'tunekit-hub-hostile-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshCache = (): string => join(tmp, `cache-${n++}`);

const gitBlobId = (b: Buffer): string => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
const COMMIT = 'c'.repeat(40);
const REPO = 'org/model';
const CONTENT = Buffer.from('{"model_type": "llama", "hidden_size": 64}\n'.repeat(50));

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void;
let handler: Handler = (_req, res) => res.writeHead(404).end();
const seen: string[] = [];
const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  seen.push(`${req.method} ${url.pathname}`);
  handler(req, res, url);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const isListing = (url: URL): boolean => url.pathname.startsWith('/api/models/');
const listing = (res: ServerResponse, siblings: unknown[]): void => {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sha: COMMIT, siblings }));
};
const opts = (extra: Record<string, unknown> = {}) => ({
  endpoint: origin,
  token: undefined,
  progress: false,
  idleTimeoutMs: 2000,
  maxAttempts: 2,
  cacheDir: freshCache(),
  ...extra,
});

test('a listing without sizes: a truncated body is never kept as complete (size fetched by HEAD, checksum always checked)', async () => {
  // The listing has the blob id but no size; GET sends the first half, chunked, and ends cleanly.
  const half = CONTENT.subarray(0, CONTENT.length >> 1);
  for (const headHasSize of [true, false]) {
    handler = (req, res, url) => {
      if (isListing(url)) return listing(res, [{ rfilename: 'config.json', blobId: gitBlobId(CONTENT) }]);
      if (req.method === 'HEAD') {
        res
          .writeHead(200, {
            etag: `"${gitBlobId(CONTENT)}"`,
            ...(headHasSize ? { 'content-length': String(CONTENT.length) } : {}),
          })
          .end();
        return;
      }
      res.writeHead(200, {}); // no content-length: chunked
      res.end(half);
    };
    const o = opts();
    await assert.rejects(pullRepo(REPO, o), (e: Error) => {
      assert.ok(e instanceof HubError, String(e));
      if (headHasSize)
        assert.match(e.message, /config\.json: failed after 2 attempts \(connection closed after \d+ of \d+ bytes\)/);
      else
        assert.match(
          e.message,
          /config\.json: git-sha1 checksum mismatch .*the server gave no size; \d+ bytes arrived, possibly truncated/,
        );
      return true;
    });
    const snapshot = join(repoCacheDir(REPO, o.cacheDir), 'snapshots', COMMIT);
    assert.ok(!existsSync(join(snapshot, 'config.json')), 'nothing linked into the snapshot');
    assert.ok(!existsSync(join(repoCacheDir(REPO, o.cacheDir), 'blobs', gitBlobId(CONTENT))));
  }
});

test('a HEAD answer without size headers means "unknown", not 0: the file downloads and is verified', async () => {
  handler = (req, res, url) => {
    if (isListing(url)) return listing(res, [{ rfilename: 'config.json' }]);
    if (req.method === 'HEAD') return void res.writeHead(200, { etag: `"${gitBlobId(CONTENT)}"` }).end();
    res.writeHead(200, {});
    res.end(CONTENT);
  };
  const r = await pullRepo(REPO, opts());
  assert.deepEqual(r.downloaded, ['config.json']);
  assert.deepEqual(readFileSync(join(r.snapshotDir, 'config.json')), CONTENT);
});

test('the size comes from the GET answer when neither the listing nor HEAD give it; a longer body is refused', async () => {
  let extra = false;
  handler = (req, res, url) => {
    if (isListing(url)) return listing(res, [{ rfilename: 'w.bin', blobId: gitBlobId(CONTENT) }]);
    if (req.method === 'HEAD') return void res.writeHead(200, { etag: `"${gitBlobId(CONTENT)}"` }).end();
    if (!extra) return void res.writeHead(200, { 'content-length': String(CONTENT.length) }).end(CONTENT);
    res.writeHead(200, {}).end(Buffer.concat([CONTENT, Buffer.from('more')]));
  };
  const r = await pullRepo(REPO, opts());
  assert.deepEqual(readFileSync(join(r.snapshotDir, 'w.bin')), CONTENT);
  extra = true;
  await assert.rejects(pullRepo(REPO, opts()), /w\.bin: git-sha1 checksum mismatch/);
});

test('server names and error bodies with terminal escapes are escaped in messages and never created on disk', async () => {
  const evil = 'evil\u001b]0;pwned\u0007\u001b[31m.txt';
  handler = (_req, res, url) => {
    if (isListing(url)) return listing(res, [{ rfilename: evil, size: 3, blobId: gitBlobId(Buffer.from('abc')) }]);
    res.writeHead(200).end('abc');
  };
  const o = opts();
  await assert.rejects(pullRepo(REPO, o), (e: Error) => {
    assert.match(e.message, /file name with control characters, "evil\\u001b\]0;pwned\\u0007\\u001b\[31m\.txt"/);
    // eslint-disable-next-line no-control-regex -- checks that no control character is left
    assert.ok(!/[\u0000-\u001f]/.test(e.message), 'no raw control character in the message');
    return true;
  });
  assert.ok(
    !existsSync(join(repoCacheDir(REPO, o.cacheDir), 'snapshots')) ||
      readdirSync(join(repoCacheDir(REPO, o.cacheDir), 'snapshots')).length === 0,
  );

  handler = (_req, res) => {
    // (node refuses control characters in headers, so the body carries them, as JSON {error})
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'gone\u001b[2J\u009b31m' }));
  };
  await assert.rejects(pullRepo(REPO, opts()), (e: Error) => {
    assert.match(e.message, /404 not found: gone\\u001b\[2J\\u009b31m/);
    return true;
  });
  handler = (_req, res) => {
    res.writeHead(500).end(`oops\n\u001b[1A\u001b[2K${'x'.repeat(100_000)}`);
  };
  await assert.rejects(pullRepo(REPO, opts({ maxAttempts: 1 })), (e: Error) => {
    // eslint-disable-next-line no-control-regex -- checks that no control character is left
    assert.ok(!/[\u0000-\u001f\u007f-\u009f]/.test(e.message));
    assert.ok(e.message.length < 600, 'a long error body is cut');
    return true;
  });
  assert.equal(displaySafe('a\u202eb\u0000c'), 'a\\u202eb\\u0000c');
});

test('a listing with both "a" and "a/b" (or a path twice) is a clear error, not a raw EEXIST', async () => {
  for (const siblings of [
    [{ rfilename: 'a' }, { rfilename: 'a/b' }],
    [{ rfilename: 'x/y/z' }, { rfilename: 'x/y' }],
    [{ rfilename: 'd' }, { rfilename: 'd' }],
  ]) {
    handler = (_req, res, url) => (isListing(url) ? listing(res, siblings) : res.writeHead(404).end());
    await assert.rejects(pullRepo(REPO, opts()), (e: Error) => {
      assert.ok(e instanceof HubError, String(e));
      assert.match(
        e.message,
        /listing org\/model@main: the Hub listed "(a|x\/y|d)" (both as a file and as a folder|twice)/,
      );
      return true;
    });
  }
});

test('a stalled server: HF_HUB_DOWNLOAD_TIMEOUT and retries bound the wait, each retry is reported', async () => {
  handler = (req, res, url) => {
    if (isListing(url))
      return listing(res, [{ rfilename: 'config.json', size: CONTENT.length, blobId: gitBlobId(CONTENT) }]);
    res.writeHead(200, { 'content-length': String(CONTENT.length) });
    res.write(CONTENT.subarray(0, 10)); // then nothing
    void req;
  };
  const lines: string[] = [];
  const t0 = performance.now();
  await assert.rejects(
    pullRepo(REPO, opts({ idleTimeoutMs: 150, maxAttempts: 3, log: (l: string) => lines.push(l) })),
    (e: Error) => {
      assert.match(
        e.message,
        /config\.json: failed after 3 attempts \(.*no data for 0\.15 s.*\); set HF_HUB_DOWNLOAD_TIMEOUT \(seconds\) to wait longer/,
      );
      return true;
    },
  );
  assert.ok(performance.now() - t0 < 5000);
  assert.equal(lines.filter((l) => /retrying \(attempt [23] of 3\)/.test(l)).length, 2, lines.join('\n'));

  assert.equal(hubDownloadTimeoutMs({}), 10_000);
  assert.equal(hubDownloadTimeoutMs({ HF_HUB_DOWNLOAD_TIMEOUT: '2.5' }), 2500);
  assert.throws(
    () => hubDownloadTimeoutMs({ HF_HUB_DOWNLOAD_TIMEOUT: 'soon' }),
    /HF_HUB_DOWNLOAD_TIMEOUT=soon: expected a number of seconds > 0/,
  );
  assert.equal(hubRetries({}), 4);
  assert.equal(hubRetries({ TUNEKIT_HUB_RETRIES: '0' }), 0);
  assert.throws(
    () => hubRetries({ TUNEKIT_HUB_RETRIES: '-1' }),
    /TUNEKIT_HUB_RETRIES=-1: expected an integer in \[0, 100\]/,
  );
});

test('HF_ENDPOINT must be an http(s) URL', async () => {
  assert.throws(
    () => hubEndpoint({ HF_ENDPOINT: 'ftp://mirror.example' }),
    /HF_ENDPOINT=ftp:\/\/mirror\.example: the scheme "ftp" is not supported; expected an http:\/\/ or https:\/\/ URL/,
  );
  assert.throws(() => hubEndpoint({ HF_ENDPOINT: 'file:///etc' }), /the scheme "file" is not supported/);
  assert.throws(() => hubEndpoint({ HF_ENDPOINT: 'huggingface.co' }), /HF_ENDPOINT=huggingface\.co: not a URL/);
  assert.equal(checkEndpoint('http://127.0.0.1:8080//'), 'http://127.0.0.1:8080');
  await assert.rejects(
    pullRepo(REPO, { ...opts(), endpoint: 'javascript:alert(1)' }),
    /endpoint=javascript:alert\(1\): the scheme "javascript" is not supported/,
  );
});

test('tunekit pull: --timeout/--retries and HF_HUB_DOWNLOAD_TIMEOUT reach the download; bad HF_ENDPOINT fails before any request', async () => {
  // The listing never answers (whatever the child's start-up time, the listing is what times out).
  handler = () => {};
  const run = (args: string[], env: Record<string, string>) =>
    new Promise<{ code: number; stderr: string; ms: number }>((resolve) => {
      const t0 = performance.now();
      execFile(
        process.execPath,
        [join(repoRoot, 'dist/src/cli/main.js'), 'pull', REPO, '--cache-dir', freshCache(), ...args],
        {
          env: { ...process.env, HF_TOKEN: '', ...env },
          timeout: 20_000,
        },
        (error, _stdout, stderr) =>
          resolve({
            code: error ? Number((error as { code?: number }).code ?? 1) : 0,
            stderr,
            ms: performance.now() - t0,
          }),
      );
    });
  const viaFlags = await run(['--timeout', '0.6', '--retries', '1'], { HF_ENDPOINT: origin });
  assert.equal(viaFlags.code, 1);
  assert.match(viaFlags.stderr, /retrying \(attempt 2 of 2\)/);
  assert.match(
    viaFlags.stderr,
    /listing org\/model@main: failed after 2 attempts \(no answer from http:\/\/127\.0\.0\.1:\d+ \(no data for 0\.6 s\)\); set HF_HUB_DOWNLOAD_TIMEOUT/,
  );
  const viaEnv = await run([], { HF_ENDPOINT: origin, HF_HUB_DOWNLOAD_TIMEOUT: '0.6', TUNEKIT_HUB_RETRIES: '0' });
  assert.equal(viaEnv.code, 1);
  assert.match(viaEnv.stderr, /failed after 1 attempts \(.*no data for 0\.6 s/);
  assert.ok(viaEnv.ms < 8000);
  const before = seen.length;
  const bad = await run([], { HF_ENDPOINT: 'gopher://x' });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /HF_ENDPOINT=gopher:\/\/x: the scheme "gopher" is not supported/);
  assert.equal(seen.length, before);
});
