/**
 * `npm run bench [-- part ...]`: every benchmark, each printed beside a baseline measured in the
 * same run (numpy for matmul, PyTorch for the LoRA step, the Python references where they exist).
 * Parts: matmul, lora, generate, metrics, judge (the judge web app's load test), peft (default: all). Results also go to bench-results.json.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchGenerate } from './generate.js';
import { benchJudgeLoad } from './judge-load.js';
import { benchMatmul } from './matmul.js';
import { benchMetrics } from './metrics.js';
import { benchPeftMethods } from './peft-methods.js';
import type { LoraStepResult } from './lora-step.js';
import { sharedDir } from '../test/helpers/shared.js';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const cacheDir = join(repoRoot, '.bench-cache');

/** PyTorch's figures for the same workload, or the reason they are missing. */
function torchBaseline(weights: string, size: string, steps: number): Record<string, unknown> | string {
  const script = join(sharedDir() ?? '', 'bench/pytorch-baseline/torch_ref.py');
  if (!existsSync(script)) return 'shared/bench/pytorch-baseline is absent';
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return 'PyTorch is not installed (apt-get install python3-torch)';
  // The fastest PyTorch configuration on this machine (see the baseline's README).
  const env = { ...process.env, WEIGHTS: weights, OPENBLAS_CORETYPE: 'Cooperlake', OPENBLAS_NUM_THREADS: '2' };
  const run = spawnSync('/usr/bin/python3', [script, size, '1', String(steps)], { env, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (run.status !== 0) return `torch_ref.py failed: ${run.stderr.trim().split('\n').pop()}`;
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
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

function ours(weights: string, size: string, steps: number): LoraStepResult {
  const run = spawnSync(process.execPath, [join(repoRoot, 'dist/bench/lora-step.js'), size, String(steps), weights], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (run.status !== 0) throw new Error(`lora-step ${size} failed: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as LoraStepResult;
}

function benchLora(): Record<string, unknown> {
  const weights = ensureWeights();
  if (!weights) return { skipped: 'needs shared/bench/pytorch-baseline (gen_weights.py) and python3 with numpy' };
  const results: Record<string, unknown> = {};
  for (const [size, steps] of [['SMALL', 8], ['GPT2S', 5]] as const) {
    const mine = ours(weights, size, steps);
    const torch = torchBaseline(weights, size, steps);
    const t = typeof torch === 'string' ? null : torch;
    const ratio = t ? mine.tokens_per_s / (t.tokens_per_s as number) : null;
    console.log(`  ${size.padEnd(6)} tunekit ${mine.tokens_per_s.toFixed(0).padStart(6)} tok/s  ${mine.maxrss_mb.toFixed(0).padStart(5)} MB peak  step-0 loss ${mine.losses[0]!.toFixed(6)}`);
    if (t) {
      console.log(`  ${''.padEnd(6)} PyTorch ${(t.tokens_per_s as number).toFixed(0).padStart(6)} tok/s  ${(t.maxrss_mb as number).toFixed(0).padStart(5)} MB peak  step-0 loss ${(t.losses as number[])[0]!.toFixed(6)}`);
      console.log(`  ${''.padEnd(6)} ratio tunekit/PyTorch: ${ratio!.toFixed(2)}x speed, ${(mine.maxrss_mb / (t.maxrss_mb as number)).toFixed(2)}x memory`);
    } else {
      console.log(`  ${''.padEnd(6)} PyTorch baseline unavailable: ${torch as string}`);
    }
    results[size] = { tunekit: mine, pytorch: torch, speed_ratio: ratio };
  }
  return results;
}

const parts: Record<string, () => Record<string, unknown> | Promise<Record<string, unknown>>> = {
  matmul: benchMatmul,
  lora: benchLora,
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
