import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  cleanStaleTemps,
  readFileBounded,
  readTextBounded,
  recoverFolder,
  writeFileAtomic,
  writeFolderAtomic,
  writeFolderAtomicSync,
  writeJsonAtomic,
} from '../../src/io/files.js';
import { readJsonFile } from '../../src/io/json.js';
import { saveModelFolder } from '../../src/models/weights.js';
import { readSafetensors } from '../../src/io/safetensors.js';

const root = mkdtempSync(join(tmpdir(), 'tunekit-files-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const fresh = (): string => {
  const d = join(root, `case-${counter++}`);
  mkdirSync(d);
  return d;
};
const filesModule = fileURLToPath(new URL('../../src/io/files.js', import.meta.url));
const temps = (dir: string): string[] => readdirSync(dir).filter((n) => n.includes('.tunekit-'));
const contents = (dir: string): Record<string, string> =>
  Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((n) => [n, readFileSync(join(dir, n), 'utf8')]),
  );

/**
 * Runs a child process that writes `target` (version v2: a.txt, b.txt) with writeFolderAtomicSync
 * and SIGKILLs itself at `crashAt`: during the fill, just before the second rename (tmp -> dir), or
 * just before deleting the previous version. Node's fs is patched in the child, so the kill happens
 * at exactly that point of the real code path.
 */
function killedFolderWrite(target: string, crashAt: 'fill' | 'beforeSwap' | 'beforeDeleteOld'): void {
  const script = `
    import fs from 'node:fs';
    import { syncBuiltinESMExports } from 'node:module';
    const crashAt = ${JSON.stringify(crashAt)};
    const target = ${JSON.stringify(target)};
    const die = () => process.kill(process.pid, 'SIGKILL');
    const rename = fs.renameSync, rm = fs.rmSync;
    fs.renameSync = (from, to) => { if (crashAt === 'beforeSwap' && to === target) die(); return rename(from, to); };
    fs.rmSync = (p, o) => { if (crashAt === 'beforeDeleteOld' && String(p).includes('.tunekit-old-')) die(); return rm(p, o); };
    syncBuiltinESMExports();
    const { writeFolderAtomicSync } = await import(${JSON.stringify(filesModule)});
    writeFolderAtomicSync(target, (tmp) => {
      fs.writeFileSync(tmp + '/a.txt', 'v2-a');
      if (crashAt === 'fill') die();
      fs.writeFileSync(tmp + '/b.txt', 'v2-b');
    });
    process.exit(3); // not reached
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.signal, 'SIGKILL', `child should have been killed: ${r.stderr}`);
}

function writeV1(dir: string): void {
  writeFolderAtomicSync(dir, (tmp) => {
    writeFileSync(join(tmp, 'a.txt'), 'v1-a');
    writeFileSync(join(tmp, 'old-only.txt'), 'v1');
  });
}

test('writeFolderAtomicSync: kill -9 during the fill leaves the previous version; the temporary is cleaned at the next start', () => {
  const parent = fresh();
  const dir = join(parent, 'model');
  writeV1(dir);
  killedFolderWrite(dir, 'fill');
  assert.deepEqual(contents(dir), { 'a.txt': 'v1-a', 'old-only.txt': 'v1' });
  assert.equal(temps(parent).length, 1, 'the killed run left its temporary folder');
  assert.deepEqual(cleanStaleTemps(parent).length, 1);
  assert.deepEqual(temps(parent), []);
  assert.deepEqual(contents(dir), { 'a.txt': 'v1-a', 'old-only.txt': 'v1' });
});

test('writeFolderAtomicSync: kill -9 between the two renames; the next start restores the complete previous version', () => {
  const parent = fresh();
  const dir = join(parent, 'model');
  writeV1(dir);
  killedFolderWrite(dir, 'beforeSwap');
  assert.equal(
    existsSync(dir),
    false,
    'the crash point is between moving the old version aside and moving the new one in',
  );
  assert.equal(temps(parent).length, 2);
  assert.equal(recoverFolder(dir), true);
  assert.deepEqual(contents(dir), { 'a.txt': 'v1-a', 'old-only.txt': 'v1' });
  assert.deepEqual(temps(parent), []);
});

test('writeFolderAtomicSync: the next write in the same parent also recovers an interrupted swap', () => {
  const parent = fresh();
  const dir = join(parent, 'model');
  writeV1(dir);
  killedFolderWrite(dir, 'beforeSwap');
  // A write of a sibling folder runs the cleanup of the parent, which renames the old copy back.
  writeFolderAtomicSync(join(parent, 'other'), (tmp) => writeFileSync(join(tmp, 'x'), 'x'));
  assert.deepEqual(contents(dir), { 'a.txt': 'v1-a', 'old-only.txt': 'v1' });
  assert.deepEqual(temps(parent), []);
});

test('writeFolderAtomicSync: kill -9 after the swap leaves the complete new version; the old copy is cleaned', () => {
  const parent = fresh();
  const dir = join(parent, 'model');
  writeV1(dir);
  killedFolderWrite(dir, 'beforeDeleteOld');
  assert.deepEqual(contents(dir), { 'a.txt': 'v2-a', 'b.txt': 'v2-b' });
  assert.equal(temps(parent).length, 1);
  writeFolderAtomicSync(dir, (tmp) => writeFileSync(join(tmp, 'c.txt'), 'v3'));
  assert.deepEqual(contents(dir), { 'c.txt': 'v3' });
  assert.deepEqual(temps(parent), []);
});

test('writeFolderAtomicSync: a failing fill leaves the previous version and no temporary', () => {
  const parent = fresh();
  const dir = join(parent, 'model');
  writeV1(dir);
  assert.throws(
    () =>
      writeFolderAtomicSync(dir, (tmp) => {
        writeFileSync(join(tmp, 'a.txt'), 'half');
        throw new Error('disk full');
      }),
    /disk full/,
  );
  assert.deepEqual(contents(dir), { 'a.txt': 'v1-a', 'old-only.txt': 'v1' });
  assert.deepEqual(temps(parent), []);
});

test('writeFolderAtomic (async fill), new folders, nested files, keep, symlinked target, file in the way', async () => {
  const parent = fresh();
  const dir = join(parent, 'deep', 'adapter');
  await writeFolderAtomic(dir, async (tmp) => {
    await new Promise((r) => setTimeout(r, 5));
    mkdirSync(join(tmp, 'sub'));
    writeFileSync(join(tmp, 'sub', 'x.txt'), 'x');
    writeFileSync(join(tmp, 'cfg.json'), '{}');
  });
  assert.equal(readFileSync(join(dir, 'sub', 'x.txt'), 'utf8'), 'x');
  await assert.rejects(
    writeFolderAtomic(dir, () => {
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.equal(readFileSync(join(dir, 'cfg.json'), 'utf8'), '{}');

  writeFolderAtomicSync(dir, (tmp) => writeFileSync(join(tmp, 'cfg.json'), '{"v":2}'), { keep: (n) => n === 'sub' });
  assert.deepEqual(readdirSync(dir).sort(), ['cfg.json', 'sub']);
  assert.equal(readFileSync(join(dir, 'sub', 'x.txt'), 'utf8'), 'x');

  const real = join(parent, 'real');
  writeFolderAtomicSync(real, (tmp) => writeFileSync(join(tmp, 'f'), '1'));
  const link = join(parent, 'link');
  symlinkSync(real, link);
  writeFolderAtomicSync(link, (tmp) => writeFileSync(join(tmp, 'f'), '2'));
  assert.equal(readFileSync(join(real, 'f'), 'utf8'), '2', 'the symlink is followed, its target replaced');

  const file = join(parent, 'a-file');
  writeFileSync(file, 'not a folder');
  assert.throws(
    () => writeFolderAtomicSync(file, () => {}),
    (e: Error) => e.message.includes(file) && /exists and is not a folder/.test(e.message),
  );
  assert.equal(readFileSync(file, 'utf8'), 'not a folder');
  assert.deepEqual(temps(parent), []);
  assert.deepEqual(temps(join(parent, 'deep')), []);
});

test('cleanup leaves live writers, other hosts and look-alike names alone', () => {
  const parent = fresh();
  writeFileSync(join(parent, 'x.tmp-1'), 'user file');
  writeFileSync(join(parent, '.x.tunekit-tmp-zzzzzz-1-abcdef'), 'not our pattern');
  writeFileSync(join(parent, '.x.tunekit-tmp-000000-2147483646-abcdef'), 'another host');
  writeFolderAtomicSync(join(parent, 'live'), (tmp) => {
    writeFileSync(join(tmp, 'f'), '1');
    assert.deepEqual(cleanStaleTemps(parent), [], 'our own (live) temporary is not touched');
    assert.ok(existsSync(tmp));
  });
  assert.deepEqual(readdirSync(parent).sort(), [
    '.x.tunekit-tmp-000000-2147483646-abcdef',
    '.x.tunekit-tmp-zzzzzz-1-abcdef',
    'live',
    'x.tmp-1',
  ]);
});

test('writeFileAtomic: replaces whole, kill -9 mid-write leaves the old file and a temporary the next run removes', () => {
  const dir = fresh();
  const path = join(dir, 'config.json');
  writeJsonAtomic(path, { a: 1 });
  assert.equal(readFileSync(path, 'utf8'), '{\n  "a": 1\n}\n');
  writeFileAtomic(path, new Uint8Array([65, 66]));
  assert.equal(readFileSync(path, 'utf8'), 'AB');
  writeFileAtomic(path, (fd) => writeFileSync(fd, 'via fd'));
  assert.equal(readFileSync(path, 'utf8'), 'via fd');

  const script = `
    import fs from 'node:fs';
    const { writeFileAtomic } = await import(${JSON.stringify(filesModule)});
    writeFileAtomic(${JSON.stringify(path)}, (fd) => { fs.writeSync(fd, 'partial'); process.kill(process.pid, 'SIGKILL'); });
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.signal, 'SIGKILL', r.stderr);
  assert.equal(readFileSync(path, 'utf8'), 'via fd');
  assert.equal(temps(dir).length, 1);
  // A new process's first write into the folder cleans it.
  const r2 = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { writeFileAtomic } = await import(${JSON.stringify(filesModule)}); writeFileAtomic(${JSON.stringify(join(dir, 'other'))}, 'x');`,
    ],
    { encoding: 'utf8', timeout: 20_000 },
  );
  assert.equal(r2.status, 0, r2.stderr);
  assert.deepEqual(temps(dir), []);

  assert.throws(() => writeFileAtomic(dir, 'x'), /is a folder, cannot write a file there/);
  assert.throws(() => writeFileAtomic(join(dir, 'missing', 'f'), 'x'), /missing.*does not exist/);
  assert.throws(
    () =>
      writeFileAtomic(path, () => {
        throw new Error('writer failed');
      }),
    /writer failed/,
  );
  assert.equal(readFileSync(path, 'utf8'), 'via fd');
  assert.deepEqual(temps(dir), []);
});

test('readFileBounded: /dev/zero, a FIFO, /proc files and folders are bounded or refused with the file and the limit named', async () => {
  if (existsSync('/dev/zero')) {
    assert.throws(
      () => readFileBounded('/dev/zero', 100_000, 'config.json'),
      (e: Error) =>
        /^config\.json: the input \(not a regular file\) is larger than the limit of 100 kB \(100000 bytes\)$/.test(
          e.message,
        ),
    );
    assert.throws(() => readJsonFile('/dev/zero'), /\/dev\/zero: .*larger than the limit of 10 MB/);
  }
  if (existsSync('/proc/self/status')) assert.match(readTextBounded('/proc/self/status', 1_000_000), /Name:/);

  const dir = fresh();
  assert.throws(
    () => readFileBounded(dir, 10, 'tokenizer.json'),
    /^Error: tokenizer\.json: is a folder, expected a file$/,
  );
  assert.throws(() => readJsonFile(join(dir, 'nope.json')), /nope\.json: file not found/);
  const big = join(dir, 'big');
  writeFileSync(big, Buffer.alloc(2000, 120));
  assert.throws(
    () => readFileBounded(big, 1999),
    /big: the file \(2000 bytes\) is larger than the limit of 1\.999 kB \(1999 bytes\)/,
  );
  assert.equal(readFileBounded(big, 2000).length, 2000);
  const empty = join(dir, 'empty');
  writeFileSync(empty, '');
  assert.equal(readFileBounded(empty, 10).length, 0);

  const hasMkfifo = spawnSync('mkfifo', ['--version']).status === 0;
  if (hasMkfifo) {
    for (const [limit, ok] of [
      [100_000, false],
      [300_000, true],
    ] as const) {
      const fifo = join(dir, `fifo-${limit}`);
      execFileSync('mkfifo', [fifo]);
      const writer = spawn('sh', ['-c', `head -c 200000 /dev/zero > '${fifo}'`], { stdio: 'ignore' });
      const exited = new Promise((r) => writer.on('exit', r));
      if (ok) assert.equal(readFileBounded(fifo, limit).length, 200_000);
      else assert.throws(() => readFileBounded(fifo, limit), /not a regular file\) is larger than the limit of 100 kB/);
      await exited;
    }
  }
});

test('saveModelFolder: one atomic folder write; weights and config replaced, other files (tokenizer) kept, stale shards dropped', () => {
  const parent = fresh();
  const dir = join(parent, 'm');
  const t = (v: number) => new Map([['w', { dtype: 'F32' as const, shape: [2], data: new Float32Array([v, v]) }]]);
  saveModelFolder(dir, { model_type: 'x', v: 1 }, t(1));
  writeFileSync(join(dir, 'tokenizer.json'), '{}');
  writeFileSync(join(dir, 'model-00001-of-00002.safetensors'), 'stale shard');
  saveModelFolder(dir, { model_type: 'x', v: 2 }, t(2));
  assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'model.safetensors', 'tokenizer.json']);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), { model_type: 'x', v: 2 });
  assert.deepEqual(
    [...(readSafetensors(join(dir, 'model.safetensors')).tensors.get('w')?.data as Float32Array)],
    [2, 2],
  );
  assert.deepEqual(temps(parent), []);
});
