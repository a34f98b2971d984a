#!/usr/bin/env node
/**
 * CI check of what `npm publish` would ship (`npm run check:pack`, after a build).
 *
 * Asks `npm pack --dry-run --json` for the file list and compares it with the list the package
 * should hold, exactly:
 *  - package.json, README.md, README.zh-CN.md, LICENSE;
 *  - the compiled library: dist/src/<x>.js, .js.map and .d.ts for every src/<x>.ts in git (so no
 *    dist/test, dist/bench, and no stale output of a source file that was moved or deleted);
 *  - the native sources (every git file under native/), binding.gyp and the install hook
 *    scripts/build-native.mjs;
 *  - the embedded model and demo data: every git file under assets/stories260K and assets/demo.
 * Then checks that package.json's main/types/exports/bin point into the package, and, when
 * ../shared/assets is present, that no shipped file is a copy of a research asset (several are
 * research-only or non-commercial; only the MIT stories260K model is embedded on purpose).
 * Exits 1 with one line per problem.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Upper bound on the unpacked package: today ~2.5 MB, most of it the embedded model. */
const MAX_UNPACKED_BYTES = 8_000_000;
/** Shipped files allowed to equal a ../shared asset byte for byte (the embedded model). */
const EMBEDDED_FROM_SHARED = /^assets\/stories260K\//;

const problems = [];

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Files under `dir` known to git, or (without git) present on disk. */
function sourceFiles(dir) {
  const git = spawnSync('git', ['ls-files', '-z', '--', dir], { cwd: root, encoding: 'utf8' });
  if (git.status === 0 && !git.error) return git.stdout.split('\0').filter((f) => f !== '');
  const out = [];
  const walk = (d) => {
    if (!existsSync(join(root, d))) return;
    for (const e of readdirSync(join(root, d), { withFileTypes: true })) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk(dir);
  return out;
}

function walkAll(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walkAll(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

const sha256 = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');

if (!existsSync(join(root, 'dist/src/index.js'))) {
  console.error('check-pack: dist/src/index.js is missing; build first (npm run build)');
  process.exit(1);
}

// npm's view of the package. --ignore-scripts: checks the build on disk, does not rebuild.
const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];
const [pack] = JSON.parse(run(npm[0], [...npm.slice(1), 'pack', '--dry-run', '--json', '--ignore-scripts']));
const shipped = new Set(pack.files.map((f) => f.path));

// The list it should be.
const expected = new Set([
  'package.json',
  'README.md',
  'README.zh-CN.md',
  'LICENSE',
  'binding.gyp',
  'scripts/build-native.mjs',
]);
for (const f of sourceFiles('native')) expected.add(f);
for (const f of [...sourceFiles('assets/stories260K'), ...sourceFiles('assets/demo')]) expected.add(f);
for (const f of sourceFiles('src')) {
  if (!f.endsWith('.ts') || f.endsWith('.d.ts')) continue;
  const stem = `dist/${f.slice(0, -'.ts'.length)}`;
  for (const ext of ['.js', '.js.map', '.d.ts']) expected.add(stem + ext);
}

const why = (f) => {
  if (f.startsWith('dist/test/') || f.startsWith('test/')) return 'tests are not published';
  if (f.startsWith('dist/bench/') || f.startsWith('bench/') || /bench-results|\.bench-cache/.test(f)) {
    return 'benchmarks and their outputs are not published';
  }
  if (f.startsWith('dist/src/')) return 'no src/*.ts in git compiles to it (stale build output?)';
  if (f.startsWith('build/')) return 'the addon is built on install, never shipped prebuilt';
  if (f.startsWith('assets/')) return 'only the git files of assets/stories260K and assets/demo are shipped';
  return 'not on the list of published files';
};
for (const f of [...shipped].sort()) {
  if (!expected.has(f)) problems.push(`unexpected file in the package: ${f} (${why(f)})`);
}
for (const f of [...expected].sort()) {
  if (!shipped.has(f)) {
    const hint = existsSync(join(root, f)) ? 'check "files" in package.json' : 'not built or missing on disk';
    problems.push(`missing from the package: ${f} (${hint})`);
  }
}

// Entry points must resolve inside the package.
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const entries = [
  ['main', pkg.main],
  ['types', pkg.types],
  ...Object.entries(pkg.exports ?? {}).map(([k, v]) => [`exports["${k}"]`, v]),
  ...Object.entries(pkg.bin ?? {}).map(([k, v]) => [`bin.${k}`, v]),
];
for (const [field, target] of entries) {
  const targets = typeof target === 'string' ? [target] : Object.values(target ?? {});
  for (const t of targets) {
    const path = String(t).replace(/^\.\//, '');
    if (!shipped.has(path)) problems.push(`package.json ${field} -> ${t}, which is not in the package`);
    if (path.endsWith('.js') && !shipped.has(path.replace(/\.js$/, '.d.ts'))) {
      problems.push(`package.json ${field} -> ${t} has no .d.ts beside it in the package`);
    }
  }
}

if (pack.unpackedSize > MAX_UNPACKED_BYTES) {
  problems.push(`package unpacks to ${pack.unpackedSize} bytes, over the ${MAX_UNPACKED_BYTES}-byte bound`);
}

// No copy of a research asset (compared by content, so a renamed copy is caught too).
const sharedAssets = resolve(root, '../shared/assets');
let sharedNote = 'skipped: ../shared/assets absent';
if (existsSync(sharedAssets)) {
  const bySize = new Map();
  for (const p of walkAll(sharedAssets)) {
    const size = statSync(p).size;
    if (size < 64) continue; // tiny files (empty JSON, "{}") match by chance
    if (!bySize.has(size)) bySize.set(size, []);
    bySize.get(size).push(p);
  }
  let compared = 0;
  for (const f of shipped) {
    const local = join(root, f);
    if (!existsSync(local)) continue;
    const candidates = bySize.get(statSync(local).size);
    if (!candidates) continue;
    const h = sha256(local);
    for (const c of candidates) {
      compared++;
      if (sha256(c) !== h) continue;
      const from = relative(resolve(root, '..'), c).split(sep).join('/');
      if (!EMBEDDED_FROM_SHARED.test(f)) problems.push(`${f} is a copy of ${from} (research assets are not published)`);
    }
  }
  sharedNote = `compared with ${bySize.size} sizes of ../shared/assets files (${compared} same-size pairs hashed)`;
}

if (problems.length) {
  for (const p of problems) console.error(`check-pack: ${p}`);
  process.exit(1);
}
console.log(
  `check-pack: ${shipped.size} files, ${pack.size} bytes packed / ${pack.unpackedSize} unpacked, exactly as expected; ` +
    `research assets ${sharedNote}`,
);
