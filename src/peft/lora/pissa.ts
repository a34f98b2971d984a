/**
 * PiSSA initialisation (Meng et al. 2024, PEFT's `init_lora_weights="pissa"`): the top-r singular
 * triplets of W go into the adapter and the base keeps the residual,
 *
 *   W = U S Vᵀ,  A = diag(√(S_r / s)) V_rᵀ,  B = U_r diag(√(S_r / s)),  W_res = W − s·B·A
 *
 * so the model's output is unchanged at the start (W_res + s·B·A = W) while training moves the
 * principal directions. The top singular vectors come from subspace iteration in float64
 * (`niter` rounds, PEFT's "pissa_niter_N" fast variant; exact mode runs until converged).
 */
import type { Rng } from '../../tensor/random.js';

/** Orthonormalise the k columns of Q [n, k] in place (modified Gram-Schmidt). */
function orthonormalise(q: Float64Array, n: number, k: number): void {
  for (let j = 0; j < k; j++) {
    for (let p = 0; p < j; p++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += (q[i * k + j] ?? 0) * (q[i * k + p] ?? 0);
      for (let i = 0; i < n; i++) q[i * k + j] = (q[i * k + j] ?? 0) - dot * (q[i * k + p] ?? 0);
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += (q[i * k + j] ?? 0) ** 2;
    norm = Math.sqrt(norm) || 1;
    for (let i = 0; i < n; i++) q[i * k + j] = (q[i * k + j] ?? 0) / norm;
  }
}

/** Eigen-decomposition of a symmetric k×k matrix by cyclic Jacobi: eigenvalues and column eigenvectors. */
function symmetricEigen(m: Float64Array, k: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(m);
  const v = new Float64Array(k * k);
  for (let i = 0; i < k; i++) v[i * k + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < k; p++) for (let q = p + 1; q < k; q++) off += (a[p * k + q] ?? 0) ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < k; p++) {
      for (let q = p + 1; q < k; q++) {
        const apq = a[p * k + q] ?? 0;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = ((a[q * k + q] ?? 0) - (a[p * k + p] ?? 0)) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let i = 0; i < k; i++) {
          const aip = a[i * k + p] ?? 0,
            aiq = a[i * k + q] ?? 0;
          a[i * k + p] = c * aip - s * aiq;
          a[i * k + q] = s * aip + c * aiq;
        }
        for (let i = 0; i < k; i++) {
          const api = a[p * k + i] ?? 0,
            aqi = a[q * k + i] ?? 0;
          a[p * k + i] = c * api - s * aqi;
          a[q * k + i] = s * api + c * aqi;
        }
        for (let i = 0; i < k; i++) {
          const vip = v[i * k + p] ?? 0,
            viq = v[i * k + q] ?? 0;
          v[i * k + p] = c * vip - s * viq;
          v[i * k + q] = s * vip + c * viq;
        }
      }
    }
  }
  const values = new Float64Array(k);
  for (let i = 0; i < k; i++) values[i] = a[i * k + i] ?? 0;
  return { values, vectors: v };
}

/**
 * Top-r singular triplets of W [O, I] (float32 row-major): U_r [O, r], S_r [r], V_r [I, r].
 */
export function topSingular(
  w: Float32Array,
  O: number,
  I: number,
  r: number,
  niter: number | null,
  rng: Rng,
): { u: Float64Array; s: Float64Array; v: Float64Array } {
  const k = Math.min(r + 8, O, I);
  if (r > Math.min(O, I)) throw new Error(`PiSSA: rank ${r} exceeds the weight's smallest dimension ${Math.min(O, I)}`);
  let q = new Float64Array(I * k);
  for (let i = 0; i < q.length; i++) q[i] = rng.normal();
  orthonormalise(q, I, k);
  const wq = new Float64Array(O * k);
  const rounds = niter ?? 60;
  for (let it = 0; it < rounds; it++) {
    // wq = W q; q = Wᵀ wq; orthonormalise.
    wq.fill(0);
    for (let o = 0; o < O; o++)
      for (let i = 0; i < I; i++) {
        const x = w[o * I + i] ?? 0;
        if (x === 0) continue;
        for (let j = 0; j < k; j++) wq[o * k + j] = (wq[o * k + j] ?? 0) + x * (q[i * k + j] ?? 0);
      }
    const next = new Float64Array(I * k);
    for (let o = 0; o < O; o++)
      for (let i = 0; i < I; i++) {
        const x = w[o * I + i] ?? 0;
        if (x === 0) continue;
        for (let j = 0; j < k; j++) next[i * k + j] = (next[i * k + j] ?? 0) + x * (wq[o * k + j] ?? 0);
      }
    orthonormalise(next, I, k);
    q = next;
  }
  // Rayleigh-Ritz: C = (W q)ᵀ (W q) = V_c S² V_cᵀ; V = q V_c; U = W V / S.
  wq.fill(0);
  for (let o = 0; o < O; o++)
    for (let i = 0; i < I; i++) {
      const x = w[o * I + i] ?? 0;
      for (let j = 0; j < k; j++) wq[o * k + j] = (wq[o * k + j] ?? 0) + x * (q[i * k + j] ?? 0);
    }
  const c = new Float64Array(k * k);
  for (let a = 0; a < k; a++)
    for (let b = 0; b < k; b++) {
      let sum = 0;
      for (let o = 0; o < O; o++) sum += (wq[o * k + a] ?? 0) * (wq[o * k + b] ?? 0);
      c[a * k + b] = sum;
    }
  const { values, vectors } = symmetricEigen(c, k);
  const order = [...values.keys()].sort((x, y) => (values[y] ?? 0) - (values[x] ?? 0)).slice(0, r);
  const s = new Float64Array(r);
  const v = new Float64Array(I * r);
  const u = new Float64Array(O * r);
  order.forEach((col, j) => {
    const sigma = Math.sqrt(Math.max(values[col] ?? 0, 0));
    s[j] = sigma;
    for (let i = 0; i < I; i++) {
      let x = 0;
      for (let p = 0; p < k; p++) x += (q[i * k + p] ?? 0) * (vectors[p * k + col] ?? 0);
      v[i * r + j] = x;
    }
    for (let o = 0; o < O; o++) {
      let x = 0;
      for (let p = 0; p < k; p++) x += (wq[o * k + p] ?? 0) * (vectors[p * k + col] ?? 0);
      u[o * r + j] = sigma > 0 ? x / sigma : 0;
    }
  });
  return { u, s, v };
}

/** A [r, I], B [O, r] and the residual W − s·B·A ([O, I]) of PiSSA for W [O, I]. */
export function pissaInit(
  w: Float32Array,
  O: number,
  I: number,
  r: number,
  scaling: number,
  niter: number | null,
  rng: Rng,
): { a: Float32Array; b: Float32Array; residual: Float32Array } {
  const { u, s, v } = topSingular(w, O, I, r, niter, rng);
  const a = new Float32Array(r * I);
  const b = new Float32Array(O * r);
  for (let j = 0; j < r; j++) {
    const root = Math.sqrt((s[j] ?? 0) / scaling);
    for (let i = 0; i < I; i++) a[j * I + i] = root * (v[i * r + j] ?? 0);
    for (let o = 0; o < O; o++) b[o * r + j] = root * (u[o * r + j] ?? 0);
  }
  const residual = new Float32Array(O * I);
  for (let o = 0; o < O; o++)
    for (let i = 0; i < I; i++) {
      let ba = 0;
      for (let j = 0; j < r; j++) ba += (b[o * r + j] ?? 0) * (a[j * I + i] ?? 0);
      residual[o * I + i] = (w[o * I + i] ?? 0) - scaling * ba;
    }
  return { a, b, residual };
}
