/**
 * One LoRA training step (forward, loss, backward, AdamW) of a GPT-2-shaped stack, the workload of
 * shared/bench/pytorch-baseline, with the SAME weights and tokens (written by its gen_weights.py),
 * so step-0 losses compare exactly and speed compares as a ratio measured in the same run.
 *
 * Run alone (`node dist/bench/lora-step.js SIZE STEPS WEIGHTS_DIR [DTYPE]`) it prints one JSON line;
 * the peak memory it reports is then this process's own.
 *
 * With `--profile` the same step runs under the whole-step profiler (src/tensor/profile.ts) instead:
 * two warm-up steps (the allocator reaches its steady state), then STEPS profiled steps, printed as JSON with a `table` of the share of step
 * time in GEMM, attention, element-wise kernels, norms, loss, optimizer, JavaScript inside ops
 * (loops, copies, allocation, graph nodes), autograd bookkeeping and the rest, plus GC pauses and
 * the bytes the forward allocates. `npm run bench -- lora` prints these tables (SMALL and GPT2S,
 * float32 and bf16) under the ratios. A profiled step is slower than a clean one (two clock reads
 * per kernel call): read the shares, not the absolute times.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { kernels } from '../src/native/index.js';
import { convertFrozen, parseComputeDtype, type ComputeDtype } from '../src/nn/compute-dtype.js';
import * as F from '../src/tensor/ops.js';
import { Profiler, formatProfile, type Profile } from '../src/tensor/profile.js';
import { Tensor } from '../src/tensor/tensor.js';
import { AdamW } from '../src/train/optim.js';
import { peakRssMb } from './peak-memory.js';
import { median } from './stats.js';

interface Manifest {
  config: { d: number; h: number; L: number; T: number; B: number; V: number; r: number };
  train: { lr: number; beta1: number; beta2: number; eps: number; wd: number; lora_alpha: number; ln_eps: number };
  shapes: Record<string, number[]>;
  flops: { step: number };
}

export interface LoraStepResult {
  engine: string;
  computeDtype: ComputeDtype;
  size: string;
  losses: number[];
  median_step_s: number;
  tokens_per_s: number;
  gflops: number;
  maxrss_mb: number;
  grad_norms_step0: Record<string, number>;
}

/** A LoRA step on the shared weights, ready to run: the trainable tensors, the loss and the optimizer. */
interface LoraStep {
  man: Manifest;
  tokens: number;
  layers: Array<Record<'qB' | 'vB', Tensor>>;
  loss: () => Tensor;
  opt: AdamW;
}

/**
 * @param computeDtype how the frozen matrices (wte/head, attention, MLP) are kept and multiplied
 *   (nn/compute-dtype.ts); LoRA, norms and biases stay float32.
 */
function buildLoraStep(weightsDir: string, size: string, computeDtype: ComputeDtype): LoraStep {
  const dir = join(weightsDir, size);
  const man = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const { d, h, L, T, B, r } = man.config;
  const tr = man.train;
  const scale = tr.lora_alpha / r;
  const load = (k: string, trainable = false): Tensor => {
    const buf = readFileSync(join(dir, `${k}.f32`));
    const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    const t = new Tensor(data, man.shapes[k]!, { requiresGrad: trainable, name: k });
    return !trainable && t.ndim === 2 && !k.startsWith('wpe') ? convertFrozen(t, computeDtype) : t;
  };
  const tokBuf = readFileSync(join(dir, 'tokens.i32'));
  const tokens = new Int32Array(tokBuf.buffer.slice(tokBuf.byteOffset, tokBuf.byteOffset + tokBuf.byteLength));
  const inputIds = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    inputIds.set(tokens.subarray(b * (T + 1), b * (T + 1) + T), b * T);
    targets.set(tokens.subarray(b * (T + 1) + 1, (b + 1) * (T + 1)), b * T);
  }
  const wte = load('wte');
  const wpe = F.slice(load('wpe'), 0, 0, T);
  const layers = Array.from({ length: L }, (_, l) => {
    const p = `h${l}.`;
    return {
      ln1g: load(p + 'ln1_g'),
      ln1b: load(p + 'ln1_b'),
      attnW: load(p + 'attn_w'),
      attnB: load(p + 'attn_b'),
      projW: load(p + 'proj_w'),
      projB: load(p + 'proj_b'),
      ln2g: load(p + 'ln2_g'),
      ln2b: load(p + 'ln2_b'),
      fcW: load(p + 'fc_w'),
      fcB: load(p + 'fc_b'),
      fcprojW: load(p + 'fcproj_w'),
      fcprojB: load(p + 'fcproj_b'),
      qA: load(p + 'lora_qA', true),
      qB: load(p + 'lora_qB', true),
      vA: load(p + 'lora_vA', true),
      vB: load(p + 'lora_vB', true),
    };
  });
  const lnfg = load('lnf_g');
  const lnfb = load('lnf_b');
  const lora = layers.flatMap((l) => [l.qA, l.qB, l.vA, l.vB]);
  const loss = (): Tensor => {
    let x = F.add(F.embedding(wte, inputIds, [B, T]), wpe);
    for (const l of layers) {
      const a = F.layerNorm(x, l.ln1g, l.ln1b, tr.ln_eps);
      // c_attn with the q and v LoRA updates added into its q and v columns by their own GEMMs, then
      // attention straight from the fused [B, T, 3d] projection: no head is copied either way.
      const qkv = F.loraLinear(
        a,
        l.attnW,
        l.attnB,
        [
          { A: l.qA, B: l.qB, scale, inOut: true },
          { A: l.vA, B: l.vB, scale, column: 2 * d, inOut: true },
        ],
        { weightInOut: true },
      );
      const o = F.packedAttention(qkv, h, { causal: true });
      x = F.add(x, F.linear(o, l.projW, l.projB, { weightInOut: true }));
      const m = F.gelu(
        F.linear(F.layerNorm(x, l.ln2g, l.ln2b, tr.ln_eps), l.fcW, l.fcB, { weightInOut: true }),
        'tanh',
      );
      x = F.add(x, F.linear(m, l.fcprojW, l.fcprojB, { weightInOut: true }));
    }
    // The tied head and the loss in row chunks: the [tokens, 50257] logits never exist in full.
    return F.linearCrossEntropy(F.layerNorm(x, lnfg, lnfb, tr.ln_eps), wte, targets);
  };

  const opt = new AdamW(lora, { lr: tr.lr, betas: [tr.beta1, tr.beta2], eps: tr.eps, weightDecay: tr.wd });
  return { man, tokens: B * T, layers, loss, opt };
}

/** Times `steps` LoRA steps (the median skips the first, warm-up step). */
export function runLoraStep(
  weightsDir: string,
  size: string,
  steps: number,
  computeDtype: ComputeDtype = 'float32',
): LoraStepResult {
  const { man, tokens, layers, loss, opt } = buildLoraStep(weightsDir, size, computeDtype);
  const L = layers.length;
  const losses: number[] = [];
  const times: number[] = [];
  let gradNorms: Record<string, number> = {};
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now();
    opt.zeroGrad();
    const l = loss();
    l.backward();
    if (s === 0) {
      const norm = (t: Tensor): number => Math.sqrt(t.grad!.reduce((acc, g) => acc + g * g, 0));
      gradNorms = {
        'h0.lora_qB': norm(layers[0]!.qB),
        'h0.lora_vB': norm(layers[0]!.vB),
        [`h${L - 1}.lora_qB`]: norm(layers[L - 1]!.qB),
      };
    }
    opt.step();
    times.push((performance.now() - t0) / 1000);
    losses.push(l.item());
  }
  // As the PyTorch baseline: np.median of the steps after the first (the mean of the middle two
  // for an even count).
  const med = median(times.length > 1 ? times.slice(1) : times) ?? NaN;
  return {
    engine: `tunekit-${kernels.name}-${kernels.simd}-${kernels.threads}t`,
    computeDtype,
    size,
    losses,
    median_step_s: med,
    tokens_per_s: tokens / med,
    gflops: man.flops.step / med / 1e9,
    maxrss_mb: peakRssMb(),
    grad_norms_step0: gradNorms,
  };
}

/** A profiled run (src/tensor/profile.ts): where the time of a step goes. */
export interface LoraProfileResult {
  size: string;
  computeDtype: ComputeDtype;
  /** Steps profiled (after two unprofiled warm-up steps). */
  steps: number;
  profile: Profile;
  /** `formatProfile` of the profile, per step. */
  table: string;
}

/**
 * Two warm-up steps (the heap grows to its steady state: page faults of the first steps are not
 * the step's), then `steps` steps under the profiler (the optimizer in its own section). A
 * separate run from `runLoraStep`, so the timed figures never carry the profiler's cost.
 */
export async function profileLoraStep(
  weightsDir: string,
  size: string,
  steps: number,
  computeDtype: ComputeDtype = 'float32',
): Promise<LoraProfileResult> {
  const { loss, opt } = buildLoraStep(weightsDir, size, computeDtype);
  const step = (p: Profiler | null): void => {
    opt.zeroGrad();
    loss().backward();
    if (p) p.section('optimizer', () => opt.step());
    else opt.step();
  };
  step(null);
  step(null);
  const p = new Profiler().start();
  for (let s = 0; s < steps; s++) step(p);
  const profile = await p.stop();
  return { size, computeDtype, steps, profile, table: formatProfile(profile, steps) };
}

// Run as a child process by bench/run.ts so peak memory is this workload's alone.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const profiled = args.includes('--profile');
  const [size, steps, weights, dtype] = args.filter((a) => a !== '--profile') as [
    string | undefined,
    string | undefined,
    string | undefined,
    string | undefined,
  ];
  if (!size || !steps || !weights)
    throw new Error('usage: node dist/bench/lora-step.js SIZE STEPS WEIGHTS_DIR [float32|bfloat16|int8] [--profile]');
  const cd = parseComputeDtype(dtype ?? 'float32', 'compute dtype');
  console.log(
    JSON.stringify(
      profiled
        ? await profileLoraStep(weights, size, Number(steps), cd)
        : runLoraStep(weights, size, Number(steps), cd),
    ),
  );
}
