/**
 * Ops allocate their outputs (and some gradients) without zeroing (`uninitF32`): every element
 * must be written before it is read. With the poison switch on, those buffers start as NaN, so any
 * element an op leaves unwritten would surface; the results must equal the unpoisoned run exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nativeKernels, setBackend } from '../../src/native/index.js';
import * as F from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { type Tensor, setUninitPoison } from '../../src/tensor/tensor.js';

const backends: Array<'js' | 'native'> = nativeKernels() ? ['js', 'native'] : ['js'];

/** Every op that allocates uninitialised buffers, forward and backward; returns outputs and gradients. */
function run(): Float32Array[] {
  const rng = new Rng(5);
  const p = (shape: number[], std = 1): Tensor => F.randn(shape, rng, std, { requiresGrad: true });
  const x = p([2, 5, 12]);
  const w = p([12, 36], 0.3);
  const bias = p([36]);
  const qA = p([12, 2]);
  const qB = p([2, 12]);
  const g = p([12]);
  const table = p([7, 12]);
  const ids = Int32Array.from([1, 6, 0, 3, 3, 2, 5, 4, 1, 0]);
  const mask = Uint8Array.from([1, 1, 0, 1, 1, 1, 1, 1, 1, 1]);
  const h = F.add(x, F.embedding(table, ids, [2, 5]));
  const qkv = F.loraLinear(F.layerNorm(h, g, null), w, bias, [{ A: qA, B: qB, scale: 0.5, column: 24, inOut: true }], {
    weightInOut: true,
  });
  const o = F.packedAttention(qkv, 3, { keyMask: mask }); // [2, 5, 12]
  // Rotary embeddings on token-major rows and on [B, H, T, D] heads (both write unzeroed buffers).
  const cos = Float32Array.from({ length: 5 * 2 }, (_, i) => Math.cos(0.3 * i));
  const sin = Float32Array.from({ length: 5 * 2 }, (_, i) => Math.sin(0.3 * i));
  const proj = F.rope(F.linear(o, w, bias, { weightInOut: true }), cos, sin, 4);
  const [q0, k, v] = F.splitHeads(proj, [3, 3, 3], 4) as [Tensor, Tensor, Tensor];
  const q = F.rope(q0, cos, sin);
  const a = F.mergeHeads(F.scaledDotProductAttention(q, k, v, { keyMask: mask }));
  const y = F.add(F.gelu(F.rmsNorm(a, g), 'tanh'), F.silu(F.mul(a, g)));
  const loss = F.sum(F.mul(y, y));
  loss.backward();
  return [y.f32, ...[x, w, bias, qA, qB, g, table].map((t) => t.grad ?? new Float32Array())];
}

for (const backend of backends) {
  test(`ops write every element of their unzeroed buffers (${backend})`, (t) => {
    setBackend(backend);
    t.after(() => {
      setUninitPoison(false);
      setBackend(nativeKernels() ? 'native' : 'js');
    });
    const clean = run();
    setUninitPoison(true);
    const poisoned = run();
    setUninitPoison(false);
    clean.forEach((c, i) => {
      assert.ok(c.length > 0, `result ${i} is empty`);
      for (let j = 0; j < c.length; j++) {
        assert.ok(Number.isFinite(poisoned[i]![j]!), `result ${i}[${j}] is ${poisoned[i]![j]} with poisoned buffers`);
        assert.equal(poisoned[i]![j], c[j], `result ${i}[${j}]`);
      }
    });
  });
}
