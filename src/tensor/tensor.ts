/**
 * The Tensor and the reverse-mode autograd engine.
 *
 * A Tensor is a contiguous row-major block of numbers plus a shape. Trainable tensors
 * (`requiresGrad`) collect gradients; everything computed from at least one of them records how
 * it was made (`node`), so `loss.backward()` can walk the graph backwards. Tensors computed only
 * from frozen weights record nothing: no saved activations and no gradient buffers, which is where
 * LoRA's memory saving comes from.
 *
 * Frozen weights may be stored as bfloat16/float16 bits (`dtype` 'bf16' | 'f16'); the kernels
 * widen them on the fly (matmul, embedding). All computed tensors are float32. A bf16 weight marked
 * `bf16Compute` (see nn/compute-dtype.ts) is multiplied in bfloat16 where the CPU can (WType.BF16Dot).
 * Frozen matrices may also be int8 (`dtype` 'i8': an Int8Array plus one float32 scale per row,
 * value = scales[row] * q), dequantised by the kernels on the fly.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Buffer } from 'node:buffer';
import { kernels } from '../native/index.js';
import { WType } from '../native/kernels.js';

/** Storage type of a tensor: float32, or bfloat16/float16/int8 (frozen weights, kept compact to save memory). */
export type DType = 'f32' | 'bf16' | 'f16' | 'i8';

/** Records how a tensor was computed: its inputs and how to send a gradient back to them. */
export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /**
   * Given d(loss)/d(output), add d(loss)/d(input) into each input that requires a gradient.
   * `gradOut` is lent for the call: read it, or pass it on with `ctx.accumulate`, but keep no
   * reference after returning (the engine reuses the memory of a gradient nobody took).
   */
  backward(gradOut: Float32Array, ctx: BackwardContext): void;
}

/** Handed to GradNode.backward: where gradients of inputs are accumulated. */
export interface BackwardContext {
  /**
   * Add `grad` (same size as `t`) into the gradient of `t`. Ignores tensors that need no gradient.
   * Ownership of `grad` passes to the engine (it may keep it as the gradient and add later
   * contributions into it in place), so callers pass a buffer nothing else reads or writes: a fresh
   * one, or the gradient handed to this backward when {@link BackwardContext.writable} says so.
   */
  accumulate(t: Tensor, grad: Float32Array): void;
  /**
   * Like `accumulate`, but `grad` stays shared: the caller may hand the same buffer to other tensors
   * (add's gradient goes to both operands) or keep it (a retained graph's saved gradient). The
   * engine never writes into a shared buffer, and a backward that receives one sees `writable`
   * false; the engine copies it only where it must own it (a leaf's `.grad`, or a sum of two
   * shared contributions).
   */
  accumulateShared(t: Tensor, grad: Float32Array): void;
  /**
   * True when `g` is the gradient handed to this backward and the engine holds it for this node
   * alone: the backward may then overwrite it (e.g. compute its input's gradient in place) and pass
   * it on with `accumulate`, instead of allocating a buffer of the same size.
   */
  writable(g: Float32Array): boolean;
}

/**
 * Grad mode per async context: `noGrad` runs its function in a context where nothing is recorded,
 * and everything that function starts (awaits, timers, callbacks) inherits it, while work started
 * elsewhere keeps its own mode. A server can thus generate (no graph) and train (graph) at once.
 * Outside any `noGrad` / `enableGrad`, gradients are on.
 */
const gradMode = new AsyncLocalStorage<boolean>();

/** True while operations record the graph (false inside `noGrad`, in this async context only). */
export function isGradEnabled(): boolean {
  return gradMode.getStore() ?? true;
}

/**
 * Run `fn` in inference mode: nothing is recorded, so no activations are kept alive. With an
 * async `fn` the mode holds for everything it awaits until its promise settles, and only there:
 * other async tasks running meanwhile keep recording their graphs (torch.no_grad, per task).
 */
export function noGrad<T>(fn: () => T): T {
  return gradMode.run(false, fn);
}

/** Run `fn` with gradients recorded even inside a `noGrad` (torch.enable_grad), in its own async context. */
export function enableGrad<T>(fn: () => T): T {
  return gradMode.run(true, fn);
}

/** Number of elements of a shape (1 for a scalar's `[]`). */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i]!;
  return n;
}

/** Below this many bytes a zeroed allocation is as cheap as an uninitialised one. */
const UNINIT_MIN_BYTES = 1 << 16;

/**
 * @internal A float32 buffer of n elements WITHOUT zeroing (malloc instead of calloc), for outputs
 * that a kernel or loop overwrites entirely before anything reads them: it saves a pass over every
 * large activation and gradient. Never for buffers that are accumulated into.
 */
export function uninitF32(n: number): Float32Array {
  const reused = n * 4 >= UNINIT_MIN_BYTES ? spentGradients?.get(n)?.pop() : undefined;
  if (poisonUninit) return (reused ?? new Float32Array(n)).fill(NaN);
  if (reused) return reused;
  if (n * 4 < UNINIT_MIN_BYTES) return new Float32Array(n);
  return new Float32Array(Buffer.allocUnsafeSlow(n * 4).buffer, 0, n);
}

/**
 * While a backward runs: gradients its nodes have consumed (handed to a node's backward, which
 * neither passed them on nor shared them), by length. `uninitF32` takes the most recent one of the
 * size asked for: the next node's output lands in memory that is still in cache, and the step
 * allocates (and later collects) that many fewer large buffers.
 */
let spentGradients: Map<number, Float32Array[]> | null = null;

let poisonUninit = false;

/**
 * @internal Tests: `uninitF32` returns NaN-filled buffers of every size, so an element a kernel
 * fails to write shows up as NaN instead of as whatever memory held.
 */
export function setUninitPoison(on: boolean): void {
  poisonUninit = on;
}

/** A shape as text for error messages, e.g. `[2, 3]`. */
export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function checkShape(shape: readonly number[], where: string): void {
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    if (!Number.isSafeInteger(d) || d < 0)
      throw new Error(`${where}: invalid shape ${shapeStr(shape)}: dimensions must be non-negative integers`);
  }
}

let nextId = 1;

/**
 * @internal Where the autograd engine reports to the whole-step profiler (src/tensor/profile.ts).
 * Null unless a profile is running, so the engine pays one null check per op and per graph node.
 */
export interface EngineHooks {
  /** An op has produced its output `data` from `inputs`, just before the output tensor is built. */
  opDone(op: string, data: Float32Array, inputs: readonly Tensor[]): void;
  /** `backward()` starts walking the graph. */
  backwardStart(): void;
  /** The backward of one graph node is about to run. */
  nodeStart(): void;
  /** The backward of one graph node (made by `op`) has returned. */
  nodeDone(op: string): void;
  /** `backward()` has finished walking the graph. */
  backwardDone(): void;
}

let hooks: EngineHooks | null = null;

/** @internal Installs (or, with null, removes) the profiler's engine hooks; returns the previous ones. */
export function setEngineHooks(h: EngineHooks | null): EngineHooks | null {
  const prev = hooks;
  hooks = h;
  return prev;
}

/**
 * An n-dimensional array (row-major) with reverse-mode autograd, like a PyTorch tensor: operations
 * in `tunekit/tensor` record a graph when an input `requiresGrad`, and {@link Tensor.backward}
 * fills `.grad` of every leaf that needs one. Data is float32, or bf16/f16/i8 for frozen weights.
 */
export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** float32 values (dtype 'f32'), raw half bits (dtype 'bf16' / 'f16') or int8 codes ('i8'). */
  data: Float32Array | Uint16Array | Int8Array;
  /** dtype 'i8' only: one scale per row (first dimension) of the 2-D matrix; null otherwise. */
  readonly scales: Float32Array | null;
  /** Trainable leaf, or computed from one: gradients flow here. */
  requiresGrad: boolean;
  /** Accumulated d(loss)/d(this) for leaves that require a gradient. */
  grad: Float32Array | null = null;
  /** How this tensor was computed (null for leaves and for tensors outside the graph). */
  node: GradNode | null = null;
  /** Optional human name (parameter path), used in error messages. */
  name?: string;
  /** A bf16 weight whose matrix products round the other operand to bf16 too (WType.BF16Dot). */
  readonly bf16Compute: boolean;

  constructor(
    data: Float32Array | Uint16Array | Int8Array,
    shape: readonly number[],
    opts: { dtype?: DType; requiresGrad?: boolean; name?: string; bf16Compute?: boolean; scales?: Float32Array } = {},
  ) {
    checkShape(shape, 'Tensor');
    const dtype = opts.dtype ?? 'f32';
    if (dtype === 'f32' && !(data instanceof Float32Array)) throw new Error('Tensor: dtype f32 needs a Float32Array');
    if ((dtype === 'bf16' || dtype === 'f16') && !(data instanceof Uint16Array))
      throw new Error(`Tensor: dtype ${dtype} needs a Uint16Array of raw bits`);
    if (dtype === 'i8') {
      if (!(data instanceof Int8Array)) throw new Error('Tensor: dtype i8 needs an Int8Array');
      if (shape.length !== 2)
        throw new Error(`Tensor: an i8 tensor must be a 2-D matrix, got shape ${shapeStr(shape)}`);
      if (!opts.scales || opts.scales.length !== shape[0])
        throw new Error(
          `Tensor: an i8 tensor of shape ${shapeStr(shape)} needs ${shape[0]} row scales, got ${opts.scales ? opts.scales.length : 'none'}`,
        );
    } else if (opts.scales) {
      throw new Error(`Tensor: scales are for dtype i8, not ${dtype}`);
    }
    this.scales = opts.scales ?? null;
    if (data.length !== sizeOf(shape)) {
      throw new Error(`Tensor: data has ${data.length} elements but shape ${shapeStr(shape)} needs ${sizeOf(shape)}`);
    }
    if (opts.requiresGrad && dtype !== 'f32')
      throw new Error(`Tensor: a ${dtype} tensor cannot be trainable (half weights are frozen)`);
    if (opts.bf16Compute && dtype !== 'bf16') throw new Error(`Tensor: bf16Compute needs dtype bf16, got ${dtype}`);
    this.bf16Compute = opts.bf16Compute ?? false;
    this.data = data;
    this.shape = Object.freeze(shape.slice()); // slice: spreading allocated an iterator per tensor
    this.dtype = dtype;
    this.requiresGrad = opts.requiresGrad ?? false;
    if (opts.name !== undefined) this.name = opts.name;
  }

  get size(): number {
    return this.data.length;
  }

  get ndim(): number {
    return this.shape.length;
  }

  /** The float32 values; throws for half tensors (use `toF32()` to widen). */
  get f32(): Float32Array {
    if (this.dtype !== 'f32')
      throw new Error(`tensor ${this.label()} is ${this.dtype}; this operation needs float32 (call toF32())`);
    return this.data as Float32Array;
  }

  /** @internal Kernel storage code of this tensor. */
  get wtype(): WType {
    if (this.dtype === 'f32') return WType.F32;
    if (this.dtype === 'bf16') return this.bf16Compute ? WType.BF16Dot : WType.BF16;
    if (this.dtype === 'i8') return WType.I8;
    return WType.F16;
  }

  /** A short description (shape and dtype) for error messages. */
  label(): string {
    return `${this.name ? `"${this.name}" ` : ''}${shapeStr(this.shape)}`;
  }

  /** Dimension `d`, negative counts from the end. */
  dim(d: number): number {
    const i = d < 0 ? this.shape.length + d : d;
    if (i < 0 || i >= this.shape.length)
      throw new Error(`dimension ${d} is out of range for a tensor of shape ${shapeStr(this.shape)}`);
    return this.shape[i]!;
  }

  /** A number from a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new Error(`item(): tensor has shape ${shapeStr(this.shape)}, not a single element`);
    return this.f32[0]!;
  }

  /** The values as a nested JavaScript array of the tensor's shape. */
  toArray(): number[] {
    return Array.from(this.f32);
  }

  /** Make this a trainable leaf (or freeze it). */
  requiresGrad_(flag = true): this {
    if (flag && this.dtype !== 'f32')
      throw new Error(`tensor ${this.label()} is ${this.dtype}; only float32 tensors can be trained`);
    if (this.node) throw new Error('requiresGrad_ can only be set on leaf tensors');
    this.requiresGrad = flag;
    return this;
  }

  /** A new leaf sharing this data, outside the graph. */
  detach(): Tensor {
    return new Tensor(this.data, this.shape, {
      dtype: this.dtype,
      bf16Compute: this.bf16Compute,
      ...(this.scales ? { scales: this.scales } : {}),
    });
  }

  /** Clears the accumulated gradient. */
  zeroGrad(): void {
    this.grad = null;
  }

  /**
   * Back-propagate from this scalar (or from `gradOut` for a non-scalar). Leaves accumulate into
   * `.grad`; the graph is released as it is consumed unless `retainGraph`.
   */
  backward(gradOut?: Float32Array, opts: { retainGraph?: boolean } = {}): void {
    if (!this.requiresGrad)
      throw new Error('backward(): this tensor does not require a gradient (no trainable tensor contributed to it)');
    if (!gradOut && this.size !== 1)
      throw new Error(`backward(): output has shape ${shapeStr(this.shape)}; pass gradOut for a non-scalar`);
    runBackward(this, gradOut ?? new Float32Array([1]), opts.retainGraph ?? false);
  }
}

/** Topological order of the graph below `root` (inputs before outputs). */
function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<number>();
  // Iterative DFS: transformer graphs are deep enough to overflow recursion.
  const stack: Array<[Tensor, number]> = [[root, 0]];
  seen.add(root.id);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    const inputs = t.node ? t.node.inputs : [];
    if (i < inputs.length) {
      top[1]++;
      const child = inputs[i]!;
      if (child.requiresGrad && !seen.has(child.id)) {
        seen.add(child.id);
        stack.push([child, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order;
}

function runBackward(root: Tensor, gradOut: Float32Array, retainGraph: boolean): void {
  if (gradOut.length !== root.size)
    throw new Error(`backward(): gradOut has ${gradOut.length} elements, output has ${root.size}`);
  const h = hooks;
  h?.backwardStart();
  const grads = new Map<number, Float32Array>();
  // Buffers passed with accumulateShared (by their memory, so a view of one counts too): read, never written.
  const shared = new Set<ArrayBufferLike>();
  const isShared = (g: Float32Array): boolean => shared.size > 0 && shared.has(g.buffer);
  // The gradient handed to the running node, and whether the node gave (part of) it to accumulate.
  const running: { g: Float32Array | null; passedOn: boolean } = { g: null, passedOn: false };
  const add = (t: Tensor, g: Float32Array, gShared: boolean): void => {
    if (!t.requiresGrad) return;
    if (running.g && g.buffer === running.g.buffer) running.passedOn = true;
    if (g.length !== t.size) throw new Error(`internal: gradient of size ${g.length} for tensor ${t.label()}`);
    if (!t.node) {
      // Leaf: accumulate into .grad (kept across backward calls, like PyTorch); .grad is always owned.
      if (t.grad) addInto(t.grad, g);
      else t.grad = gShared ? g.slice() : g;
      return;
    }
    const prev = grads.get(t.id);
    if (!prev) grads.set(t.id, g);
    else if (!isShared(prev)) addInto(prev, g);
    else if (!gShared) {
      addInto(g, prev); // the owned contribution takes the sum; the shared one stays as it was
      grads.set(t.id, g);
    } else {
      const sum = uninitF32(g.length);
      kernels.axpy(g.length, 1, g, 0, prev, 0, sum, 0);
      grads.set(t.id, sum);
    }
  };
  const ctx: BackwardContext = {
    accumulate: (t, g) => add(t, g, isShared(g)),
    accumulateShared(t: Tensor, g: Float32Array): void {
      if (!t.requiresGrad) return;
      shared.add(g.buffer);
      add(t, g, true);
    },
    writable: (g) => g === running.g && !isShared(g),
  };
  const order = topoOrder(root);
  ctx.accumulate(root, Float32Array.from(gradOut));
  const outerSpent = spentGradients; // a backward inside a node (gradient checkpointing) has its own
  const spent = new Map<number, Float32Array[]>();
  spentGradients = spent;
  try {
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i]!;
      const node = t.node;
      if (!node) continue;
      const g = grads.get(t.id);
      grads.delete(t.id);
      if (g) {
        running.g = g;
        running.passedOn = false;
        if (h) {
          h.nodeStart();
          node.backward(g, ctx);
          h.nodeDone(node.op);
        } else node.backward(g, ctx);
        running.g = null;
        // Nothing else holds g now (a backward never keeps its gradOut): its memory can serve again.
        if (!running.passedOn && !isShared(g) && g.byteOffset === 0 && g.byteLength === g.buffer.byteLength) {
          const list = spent.get(g.length);
          if (list) list.push(g);
          else spent.set(g.length, [g]);
        }
      }
      if (!retainGraph) t.node = null;
    }
  } finally {
    spentGradients = outerSpent;
  }
  h?.backwardDone();
}

function addInto(dst: Float32Array, src: Float32Array): void {
  kernels.axpy(dst.length, 1, src, 0, dst, 0);
}

/**
 * Create the output tensor of an op. It joins the graph only when grad mode is on and some input
 * requires a gradient; otherwise `backward` is never stored (so nothing it closes over is kept).
 */
export function result(
  data: Float32Array,
  shape: readonly number[],
  op: string,
  inputs: readonly Tensor[],
  backward: (gradOut: Float32Array, ctx: BackwardContext) => void,
): Tensor {
  hooks?.opDone(op, data, inputs);
  const out = new Tensor(data, shape);
  // Inputs first: frozen-weight inference never asks for the (async-context) grad mode.
  if (inputs.some((t) => t.requiresGrad) && isGradEnabled()) {
    out.requiresGrad = true;
    out.node = { op, inputs, backward };
  }
  return out;
}

/** True when an op must produce the gradient of `t`. */
export function needsGrad(t: Tensor): boolean {
  return t.requiresGrad;
}
