/**
 * Every differentiable op against central finite differences, on each available backend.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as F from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { nativeKernels, setBackend } from '../../src/native/index.js';
import { LSTM } from '../../src/nn/layers.js';
import { gradcheck } from '../helpers/gradcheck.js';

const backends: Array<'js' | 'native'> = nativeKernels() ? ['js', 'native'] : ['js'];

function rnd(shape: number[], seed: number, std = 1): Tensor {
  return F.randn(shape, new Rng(seed), std, { requiresGrad: true });
}

for (const backend of backends) {
  test(`gradients (${backend} backend)`, async (t) => {
    setBackend(backend);
    t.after(() => setBackend(nativeKernels() ? 'native' : 'js'));

    await t.test('add/sub/mul/div with broadcasting', () => {
      const a = rnd([2, 3, 4], 1);
      const b = rnd([4], 2);
      const c = rnd([3, 1], 3);
      gradcheck('add', F.add, [a, b]);
      gradcheck('sub', F.sub, [c, a]);
      gradcheck('mul', F.mul, [a, c]);
      gradcheck('mul of equal shapes (one kernel pass each way)', F.mul, [a, rnd([2, 3, 4], 5)]);
      const pos = F.addScalar(F.rand([2, 1, 4], new Rng(4), 1, 2), 0)
        .detach()
        .requiresGrad_();
      gradcheck('div', F.div, [a, pos]);
      gradcheck('scale', (x) => F.scale(x, -0.7), [a]);
      gradcheck('log', F.log, [pos]);
    });

    await t.test('shared gradients: residual adds into in-place backwards', () => {
      // add hands one gradient buffer to both operands: an op reached through it must not write
      // into it (layerNorm and gelu compute in place only into gradients the engine owns), and the
      // residual's two contributions must sum without either being changed.
      const x = rnd([3, 8], 60);
      const g = rnd([8], 61);
      const residual = (v: Tensor): Tensor => {
        const h = F.gelu(v, 'tanh');
        const a = F.add(h, F.layerNorm(h, g, null)); // h gets g twice: shared, then layerNorm's
        return F.add(a, F.gelu(F.rmsNorm(a, g), 'none'));
      };
      gradcheck('residual stack', residual, [x, g]);
      gradcheck('add of a tensor to itself', (v) => F.gelu(F.add(v, v), 'tanh'), [x]);
      gradcheck('add of a leaf to itself', (v) => F.add(v, v), [x]);
      // sub, mul and scale write their input gradient into g when they own it.
      const c = F.randn([3, 8], new Rng(62));
      gradcheck('sub, only b trains', (v) => F.sub(c, F.gelu(v, 'tanh')), [x]);
      gradcheck('sub of equal shapes', (v, w) => F.sub(F.silu(v), F.tanh(w)), [x, rnd([3, 8], 63)]);
      gradcheck('mul, only a trains', (v) => F.mul(F.gelu(v, 'tanh'), c), [x]);
      gradcheck('mul, only b trains (broadcast)', (v) => F.mul(F.reshape(c, [3, 8]), F.sigmoid(v)), [rnd([8], 64)]);
      gradcheck('mul of a tensor by itself', (v) => F.scale(F.mul(F.tanh(v), F.tanh(v)), -1.5), [x]);
      gradcheck(
        'reshape of a shared gradient',
        (v) => {
          const s = F.add(F.reshape(F.silu(v), [24]), F.reshape(v, [24]));
          return F.add(s, F.reshape(F.tanh(F.reshape(s, [3, 8])), [24]));
        },
        [x],
      );
    });

    await t.test('consumed gradients serve again as buffers (tensors past the pooling size)', () => {
      // 2 x 64 x 160 = 20480 elements: above uninitF32's 64 KB floor, so a gradient a node has
      // consumed becomes the output of a later node's backward (the stack reuses two of them).
      const rng = new Rng(70);
      const x = F.randn([2, 64, 160], rng, 1, { requiresGrad: true });
      const ws = [0, 1, 2, 3].map(() => F.randn([160, 160], rng, 0.1, { requiresGrad: true }));
      const block = (h: Tensor, a: Tensor, b: Tensor): Tensor =>
        F.add(h, F.linear(F.gelu(F.linear(F.layerNorm(h, null, null), a), 'tanh'), b));
      gradcheck('two residual MLP blocks', (v, a, b, c, d) => block(block(v, a, b), c, d), [x, ...ws], {
        probes: 12,
      });
    });

    await t.test('activations', () => {
      const x = rnd([3, 7], 5, 1.5);
      gradcheck('gelu tanh', (v) => F.gelu(v, 'tanh'), [x]);
      gradcheck('gelu erf', (v) => F.gelu(v, 'none'), [x]);
      gradcheck('silu', F.silu, [x]);
      gradcheck('tanh', F.tanh, [x]);
      gradcheck('sigmoid', F.sigmoid, [x]);
      gradcheck('exp', F.exp, [rnd([3, 7], 6, 0.5)]);
      // relu: keep inputs away from the kink at 0
      const r = F.tensor([-1.3, -0.4, 0.5, 2.2, -2, 0.9], [2, 3], { requiresGrad: true });
      gradcheck('relu', F.relu, [r]);
    });

    await t.test('reductions and shapes', () => {
      const x = rnd([2, 3, 4], 7);
      gradcheck('sum all', (v) => F.sum(v), [x]);
      gradcheck('sum dim', (v) => F.sum(v, 1, true), [x]);
      gradcheck('mean dim', (v) => F.mean(v, -1), [x]);
      gradcheck('max dim', (v) => F.max(v, 2), [x]);
      gradcheck('reshape', (v) => F.reshape(v, [4, -1]), [x]);
      gradcheck('permute', (v) => F.permute(v, [2, 0, 1]), [x]);
      gradcheck('transpose', (v) => F.transpose(v, 0, 2), [x]);
      gradcheck('slice', (v) => F.slice(v, 2, 1, 3), [x]);
      const y = rnd([2, 5, 4], 8);
      gradcheck('concat', (a, b) => F.concat([a, b], 1), [x, y]);
      gradcheck('split', (v) => F.mul(F.split(v, [1, 3], 2)[1]!, F.split(v, [3, 1], 2)[0]!), [x]);
    });

    await t.test('splitHeads and mergeHeads', () => {
      const x = rnd([2, 3, 4 * 2], 50);
      gradcheck('splitHeads q', (v) => F.splitHeads(v, [2, 1, 1], 2)[0]!, [x]);
      gradcheck('splitHeads v', (v) => F.splitHeads(v, [2, 1, 1], 2)[2]!, [x]);
      gradcheck('splitHeads all', (v) => F.concat(F.splitHeads(v, [2, 1, 1], 2), 1), [x]);
      gradcheck('mergeHeads', (v) => F.mergeHeads(v), [rnd([2, 2, 3, 2], 51)]);
      // The same layout as slice + reshape + transpose.
      const [q, k] = F.splitHeads(x, [2, 2], 2) as [Tensor, Tensor];
      const ref = F.transpose(F.reshape(F.slice(x, 2, 4, 8), [2, 3, 2, 2]), 1, 2);
      assert.deepEqual(k.toArray(), ref.toArray());
      assert.deepEqual(F.mergeHeads(q).toArray(), F.slice(x, 2, 0, 4).toArray());
      // One position (decoding) takes the copy-free paths: same layout and gradients.
      const x1 = rnd([2, 1, 4 * 2], 52);
      gradcheck('splitHeads T = 1', (v) => F.concat(F.splitHeads(v, [1, 2, 1], 2), 1), [x1]);
      gradcheck('mergeHeads T = 1', (v) => F.mergeHeads(v), [rnd([2, 3, 1, 2], 53)]);
      const [q1, k1] = F.splitHeads(x1, [2, 2], 2) as [Tensor, Tensor];
      const ref1 = F.transpose(F.reshape(F.slice(x1, 2, 4, 8), [2, 1, 2, 2]), 1, 2);
      assert.deepEqual(k1.toArray(), ref1.toArray());
      assert.deepEqual(F.mergeHeads(q1).toArray(), F.slice(x1, 2, 0, 4).toArray());
      const o1 = rnd([2, 3, 1, 2], 54);
      assert.deepEqual(F.mergeHeads(o1).toArray(), F.reshape(F.transpose(o1, 1, 2), [2, 1, 6]).toArray());
    });

    await t.test('embedding (gather)', () => {
      const w = rnd([6, 4], 9);
      const ids = Int32Array.from([1, 5, 1, 0]);
      gradcheck('embedding', (v) => F.embedding(v, ids, [2, 2]), [w]);
    });

    await t.test('matmul: every transpose, batched and shared operands', () => {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const a = rnd(transA ? [2, 5, 3] : [2, 3, 5], 10);
          const bShared = rnd(transB ? [4, 5] : [5, 4], 11);
          const bBatched = rnd(transB ? [2, 4, 5] : [2, 5, 4], 12);
          gradcheck(`matmul shared tA=${transA} tB=${transB}`, (x, y) => F.matmul(x, y, { transA, transB }), [
            a,
            bShared,
          ]);
          gradcheck(`matmul batched tA=${transA} tB=${transB}`, (x, y) => F.matmul(x, y, { transA, transB }), [
            a,
            bBatched,
          ]);
          gradcheck(
            `matmul alpha tA=${transA} tB=${transB}`,
            (x, y) => F.matmul(x, y, { transA, transB, alpha: -1.7 }),
            [a, bShared],
          );
        }
      }
    });

    await t.test('linear (torch layout and Conv1D layout)', () => {
      const x = rnd([2, 3, 5], 13);
      gradcheck('linear', (v, w, b) => F.linear(v, w, b), [x, rnd([4, 5], 14), rnd([4], 15)]);
      gradcheck('linear in-out', (v, w, b) => F.linear(v, w, b, { weightInOut: true }), [
        x,
        rnd([5, 4], 16),
        rnd([4], 17),
      ]);
      gradcheck('linear alpha', (v, w, b) => F.linear(v, w, b, { alpha: 2.5 }), [x, rnd([4, 5], 14), rnd([4], 15)]);
    });

    await t.test('softmax and log-softmax', () => {
      const x = rnd([3, 6], 18);
      gradcheck('softmax', (v) => F.softmax(v), [x]);
      gradcheck('logSoftmax', (v) => F.logSoftmax(v), [x]);
      gradcheck('softmax dim 0', (v) => F.softmax(v, 0), [x]);
    });

    await t.test('layer norm and RMS norm', () => {
      const x = rnd([4, 8], 19);
      gradcheck('layerNorm', (v, g, b) => F.layerNorm(v, g, b, 1e-5), [x, rnd([8], 20), rnd([8], 21)]);
      gradcheck('rmsNorm', (v, g) => F.rmsNorm(v, g, 1e-6), [x, rnd([8], 22)]);
    });

    await t.test('cross-entropy with ignore index and label smoothing', () => {
      const logits = rnd([5, 7], 23);
      const targets = Int32Array.from([3, -100, 0, 6, 2]);
      gradcheck('ce mean', (v) => F.crossEntropy(v, targets), [logits]);
      gradcheck('ce smooth', (v) => F.crossEntropy(v, targets, { labelSmoothing: 0.1 }), [logits]);
      gradcheck('ce sum', (v) => F.crossEntropy(v, targets, { reduction: 'sum' }), [logits]);
      gradcheck('ce none', (v) => F.crossEntropy(v, targets, { reduction: 'none', labelSmoothing: 0.2 }), [logits]);
    });

    await t.test('chunked linear + cross-entropy equals linear then cross-entropy', () => {
      const h = rnd([2, 5, 6], 40);
      const w = rnd([9, 6], 41);
      const targets = Int32Array.from([3, -100, 0, 8, 2, 2, 7, -100, 1, 4]);
      gradcheck('linearCE', (a, b) => F.linearCrossEntropy(a, b, targets, { chunkRows: 3, labelSmoothing: 0.1 }), [
        h,
        w,
      ]);
      const fused = F.linearCrossEntropy(h, w, targets, { chunkRows: 4 }).item();
      const plain = F.crossEntropy(F.linear(h, w), targets).item();
      assert.ok(Math.abs(fused - plain) < 1e-5, `${fused} vs ${plain}`);
    });

    await t.test('attention: causal, grouped heads, prefix keys, padding mask', () => {
      const q = rnd([2, 4, 3, 4], 24);
      const k = rnd([2, 2, 5, 4], 25);
      const v = rnd([2, 2, 5, 4], 26);
      const mask = Uint8Array.from([1, 1, 1, 1, 1, 1, 0, 1, 1, 1]);
      gradcheck('sdpa causal gqa prefix', (a, b, c) => F.scaledDotProductAttention(a, b, c, { keyMask: mask }), [
        q,
        k,
        v,
      ]);
      const k2 = rnd([2, 4, 3, 4], 27);
      const v2 = rnd([2, 4, 3, 4], 28);
      gradcheck('sdpa bidirectional', (a, b, c) => F.scaledDotProductAttention(a, b, c, { causal: false }), [
        q,
        k2,
        v2,
      ]);
    });

    await t.test('loraLinear: finite differences (both layouts, column ranges), equal to linear + updates', () => {
      const x = rnd([2, 3, 5], 51);
      const w = rnd([5, 7], 52); // [in, out] (weightInOut)
      const wt = rnd([7, 5], 53); // [out, in]
      const bias = rnd([7], 54);
      const qA = rnd([5, 2], 55),
        qB = rnd([2, 3], 56); // inOut, onto columns [0, 3)
      const vA = rnd([3, 5], 57),
        vB = rnd([4, 3], 58); // torch layout, onto columns [3, 7)
      const ups = (a: Tensor, b: Tensor, c: Tensor, d: Tensor): F.LoraUpdate[] => [
        { A: a, B: b, scale: 0.7, inOut: true },
        { A: c, B: d, scale: -1.3, column: 3 },
      ];
      gradcheck(
        'loraLinear inOut',
        (xx, ww, bb, a, b, c, d) => F.loraLinear(xx, ww, bb, ups(a, b, c, d), { weightInOut: true }),
        [x, w, bias, qA, qB, vA, vB],
      );
      gradcheck(
        'loraLinear torch layout, no bias',
        (xx, ww, c, d) => F.loraLinear(xx, ww, null, [{ A: c, B: d, scale: 0.5, column: 2 }]),
        [x, wt, vA, vB],
      );
      // The unfused composition: add each update into its columns through a zero-padded B.
      const fused = F.loraLinear(x, w, bias, ups(qA, qB, vA, vB), { weightInOut: true });
      const pad = (b: Tensor, before: number, after: number): Tensor =>
        F.concat(
          [...(before ? [F.zeros([b.dim(0), before])] : []), b, ...(after ? [F.zeros([b.dim(0), after])] : [])],
          1,
        );
      const plain = F.add(
        F.add(F.linear(x, w, bias, { weightInOut: true }), F.matmul(F.matmul(x, qA), pad(qB, 0, 4), { alpha: 0.7 })),
        F.matmul(F.matmul(x, vA, { transB: true }), pad(F.transpose(vB, 0, 1), 3, 0), { alpha: -1.3 }),
      );
      for (let i = 0; i < plain.size; i++) assert.ok(Math.abs(fused.f32[i]! - plain.f32[i]!) < 1e-5, `out ${i}`);
      assert.throws(
        () => F.loraLinear(x, w, null, [{ A: qA, B: qB, scale: 1, column: 5, inOut: true }], { weightInOut: true }),
        /outside the 7 outputs/,
      );
      assert.throws(
        () => F.loraLinear(x, w, null, [{ A: qA, B: vB, scale: 1, inOut: true }], { weightInOut: true }),
        /do not chain/,
      );
    });

    await t.test('packed attention: finite differences, and equal to split heads + attention + merge', () => {
      // qkv [B=2, T=5, (H=4 + 2·Hkv=2)·D=3]: grouped heads, key padding, a window.
      const qkv = rnd([2, 5, 24], 41);
      const mask = Uint8Array.from([1, 1, 1, 0, 1, 1, 1, 1, 1, 1]);
      gradcheck('packed causal gqa mask', (x) => F.packedAttention(x, 4, { kvHeads: 2, keyMask: mask }), [qkv]);
      gradcheck('packed bidirectional', (x) => F.packedAttention(x, 2, { causal: false, scale: 0.4 }), [
        rnd([2, 3, 18], 42),
      ]);
      gradcheck('packed window', (x) => F.packedAttention(x, 4, { kvHeads: 2, window: 2 }), [qkv]);
      // The same function through the copying path: outputs and gradients agree.
      const w = F.randn([2, 5, 12], new Rng(43));
      const viaCopies = (x: Tensor): Tensor => {
        const [q, k, v] = F.splitHeads(x, [4, 2, 2], 3) as [Tensor, Tensor, Tensor];
        return F.mergeHeads(F.scaledDotProductAttention(q, k, v, { keyMask: mask }));
      };
      const grads = (f: (x: Tensor) => Tensor): [Float32Array, Float32Array] => {
        qkv.grad = null;
        const y = f(qkv);
        F.sum(F.mul(y, w)).backward();
        return [y.f32.slice(), qkv.grad!.slice()];
      };
      const [y1, g1] = grads((x) => F.packedAttention(x, 4, { kvHeads: 2, keyMask: mask }));
      const [y2, g2] = grads(viaCopies);
      for (let i = 0; i < y1.length; i++) assert.ok(Math.abs(y1[i]! - y2[i]!) < 1e-5, `out ${i}`);
      for (let i = 0; i < g1.length; i++) assert.ok(Math.abs(g1[i]! - g2[i]!) < 1e-5, `grad ${i}`);
      assert.throws(() => F.packedAttention(qkv, 5), /not a multiple/);
      assert.throws(() => F.packedAttention(qkv, 4, { kvHeads: 3 }), /multiple of 3/);
    });

    await t.test('token-major attention: finite differences, and equal to split heads + attention + merge', () => {
      // q [B=2, T=5, H=4·D=3], k/v [2, 5, Hkv=2·3]: grouped heads, key padding, a window.
      const q = rnd([2, 5, 12], 44);
      const k = rnd([2, 5, 6], 45);
      const v = rnd([2, 5, 6], 46);
      const mask = Uint8Array.from([1, 1, 1, 0, 1, 1, 1, 1, 1, 1]);
      gradcheck('token-major causal gqa mask', (a, b, c) => F.tokenMajorAttention(a, b, c, 4, { keyMask: mask }), [
        q,
        k,
        v,
      ]);
      gradcheck('token-major bidirectional', (a, b, c) => F.tokenMajorAttention(a, b, c, 2, { causal: false }), [
        rnd([2, 3, 6], 47),
        rnd([2, 3, 6], 48),
        rnd([2, 3, 6], 49),
      ]);
      gradcheck('token-major window', (a, b, c) => F.tokenMajorAttention(a, b, c, 4, { window: 2, scale: 0.7 }), [
        q,
        k,
        v,
      ]);
      const w = F.randn([2, 5, 12], new Rng(50));
      for (const opts of [{ keyMask: mask }, { window: 2 }, { causal: false, keyMask: mask }]) {
        const run = (f: () => Tensor): Float32Array[] => {
          for (const x of [q, k, v]) x.grad = null;
          const y = f();
          F.sum(F.mul(y, w)).backward();
          return [y.f32.slice(), q.grad!.slice(), k.grad!.slice(), v.grad!.slice()];
        };
        const a = run(() => F.tokenMajorAttention(q, k, v, 4, opts));
        const b = run(() => {
          const [qh] = F.splitHeads(q, [4], 3) as [Tensor];
          const [kh] = F.splitHeads(k, [2], 3) as [Tensor];
          const [vh] = F.splitHeads(v, [2], 3) as [Tensor];
          return F.mergeHeads(F.scaledDotProductAttention(qh, kh, vh, opts));
        });
        a.forEach((x, j) => x.forEach((e, i) => assert.ok(Math.abs(e - b[j]![i]!) < 1e-5, `output ${j} [${i}]`)));
      }
      assert.throws(() => F.tokenMajorAttention(q, k, v, 5), /does not hold 5 heads/);
      assert.throws(() => F.tokenMajorAttention(q, k, v, 4, { kvHeads: 4 }), /must be \[2, 5, 12\]/);
      assert.throws(() => F.tokenMajorAttention(q, k, v, 4, { keyMask: mask.subarray(1) }), /keyMask/);
    });

    await t.test('rotary embedding, token-major [B, T, H·D] equals [B, H, T, D]', () => {
      const x = rnd([2, 3, 8], 51); // B=2, T=3, H=2, D=4
      const cos = Float32Array.from([1, 0.9, 0.5, 0.8, -0.3, 0.1, 0.2, 0.7, -0.9, 0.4, 0.6, -0.5]); // [B, T, D/2]
      const sin = Float32Array.from(cos, (c, i) => (i % 3 === 1 ? -1 : 1) * Math.sqrt(1 - c * c));
      gradcheck('rope token-major', (v) => F.rope(v, cos, sin, 4), [x]);
      const tm = F.rope(x, cos, sin, 4);
      const hm = F.rope(F.splitHeads(x, [2], 4)[0]!, cos, sin);
      const back = F.mergeHeads(hm).f32;
      tm.f32.forEach((e, i) => assert.ok(Math.abs(e - back[i]!) < 1e-6, `rope [${i}]`));
      assert.throws(() => F.rope(x, cos, sin, 3), /expected \[batch, seq, heads·3\]/);
    });

    await t.test('rotary embedding', () => {
      const x = rnd([1, 2, 3, 4], 29);
      const cos = Float32Array.from([1, 0.9, 0.5, 0.8, -0.3, 0.1]);
      const sin = Float32Array.from(cos, (c) => Math.sqrt(1 - c * c));
      gradcheck('rope', (v) => F.rope(v, cos, sin), [x]);
    });

    await t.test('dropout (fixed mask)', () => {
      const x = rnd([4, 5], 30);
      gradcheck('dropout', (v) => F.dropout(v, 0.3, new Rng(99)), [x]);
    });

    await t.test('LSTM, bidirectional and stacked', () => {
      const lstm = new LSTM(3, 4, { numLayers: 2, bidirectional: true, rng: new Rng(31) });
      const x = rnd([2, 3, 3], 32);
      const params = lstm.parameters();
      gradcheck(
        'lstm',
        (v, ...ps) => {
          ps.forEach((p, i) => assert.equal(p, params[i]));
          return lstm.forward(v);
        },
        [x, ...params],
        { probes: 6 },
      );
    });
  });
}
