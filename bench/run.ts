/**
 * `npm run bench [-- part ...]`: every benchmark, each printed beside a baseline measured in the
 * same run (numpy for matmul, PyTorch float32 and bf16 autocast for the LoRA step, with the fastest
 * OPENBLAS_CORETYPE probed first and a refusal when PyTorch is not on OpenBLAS; the Python
 * references where they exist).
 * The lora part also prints a whole-step profile (bench/lora-step.ts --profile) of SMALL and GPT2S,
 * float32 and bf16, from separate runs (BENCH_PROFILE_STEPS, default 2).
 * Parts: matmul, lora, attention (Llama's attention block with and without head copies), qwen (a
 * Qwen2.5-0.5B-shaped LoRA step and decode), generate, metrics, judge
 * (the judge web app's load test), peft (default: all). Results also go to bench-results.json.
 * Rounds measured while the machine was busy (bench/machine-load.ts) are flagged in the output.
 * Environment: BENCH_LORA_STEPS (steps per run, default 4), BENCH_LORA_ROUNDS (alternating rounds of
 * the four lora runs, default 1; with more the median ratio is printed), BENCH_PROFILE_STEPS,
 * BENCH_QWEN_STEPS (default 3; the median step is reported).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchAttentionLayout } from './attention-layout.js';
import { benchGenerate } from './generate.js';
import { benchJudgeLoad } from './judge-load.js';
import { benchMatmul } from './matmul.js';
import { benchMetrics } from './metrics.js';
import { benchPeftMethods } from './peft-methods.js';
import type { LoraProfileResult, LoraStepResult } from './lora-step.js';
import { roundLoadProbe, type RoundLoad } from './machine-load.js';
import { median } from './stats.js';
import { sharedDir } from '../test/helpers/shared.js';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const cacheDir = join(repoRoot, '.bench-cache');

const torchScript = join(repoRoot, 'bench/torch_lora.py');
const CORETYPES = ['', 'Cooperlake', 'SkylakeX', 'Haswell'];

/**
 * PyTorch's figures for the same workload (bench/torch_lora.py, float32 or bf16 autocast), or the
 * reason they are missing. `coretype` is OPENBLAS_CORETYPE ('' = unset).
 */
function torchBaseline(
  weights: string,
  size: string,
  steps: number,
  mode: 'f32' | 'bf16',
  coretype: string,
): Record<string, unknown> | string {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return 'PyTorch is not installed (apt-get install python3-torch libopenblas0-pthread)';
  // One torch thread, two OpenBLAS threads (see shared/bench/pytorch-baseline/README.md).
  const env: NodeJS.ProcessEnv = { ...process.env, WEIGHTS: weights, OPENBLAS_NUM_THREADS: '2' };
  delete env.OPENBLAS_L2_SIZE;
  if (coretype) env.OPENBLAS_CORETYPE = coretype;
  else delete env.OPENBLAS_CORETYPE;
  const run = spawnSync('/usr/bin/python3', [torchScript, size, String(steps), mode], {
    env,
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (run.status !== 0) return `torch_lora.py failed: ${run.stderr.trim().split('\n').pop()}`;
  const r = JSON.parse(run.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  // Debian's torch uses whatever libblas.so.3 is installed: the reference BLAS is ~30x slower
  // than OpenBLAS, and a ratio against it would mean nothing.
  const blas = (r.blas as string[] | undefined) ?? [];
  if (!blas.some((l) => /openblas/i.test(l))) {
    return `PyTorch runs on ${blas.join(', ') || 'an unknown BLAS'}, not OpenBLAS: install libopenblas0-pthread (update-alternatives libblas.so.3 -> openblas-pthread); no ratio`;
  }
  return r;
}

/** The fastest OPENBLAS_CORETYPE on this machine (a few SMALL float32 steps each), or why PyTorch cannot run. */
function probeCoretype(weights: string): { best: string; tokensPerS: Record<string, number> } | string {
  const tokensPerS: Record<string, number> = {};
  for (const ct of CORETYPES) {
    const r = torchBaseline(weights, 'SMALL', 3, 'f32', ct);
    if (typeof r === 'string') return r;
    tokensPerS[ct || 'unset'] = Math.round(r.tokens_per_s as number);
  }
  const best = CORETYPES.reduce(
    (a, b) => ((tokensPerS[b || 'unset'] ?? 0) > (tokensPerS[a || 'unset'] ?? 0) ? b : a),
    '',
  );
  return { best, tokensPerS };
}

function ensureWeights(): string | null {
  const gen = join(sharedDir() ?? '', 'bench/pytorch-baseline/gen_weights.py');
  const out = join(cacheDir, 'lora-bench');
  if (existsSync(join(out, 'GPT2S', 'manifest.json'))) return out;
  if (!existsSync(gen)) return null;
  mkdirSync(out, { recursive: true });
  const run = spawnSync('python3', [gen, out], { encoding: 'utf8' });
  if (run.status !== 0) {
    console.log(`  cannot generate the shared weights: ${run.stderr.trim().split('\n').pop()}`);
    return null;
  }
  return out;
}

function ours(weights: string, size: string, steps: number, dtype: 'float32' | 'bfloat16'): LoraStepResult {
  const run = spawnSync(
    process.execPath,
    [join(repoRoot, 'dist/bench/lora-step.js'), size, String(steps), weights, dtype],
    { encoding: 'utf8', maxBuffer: 1 << 24 },
  );
  if (run.status !== 0) throw new Error(`lora-step ${size} ${dtype} failed: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as LoraStepResult;
}

/** A separate profiled run of the same step (lora-step.ts --profile), so the timed runs stay clean. */
function ourProfile(
  weights: string,
  size: string,
  steps: number,
  dtype: 'float32' | 'bfloat16',
): LoraProfileResult | string {
  const run = spawnSync(
    process.execPath,
    [join(repoRoot, 'dist/bench/lora-step.js'), size, String(steps), weights, dtype, '--profile'],
    { encoding: 'utf8', maxBuffer: 1 << 24 },
  );
  if (run.status !== 0) return `profiled lora-step ${size} ${dtype} failed: ${run.stderr.trim().split('\n').pop()}`;
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as LoraProfileResult;
}

function benchLora(): Record<string, unknown> {
  const weights = ensureWeights();
  if (!weights) return { skipped: 'needs shared/bench/pytorch-baseline (gen_weights.py) and python3 with numpy' };
  const results: Record<string, unknown> = {};
  const probe = probeCoretype(weights);
  const coretype = typeof probe === 'string' ? '' : probe.best;
  if (typeof probe === 'string') console.log(`  PyTorch baseline unavailable: ${probe}`);
  else
    console.log(
      `  OPENBLAS_CORETYPE probe (PyTorch SMALL tok/s): ${JSON.stringify(probe.tokensPerS)}; using ${coretype || 'unset'}`,
    );
  results.coretypeProbe = probe;
  const steps = Number(process.env.BENCH_LORA_STEPS ?? 4);
  // Rounds alternate the four runs (ours first on even rounds, PyTorch first on odd ones) so a load
  // change on a shared machine hits both sides; with several rounds the median ratio is printed.
  const rounds = Number(process.env.BENCH_LORA_ROUNDS ?? 1);
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error(`BENCH_LORA_ROUNDS must be a positive integer, got ${process.env.BENCH_LORA_ROUNDS}`);
  type Torch = Record<string, unknown> | string;
  for (const size of ['SMALL', 'GPT2S'] as const) {
    const row: Record<string, unknown> = {};
    const line = (name: string, tps: number, mb: number, loss0: number): void =>
      console.log(
        `  ${size.padEnd(6)} ${name.padEnd(22)} ${tps.toFixed(0).padStart(6)} tok/s  ${mb.toFixed(0).padStart(5)} MB peak  step-0 loss ${loss0.toFixed(6)}`,
      );
    const ratio = (a: LoraStepResult, t: Torch): number | null =>
      typeof t === 'string' ? null : a.tokens_per_s / (t.tokens_per_s as number);
    const perRound: Array<Record<string, number | null>> = [];
    // Per round: how busy the machine was apart from us (machine-load.ts) and whether that flags it.
    const roundLoad: RoundLoad[] = [];
    let first: { f32: LoraStepResult; bf16: LoraStepResult; t32: Torch; tbf: Torch } | undefined;
    for (let round = 0; round < rounds; round++) {
      const roundDone = roundLoadProbe();
      const torchRuns = (): [Torch, Torch] =>
        typeof probe === 'string'
          ? [probe, probe]
          : [
              torchBaseline(weights, size, steps, 'f32', coretype),
              torchBaseline(weights, size, steps, 'bf16', coretype),
            ];
      let t32: Torch, tbf: Torch, f32: LoraStepResult, bf16: LoraStepResult;
      if (round % 2 === 0) {
        f32 = ours(weights, size, steps, 'float32');
        bf16 = ours(weights, size, steps, 'bfloat16');
        [t32, tbf] = torchRuns();
      } else {
        [t32, tbf] = torchRuns();
        f32 = ours(weights, size, steps, 'float32');
        bf16 = ours(weights, size, steps, 'bfloat16');
      }
      first ??= { f32, bf16, t32, tbf };
      if (rounds > 1) console.log(`  ${size.padEnd(6)} round ${round + 1} of ${rounds}`);
      line('tunekit float32', f32.tokens_per_s, f32.maxrss_mb, f32.losses[0]!);
      line('tunekit bf16', bf16.tokens_per_s, bf16.maxrss_mb, bf16.losses[0]!);
      for (const [name, t] of [
        ['PyTorch float32', t32],
        ['PyTorch bf16 autocast', tbf],
      ] as const) {
        if (typeof t === 'string') console.log(`  ${size.padEnd(6)} ${name}: unavailable: ${t}`);
        else line(name, t.tokens_per_s as number, t.maxrss_mb as number, (t.losses as number[])[0]!);
      }
      const r = {
        'tunekit f32 / PyTorch f32': ratio(f32, t32),
        'tunekit bf16 / PyTorch f32': ratio(bf16, t32),
        'tunekit bf16 / PyTorch bf16': ratio(bf16, tbf),
        'tunekit bf16 / tunekit f32': bf16.tokens_per_s / f32.tokens_per_s,
      };
      perRound.push(r);
      console.log(
        `  ${size.padEnd(6)} ratios (same run): ${Object.entries(r)
          .map(([k, v]) => `${k} ${v === null ? 'n/a' : `${v.toFixed(2)}x`}`)
          .join(', ')}`,
      );
      const load = roundDone();
      roundLoad.push(load);
      if (load.warning) console.log(`  ${size.padEnd(6)} ${load.warning}`);
    }
    const { f32, bf16, t32, tbf } = first!;
    const ratios = Object.fromEntries(
      Object.keys(perRound[0]!).map((k) => [
        k,
        median(perRound.map((r) => r[k]).filter((v): v is number => v != null)),
      ]),
    );
    const flagged = roundLoad.filter((l) => l.warning).length;
    if (rounds > 1)
      console.log(
        `  ${size.padEnd(6)} median ratios over ${rounds} rounds${flagged ? ` (${flagged} on a busy machine)` : ''}: ${Object.entries(
          ratios,
        )
          .map(([k, v]) => `${k} ${v === null ? 'n/a' : `${v.toFixed(2)}x`}`)
          .join(', ')}`,
      );
    // The bf16 loss curve against float32 on the same weights and tokens (the goal: within 0.5%
    // over 50 steps, BENCH_LORA_STEPS=50), and PyTorch autocast's against its float32 for scale.
    const drift = (a: number[], b: number[]): number =>
      Math.max(...a.map((x, i) => Math.abs(x - (b[i] ?? NaN)) / Math.abs(b[i] ?? NaN)));
    const torchDrift =
      typeof tbf === 'string' || typeof t32 === 'string' ? null : drift(tbf.losses as number[], t32.losses as number[]);
    const lossDrift = { steps: bf16.losses.length, tunekit: drift(bf16.losses, f32.losses), pytorch: torchDrift };
    const pct = (x: number): string => `${(x * 100).toFixed(3)}%`;
    console.log(
      `  ${size.padEnd(6)} bf16 loss vs float32, max relative difference over ${lossDrift.steps} steps: ` +
        `tunekit ${pct(lossDrift.tunekit)}${torchDrift === null ? '' : `, PyTorch autocast ${pct(torchDrift)}`}` +
        ' (goal <= 0.5% over 50 steps)',
    );
    Object.assign(row, {
      tunekit: f32,
      tunekitBf16: bf16,
      pytorch: t32,
      pytorchBf16: tbf,
      ratios,
      perRound,
      roundLoad,
      lossDrift,
    });
    results[size] = row;
  }
  // Where the step time goes (src/tensor/profile.ts), from separate profiled runs.
  const profileSteps = Number(process.env.BENCH_PROFILE_STEPS ?? 2);
  for (const size of ['SMALL', 'GPT2S'] as const) {
    for (const dtype of ['float32', 'bfloat16'] as const) {
      const p = ourProfile(weights, size, profileSteps, dtype);
      console.log(
        `\n  profile ${size} ${dtype} (${profileSteps} profiled steps after two warm-up steps; shares of the step):`,
      );
      console.log(typeof p === 'string' ? `    ${p}` : p.table.replace(/^/gm, '    '));
      Object.assign(results[size] as Record<string, unknown>, { [`profile_${dtype}`]: p });
    }
  }
  return results;
}

/** The Qwen2.5-0.5B-shaped workload (bench/qwen-real.ts) beside PyTorch on the same weights (bench/torch_qwen.py). */
function benchQwen(): Record<string, unknown> {
  const results: Record<string, unknown> = {};
  // Three steps by default: the first pays one-time costs (page faults of ~3 GB, ~40% of it for
  // both sides), the median of three is the steady step.
  const steps = process.env.BENCH_QWEN_STEPS ?? '3';
  const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Record<string, unknown> | string => {
    const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 24, env });
    if (r.status !== 0) return `${args[0]} failed: ${(r.stderr ?? '').trim().split('\n').pop()}`;
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  };
  const torchOk = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
  const torchEnv: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: '2' };
  for (const [ours, theirs] of [
    ['float32', 'f32'],
    ['bfloat16', 'bf16'],
  ] as const) {
    const a = run(process.execPath, [join(repoRoot, 'dist/bench/qwen-real.js'), ours, steps]);
    const b = torchOk
      ? run('/usr/bin/python3', [join(repoRoot, 'bench/torch_qwen.py'), theirs, steps], torchEnv)
      : 'PyTorch is not installed';
    for (const [name, r] of [
      [`tunekit ${ours}`, a],
      [`PyTorch ${theirs}`, b],
    ] as const) {
      if (typeof r === 'string') {
        console.log(`  ${name.padEnd(17)} unavailable: ${r}`);
        continue;
      }
      console.log(
        `  ${name.padEnd(17)} LoRA step ${(r.trainTokensPerS as number).toFixed(1).padStart(7)} tok/s  decode ${(r.decodeTokensPerS as number).toFixed(2).padStart(6)} tok/s  ${(r.maxrssMb as number).toFixed(0).padStart(5)} MB peak  step-0 loss ${(r.losses as number[])[0]!.toFixed(5)}`,
      );
    }
    if (typeof a !== 'string' && typeof b !== 'string') {
      const train = (a.trainTokensPerS as number) / (b.trainTokensPerS as number),
        dec = (a.decodeTokensPerS as number) / (b.decodeTokensPerS as number);
      console.log(
        `  ${ours.padEnd(17)} ratios tunekit/PyTorch (same run): LoRA step ${train.toFixed(2)}x, decode ${dec.toFixed(2)}x`,
      );
    }
    results[ours] = { tunekit: a, pytorch: b };
  }
  return results;
}

const parts: Record<string, () => Record<string, unknown> | Promise<Record<string, unknown>>> = {
  matmul: benchMatmul,
  lora: benchLora,
  attention: benchAttentionLayout,
  qwen: benchQwen,
  generate: benchGenerate,
  metrics: benchMetrics,
  judge: () => benchJudgeLoad(),
  peft: () => benchPeftMethods(),
};

const wanted = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(parts);
const all: Record<string, unknown> = { date: new Date().toISOString() };
for (const name of wanted) {
  const fn = parts[name];
  if (!fn) throw new Error(`unknown bench part "${name}" (known: ${Object.keys(parts).join(', ')})`);
  console.log(`\n== ${name} ==`);
  all[name] = await fn();
}
writeFileSync(join(repoRoot, 'bench-results.json'), JSON.stringify(all, null, 2) + '\n');
console.log('\nwrote bench-results.json');
