/**
 * The active kernel backend.
 *
 * The native addon (build/Release/tunekit_native.node, built by `npm install`) is used when it
 * loads; otherwise tunekit falls back to the TypeScript reference kernels and says so once on
 * stderr. Environment:
 *  - `TUNEKIT_BACKEND=js|native` forces a backend (`native` throws if the addon cannot load).
 *  - `TUNEKIT_THREADS=N` sets the native thread count (default: `os.availableParallelism()`).
 *  - `TUNEKIT_MALLOC=default` keeps glibc's allocator settings. Otherwise loading the addon keeps
 *    freed blocks up to 32 MB in the heap (M_MMAP_THRESHOLD) and trims past 256 MB: the buffers a
 *    training step frees are reused by the next instead of being page-faulted in again.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsKernels } from './js-kernels.js';
import type { Kernels } from './kernels.js';

export type { Kernels } from './kernels.js';
/** Kernel backend: the native addon (C, SIMD, threads) or the TypeScript reference kernels. */
export type Backend = 'native' | 'js';
/** SIMD builds inside the addon. */
export type NativeSimd = 'avx512bf16' | 'avx512' | 'avx2' | 'scalar';

/** The addon's exports: the kernel functions plus thread/SIMD controls. */
interface NativeAddon extends Omit<Kernels, 'name' | 'threads' | 'simd'> {
  threads(): number;
  setThreads(n: number): void;
  simd(): string;
  setSimd(simd: string): boolean;
}

/** Package root: this file runs as dist/src/native/index.js. */
const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** Where node-gyp puts the addon. */
export const addonPath = resolve(packageRoot, 'build/Release/tunekit_native.node');

let addon: NativeAddon | null = null;
let loadError: string | null = null;
let native: Kernels | null = null;
let warned = false;

/** Parses TUNEKIT_THREADS; undefined when unset. */
function threadsFromEnv(): number | undefined {
  const raw = process.env.TUNEKIT_THREADS;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 1024) {
    throw new Error(`TUNEKIT_THREADS must be an integer in [1, 1024], got '${raw}'`);
  }
  return n;
}

function loadAddon(): NativeAddon | null {
  if (addon || loadError) return addon;
  const threads = threadsFromEnv() ?? availableParallelism();
  try {
    const require = createRequire(import.meta.url);
    const a = require(addonPath) as NativeAddon;
    a.setThreads(threads);
    addon = a;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    loadError = err.code === 'MODULE_NOT_FOUND' ? `${addonPath} is not built; run \`npm run build:native\`` : err.message;
  }
  return addon;
}

/** The native kernels, or null when the addon cannot be loaded (see `nativeUnavailableReason`). */
export function nativeKernels(): Kernels | null {
  if (native) return native;
  const a = loadAddon();
  if (!a) return null;
  native = {
    name: 'native',
    get threads() { return a.threads(); },
    get simd() { return a.simd(); },
    gemm: a.gemm,
    packBf16Dot: a.packBf16Dot,
    packI8Dot: a.packI8Dot,
    widen: a.widen,
    unary: a.unary,
    unaryBackward: a.unaryBackward,
    softmax: a.softmax,
    softmaxBackward: a.softmaxBackward,
    layerNorm: a.layerNorm,
    layerNormBackward: a.layerNormBackward,
    rmsNorm: a.rmsNorm,
    rmsNormBackward: a.rmsNormBackward,
    crossEntropy: a.crossEntropy,
    attention: a.attention,
    attentionBackward: a.attentionBackward,
    adamw: a.adamw,
    axpy: a.axpy,
    mul: a.mul,
    rope: a.rope,
    sumSquares: a.sumSquares,
  };
  return native;
}

/** Why the native kernels are unavailable, or null when they load. */
export function nativeUnavailableReason(): string | null {
  return nativeKernels() ? null : loadError;
}

function pick(requested: string | undefined): Kernels {
  if (requested === 'js') return jsKernels;
  if (requested === 'native') {
    const k = nativeKernels();
    if (!k) throw new Error(`tunekit: native kernels requested (TUNEKIT_BACKEND=native) but unavailable: ${loadError}`);
    return k;
  }
  if (requested !== undefined && requested !== '') {
    throw new Error(`TUNEKIT_BACKEND must be 'js' or 'native', got '${requested}'`);
  }
  const k = nativeKernels();
  if (k) return k;
  if (!warned) {
    warned = true;
    process.stderr.write(`tunekit: native kernels unavailable (${loadError}); using the TypeScript backend (slower)\n`);
  }
  return jsKernels;
}

/** The active kernels (a live binding: `setBackend` replaces it). */
export let kernels: Kernels = pick(process.env.TUNEKIT_BACKEND);
/** Name of the active backend. */
export let backend: Backend = kernels.name;

/**
 * Switches the active backend (tests, benchmarks). `native` throws when the addon is unavailable.
 */
export function setBackend(which: Backend): void {
  if (which !== 'js' && which !== 'native') throw new Error(`setBackend: expected 'js' or 'native', got '${String(which)}'`);
  kernels = pick(which);
  backend = kernels.name;
}

/**
 * Makes `k` the active kernels and returns the ones it replaces (the profiler installs a timing
 * wrapper this way, src/tensor/profile.ts, and puts the original back). Unlike `setBackend`, any
 * object with the `Kernels` contract is accepted.
 */
export function swapKernels(k: Kernels): Kernels {
  const prev = kernels;
  kernels = k;
  backend = k.name;
  return prev;
}

/** Sets the native thread count (restarting the addon's pool). No-op without the addon. */
export function setNativeThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`setNativeThreads: expected a positive integer, got ${n}`);
  loadAddon()?.setThreads(n);
}

/**
 * Switches the addon to another SIMD build (tests of every build; benchmarks). Returns false when
 * this CPU cannot run it or the addon is unavailable.
 */
export function setNativeSimd(simd: NativeSimd): boolean {
  const a = loadAddon();
  return a ? a.setSimd(simd) : false;
}
