/**
 * Central finite-difference gradient check for float32 ops.
 *
 * The scalar checked is L = sum(f(inputs) * w) for a fixed random w (so every output element
 * matters and no symmetry hides a wrong sign). Each probed input element is moved by ±h and the
 * slope (L+ - L-) / 2h, summed in float64, is compared with the analytic gradient.
 */
import assert from 'node:assert/strict';
import { Rng } from '../../src/tensor/random.js';
import { type Tensor, noGrad } from '../../src/tensor/tensor.js';

export interface GradcheckOptions {
  /** Step (default 1e-2: float32 rounding makes smaller steps noisy). */
  h?: number;
  atol?: number;
  rtol?: number;
  /** Elements probed per input (random subset when the input is larger). */
  probes?: number;
  seed?: number;
}

export function gradcheck(
  name: string,
  f: (...xs: Tensor[]) => Tensor,
  inputs: Tensor[],
  opts: GradcheckOptions = {},
): void {
  const h = opts.h ?? 1e-2;
  const atol = opts.atol ?? 2e-3;
  const rtol = opts.rtol ?? 2e-2;
  const rng = new Rng(opts.seed ?? 7);
  for (const x of inputs) x.grad = null;
  const out = f(...inputs);
  const w = new Float32Array(out.size);
  for (let i = 0; i < w.length; i++) w[i] = rng.uniform(-1, 1);
  out.backward(w);
  const lossAt = (): number =>
    noGrad(() => {
      const o = f(...inputs).f32;
      let s = 0;
      for (let i = 0; i < o.length; i++) s += o[i]! * w[i]!;
      return s;
    });
  inputs.forEach((x, xi) => {
    if (!x.requiresGrad) return;
    assert.ok(x.grad, `${name}: input ${xi} got no gradient`);
    const data = x.f32;
    const n = data.length;
    const probes = Math.min(n, opts.probes ?? 24);
    const idx = probes === n ? [...Array(n).keys()] : Array.from({ length: probes }, () => rng.int(n));
    for (const i of idx) {
      const orig = data[i]!;
      data[i] = orig + h;
      const lp = lossAt();
      data[i] = orig - h;
      const lm = lossAt();
      data[i] = orig;
      const num = (lp - lm) / (2 * h);
      const ana = x.grad[i]!;
      const tol = atol + rtol * Math.max(Math.abs(num), Math.abs(ana));
      assert.ok(
        Math.abs(num - ana) <= tol,
        `${name}: d/d input${xi}[${i}] analytic ${ana} vs numeric ${num} (tol ${tol.toExponential(2)})`,
      );
    }
  });
}
