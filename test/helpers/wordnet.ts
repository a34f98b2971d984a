/**
 * The installed WordNet 3.0 (Debian wordnet-base, or TUNEKIT_WORDNET_DIR): tests that need it mark
 * themselves skipped, never passed, where it is absent.
 */
import { resolveWordNetDir } from '../../src/metrics/wordnet.js';

function installedWordNet(): string | null {
  try {
    return resolveWordNetDir();
  } catch {
    return null;
  }
}

/** The WordNet directory, or null. */
export const INSTALLED_WORDNET = installedWordNet();

/** A `skip` value for node:test. */
export const skipWithoutWordNet: false | string = INSTALLED_WORDNET
  ? false
  : 'WordNet 3.0 not installed (apt-get install wordnet-base, or set TUNEKIT_WORDNET_DIR)';
