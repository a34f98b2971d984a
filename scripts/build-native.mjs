#!/usr/bin/env node
/**
 * `npm install` hook: builds the native kernels (build/Release/tunekit_native.node) with node-gyp.
 *
 * node-gyp is npm's bundled copy (npm_config_node_gyp), else `node-gyp` on PATH, else the copy
 * inside a global npm. Headers come from the local Node installation (npm's nodedir), so nothing
 * is downloaded. A failed build is not an error: tunekit then runs on its TypeScript kernels,
 * and this script says so in one line and exits 0.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BUNDLED = '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js';

/** The command that runs node-gyp: [executable, ...leading args]. */
function nodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return [process.execPath, fromNpm];
  const onPath = spawnSync('node-gyp', ['--version'], { stdio: 'ignore' });
  if (onPath.status === 0) return ['node-gyp'];
  if (existsSync(BUNDLED)) return [process.execPath, BUNDLED];
  return null;
}

function warn(reason) {
  console.warn(`tunekit: native kernels not built (${reason}); using the TypeScript backend (slower)`);
}

const gyp = nodeGyp();
if (!gyp) {
  warn('node-gyp not found');
} else {
  const [cmd, ...pre] = gyp;
  // Without a nodedir setting node-gyp would download headers: point it at the running Node.
  const env = { ...process.env };
  if (!env.npm_config_nodedir) env.npm_config_nodedir = resolve(process.execPath, '../..');
  const result = spawnSync(cmd, [...pre, 'rebuild'], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    const lines = `${result.stderr ?? ''}\n${result.stdout ?? ''}`.split('\n').map((l) => l.trim());
    const firstError = lines.find((l) => /error/i.test(l)) ?? result.error?.message ?? `exit code ${result.status}`;
    warn(`node-gyp rebuild failed: ${firstError}`);
  }
}
process.exit(0);
