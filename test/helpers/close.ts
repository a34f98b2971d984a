/**
 * The comparison every metric test uses: equal to 1e-9 relative (metrics.md), element-wise through
 * nested arrays, NaN only equal to NaN, infinities exactly, and an absolute floor of 1e-15 so an
 * expected 0 needs an actual 0 up to rounding noise.
 */
import assert from 'node:assert/strict';

export type Nested = number | readonly Nested[];

/**
 * @param actual value under test (number or nested arrays of numbers)
 * @param expected reference value
 * @param relOrMessage relative tolerance (default 1e-9), or a message to prefix failures with
 */
export function assertClose(actual: unknown, expected: Nested, relOrMessage: number | string = 1e-9): void {
  const rel = typeof relOrMessage === 'number' ? relOrMessage : 1e-9;
  const message = typeof relOrMessage === 'string' ? `${relOrMessage}: ` : '';
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${message}expected an array, got ${String(actual)}`);
    assert.equal(actual.length, expected.length, `${message}length`);
    expected.forEach((e: Nested, i) => assertClose((actual as unknown[])[i], e, relOrMessage));
    return;
  }
  assert.equal(typeof actual, 'number', `${message}expected a number, got ${String(actual)}`);
  const a = actual as number;
  const e = expected as number;
  if (Number.isNaN(e)) return assert.ok(Number.isNaN(a), `${message}expected NaN, got ${a}`);
  if (!Number.isFinite(e)) return assert.equal(a, e, message);
  assert.ok(Math.abs(a - e) <= rel * Math.abs(e) + 1e-15, `${message}expected ${e}, got ${a}`);
}
