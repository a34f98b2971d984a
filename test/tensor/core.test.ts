/**
 * Forward values against straightforward formulas, autograd engine behaviour, RNG (optimisers: test/train/optim.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as F from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, noGrad } from '../../src/tensor/tensor.js';
import { AdamW } from '../../src/train/optim.js';
import { Linear } from '../../src/nn/layers.js';
import { assertClose } from '../helpers/close.js';

const close = (a: number, b: number, tol = 1e-5): void =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

test('matmul equals the triple loop, for every transpose', () => {
  const rng = new Rng(1);
  const M = 3,
    N = 4,
    K = 5;
  const A = Array.from({ length: M }, () => Array.from({ length: K }, () => rng.normal()));
  const B = Array.from({ length: K }, () => Array.from({ length: N }, () => rng.normal()));
  const ref = A.map((r) => B[0]!.map((_, j) => r.reduce((s, a, k) => s + a * B[k]![j]!, 0)));
  const At = A[0]!.map((_, k) => A.map((r) => r[k]!));
  const Bt = B[0]!.map((_, j) => B.map((r) => r[j]!));
  for (const [ta, tb] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    const a = F.tensor((ta ? At : A).flat(), ta ? [K, M] : [M, K]);
    const b = F.tensor((tb ? Bt : B).flat(), tb ? [N, K] : [K, N]);
    const c = F.matmul(a, b, { transA: ta, transB: tb });
    assert.deepEqual(c.shape, [M, N]);
    c.toArray().forEach((v, i) => close(v, ref[Math.floor(i / N)]![i % N]!));
  }
});

test('softmax, layer norm, RMS norm and GELU match their formulas', () => {
  const x = [1, 2, 3, -1];
  const s = F.softmax(F.tensor(x)).toArray();
  const e = x.map(Math.exp);
  const z = e.reduce((a, b) => a + b);
  s.forEach((v, i) => close(v, e[i]! / z));
  const m = x.reduce((a, b) => a + b) / 4;
  const v = x.reduce((a, b) => a + (b - m) ** 2, 0) / 4;
  F.layerNorm(F.tensor(x), F.tensor([2, 2, 2, 2]), F.tensor([1, 1, 1, 1]), 1e-5)
    .toArray()
    .forEach((y, i) => close(y, (2 * (x[i]! - m)) / Math.sqrt(v + 1e-5) + 1));
  const ms = x.reduce((a, b) => a + b * b, 0) / 4;
  F.rmsNorm(F.tensor(x), null, 1e-6)
    .toArray()
    .forEach((y, i) => close(y, x[i]! / Math.sqrt(ms + 1e-6)));
  // GELU(1) = Φ(1) = 0.8413447460685429 (erf form); tanh form 0.8411919906082768 (published values)
  close(F.gelu(F.tensor([1])).item(), 0.8413447460685429, 1e-6);
  close(F.gelu(F.tensor([1]), 'tanh').item(), 0.8411919906082768, 1e-6);
});

test('cross-entropy: PyTorch semantics for mean, ignore index, smoothing and all-ignored', () => {
  const logits = [
    [2, 1, 0.1],
    [0.5, 2.5, -1],
    [0, 0, 0],
  ];
  const targets = Int32Array.from([0, 1, -100]);
  const lse = (r: number[]): number => Math.log(r.reduce((a, b) => a + Math.exp(b), 0));
  const nll = [lse(logits[0]!) - 2, lse(logits[1]!) - 2.5];
  close(F.crossEntropy(F.tensor(logits.flat(), [3, 3]), targets).item(), (nll[0]! + nll[1]!) / 2);
  // label smoothing eps: (1-eps)*nll + eps*mean_j(-log p_j)
  const eps = 0.1;
  const smooth = (r: number[], t: number): number =>
    (1 - eps) * (lse(r) - r[t]!) + eps * (lse(r) - r.reduce((a, b) => a + b) / r.length);
  close(
    F.crossEntropy(F.tensor(logits.flat(), [3, 3]), targets, { labelSmoothing: eps }).item(),
    (smooth(logits[0]!, 0) + smooth(logits[1]!, 1)) / 2,
  );
  assert.ok(
    Number.isNaN(F.crossEntropy(F.tensor([1, 2], [1, 2]), Int32Array.from([-100])).item()),
    'all targets ignored gives NaN like PyTorch',
  );
  assert.throws(
    () => F.crossEntropy(F.tensor([1, 2], [1, 2]), Int32Array.from([5])),
    /target 5 at row 0 is outside \[0, 2\)/,
  );
});

test('attention equals softmax(QKᵀ/√d + mask) V built from plain ops', () => {
  const rng = new Rng(3);
  const [B, H, Hkv, T, S, D] = [1, 4, 2, 3, 5, 8];
  const q = F.randn([B, H, T, D], rng);
  const k = F.randn([B, Hkv, S, D], rng);
  const v = F.randn([B, Hkv, S, D], rng);
  const mask = Uint8Array.from([1, 0, 1, 1, 1]);
  const out = F.scaledDotProductAttention(q, k, v, { keyMask: mask }).toArray();
  for (let h = 0; h < H; h++) {
    const kv = Math.floor(h / (H / Hkv));
    for (let t = 0; t < T; t++) {
      const scores: number[] = [];
      for (let s = 0; s < S; s++) {
        const allowed = mask[s] === 1 && s <= t + (S - T);
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q.f32[(h * T + t) * D + d]! * k.f32[(kv * S + s) * D + d]!;
        scores.push(allowed ? dot / Math.sqrt(D) : -Infinity);
      }
      const mx = Math.max(...scores);
      const p = scores.map((sc) => Math.exp(sc - mx));
      const z = p.reduce((a, b) => a + b);
      for (let d = 0; d < D; d++) {
        const ref = p.reduce((acc, pi, s) => acc + (pi / z) * v.f32[(kv * S + s) * D + d]!, 0);
        close(out[(h * T + t) * D + d]!, ref, 1e-5);
      }
    }
  }
  // A query whose every key is masked outputs zeros.
  const allMasked = F.scaledDotProductAttention(q, k, v, { keyMask: new Uint8Array(S) }).toArray();
  assert.ok(allMasked.every((x) => x === 0));
});

test('rope rotates pairs (i, i + d/2) by the position angle', () => {
  const x = F.tensor([1, 2, 3, 4], [1, 1, 1, 4]);
  const a0 = 0.3,
    a1 = 0.7;
  const cos = Float32Array.from([Math.cos(a0), Math.cos(a1)]);
  const sin = Float32Array.from([Math.sin(a0), Math.sin(a1)]);
  const y = F.rope(x, cos, sin).toArray();
  close(y[0]!, 1 * Math.cos(a0) - 3 * Math.sin(a0));
  close(y[2]!, 3 * Math.cos(a0) + 1 * Math.sin(a0));
  close(y[1]!, 2 * Math.cos(a1) - 4 * Math.sin(a1));
  close(y[3]!, 4 * Math.cos(a1) + 2 * Math.sin(a1));
});

test('frozen branches record nothing and get no gradient buffers', () => {
  const rng = new Rng(4);
  const frozen = F.randn([8, 8], rng);
  const trainable = F.randn([8, 2], rng, 1, { requiresGrad: true });
  const x = F.randn([3, 8], rng);
  const h = F.matmul(x, frozen);
  assert.equal(h.requiresGrad, false);
  assert.equal(h.node, null, 'a frozen-only result keeps no graph node');
  const y = F.matmul(h, trainable);
  assert.equal(y.requiresGrad, true);
  F.sum(y).backward();
  assert.equal(frozen.grad, null);
  assert.equal(x.grad, null);
  assert.ok(trainable.grad);
  // noGrad records nothing even with trainable inputs
  const z = noGrad(() => F.matmul(h, trainable));
  assert.equal(z.requiresGrad, false);
  assert.equal(z.node, null);
});

test('add and mul broadcast over leading dimensions with long rows (native row kernels): exact values', () => {
  const rng = new Rng(9);
  const a = F.randn([3, 2, 4100], rng);
  const b = F.randn([2, 4100], rng);
  for (const [name, f, ref] of [
    ['add', F.add, (x: number, y: number) => Math.fround(x + y)],
    ['mul', F.mul, (x: number, y: number) => Math.fround(x * y)],
  ] as const) {
    for (const [out, big] of [
      [f(a, b), true],
      [f(b, a), false],
    ] as const) {
      assert.deepEqual(out.shape, [3, 2, 4100]);
      const o = out.f32;
      for (let i = 0; i < o.length; i++) {
        const x = a.f32[i]!;
        const y = b.f32[i % b.size]!;
        if (o[i] !== ref(big ? x : y, big ? y : x)) assert.fail(`${name}[${i}] = ${o[i]}`);
      }
    }
  }
});

test('a retained graph runs its loss backward again with the same gradients (saved gradients stay unscaled, unwritten)', () => {
  const rng = new Rng(3);
  const x = F.randn([6, 4], rng, 1, { requiresGrad: true });
  const w = F.randn([5, 4], rng, 1, { requiresGrad: true });
  const targets = Int32Array.from([0, 4, 2, 1, 3, 4]);
  for (const s of [1, 2.5]) {
    x.zeroGrad();
    w.zeroGrad();
    const hidden = F.gelu(F.layerNorm(x, null, null), 'tanh'); // in-place backwards below the loss
    const loss = F.scale(F.linearCrossEntropy(hidden, w, targets), s);
    loss.backward(undefined, { retainGraph: true });
    const gx = x.grad!.slice();
    const gw = w.grad!.slice();
    loss.backward();
    assertClose(
      x.grad!,
      gx.map((v) => 2 * v),
      { message: `x twice, scale ${s}`, rtol: 1e-6, atol: 1e-9 },
    );
    assertClose(
      w.grad!,
      gw.map((v) => 2 * v),
      { message: `w twice, scale ${s}`, rtol: 1e-6, atol: 1e-9 },
    );
    const hidden2 = F.gelu(F.layerNorm(x, null, null), 'tanh'); // the first graph is released
    const ce = F.scale(F.crossEntropy(F.linear(hidden2, w), targets), s);
    x.zeroGrad();
    ce.backward(undefined, { retainGraph: true });
    const gx2 = x.grad!.slice();
    ce.backward();
    assertClose(
      x.grad!,
      gx2.map((v) => 2 * v),
      { message: `crossEntropy twice, scale ${s}`, rtol: 1e-6, atol: 1e-9 },
    );
  }
});

test('gradients accumulate across backward calls and the graph is released', () => {
  const w = F.tensor([1, 2, 3], [3], { requiresGrad: true });
  const y = F.sum(F.mul(w, w));
  y.backward();
  assert.deepEqual(Array.from(w.grad!), [2, 4, 6]);
  assert.equal(y.node, null, 'graph released after backward');
  F.sum(F.mul(w, w)).backward();
  assert.deepEqual(Array.from(w.grad!), [4, 8, 12]);
  assert.throws(() => F.tensor([1, 2]).backward(), /does not require a gradient/);
});

test('shape errors name the op and the shapes', () => {
  assert.throws(
    () => F.matmul(F.zeros([2, 3]), F.zeros([4, 5])),
    /matmul: inner dimensions differ: \[2, 3\] @ \[4, 5\]/,
  );
  assert.throws(() => F.add(F.zeros([2, 3]), F.zeros([4])), /add: shapes \[2, 3\] and \[4\] cannot be broadcast/);
  assert.throws(() => F.reshape(F.zeros([2, 3]), [4, 2]), /reshape: cannot reshape \[2, 3\]/);
  assert.throws(
    () => F.embedding(F.zeros([4, 2]), Int32Array.from([4])),
    /id 4 at position 0 is outside the vocabulary \[0, 4\)/,
  );
  assert.throws(
    () => F.linear(F.zeros([2, 3]), F.zeros([5, 4])),
    /linear: input \[2, 3\] has 3 features but weight \[5, 4\] expects 4/,
  );
  assert.throws(() => F.slice(F.zeros([2, 3]), 1, 2, 5), /slice: range \[2, 5\) is invalid/);
  assert.throws(() => new Tensor(new Float32Array(5), [2, 3]), /data has 5 elements but shape \[2, 3\] needs 6/);
});

test('half-precision frozen weights are widened inside matmul and embedding', () => {
  // bf16 bits of 1.0, -2.0, 0.5, 3.0 ; f16 bits of the same values
  const bf = new Tensor(Uint16Array.from([0x3f80, 0xc000, 0x3f00, 0x4040]), [2, 2], { dtype: 'bf16' });
  const f16 = new Tensor(Uint16Array.from([0x3c00, 0xc000, 0x3800, 0x4200]), [2, 2], { dtype: 'f16' });
  const x = F.tensor([1, 2], [1, 2], { requiresGrad: true });
  for (const w of [bf, f16]) {
    assert.deepEqual(F.matmul(x, w).toArray(), [1 * 1 + 2 * 0.5, 1 * -2 + 2 * 3]);
    assert.deepEqual(F.linear(x, w).toArray(), [1 * 1 + 2 * -2, 1 * 0.5 + 2 * 3]);
    assert.deepEqual(F.embedding(w, Int32Array.from([1])).toArray(), [0.5, 3]);
  }
  F.sum(F.linear(x, bf)).backward();
  assert.deepEqual(Array.from(x.grad!), [1.5, 1]);
  assert.throws(() => bf.requiresGrad_(), /only float32 tensors can be trained/);
});

test('Rng is deterministic per seed and roughly standard normal', () => {
  const a = new Rng(42),
    b = new Rng(42),
    c = new Rng(43);
  const xs = Array.from({ length: 5 }, () => a.random());
  assert.deepEqual(
    xs,
    Array.from({ length: 5 }, () => b.random()),
  );
  assert.notDeepEqual(
    xs,
    Array.from({ length: 5 }, () => c.random()),
  );
  const r = new Rng(1);
  const n = 20000;
  let s = 0,
    s2 = 0;
  for (let i = 0; i < n; i++) {
    const z = r.normal();
    s += z;
    s2 += z * z;
  }
  assert.ok(Math.abs(s / n) < 0.03 && Math.abs(s2 / n - 1) < 0.05);
  const u = new Rng(2).fillUniform(new Float32Array(n), -2, 3);
  assert.ok(u.every((x) => x >= -2 && x < 3));
  assert.ok(Math.abs(u.reduce((a, b) => a + b) / n - 0.5) < 0.05);
  const z = new Rng(3).fillNormal(new Float32Array(n + 1), 1, 2);
  const zm = z.reduce((a, b) => a + b) / z.length;
  const zv = z.reduce((a, b) => a + (b - zm) ** 2, 0) / z.length;
  assert.ok(Math.abs(zm - 1) < 0.06 && Math.abs(zv - 4) < 0.2, `mean ${zm} var ${zv}`);
  assert.deepEqual(new Rng(4).fillNormal(new Float32Array(8)), new Rng(4).fillNormal(new Float32Array(8)));
});

test('memory stays flat over a long training loop', () => {
  const rng = new Rng(5);
  const lin = new Linear(64, 64, { rng });
  const head = new Linear(64, 16, { rng });
  const opt = new AdamW([...lin.parameters(), ...head.parameters()], { lr: 1e-3 });
  const x = F.randn([32, 64], rng);
  const targets = Int32Array.from({ length: 32 }, (_, i) => i % 16);
  const step = (): number => {
    opt.zeroGrad();
    const loss = F.crossEntropy(head.forward(F.gelu(lin.forward(x))), targets);
    loss.backward();
    opt.step();
    return loss.item();
  };
  for (let i = 0; i < 50; i++) step();
  global.gc?.();
  const before = process.memoryUsage().rss;
  let last = 0;
  for (let i = 0; i < 400; i++) last = step();
  global.gc?.();
  const growth = process.memoryUsage().rss - before;
  assert.ok(growth < 64 * 1024 * 1024, `RSS grew by ${(growth / 1048576).toFixed(1)} MiB over 400 steps`);
  assert.ok(last < 1, `training made progress (loss ${last})`);
});
