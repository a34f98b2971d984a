/**
 * The one closeness check of the test suite. Default: equal to 1e-9 relative (metrics.md), with an
 * absolute floor of 1e-15 so an expected 0 needs an actual 0 up to rounding noise. Element-wise
 * through nested arrays and typed arrays; NaN only equal to NaN, infinities exactly.
 *
 *   assertClose(score, 0.4213)                              metrics: 1e-9 relative
 *   assertClose(logits, reference, { atol: 1e-5, message: 'cached decode' })   float32 models
 *   assertClose(native, js, { rtol: 1e-5, atol: 1e-6, scale })                  kernels
 */
import assert from 'node:assert/strict';

export type Nested = number | readonly Nested[];

/** Tolerances: |actual − expected| ≤ atol + rtol · scale, scale = |expected| unless given. */
export interface CloseOptions {
  /** Relative tolerance (default 1e-9, or 0 when only atol is given). */
  rtol?: number;
  /** Absolute tolerance (default 1e-15). */
  atol?: number;
  /** Prefix of failure messages. */
  message?: string;
  /** Per-element magnitude that rtol multiplies instead of |expected| (flat arrays only). */
  scale?: ArrayLike<number>;
}

type Expected = Nested | ArrayLike<number>;

function isFlat(x: unknown): x is ArrayLike<number> {
  if (ArrayBuffer.isView(x)) return true;
  return Array.isArray(x) && x.every((v) => typeof v === 'number');
}

/**
 * @param actual value under test: a number, (typed) array or nested arrays of numbers
 * @param expected reference value of the same shape
 * @param tol relative tolerance, a message (default tolerances), or {@link CloseOptions}
 */
export function assertClose(actual: unknown, expected: Expected, tol: number | string | CloseOptions = 1e-9): void {
  const opts: CloseOptions = typeof tol === 'number' ? { rtol: tol } : typeof tol === 'string' ? { message: tol } : tol;
  const rtol = opts.rtol ?? (opts.atol !== undefined ? 0 : 1e-9);
  const atol = opts.atol ?? 1e-15;
  const message = opts.message !== undefined ? `${opts.message}: ` : '';
  const within = (a: number, e: number, scale: number): boolean => {
    if (Number.isNaN(e)) return Number.isNaN(a);
    if (!Number.isFinite(e)) return a === e;
    return Math.abs(a - e) <= atol + rtol * scale;
  };
  if (isFlat(expected)) {
    assert.ok(isFlat(actual), `${message}expected an array of numbers, got ${String(actual)}`);
    assert.equal(actual.length, expected.length, `${message}length`);
    if (opts.scale) assert.equal(opts.scale.length, expected.length, `${message}scale length`);
    let worst = 0;
    let firstBad = -1;
    for (let i = 0; i < expected.length; i++) {
      const a = actual[i] ?? NaN;
      const e = expected[i] ?? NaN;
      if (Number.isFinite(e)) worst = Math.max(worst, Math.abs(a - e));
      if (firstBad < 0 && !within(a, e, opts.scale ? Math.abs(opts.scale[i] ?? 0) : Math.abs(e))) firstBad = i;
    }
    if (firstBad >= 0) {
      assert.fail(
        `${message}[${firstBad}] expected ${expected[firstBad]}, got ${actual[firstBad]} (max |diff| ${worst}; atol ${atol}, rtol ${rtol})`,
      );
    }
    return;
  }
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${message}expected an array, got ${String(actual)}`);
    assert.equal(actual.length, expected.length, `${message}length`);
    expected.forEach((e: Nested, i) => assertClose((actual as unknown[])[i], e, opts));
    return;
  }
  assert.equal(typeof actual, 'number', `${message}expected a number, got ${String(actual)}`);
  const a = actual as number;
  const e = expected as number;
  if (Number.isNaN(e)) return assert.ok(Number.isNaN(a), `${message}expected NaN, got ${a}`);
  if (!Number.isFinite(e)) return assert.equal(a, e, message);
  assert.ok(within(a, e, Math.abs(e)), `${message}expected ${e}, got ${a}`);
}
