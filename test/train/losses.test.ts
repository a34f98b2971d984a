/**
 * The training losses against their PyTorch formulas written out in float64, and finite differences.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bceWithLogitsLoss, causalLmLoss, crossEntropy, mseLoss } from '../../src/train/losses.js';
import * as F from '../../src/tensor/ops.js';
import { gradcheck } from '../helpers/gradcheck.js';

test('bceWithLogitsLoss: the formula, stable for large logits, gradient matches finite differences', () => {
  const big = bceWithLogitsLoss(F.tensor([100, -100, 30]), Float32Array.from([1, 0, 0]));
  assert.ok(Math.abs(big.item() - 30 / 3) < 1e-5, `${big.item()}`);
  const xs = [0.3, -1.2, 2.5, 0, -0.7, 1.1];
  const ys = [1, 0, 1, 0.5, 0, 1];
  // −[y·log σ(x) + (1 − y)·log(1 − σ(x))], averaged: torch's definition, not the stable rewrite.
  const want =
    xs.reduce((s, x, i) => {
      const p = 1 / (1 + Math.exp(-x));
      return s - (ys[i]! * Math.log(p) + (1 - ys[i]!) * Math.log(1 - p));
    }, 0) / xs.length;
  const x = F.tensor(xs, [2, 3], { requiresGrad: true });
  const y = Float32Array.from(ys);
  assert.ok(Math.abs(bceWithLogitsLoss(x, y).item() - want) < 1e-6);
  gradcheck('bce', (t) => F.reshape(bceWithLogitsLoss(t, y), [1]), [x]);
  assert.throws(() => bceWithLogitsLoss(x, new Float32Array(5)), /bceWithLogitsLoss: 5 targets for .*expected 6/);
});

test('mseLoss: mean of squared differences, gradient matches finite differences', () => {
  const xs = [0.5, -2, 3, 1.25];
  const ys = [1, -1, 0, 1.25];
  const x = F.tensor(xs, [2, 2], { requiresGrad: true });
  const want = xs.reduce((s, v, i) => s + (v - ys[i]!) ** 2, 0) / xs.length;
  assert.ok(Math.abs(mseLoss(x, Float32Array.from(ys)).item() - want) < 1e-6);
  gradcheck('mse', (t) => F.reshape(mseLoss(t, Float32Array.from(ys)), [1]), [x]);
  assert.throws(() => mseLoss(x, new Float32Array(3)), /mseLoss: 3 targets/);
});

test('causalLmLoss and crossEntropy are reachable from the losses module', () => {
  assert.equal(typeof causalLmLoss, 'function');
  const l = crossEntropy(F.tensor([0, 0], [1, 2]), Int32Array.from([1]));
  assert.ok(Math.abs(l.item() - Math.log(2)) < 1e-6);
});
