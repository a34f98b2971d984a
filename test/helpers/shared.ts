/**
 * Locating `../shared` (real models, tokenizers and datasets used as test evidence).
 * On a user's machine it is absent: tests that need it mark themselves skipped, never passed:
 *
 *   test('logits match', { skip: skipWithoutShared('stories260K-hf') }, () => { ... });
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file is compiled to dist/test/helpers/shared.js). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The shared folder, or null when absent. TUNEKIT_SHARED overrides the default ../shared. */
export function sharedDir(): string | null {
  const dir = process.env.TUNEKIT_SHARED ?? resolve(repoRoot, '../shared');
  return existsSync(dir) ? dir : null;
}

/** Path of an asset under shared/assets, or null when absent. */
export function assetPath(...parts: string[]): string | null {
  const dir = sharedDir();
  if (!dir) return null;
  const p = join(dir, 'assets', ...parts);
  return existsSync(p) ? p : null;
}

/** A `skip` value for node:test: false when the asset exists, else the reason. */
export function skipWithoutShared(...parts: string[]): false | string {
  return assetPath(...parts) ? false : `shared asset ${parts.join('/')} is absent`;
}
