/**
 * GEMM throughput of the native kernels at the shapes a GPT-2-small fine-tune runs (1024 tokens,
 * d = 768, MLP 3072, vocabulary 50257): forward X·W, weight gradients Aᵀ·B, input gradients A·Bᵀ,
 * the LM head, the skinny LoRA products and M = 1 decoding, beside numpy (OpenBLAS) on the same
 * shapes measured in the same run, shape by shape (interleaved, so both see the same machine load).
 * The 'dot' rows are bf16 compute (frozen bf16 weights, vdpbf16ps where the CPU has AVX512_BF16)
 * at the frozen-weight products of a LoRA step, beside the float32 kernel on the same shape.
 *
 * numpy runs in one `python3 -c` child that answers timing requests on stdin; OPENBLAS_CORETYPE and
 * OPENBLAS_L2_SIZE are removed from its environment so OpenBLAS picks its kernel by CPUID (the
 * kernel it picked is reported). Without python3+numpy the numpy columns are omitted.
 * GFLOP/s = 2·M·N·K / time; each figure is the best of several timed samples (~0.4 s per side).
 */
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { createInterface } from 'node:readline';
import { jsKernels } from '../src/native/js-kernels.js';
import { type Kernels, WType } from '../src/native/kernels.js';
import { nativeKernels, nativeUnavailableReason } from '../src/native/index.js';

interface Shape {
  name: string;
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  bType?: WType;
}

const SHAPES: Shape[] = [
  { name: 'fwd  X·W       1024x768 · 768x768', M: 1024, N: 768, K: 768 },
  { name: 'fwd  X·W       1024x768 · 768x3072', M: 1024, N: 3072, K: 768 },
  { name: 'fwd  X·W       1024x3072 · 3072x768', M: 1024, N: 768, K: 3072 },
  { name: 'fwd  X·W       1024x768 · 768x50257', M: 1024, N: 50257, K: 768 },
  { name: 'fwd  X·Eᵀ      1024x768 · (50257x768)ᵀ', M: 1024, N: 50257, K: 768, transB: true },
  { name: 'dW   Xᵀ·dY     (1024x768)ᵀ · 1024x768', M: 768, N: 768, K: 1024, transA: true },
  { name: 'dW   Xᵀ·dY     (1024x768)ᵀ · 1024x3072', M: 768, N: 3072, K: 1024, transA: true },
  { name: 'dW   Xᵀ·dY     (1024x3072)ᵀ · 1024x768', M: 3072, N: 768, K: 1024, transA: true },
  { name: 'dE   dZᵀ·X     (1024x50257)ᵀ · 1024x768', M: 50257, N: 768, K: 1024, transA: true },
  { name: 'dX   dY·Wᵀ     1024x768 · (768x768)ᵀ', M: 1024, N: 768, K: 768, transB: true },
  { name: 'dX   dY·Wᵀ     1024x3072 · (768x3072)ᵀ', M: 1024, N: 768, K: 3072, transB: true },
  { name: 'dX   dY·Wᵀ     1024x768 · (3072x768)ᵀ', M: 1024, N: 3072, K: 768, transB: true },
  { name: 'dX   dZ·E      1024x50257 · 50257x768', M: 1024, N: 768, K: 50257 },
  { name: 'lora x·A       768x1024 · 1024x8', M: 768, N: 8, K: 1024 },
  { name: 'lora x·A       1024x768 · 768x8', M: 1024, N: 8, K: 768 },
  { name: 'lora (xA)·B    1024x8 · 8x768', M: 1024, N: 768, K: 8 },
  { name: 'lora dB (xA)ᵀ·dY (1024x8)ᵀ · 1024x768', M: 8, N: 768, K: 1024, transA: true },
  { name: 'lora dA xᵀ·g   (1024x768)ᵀ · 1024x8', M: 768, N: 8, K: 1024, transA: true },
  { name: 'gemv x·W       1x768 · 768x3072', M: 1, N: 3072, K: 768 },
  { name: 'gemv x·Eᵀ      1x768 · (50257x768)ᵀ', M: 1, N: 50257, K: 768, transB: true },
  { name: 'bf16 X·W       1024x768 · 768x3072', M: 1024, N: 3072, K: 768, bType: WType.BF16 },
  { name: 'bf16 gemv x·Eᵀ 1x768 · (50257x768)ᵀ', M: 1, N: 50257, K: 768, transB: true, bType: WType.BF16 },
  // bf16 compute (computeDtype 'bfloat16', vdpbf16ps) at the frozen-weight products of a GPT2S
  // LoRA step: its 'ratio' column is against the float32 kernel on the same shape, same run.
  { name: 'dot  X·W       1024x768 · 768x2304', M: 1024, N: 2304, K: 768, bType: WType.BF16Dot },
  { name: 'dot  X·W       1024x768 · 768x3072', M: 1024, N: 3072, K: 768, bType: WType.BF16Dot },
  { name: 'dot  X·W       1024x3072 · 3072x768', M: 1024, N: 768, K: 3072, bType: WType.BF16Dot },
  { name: 'dot  dY·Wᵀ     1024x3072 · (768x3072)ᵀ', M: 1024, N: 768, K: 3072, transB: true, bType: WType.BF16Dot },
  { name: 'dot  dY·Wᵀ     1024x768 · (3072x768)ᵀ', M: 1024, N: 3072, K: 768, transB: true, bType: WType.BF16Dot },
  { name: 'dot  head X·Eᵀ 512x768 · (50257x768)ᵀ', M: 512, N: 50257, K: 768, transB: true, bType: WType.BF16Dot },
  { name: 'dot  head dZ·E 512x50257 · 50257x768', M: 512, N: 768, K: 50257, bType: WType.BF16Dot },
];

/** The shape at which the TypeScript kernels are timed for reference (they are ~100x slower). */
const JS_SHAPE: Shape = { name: 'ref  X·W       256x256 · 256x256', M: 256, N: 256, K: 256 };

/** Pause before timing native after numpy ran (OpenBLAS threads spin-wait after a call). */
const OPENBLAS_IDLE_MS = 300;

/** Seconds of timed samples per shape and side (after one warm-up call). */
const BUDGET_S = 0.4;

/** Best and median GFLOP/s of `fn`, sampled until BUDGET_S has passed (at least 3 samples). */
function timeGflops(fn: () => void, flops: number): { best: number; median: number } {
  fn();
  const inner = Math.max(1, Math.ceil(1e9 / flops));
  const rates: number[] = [];
  const start = performance.now();
  while (rates.length < 3 || (performance.now() - start < BUDGET_S * 1000 && rates.length < 50)) {
    const t0 = performance.now();
    for (let i = 0; i < inner; i++) fn();
    rates.push((flops * inner) / ((performance.now() - t0) / 1000) / 1e9);
  }
  rates.sort((a, b) => a - b);
  return { best: rates[rates.length - 1]!, median: rates[rates.length >> 1]! };
}

function fill(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 4294967296 - 0.5;
  }
  return a;
}

function timeShape(k: Kernels, s: Shape): { best: number; median: number } {
  const { M, N, K } = s;
  const ta = s.transA ?? false,
    tb = s.transB ?? false,
    bType = s.bType ?? WType.F32;
  const A = fill(M * K, 1);
  const Bf = fill(K * N, 2);
  let B: Float32Array | Uint16Array = Bf;
  if (bType !== WType.F32) {
    B = new Uint16Array(K * N);
    const u = new Uint32Array(Bf.buffer);
    for (let i = 0; i < B.length; i++) B[i] = u[i]! >>> 16; // bf16 by truncation
  }
  const C = new Float32Array(M * N);
  const lda = ta ? M : K,
    ldb = tb ? K : N;
  return timeGflops(
    () => k.gemm(ta, tb, M, N, K, 1, A, 0, lda, B, 0, ldb, bType, 0, C, 0, N, 1, 0, 0, 0),
    2 * M * N * K,
  );
}

/** The numpy side: a python3 child that times the shapes it is sent, one JSON line each. */
const NUMPY_SCRIPT = String.raw`
import ctypes, json, sys, time
import numpy as np

def openblas_info():
    info = {'numpy': np.__version__}
    libs = sorted({l.split()[-1] for l in open('/proc/self/maps') if 'openblas' in l.lower() and l.strip().endswith('.so') or ('openblas' in l.lower() and '.so' in l)})
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ('scipy_openblas_', 'openblas_', ''):
            for suffix in ('64_', ''):
                for what in ('get_corename', 'get_config'):
                    name = prefix + what + suffix if prefix else 'openblas_' + what
                    f = getattr(lib, name, None)
                    if f is not None and what not in info:
                        f.restype = ctypes.c_char_p
                        info[what] = f().decode()
        if 'get_corename' in info:
            info['library'] = path
            break
    return info

np.ones((8, 8), np.float32) @ np.ones((8, 8), np.float32)
print(json.dumps(openblas_info()), flush=True)
budget = float(sys.argv[1])
for line in sys.stdin:
    s = json.loads(line)
    M, N, K, ta, tb = s['M'], s['N'], s['K'], s['transA'], s['transB']
    rng = np.random.default_rng(0)
    A = rng.random((K, M) if ta else (M, K), dtype=np.float32) - 0.5
    B = rng.random((N, K) if tb else (K, N), dtype=np.float32) - 0.5
    A = A.T if ta else A
    B = B.T if tb else B
    C = np.empty((M, N), np.float32)
    flops = 2.0 * M * N * K
    np.matmul(A, B, out=C)
    inner = max(1, int(-(-1e9 // flops)))
    rates = []
    start = time.perf_counter()
    while len(rates) < 3 or (time.perf_counter() - start < budget and len(rates) < 50):
        t0 = time.perf_counter()
        for _ in range(inner):
            np.matmul(A, B, out=C)
        rates.append(flops * inner / (time.perf_counter() - t0) / 1e9)
    rates.sort()
    print(json.dumps({'best': rates[-1], 'median': rates[len(rates) // 2]}), flush=True)
`;

class NumpyTimer {
  private readonly lines: AsyncIterableIterator<string>;
  private constructor(private readonly child: ChildProcessByStdio<Writable, Readable, null>) {
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }

  /** Starts the child, or returns null (with the reason) when python3 + numpy are unavailable. */
  static async start(): Promise<{ timer: NumpyTimer; info: Record<string, string> } | { reason: string }> {
    const probe = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
    if (probe.status !== 0) return { reason: probe.error ? 'python3 not found' : 'numpy not importable' };
    const env = { ...process.env };
    delete env.OPENBLAS_CORETYPE; // let OpenBLAS pick its kernel by CPUID
    delete env.OPENBLAS_L2_SIZE;
    const child = spawn('python3', ['-c', NUMPY_SCRIPT, String(BUDGET_S)], { env, stdio: ['pipe', 'pipe', 'inherit'] });
    const timer = new NumpyTimer(child);
    const info = JSON.parse(await timer.next()) as Record<string, string>;
    return { timer, info };
  }

  private async next(): Promise<string> {
    const r = await this.lines.next();
    if (r.done) throw new Error('numpy timing child exited early');
    return r.value;
  }

  async time(s: Shape): Promise<{ best: number; median: number }> {
    this.child.stdin.write(
      `${JSON.stringify({ M: s.M, N: s.N, K: s.K, transA: s.transA ?? false, transB: s.transB ?? false })}\n`,
    );
    return JSON.parse(await this.next()) as { best: number; median: number };
  }

  close(): void {
    this.child.stdin.end();
  }
}

const fmt = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(1));

/**
 * Runs the matmul benchmark, prints a table and returns the figures
 * ({ native: {simd, threads}, numpy: OpenBLAS info | {skipped}, shapes: [...], js: {...} }).
 * `options.only` keeps the shapes whose name matches (default: all).
 */
export async function benchMatmul(options: { only?: RegExp } = {}): Promise<Record<string, unknown>> {
  const k = nativeKernels();
  if (!k) {
    const reason = nativeUnavailableReason();
    console.log(`matmul: native kernels unavailable (${reason}); skipped`);
    return { skipped: `native kernels unavailable: ${reason}` };
  }
  const np = await NumpyTimer.start();
  const timer = 'timer' in np ? np.timer : null;
  const numpyInfo: Record<string, string> = 'timer' in np ? np.info : { skipped: np.reason };
  console.log(
    `matmul GFLOP/s (best of samples): native ${k.simd}, ${k.threads} threads; numpy ${
      timer ? `${numpyInfo.numpy}, OpenBLAS kernel ${numpyInfo.get_corename ?? '?'}` : `skipped (${numpyInfo.skipped})`
    }`,
  );
  console.log(`${'shape'.padEnd(44)} ${'native'.padStart(8)} ${'numpy'.padStart(8)} ${'ratio'.padStart(6)}`);
  const rows: Record<string, unknown>[] = [];
  try {
    for (const s of SHAPES.filter((x) => !options.only || options.only.test(x.name))) {
      // OpenBLAS worker threads keep spinning for a while after numpy returns; let them go idle
      // so they do not compete with the native threads being timed.
      if (timer) await new Promise((r) => setTimeout(r, OPENBLAS_IDLE_MS));
      const nat = timeShape(k, s);
      const dot = s.bType === WType.BF16Dot;
      const ref = timer && (s.bType ?? WType.F32) === WType.F32 ? await timer.time(s) : undefined;
      // BF16Dot rows: the float32 kernel on the same shape is the baseline (numpy has no bf16).
      const f32 = dot ? timeShape(k, { ...s, bType: WType.F32 }) : undefined;
      const ratio = ref ? nat.best / ref.best : f32 ? nat.best / f32.best : undefined;
      console.log(
        `${s.name.padEnd(44)} ${fmt(nat.best).padStart(8)} ${fmt(ref?.best).padStart(8)} ${(ratio === undefined
          ? '-'
          : ratio.toFixed(2)
        ).padStart(6)}${f32 ? ` vs float32 native ${fmt(f32.best)}` : ''}`,
      );
      rows.push({
        shape: s.name,
        M: s.M,
        N: s.N,
        K: s.K,
        transA: s.transA ?? false,
        transB: s.transB ?? false,
        bType: s.bType === WType.BF16 ? 'bf16' : dot ? 'bf16dot' : 'f32',
        nativeGflops: nat.best,
        nativeMedianGflops: nat.median,
        numpyGflops: ref?.best,
        numpyMedianGflops: ref?.median,
        nativeF32Gflops: f32?.best,
        ratio,
        ratioOf: ref ? 'numpy' : f32 ? 'native float32' : undefined,
      });
    }
  } finally {
    timer?.close();
  }
  const js = timeShape(jsKernels, JS_SHAPE);
  const natSmall = timeShape(k, JS_SHAPE);
  console.log(`${JS_SHAPE.name.padEnd(44)} native ${fmt(natSmall.best)}, TypeScript kernels ${fmt(js.best)} GFLOP/s`);
  return {
    native: { simd: k.simd, threads: k.threads },
    numpy: numpyInfo,
    shapes: rows,
    js: { shape: JS_SHAPE.name, jsGflops: js.best, nativeGflops: natSmall.best },
  };
}
