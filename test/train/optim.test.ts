/**
 * The optimisers and gradient clipping against PyTorch's update rules, written out step by step.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as F from '../../src/tensor/ops.js';
import { AdamW, SGD, clipGradNorm } from '../../src/train/optim.js';

const close = (a: number, b: number, tol = 1e-5): void =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

test('AdamW matches the PyTorch update rule step by step', () => {
  const p = F.tensor([0.5, -1], [2], { requiresGrad: true });
  const opt = new AdamW([p], { lr: 0.1, betas: [0.9, 0.99], eps: 1e-8, weightDecay: 0.1 });
  let ref = [0.5, -1];
  const m = [0, 0],
    v = [0, 0];
  for (let step = 1; step <= 3; step++) {
    const g = [2 * ref[0]!, 3];
    p.grad = Float32Array.from(g);
    opt.step();
    ref = ref.map((w, i) => {
      const decayed = w * (1 - 0.1 * 0.1);
      m[i] = 0.9 * m[i]! + 0.1 * g[i]!;
      v[i] = 0.99 * v[i]! + 0.01 * g[i]! ** 2;
      return decayed - (0.1 * (m[i] / (1 - 0.9 ** step))) / (Math.sqrt(v[i] / (1 - 0.99 ** step)) + 1e-8);
    });
    p.toArray().forEach((w, i) => close(w, ref[i]!, 1e-6));
  }
});

test('SGD with momentum and Nesterov follow torch.optim.SGD', () => {
  const p = F.tensor([1], [1], { requiresGrad: true });
  const opt = new SGD([p], { lr: 0.1, momentum: 0.9, nesterov: true });
  // step 1: buf = g = 1; d = g + 0.9*buf = 1.9 -> p = 1 - 0.19
  p.grad = Float32Array.from([1]);
  opt.step();
  close(p.item(), 0.81);
  // step 2: g = 1; buf = 0.9*1 + 1 = 1.9; d = 1 + 0.9*1.9 = 2.71 -> p = 0.81 - 0.271
  p.grad = Float32Array.from([1]);
  opt.step();
  close(p.item(), 0.539);
});

test('clipGradNorm scales to the max norm and returns the original norm', () => {
  const a = F.tensor([0, 0], [2], { requiresGrad: true });
  const b = F.tensor([0], [1], { requiresGrad: true });
  a.grad = Float32Array.from([3, 0]);
  b.grad = Float32Array.from([4]);
  close(clipGradNorm([a, b], 1), 5);
  close(a.grad[0]!, 3 / 5, 1e-5);
  close(b.grad[0]!, 4 / 5, 1e-5);
});
