/**
 * GEMMs called from several threads at once (worker_threads sharing the addon's thread pool).
 * Only one call at a time gets the pool; a concurrent call runs its parallel task inline on the
 * calling thread, which must still compute every tile of C. Each worker checks its results
 * bit for bit against the same call made alone (the tile split does not change any element's
 * sum order), with C filled with NaN before every call so a skipped tile cannot pass.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { WType } from '../../src/native/kernels.js';
import { nativeKernels, nativeUnavailableReason } from '../../src/native/index.js';

const native = nativeKernels();
const skip = native ? false : `native addon unavailable: ${nativeUnavailableReason()}`;

/**
 * The shapes every thread multiplies, threaded (M N K > 2^20): a grid of tiles in M and N, a
 * wide N whose column blocks are handed out dynamically by the bf16 kernel, and a long K that the
 * bf16 kernel cuts into slices summed in float32 partials (split-K).
 */
const SHAPES: [number, number, number][] = [
  [96, 700, 640],
  [24, 8300, 96],
  [40, 48, 4000],
];

/** Runs in each worker (and the main thread): `calls` GEMMs, returns how many differed from `want`. */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.index).then(({ nativeKernels }) => {
  const k = nativeKernels();
  const { M, N, K, A, B, bType, want, calls } = workerData;
  const C = new Float32Array(M * N);
  let bad = 0;
  for (let i = 0; i < calls; i++) {
    C.fill(NaN);
    k.gemm(false, true, M, N, K, 1, A, 0, K, B, 0, K, bType, 0, C, 0, N, 1, 0, 0, 0);
    for (let j = 0; j < C.length; j++) if (!Object.is(C[j], want[j])) { bad++; break; }
  }
  parentPort.postMessage(bad);
});
`;

function inputs(M: number, N: number, K: number, bType: WType): { A: Float32Array; B: Float32Array | Uint16Array } {
  let s = 12345;
  const next = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
  const A = Float32Array.from({ length: M * K }, next);
  const Bf = Float32Array.from({ length: N * K }, next);
  if (bType === WType.F32) return { A, B: Bf };
  const B = new Uint16Array(N * K);
  const bits = new Uint32Array(Bf.buffer);
  for (let i = 0; i < B.length; i++) B[i] = bits[i]! >>> 16;
  return { A, B };
}

for (const [name, bType] of [
  ['float32', WType.F32],
  ['bf16 compute (BF16Dot)', WType.BF16Dot],
] as const)
  for (const [M, N, K] of SHAPES)
  test(`${name} ${M}x${N}x${K} GEMMs from three threads at once compute every tile`, { skip }, async () => {
    const k = native!;
    const { A, B } = inputs(M, N, K, bType);
    const want = new Float32Array(M * N);
    k.gemm(false, true, M, N, K, 1, A, 0, K, B, 0, K, bType, 0, want, 0, N, 1, 0, 0, 0);
    assert.ok(want.every(Number.isFinite));
    const calls = 150;
    const index = new URL('../../src/native/index.js', import.meta.url).href;
    const workers = [0, 1].map(
      () => new Worker(WORKER, { eval: true, workerData: { index, M, N, K, A, B, bType, want, calls } }),
    );
    const results = workers.map(
      (w) =>
        new Promise<number>((resolve, reject) => {
          w.once('message', resolve);
          w.once('error', reject);
        }),
    );
    // The main thread competes for the pool too.
    const C = new Float32Array(M * N);
    let bad = 0;
    for (let i = 0; i < calls; i++) {
      C.fill(NaN);
      k.gemm(false, true, M, N, K, 1, A, 0, K, B, 0, K, bType, 0, C, 0, N, 1, 0, 0, 0);
      if (!C.every((v, j) => Object.is(v, want[j]))) bad++;
    }
    const badWorkers = await Promise.all(results);
    await Promise.all(workers.map((w) => w.terminate()));
    assert.deepEqual([bad, ...badWorkers], [0, 0, 0], 'calls whose result differed from the lone call');
  });
