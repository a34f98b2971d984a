/**
 * Differentiable operations. Each op computes its forward with a kernel (src/native) and hands
 * `result()` a closure for its backward; the closure only survives when a gradient is needed.
 * Shapes follow PyTorch/numpy conventions (broadcasting, negative dims).
 */
import { kernels } from '../native/index.js';
import { Unary, WType } from '../native/kernels.js';
import type { Rng } from './random.js';
import { type BackwardContext, Tensor, isGradEnabled, result, shapeStr, sizeOf, uninitF32 } from './tensor.js';
import { decodingPack, packedBf16 } from './weight-packs.js';

// ---------------------------------------------------------------------------------------------
// Creation

/** A float32 tensor from values (copied) and a shape (default: 1-D). */
export function tensor(
  values: ArrayLike<number>,
  shape?: readonly number[],
  opts: { requiresGrad?: boolean; name?: string } = {},
): Tensor {
  return new Tensor(Float32Array.from(values), shape ?? [values.length], opts);
}

/** A tensor of zeros with the given shape. */
export function zeros(shape: readonly number[], opts: { requiresGrad?: boolean; name?: string } = {}): Tensor {
  return new Tensor(new Float32Array(sizeOf(shape)), shape, opts);
}

/** A tensor filled with one value. */
export function full(
  shape: readonly number[],
  value: number,
  opts: { requiresGrad?: boolean; name?: string } = {},
): Tensor {
  return new Tensor(new Float32Array(sizeOf(shape)).fill(value), shape, opts);
}

/** Normal(mean, std) entries from a seeded generator. */
export function randn(
  shape: readonly number[],
  rng: Rng,
  std = 1,
  opts: { requiresGrad?: boolean; name?: string } = {},
): Tensor {
  return new Tensor(rng.fillNormal(new Float32Array(sizeOf(shape)), 0, std), shape, opts);
}

/** Rows [r0, r1) of an int8 matrix, scaled, into out[o...]. */
function dequantRows(t: Tensor, r0: number, r1: number, out: Float32Array, o: number): void {
  const q = t.data as Int8Array,
    s = t.scales;
  if (!s) throw new Error(`tensor ${t.label()} is i8 without scales`);
  const cols = t.shape[1] ?? 0;
  for (let r = r0; r < r1; r++) {
    const sr = s[r] ?? 0;
    for (let c = 0; c < cols; c++) out[o++] = sr * (q[r * cols + c] ?? 0);
  }
}

/** Uniform[lo, hi) entries from a seeded generator. */
export function rand(
  shape: readonly number[],
  rng: Rng,
  lo = 0,
  hi = 1,
  opts: { requiresGrad?: boolean; name?: string } = {},
): Tensor {
  return new Tensor(rng.fillUniform(new Float32Array(sizeOf(shape)), lo, hi), shape, opts);
}

/** A float32 copy of a (possibly half-precision) tensor, outside the graph. */
export function toF32(t: Tensor): Tensor {
  if (t.dtype === 'f32') return t;
  const out = new Float32Array(t.size);
  if (t.dtype === 'i8') dequantRows(t, 0, t.shape[0] ?? 0, out, 0);
  else kernels.widen(t.data as Uint16Array, 0, t.wtype, out, 0, t.size);
  return new Tensor(out, t.shape, t.name !== undefined ? { name: t.name } : {});
}

// ---------------------------------------------------------------------------------------------
// Helpers

function normDim(d: number, ndim: number, op: string): number {
  const i = d < 0 ? d + ndim : d;
  if (i < 0 || i >= ndim) throw new Error(`${op}: dimension ${d} is out of range for ${ndim} dimensions`);
  return i;
}

/** Shape that numpy broadcasting gives for a and b, or a clear error. */
export function broadcastShapes(a: readonly number[], b: readonly number[], op: string): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1)
      throw new Error(`${op}: shapes ${shapeStr(a)} and ${shapeStr(b)} cannot be broadcast together`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** For each output element, the index of the input element it reads under broadcasting. */
function broadcastIndex(outShape: readonly number[], inShape: readonly number[]): Int32Array {
  const n = outShape.length;
  const size = sizeOf(outShape);
  const idx = new Int32Array(size);
  const inStrides = new Array<number>(n).fill(0);
  let s = 1;
  for (let i = inShape.length - 1; i >= 0; i--) {
    const o = n - inShape.length + i;
    inStrides[o] = inShape[i] === 1 ? 0 : s;
    s *= inShape[i]!;
  }
  const counter = new Array<number>(n).fill(0);
  let pos = 0;
  for (let k = 0; k < size; k++) {
    idx[k] = pos;
    for (let d = n - 1; d >= 0; d--) {
      counter[d]!++;
      pos += inStrides[d]!;
      if (counter[d]! < outShape[d]!) break;
      pos -= inStrides[d]! * outShape[d]!;
      counter[d] = 0;
    }
  }
  return idx;
}

/** Sum a gradient of the broadcast output shape back down to an input's shape. */
function reduceTo(g: Float32Array, outShape: readonly number[], inShape: readonly number[]): Float32Array {
  if (sizeOf(inShape) === g.length) return g;
  const out = new Float32Array(sizeOf(inShape));
  const inSize = out.length;
  // Common case: the input is a suffix of the output (bias over rows).
  if (isSuffix(inShape, outShape)) {
    for (let o = 0; o < g.length; o += inSize) for (let j = 0; j < inSize; j++) out[j]! += g[o + j]!;
    return out;
  }
  const idx = broadcastIndex(outShape, inShape);
  for (let k = 0; k < g.length; k++) out[idx[k]!]! += g[k]!;
  return out;
}

function isSuffix(inner: readonly number[], outer: readonly number[]): boolean {
  if (inner.length > outer.length) return false;
  let lead = true;
  for (let i = 0; i < inner.length; i++) {
    const d = inner[i]!;
    const o = outer[outer.length - inner.length + i]!;
    if (lead && d === 1) continue; // leading ones in the inner shape are fine
    lead = false;
    if (d !== o) return false;
  }
  return true;
}

type BinaryOp = 'add' | 'sub' | 'mul' | 'div';

const BINARY_FN: Record<BinaryOp, (x: number, y: number) => number> = {
  add: (x, y) => x + y,
  sub: (x, y) => x - y,
  mul: (x, y) => x * y,
  div: (x, y) => x / y,
};

/** Rows of at least this many elements go to the native add/mul kernels (below, the call costs more than the loop). */
const NATIVE_ROW_MIN = 4096;

/**
 * out[o+j] = x[xo+j] op y[yo+j] for j < m: the native add/mul kernels for long rows, else one tight
 * loop per op (no per-element call). Both give the same bits (one IEEE operation per element).
 */
function rowOp(
  op: BinaryOp,
  out: Float32Array,
  o: number,
  x: Float32Array,
  xo: number,
  y: Float32Array,
  yo: number,
  m: number,
): void {
  switch (op) {
    case 'add':
      if (m >= NATIVE_ROW_MIN) kernels.axpy(m, 1, y, yo, x, xo, out, o);
      else for (let j = 0; j < m; j++) out[o + j] = x[xo + j]! + y[yo + j]!;
      return;
    case 'sub':
      for (let j = 0; j < m; j++) out[o + j] = x[xo + j]! - y[yo + j]!;
      return;
    case 'mul':
      if (m >= NATIVE_ROW_MIN) kernels.mul(m, x, xo, y, yo, out, o);
      else for (let j = 0; j < m; j++) out[o + j] = x[xo + j]! * y[yo + j]!;
      return;
    case 'div':
      for (let j = 0; j < m; j++) out[o + j] = x[xo + j]! / y[yo + j]!;
      return;
  }
}

function binary(
  a: Tensor,
  b: Tensor,
  op: BinaryOp,
  grads: (
    g: Float32Array,
    ad: Float32Array,
    bd: Float32Array,
    outShape: readonly number[],
    ctx: BackwardContext,
  ) => void,
): Tensor {
  const ad = a.f32;
  const bd = b.f32;
  const shape = broadcastShapes(a.shape, b.shape, op);
  const n = sizeOf(shape);
  const out = uninitF32(n); // every path below writes all n elements
  if (ad.length === n && bd.length === n) rowOp(op, out, 0, ad, 0, bd, 0, n);
  else if (ad.length === n && isSuffix(b.shape, shape)) {
    // b broadcast over leading dimensions (e.g. position embeddings onto every batch item)
    const m = bd.length;
    for (let o = 0; o < n; o += m) rowOp(op, out, o, ad, o, bd, 0, m);
  } else if (bd.length === n && isSuffix(a.shape, shape)) {
    const m = ad.length;
    for (let o = 0; o < n; o += m) rowOp(op, out, o, ad, 0, bd, o, m);
  } else {
    const f = BINARY_FN[op];
    const ia = broadcastIndex(shape, a.shape);
    const ib = broadcastIndex(shape, b.shape);
    for (let i = 0; i < n; i++) out[i] = f(ad[ia[i]!]!, bd[ib[i]!]!);
  }
  return result(out, shape, op, [a, b], (g, ctx) => grads(g, ad, bd, shape, ctx));
}

/** Element values of `src` (broadcast from srcShape) expanded to outShape. */
function expand(src: Float32Array, srcShape: readonly number[], outShape: readonly number[]): Float32Array {
  const n = sizeOf(outShape);
  if (src.length === n) return src;
  const out = new Float32Array(n);
  if (isSuffix(srcShape, outShape)) {
    for (let o = 0; o < n; o += src.length) out.set(src, o);
    return out;
  }
  const idx = broadcastIndex(outShape, srcShape);
  for (let i = 0; i < n; i++) out[i] = src[idx[i]!]!;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Element-wise arithmetic (broadcasting)

/** a + b, with numpy broadcasting. */
export function add(a: Tensor, b: Tensor): Tensor {
  return binary(a, b, 'add', (g, _ad, _bd, shape, ctx) => {
    // Both operands get g itself (reduced where broadcast): shared, so neither copy is needed (the
    // engine never writes into it; a residual stream's other contribution takes the sum).
    const pass = (t: Tensor): void => {
      const gt = reduceTo(g, shape, t.shape);
      if (gt === g) ctx.accumulateShared(t, g);
      else ctx.accumulate(t, gt);
    };
    if (a.requiresGrad && b.requiresGrad) {
      pass(a);
      pass(b);
    } else if (a.requiresGrad) ctx.accumulate(a, reduceTo(g, shape, a.shape));
    else if (b.requiresGrad) ctx.accumulate(b, reduceTo(g, shape, b.shape));
  });
}

/** a - b, with numpy broadcasting. */
export function sub(a: Tensor, b: Tensor): Tensor {
  return binary(a, b, 'sub', (g, _ad, _bd, shape, ctx) => {
    // -g first (in place when g is ours and a takes nothing), then g itself to a: no copy of g.
    if (b.requiresGrad) {
      const nb = !a.requiresGrad && ctx.writable(g) ? g : uninitF32(g.length);
      for (let i = 0; i < g.length; i++) nb[i] = -g[i]!;
      ctx.accumulate(b, reduceTo(nb, shape, b.shape));
    }
    if (a.requiresGrad) ctx.accumulate(a, reduceTo(g, shape, a.shape));
  });
}

/** a * b (element-wise), with numpy broadcasting. */
export function mul(a: Tensor, b: Tensor): Tensor {
  return binary(a, b, 'mul', (g, ad, bd, shape, ctx) => {
    // g * (the other operand expanded to the output shape), one native pass each; the last one
    // in place when the engine lets this node overwrite g (the kernel allows out = x).
    const times = (other: Float32Array, otherShape: readonly number[], inPlace: boolean): Float32Array => {
      const o = expand(other, otherShape, shape);
      const out = inPlace ? g : uninitF32(g.length); // the kernel writes every element
      kernels.mul(g.length, g, 0, o, 0, out, 0);
      return out;
    };
    const writable = ctx.writable(g);
    if (a.requiresGrad) ctx.accumulate(a, reduceTo(times(bd, b.shape, writable && !b.requiresGrad), shape, a.shape));
    if (b.requiresGrad) ctx.accumulate(b, reduceTo(times(ad, a.shape, writable), shape, b.shape));
  });
}

/** a / b (element-wise), with numpy broadcasting. */
export function div(a: Tensor, b: Tensor): Tensor {
  return binary(a, b, 'div', (g, ad, bd, shape, ctx) => {
    const be = expand(bd, b.shape, shape);
    if (a.requiresGrad) {
      const ga = new Float32Array(g.length);
      for (let i = 0; i < g.length; i++) ga[i] = g[i]! / be[i]!;
      ctx.accumulate(a, reduceTo(ga, shape, a.shape));
    }
    if (b.requiresGrad) {
      const ae = expand(ad, a.shape, shape);
      const gb = new Float32Array(g.length);
      for (let i = 0; i < g.length; i++) gb[i] = (-g[i]! * ae[i]!) / (be[i]! * be[i]!);
      ctx.accumulate(b, reduceTo(gb, shape, b.shape));
    }
  });
}

/** x * s for a number s. */
export function scale(x: Tensor, s: number): Tensor {
  const xd = x.f32;
  const out = new Float32Array(xd.length);
  for (let i = 0; i < out.length; i++) out[i] = xd[i]! * s;
  return result(out, x.shape, 'scale', [x], (g, ctx) => {
    const gx = ctx.writable(g) ? g : uninitF32(g.length);
    for (let i = 0; i < g.length; i++) gx[i] = g[i]! * s;
    ctx.accumulate(x, gx);
  });
}

/** x + s for a number s. */
export function addScalar(x: Tensor, s: number): Tensor {
  const xd = x.f32;
  const out = new Float32Array(xd.length);
  for (let i = 0; i < out.length; i++) out[i] = xd[i]! + s;
  return result(out, x.shape, 'addScalar', [x], (g, ctx) => ctx.accumulate(x, g));
}

/** -x. */
export function neg(x: Tensor): Tensor {
  return scale(x, -1);
}

/** Natural logarithm. */
export function log(x: Tensor): Tensor {
  const xd = x.f32;
  const out = new Float32Array(xd.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.log(xd[i]!);
  return result(out, x.shape, 'log', [x], (g, ctx) => {
    const gx = new Float32Array(g.length);
    for (let i = 0; i < g.length; i++) gx[i] = g[i]! / xd[i]!;
    ctx.accumulate(x, gx);
  });
}

// ---------------------------------------------------------------------------------------------
// Activations

function unaryOp(x: Tensor, op: Unary, name: string): Tensor {
  const xd = x.f32;
  const y = uninitF32(xd.length);
  kernels.unary(op, xd, y, xd.length);
  return result(y, x.shape, name, [x], (g, ctx) => {
    // In place where the engine lets this node overwrite g (element-wise: dx may alias dy).
    const gx = ctx.writable(g) ? g : uninitF32(g.length);
    kernels.unaryBackward(op, xd, y, g, gx, g.length);
    ctx.accumulate(x, gx);
  });
}

/** GELU: approximate 'tanh' (GPT-2's gelu_new) or 'none' (exact erf form, BERT). */
export function gelu(x: Tensor, approximate: 'tanh' | 'none' = 'none'): Tensor {
  return unaryOp(x, approximate === 'tanh' ? Unary.GeluTanh : Unary.GeluErf, 'gelu');
}
/** SiLU (swish): x * sigmoid(x), element-wise. */
export const silu = (x: Tensor): Tensor => unaryOp(x, Unary.Silu, 'silu');
/** ReLU: max(x, 0), element-wise. */
export const relu = (x: Tensor): Tensor => unaryOp(x, Unary.Relu, 'relu');
/** Hyperbolic tangent, element-wise. */
export const tanh = (x: Tensor): Tensor => unaryOp(x, Unary.Tanh, 'tanh');
/** Logistic sigmoid 1 / (1 + e^-x), element-wise. */
export const sigmoid = (x: Tensor): Tensor => unaryOp(x, Unary.Sigmoid, 'sigmoid');
/** e^x, element-wise. */
export const exp = (x: Tensor): Tensor => unaryOp(x, Unary.Exp, 'exp');

/**
 * Inverted dropout: zero each element with probability p and scale the rest by 1/(1-p).
 * Identity when p = 0 or `training` is false. The mask comes from the seeded `rng`.
 */
export function dropout(x: Tensor, p: number, rng: Rng, training = true): Tensor {
  if (!(p >= 0 && p < 1)) throw new Error(`dropout: p must be in [0, 1), got ${p}`);
  if (!training || p === 0) return x;
  const xd = x.f32;
  const mask = rng.fillUniform(new Float32Array(xd.length));
  const keep = 1 / (1 - p);
  for (let i = 0; i < mask.length; i++) mask[i] = mask[i]! < p ? 0 : keep;
  const out = new Float32Array(xd.length);
  for (let i = 0; i < out.length; i++) out[i] = xd[i]! * mask[i]!;
  return result(out, x.shape, 'dropout', [x], (g, ctx) => {
    const gx = new Float32Array(g.length);
    for (let i = 0; i < g.length; i++) gx[i] = g[i]! * mask[i]!;
    ctx.accumulate(x, gx);
  });
}

// ---------------------------------------------------------------------------------------------
// Reductions

/** Sum over `dim` (all elements when undefined). */
export function sum(x: Tensor, dim?: number, keepdim = false): Tensor {
  return reduce(x, dim, keepdim, 'sum', 1);
}

/** Mean over `dim` (all elements when undefined). */
export function mean(x: Tensor, dim?: number, keepdim = false): Tensor {
  const n = dim === undefined ? x.size : x.dim(dim);
  return reduce(x, dim, keepdim, 'mean', 1 / n);
}

function reduce(x: Tensor, dim: number | undefined, keepdim: boolean, op: string, factor: number): Tensor {
  const xd = x.f32;
  if (dim === undefined) {
    let s = 0;
    for (let i = 0; i < xd.length; i++) s += xd[i]!;
    return result(new Float32Array([s * factor]), keepdim ? x.shape.map(() => 1) : [], op, [x], (g, ctx) => {
      ctx.accumulate(x, new Float32Array(xd.length).fill(g[0]! * factor));
    });
  }
  const d = normDim(dim, x.ndim, op);
  const outer = sizeOf(x.shape.slice(0, d));
  const n = x.shape[d]!;
  const inner = sizeOf(x.shape.slice(d + 1));
  const out = new Float32Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < n; k++) {
      const base = (o * n + k) * inner;
      for (let i = 0; i < inner; i++) out[o * inner + i]! += xd[base + i]!;
    }
  }
  for (let i = 0; i < out.length; i++) out[i]! *= factor;
  const shape = keepdim ? x.shape.map((s, i) => (i === d ? 1 : s)) : x.shape.filter((_, i) => i !== d);
  return result(out, shape, op, [x], (g, ctx) => {
    const gx = new Float32Array(xd.length);
    for (let o = 0; o < outer; o++) {
      for (let k = 0; k < n; k++) {
        const base = (o * n + k) * inner;
        for (let i = 0; i < inner; i++) gx[base + i] = g[o * inner + i]! * factor;
      }
    }
    ctx.accumulate(x, gx);
  });
}

/** Maximum over `dim`; the gradient flows to the first maximal element. */
export function max(x: Tensor, dim: number, keepdim = false): Tensor {
  const xd = x.f32;
  const d = normDim(dim, x.ndim, 'max');
  const outer = sizeOf(x.shape.slice(0, d));
  const n = x.shape[d]!;
  const inner = sizeOf(x.shape.slice(d + 1));
  if (n === 0) throw new Error(`max: dimension ${dim} of ${shapeStr(x.shape)} is empty`);
  const out = new Float32Array(outer * inner).fill(-Infinity);
  const arg = new Int32Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < n; k++) {
      for (let i = 0; i < inner; i++) {
        const v = xd[(o * n + k) * inner + i]!;
        const j = o * inner + i;
        if (v > out[j]! || k === 0) {
          out[j] = v;
          arg[j] = k;
        }
      }
    }
  }
  const shape = keepdim ? x.shape.map((s, i) => (i === d ? 1 : s)) : x.shape.filter((_, i) => i !== d);
  return result(out, shape, 'max', [x], (g, ctx) => {
    const gx = new Float32Array(xd.length);
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < inner; i++) {
        const j = o * inner + i;
        gx[(o * n + arg[j]!) * inner + i] = g[j]!;
      }
    ctx.accumulate(x, gx);
  });
}

// ---------------------------------------------------------------------------------------------
// Shape

/** Same data, new shape (one dimension may be -1). Shares memory with `x`. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const s = [...shape];
  const neg = s.indexOf(-1);
  if (neg >= 0) {
    const rest = sizeOf(s.filter((_, i) => i !== neg));
    if (rest === 0 || x.size % rest !== 0)
      throw new Error(`reshape: cannot reshape ${shapeStr(x.shape)} into ${shapeStr(shape)}`);
    s[neg] = x.size / rest;
  }
  if (sizeOf(s) !== x.size)
    throw new Error(`reshape: cannot reshape ${shapeStr(x.shape)} (${x.size} elements) into ${shapeStr(shape)}`);
  if (x.dtype !== 'f32') return new Tensor(x.data, s, { dtype: x.dtype });
  return result(x.f32, s, 'reshape', [x], (g, ctx) => ctx.accumulate(x, g));
}

/** Permute dimensions (materialises a contiguous copy). */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  const n = x.ndim;
  if (dims.length !== n || new Set(dims.map((d) => normDim(d, n, 'permute'))).size !== n) {
    throw new Error(`permute: ${shapeStr(dims)} is not a permutation of the ${n} dimensions of ${shapeStr(x.shape)}`);
  }
  const p = dims.map((d) => normDim(d, n, 'permute'));
  const xd = x.f32;
  const shape = p.map((d) => x.shape[d]!);
  const inStrides = stridesOf(x.shape);
  const srcStride = p.map((d) => inStrides[d]!);
  const out = new Float32Array(xd.length);
  permuteCopy(xd, out, shape, srcStride, false);
  return result(out, shape, 'permute', [x], (g, ctx) => {
    const gx = new Float32Array(g.length);
    permuteCopy(g, gx, shape, srcStride, true);
    ctx.accumulate(x, gx);
  });
}

function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** out[k] = src[offset(k)] walking `shape` (forward), or the scatter back (reverse). */
function permuteCopy(
  src: Float32Array,
  dst: Float32Array,
  shape: readonly number[],
  srcStride: readonly number[],
  reverse: boolean,
): void {
  const n = shape.length;
  const size = sizeOf(shape);
  if (size === 0) return;
  const last = shape[n - 1]!;
  const lastStride = srcStride[n - 1]!;
  const counter = new Array<number>(n).fill(0);
  let pos = 0;
  for (let k = 0; k < size; k += last) {
    if (lastStride === 1) {
      // Whole contiguous rows (e.g. head_dim blocks when swapping seq and heads): memcpy.
      if (reverse) dst.set(src.subarray(k, k + last), pos);
      else dst.set(src.subarray(pos, pos + last), k);
    } else if (reverse) for (let j = 0; j < last; j++) dst[pos + j * lastStride] = src[k + j]!;
    else for (let j = 0; j < last; j++) dst[k + j] = src[pos + j * lastStride]!;
    for (let d = n - 2; d >= 0; d--) {
      counter[d]!++;
      pos += srcStride[d]!;
      if (counter[d]! < shape[d]!) break;
      pos -= srcStride[d]! * shape[d]!;
      counter[d] = 0;
    }
  }
}

/** Swap two dimensions. */
export function transpose(x: Tensor, d0: number, d1: number): Tensor {
  const p = x.shape.map((_, i) => i);
  const a = normDim(d0, x.ndim, 'transpose');
  const b = normDim(d1, x.ndim, 'transpose');
  [p[a], p[b]] = [p[b]!, p[a]!];
  return permute(x, p);
}

/** Elements start..end-1 along `dim`. */
export function slice(x: Tensor, dim: number, start: number, end: number): Tensor {
  const d = normDim(dim, x.ndim, 'slice');
  const n = x.shape[d]!;
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= n)) {
    throw new Error(
      `slice: range [${start}, ${end}) is invalid for dimension ${dim} of size ${n} in ${shapeStr(x.shape)}`,
    );
  }
  const xd = x.f32;
  const outer = sizeOf(x.shape.slice(0, d));
  const inner = sizeOf(x.shape.slice(d + 1));
  const len = end - start;
  const out = new Float32Array(outer * len * inner);
  for (let o = 0; o < outer; o++) out.set(xd.subarray((o * n + start) * inner, (o * n + end) * inner), o * len * inner);
  const shape = x.shape.map((s, i) => (i === d ? len : s));
  return result(out, shape, 'slice', [x], (g, ctx) => {
    const gx = new Float32Array(xd.length);
    for (let o = 0; o < outer; o++) gx.set(g.subarray(o * len * inner, (o + 1) * len * inner), (o * n + start) * inner);
    ctx.accumulate(x, gx);
  });
}

/** Join tensors along `dim`; all other dimensions must agree. */
export function concat(xs: readonly Tensor[], dim: number): Tensor {
  if (xs.length === 0) throw new Error('concat: no tensors given');
  const first = xs[0]!;
  const d = normDim(dim, first.ndim, 'concat');
  for (const t of xs) {
    if (t.ndim !== first.ndim || t.shape.some((s, i) => i !== d && s !== first.shape[i])) {
      throw new Error(`concat: shapes ${xs.map((u) => shapeStr(u.shape)).join(', ')} differ outside dimension ${dim}`);
    }
  }
  const outer = sizeOf(first.shape.slice(0, d));
  const inner = sizeOf(first.shape.slice(d + 1));
  const total = xs.reduce((s, t) => s + t.shape[d]!, 0);
  const out = new Float32Array(outer * total * inner);
  let off = 0;
  const offsets: number[] = [];
  for (const t of xs) {
    const td = t.f32;
    const len = t.shape[d]!;
    offsets.push(off);
    for (let o = 0; o < outer; o++)
      out.set(td.subarray(o * len * inner, (o + 1) * len * inner), (o * total + off) * inner);
    off += len;
  }
  const shape = first.shape.map((s, i) => (i === d ? total : s));
  return result(out, shape, 'concat', xs, (g, ctx) => {
    xs.forEach((t, k) => {
      if (!t.requiresGrad) return;
      const len = t.shape[d]!;
      const gt = new Float32Array(t.size);
      for (let o = 0; o < outer; o++)
        gt.set(g.subarray((o * total + offsets[k]!) * inner, (o * total + offsets[k]! + len) * inner), o * len * inner);
      ctx.accumulate(t, gt);
    });
  });
}

/**
 * Attention heads from projections: x [B, T, Σ heads_i·headDim] is cut along its last dimension
 * into parts of heads_i heads, each laid out [B, heads_i, T, headDim] in a single copy (instead of a
 * slice, a reshape and a transpose). One part alone (`[H]`) is the usual reshape-and-transpose;
 * GPT-2's fused c_attn gives three.
 */
export function splitHeads(x: Tensor, heads: readonly number[], headDim: number): Tensor[] {
  if (x.ndim !== 3) throw new Error(`splitHeads: expected [batch, seq, features], got ${x.label()}`);
  const [B, T, C] = x.shape as [number, number, number];
  const total = heads.reduce((a, b) => a + b, 0) * headDim;
  if (total !== C)
    throw new Error(
      `splitHeads: ${heads.join(' + ')} heads of ${headDim} need ${total} features, ${x.label()} has ${C}`,
    );
  const xd = x.f32;
  const D = headDim;
  const parts: Tensor[] = [];
  let first = 0; // first head of this part along the feature axis
  for (const n of heads) {
    const h0 = first;
    const out = new Float32Array(B * n * T * D);
    // out[b, h, t, :] = x[b, t, (h0 + h) * D : (h0 + h + 1) * D]
    const each = (f: (src: number, dst: number) => void): void => {
      for (let b = 0; b < B; b++)
        for (let t = 0; t < T; t++)
          for (let h = 0; h < n; h++) f((b * T + t) * C + (h0 + h) * D, ((b * n + h) * T + t) * D);
    };
    // One position (decoding): the part's heads of a row are one run of n·D features.
    if (T === 1) for (let b = 0; b < B; b++) out.set(xd.subarray(b * C + h0 * D, b * C + (h0 + n) * D), b * n * D);
    else each((src, dst) => out.set(xd.subarray(src, src + D), dst));
    parts.push(
      result(out, [B, n, T, D], 'splitHeads', [x], (g, ctx) => {
        const gx = new Float32Array(xd.length);
        each((src, dst) => gx.set(g.subarray(dst, dst + D), src));
        ctx.accumulate(x, gx);
      }),
    );
    first += n;
  }
  return parts;
}

/** The inverse layout: o [B, H, T, D] -> [B, T, H·D] (attention output back to features). */
export function mergeHeads(o: Tensor): Tensor {
  if (o.ndim !== 4) throw new Error(`mergeHeads: expected [batch, heads, seq, head_dim], got ${o.label()}`);
  const [B, H, T, D] = o.shape as [number, number, number, number];
  // One position (decoding) or one head: [B, H, T, D] is already laid out as [B, T, H, D].
  if (T === 1 || H === 1) return reshape(o, [B, T, H * D]);
  return reshape(transpose(o, 1, 2), [B, T, H * D]);
}

/** Split along `dim` into pieces of the given sizes (or equal pieces of `size`). */
export function split(x: Tensor, sizes: number | readonly number[], dim: number): Tensor[] {
  const d = normDim(dim, x.ndim, 'split');
  const n = x.shape[d]!;
  const parts: number[] =
    typeof sizes === 'number'
      ? Array.from({ length: Math.ceil(n / sizes) }, (_, i) => Math.min(sizes, n - i * sizes))
      : [...sizes];
  if (parts.reduce((a, b) => a + b, 0) !== n)
    throw new Error(`split: sizes ${shapeStr(parts)} do not add up to ${n} (dimension ${dim} of ${shapeStr(x.shape)})`);
  const out: Tensor[] = [];
  let start = 0;
  for (const p of parts) {
    out.push(slice(x, d, start, start + p));
    start += p;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Embedding

/**
 * Rows of `weight` [V, D] picked by integer ids (any shape `idsShape`): output [...idsShape, D].
 * The weight may be half precision (frozen); its gradient is a dense scatter-add.
 */
export function embedding(weight: Tensor, ids: Int32Array, idsShape: readonly number[] = [ids.length]): Tensor {
  if (weight.ndim !== 2) throw new Error(`embedding: weight must be 2-D [vocab, dim], got ${weight.label()}`);
  if (sizeOf(idsShape) !== ids.length)
    throw new Error(
      `embedding: ids has ${ids.length} entries but idsShape ${shapeStr(idsShape)} needs ${sizeOf(idsShape)}`,
    );
  const [V, D] = weight.shape as [number, number];
  const out = uninitF32(ids.length * D); // every row is written (or the id throws)
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!(id >= 0 && id < V))
      throw new Error(`embedding: id ${id} at position ${i} is outside the vocabulary [0, ${V}) of ${weight.label()}`);
    if (weight.dtype === 'f32') out.set((weight.data as Float32Array).subarray(id * D, (id + 1) * D), i * D);
    else if (weight.dtype === 'i8') dequantRows(weight, id, id + 1, out, i * D);
    else kernels.widen(weight.data as Uint16Array, id * D, weight.wtype, out, i * D, D);
  }
  return result(out, [...idsShape, D], 'embedding', [weight], (g, ctx) => {
    const gw = new Float32Array(V * D);
    for (let i = 0; i < ids.length; i++) kernels.axpy(D, 1, g, i * D, gw, ids[i]! * D);
    ctx.accumulate(weight, gw);
  });
}

// ---------------------------------------------------------------------------------------------
// Matrix products

let int8Activations = false;

/**
 * Runs `fn` with int8 x int8 products for int8 weights (WType.I8Dot): inside it, a forward
 * product of at most 4 rows (decoding) with an int8 weight quantises its input rows to int8 (per
 * row, groups of 128, scale max|x| / 127) and multiplies with integer dot products (AVX512_VNNI
 * where the CPU has it), unless a gradient flows back through the input. Outside it (the default)
 * int8 weights are weight-only: dequantised and multiplied in float32, so a model's outputs do not
 * depend on how many rows a call has. `generate` decodes inside it (its `int8Activations` option).
 * The setting holds while `fn` runs synchronously (not across an `await` inside it).
 */
export function withInt8Activations<T>(fn: () => T): T {
  const prev = int8Activations;
  int8Activations = true;
  try {
    return fn();
  } finally {
    int8Activations = prev;
  }
}

/** The weight type of a forward product op(x) @ w (see {@link withInt8Activations}). */
function forwardWType(w: Tensor, x: Tensor): WType {
  const t = w.wtype;
  return t === WType.I8 && int8Activations && !(isGradEnabled() && x.requiresGrad) ? WType.I8Dot : t;
}

/** Rows up to which an I8Dot or BF16Dot product is a decoding one (the native TK_I8DOT_MAX_M). */
const DECODE_MAX_ROWS = 4;

/**
 * The `bPacked` of a forward product of `rows` rows by `weight` as weight type `wtype`: for a
 * decoding product by a low-precision weight stored [in, out], the kept copy it reads fastest (see
 * tensor/weight-packs.ts `decodingPack`); else null.
 */
function forwardPack(weight: Tensor, wtype: WType, inOut: boolean, rows: number): Uint32Array | null {
  const decoding = rows <= DECODE_MAX_ROWS && (wtype === WType.I8Dot || wtype === WType.BF16Dot);
  return decoding && inOut ? decodingPack(weight) : null;
}

/**
 * Matrix product over the last two dimensions: a [..., M, K] @ b [..., K, N] -> [..., M, N].
 * `transA`/`transB` read a as [..., K, M] / b as [..., N, K] without copying. Batch dimensions must
 * match, or b may be a single 2-D matrix shared by every batch (then it may be half precision).
 */
export function matmul(
  a: Tensor,
  b: Tensor,
  opts: { transA?: boolean; transB?: boolean; alpha?: number } = {},
): Tensor {
  const transA = opts.transA ?? false;
  const alpha = opts.alpha ?? 1;
  const transB = opts.transB ?? false;
  if (a.ndim < 2 || b.ndim < 2)
    throw new Error(`matmul: operands must have at least 2 dimensions, got ${a.label()} and ${b.label()}`);
  const ad = a.f32;
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const M = transA ? ac : ar;
  const K = transA ? ar : ac;
  const Kb = transB ? bc : br;
  const N = transB ? br : bc;
  if (K !== Kb)
    throw new Error(
      `matmul: inner dimensions differ: ${a.label()}${transA ? 'ᵀ' : ''} @ ${b.label()}${transB ? 'ᵀ' : ''} (${K} vs ${Kb})`,
    );
  const batchShape = a.shape.slice(0, -2);
  const batch = sizeOf(batchShape);
  const shared = b.ndim === 2;
  if (!shared && (b.ndim !== a.ndim || b.shape.slice(0, -2).some((s, i) => s !== batchShape[i]))) {
    throw new Error(`matmul: batch dimensions differ: ${a.label()} @ ${b.label()}`);
  }
  if (!shared && b.dtype !== 'f32')
    throw new Error(`matmul: a batched ${b.dtype} operand is not supported (${b.label()})`);
  const out = new Float32Array(batch * M * N);
  const lda = ac;
  const ldb = bc;
  if (shared && !transA) {
    // One large GEMM: rows of every batch stacked.
    kernels.gemm(
      false,
      transB,
      batch * M,
      N,
      K,
      alpha,
      ad,
      0,
      lda,
      b.data,
      0,
      ldb,
      forwardWType(b, a),
      0,
      out,
      0,
      N,
      1,
      0,
      0,
      0,
      b.scales,
    );
  } else {
    kernels.gemm(
      transA,
      transB,
      M,
      N,
      K,
      alpha,
      ad,
      0,
      lda,
      b.data,
      0,
      ldb,
      forwardWType(b, a),
      0,
      out,
      0,
      N,
      batch,
      M * K,
      shared ? 0 : K * N,
      M * N,
      b.scales,
    );
  }
  return result(out, [...batchShape, M, N], 'matmul', [a, b], (g, ctx) => {
    if (a.requiresGrad) {
      // dA = g @ op(B)^T  (or its transpose when A was read transposed)
      const ga = new Float32Array(ad.length);
      if (!transA) {
        if (shared)
          kernels.gemm(
            false,
            !transB,
            batch * M,
            K,
            N,
            alpha,
            g,
            0,
            N,
            b.data,
            0,
            ldb,
            b.wtype,
            0,
            ga,
            0,
            K,
            1,
            0,
            0,
            0,
            b.scales,
          );
        else
          kernels.gemm(
            false,
            !transB,
            M,
            K,
            N,
            alpha,
            g,
            0,
            N,
            b.data,
            0,
            ldb,
            b.wtype,
            0,
            ga,
            0,
            K,
            batch,
            M * N,
            K * N,
            M * K,
            b.scales,
          );
      } else {
        // A stored [K, M]: dA = op(B) @ g^T  -> [K, M]
        kernels.gemm(
          transB,
          true,
          K,
          M,
          N,
          alpha,
          toF32(b).f32,
          0,
          ldb,
          g,
          0,
          N,
          WType.F32,
          0,
          ga,
          0,
          M,
          batch,
          shared ? 0 : K * N,
          M * N,
          M * K,
        );
      }
      ctx.accumulate(a, ga);
    }
    if (b.requiresGrad) {
      const bd = b.f32;
      const gb = new Float32Array(bd.length);
      // dB = op(A)^T @ g  (stored [K, N]) or g^T @ op(A) (stored [N, K]); summed over batches when shared.
      if (!transB) {
        if (shared && !transA)
          kernels.gemm(true, false, K, N, batch * M, alpha, ad, 0, lda, g, 0, N, WType.F32, 0, gb, 0, N, 1, 0, 0, 0);
        else gemmAccumBatches(alpha, !transA, false, K, N, M, ad, lda, M * K, g, N, M * N, gb, N, batch, shared);
      } else {
        if (shared && !transA)
          kernels.gemm(true, false, N, K, batch * M, alpha, g, 0, N, ad, 0, lda, WType.F32, 0, gb, 0, K, 1, 0, 0, 0);
        else gemmAccumBatches(alpha, true, transA, N, K, M, g, N, M * N, ad, lda, M * K, gb, K, batch, shared);
      }
      ctx.accumulate(b, gb);
    }
  });
}

/** C (+)= op(X_b) @ op(Y_b) per batch; when `shared`, all batches add into one C. */
function gemmAccumBatches(
  alpha: number,
  tX: boolean,
  tY: boolean,
  M: number,
  N: number,
  K: number,
  X: Float32Array,
  ldx: number,
  sX: number,
  Y: Float32Array,
  ldy: number,
  sY: number,
  C: Float32Array,
  ldc: number,
  batch: number,
  shared: boolean,
): void {
  if (!shared) {
    kernels.gemm(tX, tY, M, N, K, alpha, X, 0, ldx, Y, 0, ldy, WType.F32, 0, C, 0, ldc, batch, sX, sY, M * N);
    return;
  }
  for (let b = 0; b < batch; b++)
    kernels.gemm(
      tX,
      tY,
      M,
      N,
      K,
      alpha,
      X,
      b * sX,
      ldx,
      Y,
      b * sY,
      ldy,
      WType.F32,
      b === 0 ? 0 : 1,
      C,
      0,
      ldc,
      1,
      0,
      0,
      0,
    );
}

/**
 * Affine map on the last dimension: y = x @ Wᵀ + bias with W [out, in] (torch.nn.Linear), or
 * y = x @ W + bias with W [in, out] when `weightInOut` (GPT-2's Conv1D). W may be half precision.
 */
export function linear(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  opts: { weightInOut?: boolean; alpha?: number } = {},
): Tensor {
  const alpha = opts.alpha ?? 1;
  if (weight.ndim !== 2) throw new Error(`linear: weight must be 2-D, got ${weight.label()}`);
  const inOut = opts.weightInOut ?? false;
  const inF = inOut ? weight.shape[0]! : weight.shape[1]!;
  const outF = inOut ? weight.shape[1]! : weight.shape[0]!;
  if (x.dim(-1) !== inF)
    throw new Error(`linear: input ${x.label()} has ${x.dim(-1)} features but weight ${weight.label()} expects ${inF}`);
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== outF))
    throw new Error(`linear: bias ${bias.label()} must have shape [${outF}]`);
  const xd = x.f32;
  const rows = x.size / inF;
  // The GEMM with beta = 0 writes every element; the bias row goes in through its store.
  const out = uninitF32(rows * outF);
  const wtype = forwardWType(weight, x);
  // prettier-ignore
  kernels.gemm(false, !inOut, rows, outF, inF, alpha, xd, 0, inF, weight.data, 0, inOut ? outF : inF, wtype, 0, out, 0, outF, 1, 0, 0, 0, weight.scales, bias?.f32, forwardPack(weight, wtype, inOut, rows));
  const shape = x.shape.slice(0, -1);
  shape.push(outF);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return result(out, shape, 'linear', inputs, (g, ctx) => {
    if (x.requiresGrad) {
      const gx = uninitF32(xd.length); // beta = 0: overwritten
      kernels.gemm(
        false,
        inOut,
        rows,
        inF,
        outF,
        alpha,
        g,
        0,
        outF,
        weight.data,
        0,
        inOut ? outF : inF,
        weight.wtype,
        0,
        gx,
        0,
        inF,
        1,
        0,
        0,
        0,
        weight.scales,
      );
      ctx.accumulate(x, gx);
    }
    accumulateWeightBiasGrads(ctx, weight, bias, xd, g, rows, inF, outF, inOut, alpha);
  });
}

/**
 * The weight and bias gradients of y = alpha · x @ op(W) + bias, for the ones that train (the backward
 * of {@link linear} and {@link loraLinear}): gW = alpha · gᵀ @ x ([out, in]; xᵀ @ g with `inOut`),
 * gb = the sum of g's rows.
 */
function accumulateWeightBiasGrads(
  ctx: BackwardContext,
  weight: Tensor,
  bias: Tensor | null,
  xd: Float32Array,
  g: Float32Array,
  rows: number,
  inF: number,
  outF: number,
  inOut: boolean,
  alpha: number,
): void {
  if (weight.requiresGrad) {
    const gw = new Float32Array(weight.size);
    // prettier-ignore
    if (inOut) kernels.gemm(true, false, inF, outF, rows, alpha, xd, 0, inF, g, 0, outF, WType.F32, 0, gw, 0, outF, 1, 0, 0, 0);
    // prettier-ignore
    else kernels.gemm(true, false, outF, inF, rows, alpha, g, 0, outF, xd, 0, inF, WType.F32, 0, gw, 0, inF, 1, 0, 0, 0);
    ctx.accumulate(weight, gw);
  }
  if (bias && bias.requiresGrad) {
    const gb = new Float32Array(outF);
    for (let r = 0; r < rows; r++) kernels.axpy(outF, 1, g, r * outF, gb, 0);
    ctx.accumulate(bias, gb);
  }
}

/** One low-rank update of {@link loraLinear}: out[:, column : column + n] += scale · (x @ Aᵀ) @ Bᵀ. */
export interface LoraUpdate {
  /** [r, in] (torch.nn.Linear layout), or [in, r] with `inOut`. */
  A: Tensor;
  /** [n, r], or [r, n] with `inOut`; n is at most the layer's output features. */
  B: Tensor;
  /** Multiplies the update (LoRA's alpha / r). */
  scale: number;
  /** First output feature the update lands on (default 0): e.g. the q or v part of a fused qkv. */
  column?: number;
  /** A and B are stored [in, r] and [r, n] (GPT-2 Conv1D style). */
  inOut?: boolean;
}

/**
 * {@link linear} plus low-rank updates in one op: y = x @ Wᵀ + bias, then for each update
 * y[..., column : column + n] += scale · (x @ Aᵀ) @ Bᵀ (LoRA). The updates are accumulated into the
 * output by the second GEMM of each (no [tokens, out] delta buffer and no add pass), and the
 * backward adds their input gradient into the base one the same way. Equal to
 * `add(linear(x, W, bias), linear(linear(x, A), B, null, { alpha: scale }))` when the update
 * covers every output.
 */
export function loraLinear(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  updates: readonly LoraUpdate[],
  opts: { weightInOut?: boolean } = {},
): Tensor {
  if (weight.ndim !== 2) throw new Error(`loraLinear: weight must be 2-D, got ${weight.label()}`);
  const inOut = opts.weightInOut ?? false;
  const inF = inOut ? weight.shape[0]! : weight.shape[1]!;
  const outF = inOut ? weight.shape[1]! : weight.shape[0]!;
  if (x.dim(-1) !== inF)
    throw new Error(
      `loraLinear: input ${x.label()} has ${x.dim(-1)} features but weight ${weight.label()} expects ${inF}`,
    );
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== outF))
    throw new Error(`loraLinear: bias ${bias.label()} must have shape [${outF}]`);
  const ups = updates.map((u, i) => {
    const io = u.inOut ?? false;
    if (u.A.ndim !== 2 || u.B.ndim !== 2)
      throw new Error(`loraLinear: update ${i}: A ${u.A.label()} and B ${u.B.label()} must be 2-D`);
    const r = io ? u.A.shape[1]! : u.A.shape[0]!;
    const aIn = io ? u.A.shape[0]! : u.A.shape[1]!;
    const bR = io ? u.B.shape[0]! : u.B.shape[1]!;
    const n = io ? u.B.shape[1]! : u.B.shape[0]!;
    const col = u.column ?? 0;
    if (aIn !== inF || bR !== r)
      throw new Error(
        `loraLinear: update ${i}: A ${u.A.label()} and B ${u.B.label()} do not chain ${inF} inputs through one rank${io ? ' (inOut)' : ''}`,
      );
    if (!Number.isInteger(col) || col < 0 || col + n > outF)
      throw new Error(`loraLinear: update ${i}: columns [${col}, ${col + n}) are outside the ${outF} outputs`);
    return { A: u.A, B: u.B, ad: u.A.f32, bd: u.B.f32, s: u.scale, col, r, n, io };
  });
  const xd = x.f32;
  const rows = x.size / inF;
  const out = uninitF32(rows * outF); // the beta = 0 GEMM (bias row in its store) writes every element
  const wld = inOut ? outF : inF;
  const wtype = forwardWType(weight, x);
  // prettier-ignore
  kernels.gemm(false, !inOut, rows, outF, inF, 1, xd, 0, inF, weight.data, 0, wld, wtype, 0, out, 0, outF, 1, 0, 0, 0, weight.scales, bias?.f32, forwardPack(weight, wtype, inOut, rows));
  // t = x @ op(A) [rows, r], kept for the backward; out[:, col:] += s · t @ op(B).
  const ts = ups.map((u) => {
    const t = new Float32Array(rows * u.r);
    // prettier-ignore
    kernels.gemm(false, !u.io, rows, u.r, inF, 1, xd, 0, inF, u.ad, 0, u.io ? u.r : inF, WType.F32, 0, t, 0, u.r, 1, 0, 0, 0);
    // prettier-ignore
    kernels.gemm(false, !u.io, rows, u.n, u.r, u.s, t, 0, u.r, u.bd, 0, u.io ? u.n : u.r, WType.F32, 1, out, u.col, outF, 1, 0, 0, 0);
    return t;
  });
  const inputs = [x, weight, ...(bias ? [bias] : []), ...ups.flatMap((u) => [u.A, u.B])];
  return result(out, [...x.shape.slice(0, -1), outF], 'loraLinear', inputs, (g, ctx) => {
    const gx = x.requiresGrad ? uninitF32(xd.length) : null; // the beta = 0 GEMM writes it first
    if (gx)
      // prettier-ignore
      kernels.gemm(false, inOut, rows, inF, outF, 1, g, 0, outF, weight.data, 0, wld, weight.wtype, 0, gx, 0, inF, 1, 0, 0, 0, weight.scales);
    ups.forEach((u, i) => {
      const t = ts[i]!;
      if (u.B.requiresGrad) {
        const gB = new Float32Array(u.B.size);
        // inOut: gB [r, n] = s · tᵀ @ g[:, cols]; else gB [n, r] = s · g[:, cols]ᵀ @ t.
        if (u.io)
          // prettier-ignore
          kernels.gemm(true, false, u.r, u.n, rows, u.s, t, 0, u.r, g, u.col, outF, WType.F32, 0, gB, 0, u.n, 1, 0, 0, 0);
        // prettier-ignore
        else kernels.gemm(true, false, u.n, u.r, rows, u.s, g, u.col, outF, t, 0, u.r, WType.F32, 0, gB, 0, u.r, 1, 0, 0, 0);
        ctx.accumulate(u.B, gB);
      }
      if (!gx && !u.A.requiresGrad) return;
      // gu = s · g[:, cols] @ op(B)ᵀ [rows, r]: the gradient of t.
      const gu = new Float32Array(rows * u.r);
      // prettier-ignore
      kernels.gemm(false, u.io, rows, u.r, u.n, u.s, g, u.col, outF, u.bd, 0, u.io ? u.n : u.r, WType.F32, 0, gu, 0, u.r, 1, 0, 0, 0);
      if (u.A.requiresGrad) {
        const gA = new Float32Array(u.A.size);
        // inOut: gA [in, r] = xᵀ @ gu; else gA [r, in] = guᵀ @ x.
        if (u.io)
          // prettier-ignore
          kernels.gemm(true, false, inF, u.r, rows, 1, xd, 0, inF, gu, 0, u.r, WType.F32, 0, gA, 0, u.r, 1, 0, 0, 0);
        // prettier-ignore
        else kernels.gemm(true, false, u.r, inF, rows, 1, gu, 0, u.r, xd, 0, inF, WType.F32, 0, gA, 0, inF, 1, 0, 0, 0);
        ctx.accumulate(u.A, gA);
      }
      // gx += gu @ op(A)ᵀ
      if (gx)
        // prettier-ignore
        kernels.gemm(false, u.io, rows, inF, u.r, 1, gu, 0, u.r, u.ad, 0, u.io ? u.r : inF, WType.F32, 1, gx, 0, inF, 1, 0, 0, 0);
    });
    if (gx) ctx.accumulate(x, gx);
    accumulateWeightBiasGrads(ctx, weight, bias, xd, g, rows, inF, outF, inOut, 1);
  });
}

// ---------------------------------------------------------------------------------------------
// Normalisation and softmax (over the last dimension)

/** Softmax over dimension `dim` (default the last). */
export function softmax(x: Tensor, dim = -1): Tensor {
  return softmaxOp(x, dim, false);
}

/** Log-softmax over dimension `dim` (default the last), computed stably. */
export function logSoftmax(x: Tensor, dim = -1): Tensor {
  return softmaxOp(x, dim, true);
}

function softmaxOp(x: Tensor, dim: number, log: boolean): Tensor {
  const d = normDim(dim, x.ndim, log ? 'logSoftmax' : 'softmax');
  if (d !== x.ndim - 1) {
    // Move the dimension last, apply, move it back.
    const p = x.shape.map((_, i) => i);
    p.splice(d, 1);
    p.push(d);
    const inv = p.map((_, i) => p.indexOf(i));
    return permute(softmaxOp(permute(x, p), -1, log), inv);
  }
  const xd = x.f32;
  const cols = x.dim(-1);
  const rows = cols === 0 ? 0 : x.size / cols;
  const y = new Float32Array(xd.length);
  kernels.softmax(xd, y, rows, cols, 1, log);
  return result(y, x.shape, log ? 'logSoftmax' : 'softmax', [x], (g, ctx) => {
    const gx = new Float32Array(g.length);
    kernels.softmaxBackward(y, g, gx, rows, cols, 1, log);
    ctx.accumulate(x, gx);
  });
}

/** LayerNorm over the last dimension (biased variance, like PyTorch). */
export function layerNorm(x: Tensor, gamma: Tensor | null, beta: Tensor | null, eps = 1e-5): Tensor {
  const xd = x.f32;
  const cols = x.dim(-1);
  if (gamma && gamma.size !== cols)
    throw new Error(`layerNorm: parameter ${gamma.label()} must have ${cols} elements to match ${x.label()}`);
  if (beta && beta.size !== cols)
    throw new Error(`layerNorm: parameter ${beta.label()} must have ${cols} elements to match ${x.label()}`);
  const rows = x.size / cols;
  const y = uninitF32(xd.length);
  const mu = new Float32Array(rows);
  const rs = new Float32Array(rows);
  const g = gamma ? toF32(gamma).f32 : null;
  const b = beta ? toF32(beta).f32 : null;
  kernels.layerNorm(xd, g, b, y, mu, rs, rows, cols, eps);
  const inputs = [x];
  if (gamma) inputs.push(gamma);
  if (beta) inputs.push(beta);
  return result(y, x.shape, 'layerNorm', inputs, (dy, ctx) => {
    // dgamma/dbeta read dy as the kernel goes, row by row, before it overwrites that row.
    const dx = ctx.writable(dy) ? dy : uninitF32(xd.length);
    const dg = gamma?.requiresGrad ? new Float32Array(cols) : null;
    const db = beta?.requiresGrad ? new Float32Array(cols) : null;
    kernels.layerNormBackward(xd, g, mu, rs, dy, dx, dg, db, rows, cols);
    ctx.accumulate(x, dx);
    if (dg) ctx.accumulate(gamma!, dg);
    if (db) ctx.accumulate(beta!, db);
  });
}

/** RMSNorm over the last dimension (Llama): x / sqrt(mean(x²) + eps) * gamma. */
export function rmsNorm(x: Tensor, gamma: Tensor | null, eps = 1e-6): Tensor {
  const xd = x.f32;
  const cols = x.dim(-1);
  if (gamma && gamma.size !== cols)
    throw new Error(`rmsNorm: weight ${gamma.label()} must have ${cols} elements to match ${x.label()}`);
  const rows = x.size / cols;
  const y = uninitF32(xd.length);
  const rs = new Float32Array(rows);
  const g = gamma ? toF32(gamma).f32 : null;
  kernels.rmsNorm(xd, g, y, rs, rows, cols, eps);
  return result(y, x.shape, 'rmsNorm', gamma ? [x, gamma] : [x], (dy, ctx) => {
    const dx = ctx.writable(dy) ? dy : uninitF32(xd.length);
    const dg = gamma?.requiresGrad ? new Float32Array(cols) : null;
    kernels.rmsNormBackward(xd, g, rs, dy, dx, dg, rows, cols);
    ctx.accumulate(x, dx);
    if (dg) ctx.accumulate(gamma!, dg);
  });
}

// ---------------------------------------------------------------------------------------------
// Losses

/** Options of {@link crossEntropy} and {@link linearCrossEntropy}. */
export interface CrossEntropyOptions {
  /** Targets equal to this contribute nothing (default -100, as PyTorch). */
  ignoreIndex?: number;
  /** Label smoothing epsilon in [0, 1] (default 0). */
  labelSmoothing?: number;
  /** 'mean' over non-ignored targets (default), 'sum', or 'none' (one loss per row). */
  reduction?: 'mean' | 'sum' | 'none';
}

/**
 * Softmax cross-entropy of logits [..., V] against integer targets (one per row), as
 * torch.nn.functional.cross_entropy. With reduction 'mean' and every target ignored the loss is
 * NaN, as in PyTorch.
 */
export function crossEntropy(logits: Tensor, targets: Int32Array, opts: CrossEntropyOptions = {}): Tensor {
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const eps = opts.labelSmoothing ?? 0;
  const reduction = opts.reduction ?? 'mean';
  if (!(eps >= 0 && eps <= 1)) throw new Error(`crossEntropy: labelSmoothing must be in [0, 1], got ${eps}`);
  const V = logits.dim(-1);
  const rows = logits.size / V;
  if (targets.length !== rows)
    throw new Error(`crossEntropy: ${targets.length} targets for ${rows} rows of logits ${logits.label()}`);
  const ld = logits.f32;
  const losses = new Float32Array(rows);
  const wantGrad = logits.requiresGrad && reduction !== 'none';
  const dlogits = wantGrad ? new Float32Array(ld.length) : null;
  const count = kernels.crossEntropy(
    ld,
    targets,
    rows,
    V,
    ignoreIndex,
    eps,
    losses,
    dlogits,
    reduction === 'mean' ? 1 / count0(targets, ignoreIndex) : 1,
  );
  if (reduction === 'none') {
    return result(losses, logits.shape.slice(0, -1), 'crossEntropy', [logits], (g, ctx) => {
      const dl = new Float32Array(ld.length);
      kernels.crossEntropy(ld, targets, rows, V, ignoreIndex, eps, new Float32Array(rows), dl, 1);
      for (let r = 0; r < rows; r++) {
        const s = g[r]!;
        for (let j = 0; j < V; j++) dl[r * V + j]! *= s;
      }
      ctx.accumulate(logits, dl);
    });
  }
  let total = 0;
  for (let r = 0; r < rows; r++) total += losses[r]!;
  const value = reduction === 'mean' ? total / count : total;
  return result(new Float32Array([value]), [], 'crossEntropy', [logits], (g, ctx) => {
    if (!dlogits) throw new Error('crossEntropy: backward reached an input that required no gradient');
    passSavedGrad(ctx, logits, dlogits, g[0]!);
  });
}

/**
 * crossEntropy(linear(h, W), targets) for a language-model head, computed in row chunks so the
 * [rows, vocab] logits and their gradient never exist in full (a 50k vocabulary at 1024 tokens
 * would need 2 × 200 MB). The gradients for h (and W, if trainable) are formed chunk by chunk
 * during the forward, when the loss is known, and scaled by the incoming gradient in backward.
 * W is [vocab, hidden] (a tied embedding or lm_head.weight); it may be half precision.
 * Only reduction 'mean' and 'sum' make sense here.
 */
export function linearCrossEntropy(
  h: Tensor,
  weight: Tensor,
  targets: Int32Array,
  opts: Omit<CrossEntropyOptions, 'reduction'> & {
    reduction?: 'mean' | 'sum';
    chunkRows?: number;
    /**
     * Keep a bf16-compute W packed for the bf16 GEMM between calls (default true; nothing to
     * pack for other weights or CPUs). Each GEMM with W would otherwise repack all of it (four
     * per training step); the packs cost one more copy of W per orientation while W lives (two
     * when h needs a gradient: +154 MB for GPT-2's 50257 x 768 head, +544 MB for a 151936 x 896
     * one). The results are the same bits either way.
     */
    packWeight?: boolean;
  } = {},
): Tensor {
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const eps = opts.labelSmoothing ?? 0;
  const reduction = opts.reduction ?? 'mean';
  if (weight.ndim !== 2) throw new Error(`linearCrossEntropy: weight must be [vocab, hidden], got ${weight.label()}`);
  const [V, d] = weight.shape as [number, number];
  if (h.dim(-1) !== d)
    throw new Error(`linearCrossEntropy: hidden states ${h.label()} do not match weight ${weight.label()}`);
  const rows = h.size / d;
  if (targets.length !== rows)
    throw new Error(`linearCrossEntropy: ${targets.length} targets for ${rows} rows of ${h.label()}`);
  const hd = h.f32;
  const count = count0(targets, ignoreIndex);
  const gradScale = reduction === 'mean' ? 1 / count : 1;
  const wantH = h.requiresGrad;
  const wantW = weight.requiresGrad;
  // gh: every row is written by its chunk's beta = 0 GEMM (grad mode off: never read).
  const gh = wantH ? uninitF32(hd.length) : null;
  const gw = wantW ? new Float32Array(weight.size) : null;
  // At most 128 MB of logits per chunk, split evenly: the GEMMs with W reach full speed only
  // when each pass over W serves hundreds of rows (1024 rows x 50k vocab: two chunks of 512).
  const maxRows = Math.max(8, opts.chunkRows ?? Math.floor((32 << 20) / V));
  const chunk = Math.ceil(rows / Math.ceil(rows / maxRows));
  const logits = headScratch(Math.min(chunk, rows) * V);
  const losses = new Float32Array(Math.min(chunk, rows));
  const needGrad = isGradEnabled() && (wantH || wantW);
  // A bf16-compute head packed once for the bf16 GEMM (both orientations when h needs a
  // gradient): each call would otherwise repack all of W (see tensor/weight-packs.ts).
  const pack = opts.packWeight ?? true;
  const packedW = pack ? packedBf16(weight, true) : null;
  const packedWt = pack && needGrad && gh ? packedBf16(weight, false) : null;
  let total = 0;
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const n = Math.min(chunk, rows - r0);
    kernels.gemm(
      false,
      true,
      n,
      V,
      d,
      1,
      hd,
      r0 * d,
      d,
      weight.data,
      0,
      d,
      weight.wtype,
      0,
      logits,
      0,
      V,
      1,
      0,
      0,
      0,
      weight.scales,
      null,
      packedW,
    );
    const t = targets.subarray(r0, r0 + n);
    kernels.crossEntropy(logits, t, n, V, ignoreIndex, eps, losses, needGrad ? logits : null, gradScale);
    for (let i = 0; i < n; i++) total += losses[i]!;
    if (!needGrad) continue;
    if (gh)
      kernels.gemm(
        false,
        false,
        n,
        d,
        V,
        1,
        logits,
        0,
        V,
        weight.data,
        0,
        d,
        weight.wtype,
        0,
        gh,
        r0 * d,
        d,
        1,
        0,
        0,
        0,
        weight.scales,
        null,
        packedWt,
      );
    if (gw) kernels.gemm(true, false, V, d, n, 1, logits, 0, V, hd, r0 * d, d, WType.F32, 1, gw, 0, d, 1, 0, 0, 0);
  }
  const value = reduction === 'mean' ? total / count : total;
  return result(new Float32Array([value]), [], 'linearCrossEntropy', [h, weight], (g, ctx) => {
    if (gh) passSavedGrad(ctx, h, gh, g[0]!);
    if (gw) passSavedGrad(ctx, weight, gw, g[0]!);
  });
}

/**
 * Sends s · grad to t, where grad was computed in the forward and stays saved with the node (a
 * retained graph runs the backward again): shared as it is when s = 1, else a scaled copy.
 */
function passSavedGrad(ctx: BackwardContext, t: Tensor, grad: Float32Array, s: number): void {
  if (s === 1) {
    ctx.accumulateShared(t, grad);
    return;
  }
  const scaled = uninitF32(grad.length);
  for (let i = 0; i < grad.length; i++) scaled[i] = grad[i]! * s;
  ctx.accumulate(t, scaled);
}

/**
 * The chunk buffer of linearCrossEntropy, kept between calls: a fresh 100 MB array every step
 * costs tens of milliseconds of page faults and zeroing. Only the forward uses it.
 */
let scratch: Float32Array | null = null;
function headScratch(n: number): Float32Array {
  if (!scratch || scratch.length < n) scratch = new Float32Array(n);
  return scratch.length === n ? scratch : scratch.subarray(0, n);
}

function count0(targets: Int32Array, ignoreIndex: number): number {
  let c = 0;
  for (let i = 0; i < targets.length; i++) if (targets[i] !== ignoreIndex) c++;
  return c;
}

// ---------------------------------------------------------------------------------------------
// Attention and rotary embeddings

/** Options of {@link scaledDotProductAttention}. */
export interface AttentionOptions {
  /** Causal masking (decoder). Query t sees keys up to t + (S - T). Default true. */
  causal?: boolean;
  /** [B, S] with 0 for padding keys. */
  keyMask?: Uint8Array | null;
  /** Multiplies q·k; default 1/sqrt(head_dim). */
  scale?: number;
  /**
   * Sliding window (Mistral/Qwen2 `sliding_window`, causal only): the query at key position p
   * sees keys p - window < s <= p. 0, null or absent: full attention.
   */
  window?: number | null;
  /**
   * Keys held in k/v's dim 2, when k/v are a KV cache's buffers with spare capacity after them
   * ([B, Hkv, capacity, D], read in place); default k.dim(2).
   */
  kvLength?: number;
}

/**
 * Scaled dot-product attention. q [B, H, T, D]; k, v [B, Hkv, S, D] with H a multiple of Hkv
 * (grouped-query heads share kv heads). S >= T: the first S - T keys are a prefix (prefix tuning)
 * or a KV cache. Returns [B, H, T, D].
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4)
    throw new Error(
      `attention: q, k, v must be 4-D [batch, heads, seq, head_dim], got ${q.label()}, ${k.label()}, ${v.label()}`,
    );
  const [B, H, T, D] = q.shape as [number, number, number, number];
  const [Bk, Hkv, capacity, Dk] = k.shape as [number, number, number, number];
  if (Bk !== B || Dk !== D || k.shape.some((s, i) => s !== v.shape[i]))
    throw new Error(`attention: incompatible shapes q ${q.label()}, k ${k.label()}, v ${v.label()}`);
  const S = opts.kvLength ?? capacity;
  if (!Number.isInteger(S) || S < 0 || S > capacity)
    throw new Error(`attention: kvLength must be an integer in [0, ${capacity}] (k/v dim 2), got ${S}`);
  if (H % Hkv !== 0) throw new Error(`attention: ${H} query heads is not a multiple of ${Hkv} key/value heads`);
  if (S < T) throw new Error(`attention: ${S} keys for ${T} queries; keys must include every query position`);
  const causal = opts.causal ?? true;
  const mask = opts.keyMask ?? null;
  if (mask && mask.length !== B * S)
    throw new Error(`attention: keyMask has ${mask.length} entries, expected batch*keys = ${B * S}`);
  const sc = opts.scale ?? 1 / Math.sqrt(D);
  const window = opts.window ?? 0;
  if (!Number.isInteger(window) || window < 0)
    throw new Error(`attention: window must be an integer >= 0, got ${window}`);
  if (window > 0 && !causal) throw new Error('attention: a sliding window needs causal attention');
  const qd = q.f32;
  const kd = k.f32;
  const vd = v.f32;
  const out = uninitF32(B * H * T * D); // every row is written (zeros where no key is allowed)
  const lse = new Float32Array(B * H * T);
  const kvStride = capacity * D;
  kernels.attention(qd, kd, vd, out, lse, B, H, Hkv, T, S, D, sc, causal, mask, window, kvStride);
  return result(out, [B, H, T, D], 'attention', [q, k, v], (g, ctx) => {
    // The kernel writes every row of dq, and of dk/dv below S; a cache's spare rows need zeros.
    const kvGrad = (): Float32Array => (S === capacity ? uninitF32(kd.length) : new Float32Array(kd.length));
    const dq = q.requiresGrad ? uninitF32(qd.length) : null;
    const dk = k.requiresGrad ? kvGrad() : null;
    const dv = v.requiresGrad ? kvGrad() : null;
    kernels.attentionBackward(
      qd,
      kd,
      vd,
      out,
      lse,
      g,
      dq,
      dk,
      dv,
      B,
      H,
      Hkv,
      T,
      S,
      D,
      sc,
      causal,
      mask,
      window,
      kvStride,
    );
    if (dq) ctx.accumulate(q, dq);
    if (dk) ctx.accumulate(k, dk);
    if (dv) ctx.accumulate(v, dv);
  });
}

/** Options of {@link packedAttention}. */
export interface PackedAttentionOptions {
  /** Key/value heads (grouped-query attention); default: as many as the query heads. */
  kvHeads?: number;
  /** Causal masking (decoder). Default true. */
  causal?: boolean;
  /** [B, T] with 0 for padding keys. */
  keyMask?: Uint8Array | null;
  /** Multiplies q·k; default 1/sqrt(head_dim). */
  scale?: number;
  /** Sliding window (causal only), as in {@link AttentionOptions}. */
  window?: number | null;
}

/** The geometry of a fused projection's output qkv [B, T, (H + 2·Hkv)·D] (kvHeads default: H). */
function fusedHeads(
  name: string,
  qkv: Tensor,
  heads: number,
  kvHeads: number | undefined,
): { B: number; T: number; C: number; H: number; Hkv: number; D: number } {
  if (qkv.ndim !== 3) throw new Error(`${name}: expected qkv [batch, seq, features], got ${qkv.label()}`);
  const [B, T, C] = qkv.shape as [number, number, number];
  const H = heads;
  const Hkv = checkHeads(name, H, kvHeads ?? H);
  const D = C / (H + 2 * Hkv);
  if (!Number.isInteger(D) || D < 1)
    throw new Error(`${name}: ${qkv.label()} has ${C} features, not a multiple of H + 2·Hkv = ${H + 2 * Hkv} heads`);
  return { B, T, C, H, Hkv, D };
}

/**
 * Self-attention straight from a fused projection: `qkv` [B, T, (H + 2·Hkv)·D] holds, per token, the
 * H query heads, then the Hkv key heads, then the Hkv value heads (GPT-2's c_attn output). Returns
 * [B, T, H·D], the layout the output projection reads. The kernel reads the heads in place and the
 * backward writes the gradient of q, k and v into one buffer of qkv's shape, so no head is copied in
 * either direction (splitHeads, mergeHeads and the attention of {@link scaledDotProductAttention}
 * compute the same thing with three copies forward and three backward). The keys are the tokens
 * themselves (S = T): no KV cache or prefix.
 */
export function packedAttention(qkv: Tensor, heads: number, opts: PackedAttentionOptions = {}): Tensor {
  const { B, T, C, H, Hkv, D } = fusedHeads('packedAttention', qkv, heads, opts.kvHeads);
  const o = rowAttentionOptions('packedAttention', B, T, D, opts);
  const xd = qkv.f32;
  const O = H * D;
  // prettier-ignore
  const layout = new Float64Array([
    0, T * C, D, C, // q
    O, T * C, D, C, // k
    O + Hkv * D, T * C, D, C, // v
    0, T * O, D, O, // out [B, T, H·D]
  ]);
  const out = uninitF32(B * T * O); // every row is written (zeros where no key is allowed)
  const lse = new Float32Array(B * H * T);
  kernels.attention(xd, xd, xd, out, lse, B, H, Hkv, T, T, D, o.scale, o.causal, o.mask, o.window, 0, layout);
  return result(out, [B, T, O], 'packedAttention', [qkv], (g, ctx) => {
    // dq, dk and dv are written into one buffer (disjoint columns that cover every element).
    const dx = uninitF32(xd.length);
    // prettier-ignore
    kernels.attentionBackward(xd, xd, xd, out, lse, g, dx, dx, dx, B, H, Hkv, T, T, D, o.scale, o.causal, o.mask, o.window, 0, layout);
    ctx.accumulate(qkv, dx);
  });
}

/**
 * Decoding attention straight from a fused projection and a KV cache: the queries are read in place
 * from `qkv` [B, T, (H + 2·Hkv)·D] (laid out as for {@link packedAttention}), the keys and values
 * from `past`, a cache's buffers [B, Hkv, ≥ S, D] whose first S = `past.kvLength` positions hold
 * every key, this call's included (`KVCache.appendPacked` put them there). Returns [B, T, H·D];
 * query t sits at position S - T + t. `keyMask` is [B, S]. Same result as splitHeads, the cache's
 * `update` and {@link scaledDotProductAttention} + mergeHeads, without the head copies. Inference
 * only: a `qkv` that needs a gradient is refused (no gradient flows into a cache's buffers).
 */
export function cachedPackedAttention(
  qkv: Tensor,
  heads: number,
  past: { readonly k: Tensor; readonly v: Tensor; readonly kvLength: number },
  opts: PackedAttentionOptions = {},
): Tensor {
  if (qkv.requiresGrad && isGradEnabled())
    throw new Error('cachedPackedAttention: qkv needs a gradient; attention over a KV cache is for inference');
  const { B, T, C, H, Hkv, D } = fusedHeads('cachedPackedAttention', qkv, heads, opts.kvHeads);
  const { k, v } = past;
  const S = past.kvLength;
  const cap = k.ndim === 4 ? k.dim(2) : -1;
  if (k.ndim !== 4 || k.dim(0) !== B || k.dim(1) !== Hkv || k.dim(3) !== D || k.shape.some((s, i) => s !== v.shape[i]))
    throw new Error(
      `cachedPackedAttention: past k and v must be [${B}, ${Hkv}, capacity, ${D}], got ${k.label()}, ${v.label()}`,
    );
  if (!Number.isInteger(S) || S < T || S > cap)
    throw new Error(`cachedPackedAttention: kvLength must be an integer in [${T}, ${cap}], got ${S}`);
  const o = rowAttentionOptions('cachedPackedAttention', B, S, D, opts);
  const O = H * D;
  // prettier-ignore
  const layout = new Float64Array([
    0, T * C, D, C, // q: the first H·D features of each token
    0, Hkv * cap * D, cap * D, D, // k [B, Hkv, capacity, D]
    0, Hkv * cap * D, cap * D, D, // v
    0, T * O, D, O, // out [B, T, H·D]
  ]);
  const out = uninitF32(B * T * O); // every row is written (zeros where no key is allowed)
  const lse = new Float32Array(B * H * T);
  kernels.attention(
    qkv.f32,
    k.f32,
    v.f32,
    out,
    lse,
    B,
    H,
    Hkv,
    T,
    S,
    D,
    o.scale,
    o.causal,
    o.mask,
    o.window,
    0,
    layout,
  );
  return result(out, [B, T, O], 'cachedPackedAttention', [qkv], () => {
    throw new Error('cachedPackedAttention: internal error (no gradient is recorded)');
  });
}

/**
 * Self-attention on separate projections in token-major layout: q [B, T, H·D], k and v
 * [B, T, Hkv·D] (heads side by side, as q_proj, k_proj and v_proj write them). Returns [B, T, H·D],
 * the layout the output projection reads. Same function as splitHeads + {@link scaledDotProductAttention}
 * + mergeHeads, but the kernel reads and writes the heads in place (no head copies in either
 * direction). Options as {@link packedAttention} (`kvHeads` defaults to k's features / D). The keys
 * are the tokens themselves (S = T): no KV cache or prefix.
 */
export function tokenMajorAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  heads: number,
  opts: PackedAttentionOptions = {},
): Tensor {
  if (q.ndim !== 3 || k.ndim !== 3 || v.ndim !== 3)
    throw new Error(
      `tokenMajorAttention: q, k, v must be 3-D [batch, seq, heads·head_dim], got ${q.label()}, ${k.label()}, ${v.label()}`,
    );
  const [B, T, Cq] = q.shape as [number, number, number];
  const H = heads;
  const D = Cq / H;
  if (!Number.isInteger(H) || H < 1 || !Number.isInteger(D) || D < 1)
    throw new Error(`tokenMajorAttention: q ${q.label()} does not hold ${H} heads`);
  const Ckv = k.dim(2);
  const Hkv = checkHeads('tokenMajorAttention', H, opts.kvHeads ?? Ckv / D);
  if (k.dim(0) !== B || k.dim(1) !== T || Ckv !== Hkv * D || k.shape.some((s, i) => s !== v.shape[i]))
    throw new Error(
      `tokenMajorAttention: with ${H} query heads of ${D} and ${Hkv} key/value heads, k and v must be [${B}, ${T}, ${Hkv * D}], got ${k.label()}, ${v.label()}`,
    );
  const o = rowAttentionOptions('tokenMajorAttention', B, T, D, opts);
  const [qd, kd, vd] = [q.f32, k.f32, v.f32];
  const O = H * D;
  const Kc = Hkv * D;
  // prettier-ignore
  const layout = new Float64Array([
    0, T * O, D, O, // q
    0, T * Kc, D, Kc, // k
    0, T * Kc, D, Kc, // v
    0, T * O, D, O, // out [B, T, H·D]
  ]);
  const out = uninitF32(B * T * O); // every row is written (zeros where no key is allowed)
  const lse = new Float32Array(B * H * T);
  kernels.attention(qd, kd, vd, out, lse, B, H, Hkv, T, T, D, o.scale, o.causal, o.mask, o.window, 0, layout);
  return result(out, [B, T, O], 'tokenMajorAttention', [q, k, v], (g, ctx) => {
    const dq = q.requiresGrad ? uninitF32(qd.length) : null; // every row is written
    const dk = k.requiresGrad ? uninitF32(kd.length) : null;
    const dv = v.requiresGrad ? uninitF32(vd.length) : null;
    // prettier-ignore
    kernels.attentionBackward(qd, kd, vd, out, lse, g, dq, dk, dv, B, H, Hkv, T, T, D, o.scale, o.causal, o.mask, o.window, 0, layout);
    if (dq) ctx.accumulate(q, dq);
    if (dk) ctx.accumulate(k, dk);
    if (dv) ctx.accumulate(v, dv);
  });
}

function checkHeads(name: string, H: number, Hkv: number): number {
  if (!Number.isInteger(H) || H < 1 || !Number.isInteger(Hkv) || Hkv < 1 || H % Hkv !== 0)
    throw new Error(`${name}: ${H} query heads must be a positive multiple of ${Hkv} key/value heads`);
  return Hkv;
}

/** The checked options of the row-layout attentions (keys = the T tokens). */
function rowAttentionOptions(
  name: string,
  B: number,
  S: number,
  D: number,
  opts: PackedAttentionOptions,
): { causal: boolean; mask: Uint8Array | null; scale: number; window: number } {
  const causal = opts.causal ?? true;
  const mask = opts.keyMask ?? null;
  if (mask && mask.length !== B * S)
    throw new Error(`${name}: keyMask has ${mask.length} entries, expected batch*keys = ${B * S}`);
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  const window = opts.window ?? 0;
  if (!Number.isInteger(window) || window < 0)
    throw new Error(`${name}: window must be an integer >= 0, got ${window}`);
  if (window > 0 && !causal) throw new Error(`${name}: a sliding window needs causal attention`);
  return { causal, mask, scale, window };
}

/**
 * Rotary position embedding, rotate-half convention (HF Llama): dimension i pairs with i + D/2,
 * out = x*cos + rotate_half(x)*sin. x [B, H, T, D], or token-major [B, T, H·D] (heads side by side,
 * as a projection writes them) when `headDim` is given; cos/sin [T, D/2] or [B, T, D/2] (per batch
 * when left padding shifts positions).
 */
export function rope(x: Tensor, cos: Float32Array, sin: Float32Array, headDim?: number): Tensor {
  let B: number, H: number, T: number, D: number;
  if (headDim === undefined) {
    if (x.ndim !== 4) throw new Error(`rope: expected [batch, heads, seq, head_dim], got ${x.label()}`);
    [B, H, T, D] = x.shape as [number, number, number, number];
  } else {
    if (x.ndim !== 3 || !Number.isInteger(headDim) || headDim < 1 || x.dim(2) % headDim !== 0)
      throw new Error(`rope: expected [batch, seq, heads·${headDim}], got ${x.label()}`);
    [B, T] = x.shape as [number, number, number];
    D = headDim;
    H = x.dim(2) / D;
  }
  if (D % 2 !== 0) throw new Error(`rope: head_dim ${D} must be even`);
  const h = D / 2;
  const perBatch = cos.length === B * T * h;
  if (!perBatch && cos.length !== T * h)
    throw new Error(
      `rope: cos/sin have ${cos.length} entries; expected seq*head_dim/2 = ${T * h} or batch*seq*head_dim/2 = ${B * T * h}`,
    );
  if (sin.length !== cos.length) throw new Error('rope: cos and sin differ in size');
  // Rows in memory order: heads then tokens ([B, H, T, D]) or tokens then heads ([B, T, H, D]).
  const tokenMajor = headDim !== undefined;
  const [n1, n2] = tokenMajor ? [T, H] : [H, T];
  const xd = x.f32;
  // Every element of each D-row is written (pairs i and i + D/2 for i < D/2).
  const apply = (src: Float32Array, sign: number): Float32Array => {
    const dst = uninitF32(src.length);
    kernels.rope(src, dst, cos, sin, B, n1, n2, T, D, perBatch, tokenMajor, sign);
    return dst;
  };
  // The rotation is orthogonal: its transpose (the gradient) is the rotation by -angle.
  return result(apply(xd, 1), x.shape, 'rope', [x], (g, ctx) => ctx.accumulate(x, apply(g, -1)));
}
