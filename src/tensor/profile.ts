/**
 * Whole-step profiler: where the time of a training step goes (GEMM, attention, element-wise
 * kernels, norms, loss, optimizer, JavaScript inside ops, autograd bookkeeping, the rest).
 *
 * `new Profiler().start()` swaps the live `kernels` binding (src/native/index.ts) for a wrapper that
 * times every kernel call by name, and installs the autograd engine's hooks (src/tensor/tensor.ts)
 * that mark the end of every op's forward and the start and end of every node's backward. Wall
 * time between `start()` and `stop()` is then split into disjoint parts:
 *  - kernel time, by kernel category;
 *  - `js-ops`: time inside ops outside kernels (JavaScript loops such as add and the head copies,
 *    allocation of outputs and gradient buffers, building the graph node). A forward op is charged
 *    the time since the previous mark, so JavaScript run between two ops by the caller counts
 *    towards the second op;
 *  - `autograd`: the backward walk outside the nodes' own backward functions (topological sort,
 *    gradient map);
 *  - `optimizer` also takes the JavaScript of `section('optimizer', ...)`;
 *  - `other`: everything else (caller code outside ops and sections).
 * Garbage-collection pauses (`gcMs`, from the `gc` performance entries) happen inside those parts
 * and are reported beside them, not added.
 *
 * Nothing is installed until `start()`: without a profile the engine pays one null check per op
 * and per graph node. The wrapper itself costs two clock reads per kernel call, so a profiled step
 * runs slower than a clean one; benchmarks time a clean run and profile a separate one.
 */
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { kernels, swapKernels, type Kernels } from '../native/index.js';
import { setEngineHooks, type EngineHooks, type Tensor } from './tensor.js';

/** The parts a profile splits wall time into (see the module comment). */
export type ProfileCategory =
  'gemm' | 'attention' | 'elementwise' | 'norm' | 'loss' | 'optimizer' | 'js-ops' | 'autograd' | 'other';

/** Every category, in the order a profile table lists them. */
export const PROFILE_CATEGORIES: readonly ProfileCategory[] = [
  'gemm',
  'attention',
  'elementwise',
  'norm',
  'loss',
  'optimizer',
  'js-ops',
  'autograd',
  'other',
];

/** One timed item: a kernel (`gemm`), or the JavaScript time of an op's forward (`fwd add`) or backward (`bwd add`). */
export interface ProfileEntry {
  readonly name: string;
  readonly category: ProfileCategory;
  readonly calls: number;
  readonly ms: number;
}

/** What a profiler measured between `start()` and `stop()`. */
export interface Profile {
  /** Wall time between start and stop (ms). */
  readonly wallMs: number;
  /** Disjoint parts of `wallMs` (ms); they sum to `wallMs` up to rounding. */
  readonly categories: Readonly<Record<ProfileCategory, number>>;
  /** Per kernel: calls and time, slowest first. */
  readonly kernels: readonly ProfileEntry[];
  /** Per op and direction: JavaScript time outside kernels, slowest first. */
  readonly ops: readonly ProfileEntry[];
  /** Kernel calls made. */
  readonly kernelCalls: number;
  /** Op outputs produced (forward) plus node backwards run. */
  readonly opCalls: number;
  /** Garbage-collection pauses inside the window (ms; already part of the categories) and their count. */
  readonly gcMs: number;
  readonly gcCount: number;
  /** Bytes of float32 data newly allocated for op outputs in the forward (views such as reshape excluded). */
  readonly forwardBytes: number;
}

/** Kernel name -> category. Kernels missing here are filed by name: gemm/gemv as 'gemm', else 'elementwise'. */
const KERNEL_CATEGORY: Readonly<Record<string, ProfileCategory>> = {
  gemm: 'gemm',
  attention: 'attention',
  attentionBackward: 'attention',
  layerNorm: 'norm',
  layerNormBackward: 'norm',
  rmsNorm: 'norm',
  rmsNormBackward: 'norm',
  crossEntropy: 'loss',
  adamw: 'optimizer',
  sumSquares: 'optimizer',
};

function kernelCategory(name: string): ProfileCategory {
  return KERNEL_CATEGORY[name] ?? (/gem[mv]/i.test(name) ? 'gemm' : 'elementwise');
}

interface Counter {
  calls: number;
  ms: number;
  category: ProfileCategory;
}

let active: Profiler | null = null;

/**
 * Times a stretch of work (usually whole training steps) by kernel, op and category. One profiler
 * runs at a time.
 *
 * @example
 * const p = new Profiler().start();
 * const loss = model.loss(batch); loss.backward();
 * p.section('optimizer', () => opt.step());
 * console.log(formatProfile(await p.stop(), 1));
 */
export class Profiler {
  private readonly kernelTimes = new Map<string, Counter>();
  private readonly opTimes = new Map<string, Counter>();
  private readonly cats = new Map<ProfileCategory, number>();
  private original: Kernels | null = null;
  private prevHooks: EngineHooks | null = null;
  private observer: PerformanceObserver | null = null;
  private readonly gc: Array<{ start: number; ms: number }> = [];
  private t0 = 0;
  /** Start of the interval not yet charged to anything. */
  private mark = 0;
  /** Kernel time inside the pending interval (already charged to the kernels). */
  private kernelMs = 0;
  private kernelCalls = 0;
  private opCalls = 0;
  private forwardBytes = 0;
  private stopped = false;

  /** Installs the kernel wrapper and the engine hooks; the clock starts now. */
  start(): this {
    if (active) throw new Error('Profiler.start: another profiler is running (stop it first)');
    if (this.original || this.stopped) throw new Error('Profiler.start: a profiler is started once');
    active = this;
    this.observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) this.gc.push({ start: e.startTime, ms: e.duration });
    });
    this.observer.observe({ entryTypes: ['gc'] });
    this.original = kernels;
    swapKernels(this.wrap(kernels));
    this.prevHooks = setEngineHooks(this.hooks());
    this.t0 = this.mark = performance.now();
    return this;
  }

  /**
   * Runs `fn`, charging its JavaScript time outside ops and kernels to `category` (e.g. the
   * optimizer's loop around its kernel). Time pending before the call goes to 'other'.
   */
  section<T>(category: ProfileCategory, fn: () => T): T {
    this.flushTo('other', null);
    try {
      return fn();
    } finally {
      this.flushTo(category, null);
    }
  }

  /**
   * Stops the clock, puts the original kernels and hooks back, and returns the profile. Async only
   * to collect the garbage-collection entries, which Node delivers on a later tick.
   */
  async stop(): Promise<Profile> {
    if (!this.original || this.stopped) throw new Error('Profiler.stop: the profiler is not running');
    const end = performance.now();
    this.flushTo('other', null, end);
    swapKernels(this.original);
    setEngineHooks(this.prevHooks);
    this.stopped = true;
    active = null;
    // GC entries reach the observer on a later turn of the event loop, not the next tick.
    await new Promise((r) => setTimeout(r, 20));
    this.observer?.disconnect();
    const inWindow = this.gc.filter((g) => g.start >= this.t0 && g.start < end);
    const entries = (m: Map<string, Counter>): ProfileEntry[] =>
      [...m].map(([name, c]) => ({ name, category: c.category, calls: c.calls, ms: c.ms })).sort((a, b) => b.ms - a.ms);
    const categories = Object.fromEntries(PROFILE_CATEGORIES.map((c) => [c, this.cats.get(c) ?? 0])) as Record<
      ProfileCategory,
      number
    >;
    return {
      wallMs: end - this.t0,
      categories,
      kernels: entries(this.kernelTimes),
      ops: entries(this.opTimes),
      kernelCalls: this.kernelCalls,
      opCalls: this.opCalls,
      gcMs: inWindow.reduce((s, g) => s + g.ms, 0),
      gcCount: inWindow.length,
      forwardBytes: this.forwardBytes,
    };
  }

  private addCat(c: ProfileCategory, ms: number): void {
    this.cats.set(c, (this.cats.get(c) ?? 0) + ms);
  }

  /** Charges the pending interval (minus the kernels inside it) to `category` and, if given, to op `name`. */
  private flushTo(category: ProfileCategory, name: string | null, now = performance.now()): void {
    const ms = Math.max(0, now - this.mark - this.kernelMs);
    this.addCat(category, ms);
    if (name !== null) {
      const c = this.opTimes.get(name);
      if (c) {
        c.calls++;
        c.ms += ms;
      } else this.opTimes.set(name, { calls: 1, ms, category });
    }
    this.mark = now;
    this.kernelMs = 0;
  }

  private hooks(): EngineHooks {
    return {
      opDone: (op: string, data: Float32Array, inputs: readonly Tensor[]): void => {
        this.opCalls++;
        if (!inputs.some((t) => t.data.buffer === data.buffer)) this.forwardBytes += data.byteLength;
        this.flushTo('js-ops', `fwd ${op}`);
      },
      backwardStart: (): void => this.flushTo('other', null),
      nodeStart: (): void => this.flushTo('autograd', null),
      nodeDone: (op: string): void => {
        this.opCalls++;
        this.flushTo('js-ops', `bwd ${op}`);
      },
      backwardDone: (): void => this.flushTo('autograd', null),
    };
  }

  /** A Kernels object that forwards every call to `k`, timing it. */
  private wrap(k: Kernels): Kernels {
    const w: Record<string, unknown> = {};
    for (const key of Object.keys(k)) {
      const desc = Object.getOwnPropertyDescriptor(k, key);
      const fn = desc && 'value' in desc ? (desc.value as unknown) : undefined;
      if (typeof fn !== 'function') {
        Object.defineProperty(w, key, { enumerable: true, get: () => (k as unknown as Record<string, unknown>)[key] });
        continue;
      }
      const counter: Counter = { calls: 0, ms: 0, category: kernelCategory(key) };
      this.kernelTimes.set(key, counter);
      const f = fn as (...args: unknown[]) => unknown;
      w[key] = (...args: unknown[]): unknown => {
        const t = performance.now();
        try {
          return f.apply(k, args);
        } finally {
          const ms = performance.now() - t;
          counter.calls++;
          counter.ms += ms;
          this.kernelMs += ms;
          this.kernelCalls++;
          this.addCat(counter.category, ms);
        }
      };
    }
    return w as unknown as Kernels;
  }
}

/**
 * A profile as a text table: each category's time per step and share of the wall time, then the
 * `top` slowest kernels and ops. `steps` divides the times (a profile of several steps).
 */
export function formatProfile(p: Profile, steps = 1, top = 8): string {
  const per = (ms: number): string => (ms / steps).toFixed(2).padStart(8);
  const pct = (ms: number): string => `${((100 * ms) / (p.wallMs || 1)).toFixed(1).padStart(5)}%`;
  const lines = [`${'part'.padEnd(12)} ${'ms/step'.padStart(8)}  share`];
  for (const c of PROFILE_CATEGORIES) lines.push(`${c.padEnd(12)} ${per(p.categories[c])} ${pct(p.categories[c])}`);
  lines.push(`${'step'.padEnd(12)} ${per(p.wallMs)}`);
  lines.push(
    `gc pauses ${per(p.gcMs)} ms/step (${pct(p.gcMs)}, inside the parts above); forward outputs ${(p.forwardBytes / steps / 2 ** 20).toFixed(1)} MB/step; ${Math.round(p.kernelCalls / steps)} kernel calls, ${Math.round(p.opCalls / steps)} op/node calls per step`,
  );
  const slowest = [...p.kernels.map((e) => ({ ...e, name: `kernel ${e.name}` })), ...p.ops]
    .sort((a, b) => b.ms - a.ms)
    .slice(0, top);
  lines.push(
    `slowest: ${slowest.map((e) => `${e.name} ${(e.ms / steps).toFixed(2)} ms (${Math.round(e.calls / steps)}x)`).join(', ')}`,
  );
  return lines.join('\n');
}
