/**
 * The whole-step profiler (src/tensor/profile.ts): its accounting is consistent (parts sum to the
 * wall time, kernel calls match the calls the backend received, ops match the graph) and it leaves
 * the original kernels and engine hooks in place when it stops.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as nativeIndex from '../../src/native/index.js';
import { swapKernels, type Kernels } from '../../src/native/index.js';
import * as F from '../../src/tensor/ops.js';
import { PROFILE_CATEGORIES, Profiler, formatProfile } from '../../src/tensor/profile.js';
import { Rng } from '../../src/tensor/random.js';
import { AdamW } from '../../src/train/optim.js';

/** A backend that forwards to `k` and counts the calls it receives (independent of the profiler). */
function counting(k: Kernels): { kernels: Kernels; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const w: Record<string, unknown> = { name: k.name, threads: k.threads, simd: k.simd };
  for (const key of Object.keys(k)) {
    const v = (k as unknown as Record<string, unknown>)[key];
    if (typeof v !== 'function') continue;
    const f = v as (...a: unknown[]) => unknown;
    w[key] = (...a: unknown[]): unknown => {
      calls.set(key, (calls.get(key) ?? 0) + 1);
      return f.apply(k, a);
    };
  }
  return { kernels: w as unknown as Kernels, calls };
}

test('profiler: parts sum to the wall time, kernel calls match the backend, originals restored', async () => {
  const original = nativeIndex.kernels;
  const counter = counting(original);
  swapKernels(counter.kernels);
  try {
    const rng = new Rng(3);
    const x = F.randn([6, 8], rng);
    const w = F.randn([8, 5], rng, 0.3, { requiresGrad: true });
    const g = F.randn([5], rng, 1, { requiresGrad: true });
    const opt = new AdamW([w, g], { lr: 1e-3 });
    const p = new Profiler().start();
    assert.notEqual(nativeIndex.kernels, counter.kernels, 'the wrapper is active while profiling');
    assert.throws(() => new Profiler().start(), /another profiler/);
    const steps = 2;
    for (let s = 0; s < steps; s++) {
      opt.zeroGrad();
      const h = F.gelu(F.matmul(x, w), 'tanh');
      const loss = F.mean(F.layerNorm(h, g, null));
      loss.backward();
      p.section('optimizer', () => opt.step());
    }
    const prof = await p.stop();
    assert.equal(nativeIndex.kernels, counter.kernels, 'stop() puts the previous kernels back');

    // Kernel calls: the profiler saw exactly what the backend received.
    const received = [...counter.calls.values()].reduce((a, b) => a + b, 0);
    assert.equal(prof.kernelCalls, received);
    for (const e of prof.kernels) assert.equal(e.calls, counter.calls.get(e.name) ?? 0, `calls of ${e.name}`);
    assert.equal(counter.calls.get('gemm'), steps * 2, 'one forward GEMM and one weight-gradient GEMM per step');
    assert.equal(counter.calls.get('adamw'), steps * 2, 'one AdamW kernel per parameter per step');

    // Ops: one forward and one backward of each op per step.
    const op = (name: string): number => prof.ops.find((e) => e.name === name)?.calls ?? 0;
    for (const name of ['matmul', 'gelu', 'layerNorm', 'mean']) {
      assert.equal(op(`fwd ${name}`), steps, `fwd ${name}`);
      assert.equal(op(`bwd ${name}`), steps, `bwd ${name}`);
    }
    assert.equal(prof.opCalls, steps * 8);

    // Accounting: every part is non-negative, the parts add up to the wall time, kernel
    // categories are the sums of their kernels and js-ops the sum of the ops.
    let sum = 0;
    for (const c of PROFILE_CATEGORIES) {
      assert.ok(prof.categories[c] >= 0, `${c} >= 0`);
      sum += prof.categories[c];
    }
    assert.ok(Math.abs(sum - prof.wallMs) <= 1e-6 * prof.wallMs + 1e-6, `parts ${sum} vs wall ${prof.wallMs}`);
    const byCat = (c: string): number => prof.kernels.filter((e) => e.category === c).reduce((a, e) => a + e.ms, 0);
    assert.ok(Math.abs(byCat('gemm') - prof.categories.gemm) < 1e-9);
    assert.ok(Math.abs(byCat('norm') - prof.categories.norm) < 1e-9);
    assert.ok(prof.categories.optimizer >= byCat('optimizer'), 'optimizer = its kernels + its section');
    const opsMs = prof.ops.reduce((a, e) => a + e.ms, 0);
    assert.ok(Math.abs(opsMs - prof.categories['js-ops']) < 1e-9);
    assert.ok(prof.categories.gemm > 0);
    // Forward outputs: gelu, matmul and layerNorm outputs are 6x5 floats, mean's one float.
    assert.equal(prof.forwardBytes, steps * 4 * (3 * 30 + 1));

    const table = formatProfile(prof, steps);
    for (const c of PROFILE_CATEGORIES) assert.match(table, new RegExp(`^${c} `, 'm'));
    await assert.rejects(() => p.stop(), /not running/);
  } finally {
    swapKernels(original);
  }
});

test('profiler: nothing is installed after stop, a new profiler can start', async () => {
  const before = nativeIndex.kernels;
  const p = new Profiler().start();
  F.gelu(F.full([4], 0.5));
  const prof = await p.stop();
  assert.equal(nativeIndex.kernels, before);
  assert.equal(prof.kernels.find((e) => e.name === 'unary')?.calls, 1);
  assert.equal(prof.ops.find((e) => e.name === 'fwd gelu')?.calls, 1, 'ops outside the graph are profiled too');
  const q = new Profiler().start();
  F.gelu(F.full([4], 0.5));
  assert.equal((await q.stop()).kernelCalls, 1);
  // A profile of nothing the engine hooks see: the unprofiled call after stop leaves no trace.
  F.gelu(F.full([4], 0.5));
  assert.equal(prof.kernelCalls, 1);
});
