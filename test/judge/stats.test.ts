/**
 * The judge statistics against worked examples published with the methods.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cohenKappa, fleissKappa, krippendorffAlpha, signTest, wilsonInterval } from '../../src/judge/stats.js';
import { assertClose } from '../helpers/close.js';

test('Wilson score interval: Newcombe (1998), Statistics in Medicine 17:857-872, Table I, method 3', () => {
  // (k, n) -> the 95% limits printed to 4 decimals in the paper.
  const cases: [number, number, number, number][] = [
    [81, 263, 0.2553, 0.3662],
    [15, 148, 0.0624, 0.1605],
    [0, 20, 0, 0.1611],
    [1, 29, 0.0061, 0.1718],
  ];
  for (const [k, n, lo, hi] of cases) {
    const [l, h] = wilsonInterval(k, n);
    assert.equal(l.toFixed(4), lo.toFixed(4), `${k}/${n} low`);
    assert.equal(h.toFixed(4), hi.toFixed(4), `${k}/${n} high`);
  }
  assert.deepEqual(wilsonInterval(0, 0), [0, 1]);
  assert.throws(() => wilsonInterval(3, 2), /k <= n/);
});

test('sign test: exact two-sided binomial p, written independently as a float64 sum of C(n,i)/2^n', () => {
  const choose = (n: number, k: number): number => {
    let c = 1;
    for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
    return c;
  };
  const ref = (w: number, l: number): number => {
    const n = w + l;
    let t = 0;
    for (let i = 0; i <= Math.min(w, l); i++) t += choose(n, i) / 2 ** n;
    return Math.min(1, 2 * t);
  };
  // Textbook case: 9 of 10 non-tied pairs favour one side -> p = 2 * 11/1024 = 0.0215.
  assertClose(signTest(9, 1), 22 / 1024, 1e-12);
  assertClose(signTest(1, 9), 22 / 1024, 1e-12);
  assert.equal(signTest(5, 5), 1);
  assert.equal(signTest(0, 0), 1);
  for (const [w, l] of [
    [0, 7],
    [12, 30],
    [40, 60],
    [200, 170],
  ] as const)
    assertClose(signTest(w, l), ref(w, l), 1e-9);
});

test("Cohen's kappa: the worked example of Wikipedia's 'Cohen's kappa' (50 proposals: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> 0.4)", () => {
  const a: string[] = [];
  const b: string[] = [];
  const add = (x: string, y: string, n: number): void => {
    for (let i = 0; i < n; i++) {
      a.push(x);
      b.push(y);
    }
  };
  add('yes', 'yes', 20);
  add('yes', 'no', 5);
  add('no', 'yes', 10);
  add('no', 'no', 15);
  assertClose(cohenKappa(a, b), 0.4, 1e-12);
  assert.equal(cohenKappa(['x', 'y'], ['x', 'y']), 1);
  assert.throws(() => cohenKappa(['x'], []), /same items/);
});

test("Fleiss' kappa: the worked example of Wikipedia's 'Fleiss' kappa' (10 subjects, 14 raters, 5 categories -> 0.210)", () => {
  const counts = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
  ];
  assert.equal(fleissKappa(counts).toFixed(3), '0.210');
  assert.throws(
    () =>
      fleissKappa([
        [1, 1],
        [2, 1],
      ]),
    /same number of raters/,
  );
});

test("Krippendorff's alpha: the example of Krippendorff (2011) 'Computing Krippendorff's Alpha-Reliability' (4 observers, 12 units, missing data)", () => {
  const _ = null;
  const data = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],
    [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],
  ];
  // The paper gives nominal 0.743 and interval 0.849; ordinal 0.815 (same data, ordinal metric).
  assert.equal(krippendorffAlpha(data, 'nominal').toFixed(3), '0.743');
  assert.equal(krippendorffAlpha(data, 'interval').toFixed(3), '0.849');
  assert.equal(krippendorffAlpha(data, 'ordinal').toFixed(3), '0.815');
});

test("Krippendorff's alpha: the computational example of Wikipedia's 'Krippendorff's alpha' (3 coders, 15 units -> nominal 0.691, interval 0.811)", () => {
  const _ = null;
  const data = [
    [_, _, _, _, _, 3, 4, 1, 2, 1, 1, 3, 3, _, 3],
    [1, _, 2, 1, 3, 3, 4, 3, _, _, _, _, _, _, _],
    [_, _, 2, 1, 3, 4, 4, _, 2, 1, 1, 3, 3, _, 4],
  ];
  assert.equal(krippendorffAlpha(data, 'nominal').toFixed(3), '0.691');
  assert.equal(krippendorffAlpha(data, 'interval').toFixed(3), '0.811');
  // Perfect agreement is 1 at every level; one value overall leaves alpha undefined.
  assert.equal(
    krippendorffAlpha(
      [
        [1, 2, 3],
        [1, 2, 3],
      ],
      'ordinal',
    ),
    1,
  );
  assert.ok(
    Number.isNaN(
      krippendorffAlpha(
        [
          [2, 2],
          [2, 2],
        ],
        'ordinal',
      ),
    ),
  );
});
