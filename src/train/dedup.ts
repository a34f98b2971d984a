/**
 * Exact and near-duplicate detection in training texts: duplicated examples are memorised and
 * make a fine-tuned model parrot them (Lee et al. 2022, "Deduplicating Training Data Makes
 * Language Models Better").
 *
 * - Exact: texts equal after normalisation (Unicode NFKC, lowercase, whitespace collapsed).
 * - Near: MinHash (Broder 1997) over shingles — word n-grams, or character n-grams for text
 *   without spaces (Chinese, Japanese) or shorter than n words — with locality-sensitive hashing
 *   in bands to find candidates; a candidate pair is confirmed by the exact Jaccard similarity of
 *   the two shingle sets (≥ `threshold`), so a reported pair is never a hashing accident. The
 *   hash functions come from `seed`: the same seed and texts give the same report.
 *
 * In each group of duplicates the earliest text is kept and the later ones are reported against
 * it (a later text joins the group of the first kept text it matches).
 */

/** Options of {@link findDuplicates}. */
export interface DedupOptions {
  /** Jaccard similarity of shingle sets at or above which two texts are near-duplicates; default 0.8. */
  threshold?: number;
  /** Shingle length: words, or characters for text without spaces; default 5. */
  shingleSize?: number;
  /** MinHash functions; default 128 (= bands × rows). */
  numPermutations?: number;
  /** LSH bands; default 16 (rows = numPermutations / bands). */
  bands?: number;
  /** Seed of the hash functions; default 0. */
  seed?: number;
  /** Skip the near-duplicate search (exact duplicates only); default false. */
  exactOnly?: boolean;
}

/** One duplicate: text `index` repeats the kept text `of`. */
export interface Duplicate {
  index: number;
  of: number;
  kind: 'exact' | 'near';
  /** Jaccard similarity of the shingle sets (1 for exact duplicates). */
  jaccard: number;
}

/** Result of `findDuplicates`. */
export interface DedupReport {
  /** Every text that duplicates an earlier kept one, by index. */
  duplicates: Duplicate[];
  /** Indices of the texts to keep, ascending. */
  keep: number[];
  exactCount: number;
  nearCount: number;
}

/** NFKC, lowercase, whitespace runs to one space, trimmed. */
export function normalizeForDedup(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/\s+/gu, ' ').trim();
}

/** FNV-1a 32-bit hash of a string's UTF-16 units. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The shingles of a normalised text: word n-grams, or character n-grams when it has fewer than n words. */
export function shingles(normalized: string, size: number): Set<string> {
  const words = normalized.split(' ').filter((w) => w.length > 0);
  const out = new Set<string>();
  if (words.length >= size) {
    for (let i = 0; i + size <= words.length; i++) out.add(words.slice(i, i + size).join(' '));
    return out;
  }
  const chars = Array.from(normalized.replace(/ /g, ''));
  if (chars.length <= size) {
    if (chars.length > 0) out.add(chars.join(''));
    return out;
  }
  for (let i = 0; i + size <= chars.length; i++) out.add(chars.slice(i, i + size).join(''));
  return out;
}

/** splitmix32: the seeded stream of hash-function parameters. */
function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  let inter = 0;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  for (const s of small) if (large.has(s)) inter++;
  return inter / (a.size + b.size - inter);
}

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new Error(`findDuplicates: ${name} must be an integer in [${min}, ${max}], got ${value}`);
}

/**
 * Finds exact and near duplicates among `texts` (see the module doc).
 * @throws on a non-string text or an option out of range.
 */
export function findDuplicates(texts: readonly string[], options: DedupOptions = {}): DedupReport {
  const { threshold = 0.8, shingleSize = 5, numPermutations = 128, bands = 16, seed = 0, exactOnly = false } = options;
  if (!(threshold > 0 && threshold <= 1))
    throw new Error(`findDuplicates: threshold must be in (0, 1], got ${threshold}`);
  checkInteger('shingleSize', shingleSize, 1, 100);
  checkInteger('numPermutations', numPermutations, 1, 4096);
  checkInteger('bands', bands, 1, numPermutations);
  if (numPermutations % bands !== 0)
    throw new Error(`findDuplicates: numPermutations (${numPermutations}) must be a multiple of bands (${bands})`);
  checkInteger('seed', seed, 0, 2 ** 32 - 1);
  const rows = numPermutations / bands;

  const duplicates: Duplicate[] = [];
  const isDuplicate = new Uint8Array(texts.length);
  const normalized = texts.map((t, i) => {
    if (typeof t !== 'string') throw new TypeError(`findDuplicates: texts[${i}] is not a string`);
    return normalizeForDedup(t);
  });
  const firstOf = new Map<string, number>();
  normalized.forEach((n, i) => {
    const first = firstOf.get(n);
    if (first === undefined) firstOf.set(n, i);
    else {
      duplicates.push({ index: i, of: first, kind: 'exact', jaccard: 1 });
      isDuplicate[i] = 1;
    }
  });
  const exactCount = duplicates.length;

  if (!exactOnly) {
    const random = splitmix32(seed);
    // h_k(x) = (a_k · x + b_k) mod 2^32 with odd a_k, then a final mix: 32-bit universal-style hashing.
    const a = Array.from({ length: numPermutations }, () => random() | 1);
    const b = Array.from({ length: numPermutations }, () => random());
    const sets: (Set<string> | null)[] = normalized.map((n, i) => (isDuplicate[i] ? null : shingles(n, shingleSize)));
    const buckets = new Map<string, number[]>();
    const signature = new Uint32Array(numPermutations);
    sets.forEach((set, i) => {
      if (set === null || set.size === 0) return;
      signature.fill(0xffffffff);
      for (const s of set) {
        const x = fnv1a(s);
        for (let k = 0; k < numPermutations; k++) {
          let h = (Math.imul(a[k] ?? 1, x) + (b[k] ?? 0)) >>> 0;
          h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
          if (h < (signature[k] ?? 0)) signature[k] = h;
        }
      }
      for (let band = 0; band < bands; band++) {
        const key = `${band}:${Array.from(signature.subarray(band * rows, (band + 1) * rows)).join(',')}`;
        const list = buckets.get(key);
        if (list === undefined) buckets.set(key, [i]);
        else list.push(i);
      }
    });
    // Candidates: texts sharing a bucket. Each later text joins the earliest kept text it matches.
    const candidates = new Map<number, Set<number>>();
    for (const list of buckets.values()) {
      for (let x = 1; x < list.length; x++) {
        const later = list[x];
        if (later === undefined) continue;
        let set = candidates.get(later);
        if (set === undefined) candidates.set(later, (set = new Set()));
        for (let y = 0; y < x; y++) {
          const earlier = list[y];
          if (earlier !== undefined) set.add(earlier);
        }
      }
    }
    for (const later of [...candidates.keys()].sort((p, q) => p - q)) {
      const mine = sets[later];
      if (mine === null || mine === undefined) continue;
      for (const earlier of [...(candidates.get(later) ?? [])].sort((p, q) => p - q)) {
        const theirs = sets[earlier];
        if (isDuplicate[earlier] || theirs === null || theirs === undefined) continue;
        const similarity = jaccard(mine, theirs);
        if (similarity >= threshold) {
          duplicates.push({ index: later, of: earlier, kind: 'near', jaccard: similarity });
          isDuplicate[later] = 1;
          break;
        }
      }
    }
  }
  duplicates.sort((p, q) => p.index - q.index);
  const keep: number[] = [];
  for (let i = 0; i < texts.length; i++) if (!isDuplicate[i]) keep.push(i);
  return { duplicates, keep, exactCount, nearCount: duplicates.length - exactCount };
}

/** The items whose texts {@link findDuplicates} keeps (the report must come from these items). */
export function removeDuplicates<T>(items: readonly T[], report: DedupReport): T[] {
  const last = report.keep[report.keep.length - 1];
  if (last !== undefined && last >= items.length)
    throw new Error(`removeDuplicates: the report keeps index ${last} but there are ${items.length} items`);
  return report.keep.map((i) => items[i] as T);
}
