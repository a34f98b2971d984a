/**
 * What sacrebleu's BLEU and chrF share: the score object and its text form, and the checks and
 * bookkeeping of reference streams (sacrebleu/metrics/base.py). Internal to the metrics folder:
 * the public types are re-exported by bleu.ts.
 */
import { pyFormatFixed } from './pystr.js';
import { isArrayInput } from './guards.js';

/** Options of {@link SacrebleuScore.format}. */
export interface SacrebleuFormatOptions {
  /** Decimal places of the score; default 2. */
  width?: number;
  /** Return the score string only; default false. */
  scoreOnly?: boolean;
  /** Put the reproducibility signature after the metric name; default false. */
  withSignature?: boolean;
}

/** A sacrebleu-style score (sacrebleu's `Score`): the float `score` plus a printable form. */
export interface SacrebleuScore {
  /** Metric name as sacrebleu prints it, e.g. 'BLEU' or 'chrF2++'. */
  readonly name: string;
  /** The score in [0, 100], unrounded. */
  readonly score: number;
  /** sacrebleu's reproducibility signature, e.g. 'nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:…'. */
  readonly signature: string;
  /** sacrebleu's `Score.format()`: e.g. "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ...)". */
  format(options?: SacrebleuFormatOptions): string;
}

/** sacrebleu's `Score.format()` for text output: "NAME[|signature] = SCORE[ verbose]". */
export function formatSacrebleuScore(
  name: string,
  score: number,
  signature: string,
  verbose: string,
  options: SacrebleuFormatOptions = {},
): string {
  const scoreText = pyFormatFixed(score, options.width ?? 2);
  if (options.scoreOnly) return scoreText;
  const head = options.withSignature ? `${name}|${signature}` : name;
  return verbose ? `${head} = ${scoreText} ${verbose}` : `${head} = ${scoreText}`;
}

/** sacrebleu reference streams: streams[k][i] is the k-th reference of hypothesis i (null = none). */
export type ReferenceStreams = ReadonlyArray<ReadonlyArray<string | null | undefined>>;

/**
 * Checks sacrebleu's argument contract, and additionally that every reference stream is as long
 * as the hypotheses (sacrebleu silently truncates to the shortest, which hides data errors).
 * @returns per hypothesis, its non-null references.
 */
export function referencesPerSegment(
  metric: string,
  hypotheses: readonly unknown[],
  references: ReferenceStreams,
): string[][] {
  if (!Array.isArray(hypotheses)) throw new TypeError(`${metric}: hypotheses should be an array of strings`);
  if (hypotheses.length === 0)
    throw new Error(`${metric}: hypotheses is empty (sacrebleu raises on an empty corpus too)`);
  hypotheses.forEach((h, i) => {
    if (typeof h !== 'string')
      throw new TypeError(`${metric}: hypotheses[${i}] should be a string, got ${h === null ? 'null' : typeof h}`);
  });
  if (!isArrayInput(references) || references.length === 0) {
    throw new TypeError(
      `${metric}: references should be a non-empty array of reference streams (references[k][i] = k-th reference of hypothesis i)`,
    );
  }
  references.forEach((stream, k) => {
    if (!isArrayInput(stream))
      throw new TypeError(`${metric}: references[${k}] should be an array of strings (a reference stream)`);
    if (stream.length !== hypotheses.length) {
      throw new Error(
        `${metric}: reference stream references[${k}] has ${stream.length} segments but there are ${hypotheses.length} hypotheses`,
      );
    }
    stream.forEach((r, i) => {
      if (r !== null && r !== undefined && typeof r !== 'string') {
        throw new TypeError(`${metric}: references[${k}][${i}] should be a string or null, got ${typeof r}`);
      }
    });
  });
  return hypotheses.map((_, i) => {
    const refs = references.map((stream) => stream[i]).filter((r): r is string => typeof r === 'string');
    if (refs.length === 0) throw new Error(`${metric}: hypothesis ${i} has no reference (every stream has null there)`);
    return refs;
  });
}

/** sacrebleu's reference count for the signature: the common count, or 'var'. */
export function signatureRefCount(refsPerSegment: readonly (readonly string[])[]): number | 'var' {
  const first = refsPerSegment[0];
  if (first === undefined) return 'var';
  return refsPerSegment.every((r) => r.length === first.length) ? first.length : 'var';
}
