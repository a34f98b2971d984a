/**
 * Python `str` semantics that reference metric implementations rely on.
 *
 * The reference metrics (sacrebleu, the SQuAD script) split and strip with Python's
 * argument-less `str.split()` / `str.strip()`, whose whitespace set differs from
 * JavaScript's `\s`: Python also splits on U+001C..U+001F and U+0085 (NEL), and does
 * NOT treat U+FEFF (BOM) as whitespace. Using `\s` would silently change token counts.
 */

/** The characters for which Python 3's `str.isspace()` is true (Unicode WS/B/S bidi classes and Zs). */
const PY_WHITESPACE_CLASS =
  '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

const PY_WHITESPACE_RUN = new RegExp(`[${PY_WHITESPACE_CLASS}]+`, 'u');
const PY_LEADING_WHITESPACE = new RegExp(`^[${PY_WHITESPACE_CLASS}]+`, 'u');
const PY_TRAILING_WHITESPACE = new RegExp(`[${PY_WHITESPACE_CLASS}]+$`, 'u');

/** Python's `s.split()` (no separator): split on runs of Python whitespace, dropping empty fields. */
export function pySplit(s: string): string[] {
  return s.split(PY_WHITESPACE_RUN).filter((field) => field.length > 0);
}

/** Python's `s.rstrip()` (no argument). */
export function pyRstrip(s: string): string {
  return s.replace(PY_TRAILING_WHITESPACE, '');
}

/** Python's `s.strip()` (no argument). */
export function pyStrip(s: string): string {
  return pyRstrip(s).replace(PY_LEADING_WHITESPACE, '');
}

/**
 * Python's `f"{x:.{digits}f}"`: fixed-point with round-half-to-even on the exact binary value.
 * `Number.prototype.toFixed` rounds exact ties away from zero (0.125 → "0.13" where Python
 * prints "0.12"), so exact ties are detected on the full decimal expansion and resolved here.
 */
export function pyFormatFixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  if (Math.abs(x) >= 1e21) return x.toFixed(digits);
  // toFixed(100) is the exact decimal value for |x| < 1e21 down to 1e-100.
  const exact = Math.abs(x).toFixed(100);
  const point = exact.indexOf('.');
  const tail = exact.slice(point + 1 + digits);
  const isExactTie = tail[0] === '5' && /^50*$/.test(tail);
  if (!isExactTie) return x.toFixed(digits);
  const kept = exact.slice(0, point + 1 + digits).replace('.', '');
  const lastDigit = Number(kept[kept.length - 1]);
  let magnitude = BigInt(kept);
  if (lastDigit % 2 === 1) magnitude += 1n;
  let text = magnitude.toString().padStart(digits + 1, '0');
  if (digits > 0) text = `${text.slice(0, text.length - digits)}.${text.slice(text.length - digits)}`;
  return (x < 0 || Object.is(x, -0) ? '-' : '') + text;
}
