/**
 * `tunekit demo`: the main job on the embedded default. Loads the real stories260K Llama shipped in
 * assets/, fine-tunes LoRA adapters on a few embedded stories about "Pip the purple penguin",
 * prints the falling loss and the greedy continuation before and after, then saves the adapter in
 * PEFT's format and checks that reloading it reproduces the fine-tuned model.
 */
import type { Command } from 'commander';
import { lstatSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AutoTokenizer } from '../io/tokenizer.js';
import { LlamaForCausalLM } from '../models/llama.js';
import { backend, kernels } from '../native/index.js';
import { generate } from '../generate/generate.js';
import { loraConfig } from '../peft/lora/config.js';
import { PeftModel, getPeftModel } from '../peft/peft-model.js';
import { noGrad } from '../tensor/tensor.js';
import { causalLmLossFn, collateCausalLm, packSequences } from '../train/collate.js';
import { NonFiniteError, train } from '../train/trainer.js';

const packageRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const DEFAULT_MODEL_DIR = join(packageRoot, 'assets', 'stories260K');
const DEMO_TEXT = join(packageRoot, 'assets', 'demo', 'pip-stories.txt');

export interface DemoOptions {
  steps: number;
  lr: number;
  rank: number;
  seed: number;
  out?: string;
  log?: (line: string) => void;
}

/**
 * Checks the options before any expensive work (loading, training), so a bad value fails at once.
 * @throws Error naming the flag and what was expected
 */
export function validateDemoOptions(opts: DemoOptions): void {
  const int = (flag: string, v: number, min: number, why: string): void => {
    if (!Number.isSafeInteger(v) || v < min)
      throw new Error(`--${flag}: expected an integer >= ${min}${why}, got ${v}`);
  };
  int('steps', opts.steps, 1, ' (0 steps would save an untrained adapter)');
  int('rank', opts.rank, 1, ' (the LoRA rank r)');
  int('seed', opts.seed, 0, '');
  if (!Number.isFinite(opts.lr) || opts.lr <= 0) throw new Error(`--lr: expected a finite number > 0, got ${opts.lr}`);
  if (opts.out !== undefined) {
    let isDir: boolean | null = null;
    try {
      isDir = lstatSync(opts.out).isDirectory() || lstatSync(opts.out).isSymbolicLink();
    } catch {
      // absent: created by the save
    }
    if (isDir === false)
      throw new Error(`--out ${opts.out}: exists and is not a folder (the adapter is saved as a folder)`);
  }
}

/**
 * Runs the demo; returns the first and last losses (tests use them).
 * @throws Error before any work for invalid options, and at the first step whose loss or gradient
 *   norm is not finite (training diverged: nothing is saved)
 */
export function runDemo(opts: DemoOptions): {
  firstLoss: number;
  lastLoss: number;
  adapterDir: string;
  before: string;
  after: string;
} {
  validateDemoOptions(opts);
  const log = opts.log ?? ((l: string) => console.log(l));
  const tokenizer = AutoTokenizer.fromPretrained(DEFAULT_MODEL_DIR);
  const model = LlamaForCausalLM.fromPretrained(DEFAULT_MODEL_DIR);
  const eos = model.config.eosTokenIds[0] ?? 2;
  log(
    `tunekit demo: LoRA fine-tuning of stories260K (${(model.numParameters() / 1000).toFixed(0)}K parameters) on ${backend} kernels (${kernels.simd}, ${kernels.threads} thread${kernels.threads === 1 ? '' : 's'})`,
  );

  const stories = readFileSync(DEMO_TEXT, 'utf8')
    .split('\n')
    .filter((l) => l.trim());
  const prompt = tokenizer.encode('Once upon a time, there was a purple penguin named');
  const continue_ = (): string =>
    tokenizer.decode([...prompt, ...generate(model, prompt, { maxNewTokens: 40 }).tokens[0]!], {
      skipSpecialTokens: true,
    });
  const before = continue_();
  log(`\nBefore fine-tuning, greedy: "${before}"`);

  const targets = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
  const config = loraConfig({
    targetModules: targets,
    r: opts.rank,
    loraAlpha: 2 * opts.rank,
    seed: opts.seed,
    baseModelNameOrPath: 'stories260K',
  });
  const peft = getPeftModel(model, config);
  const trainable = model.numParameters(true);
  // Packed rows of 49 tokens (run_clm's group_texts), reshuffled every epoch.
  const rows = packSequences(
    stories.map((st) => tokenizer.encode(st)),
    49,
    eos,
  );
  log(
    `\nLoRA r=${opts.rank} on ${targets.join(', ')}: ${trainable} trainable parameters; ${rows.length * 49} training tokens from ${stories.length} stories`,
  );
  let firstLoss = NaN;
  let lastLoss = NaN;
  const t0 = performance.now();
  try {
    train({
      model,
      args: {
        batchSize: 8,
        maxSteps: opts.steps,
        learningRate: opts.lr,
        lrScheduler: 'constant',
        weightDecay: 0,
        maxGradNorm: 1,
        seed: opts.seed,
        progress: 'none',
      },
      train: rows,
      collate: (ex) => collateCausalLm(ex, { padTokenId: eos }),
      loss: causalLmLossFn(),
      callbacks: {
        onStep: (s) => {
          if (s.step === 1) firstLoss = s.loss;
          lastLoss = s.loss;
          if (s.step === 1 || s.step % 10 === 0 || s.step === opts.steps) {
            log(
              `  step ${String(s.step).padStart(3)}  loss ${s.loss.toFixed(4)}  grad-norm ${s.gradNorm.toFixed(3)}  ${((performance.now() - t0) / s.step).toFixed(0)} ms/step`,
            );
          }
        },
      },
    });
  } catch (e) {
    if (e instanceof NonFiniteError)
      throw new Error(
        `demo: step ${e.step}: the loss is ${e.loss} and the gradient norm ${e.gradNorm}; training diverged (try a smaller --lr than ${opts.lr}). Nothing was saved.`,
        { cause: e },
      );
    throw e;
  }
  model.eval();
  const after = continue_();
  log(`\nAfter fine-tuning, greedy:  "${after}"`);

  const adapterDir = opts.out ?? mkdtempSync(join(tmpdir(), 'tunekit-demo-adapter-'));
  peft.savePretrained(adapterDir);
  const reloaded = LlamaForCausalLM.fromPretrained(DEFAULT_MODEL_DIR);
  PeftModel.fromPretrained(reloaded, adapterDir);
  const probe = Int32Array.from(prompt);
  const a = noGrad(() => model.forward({ inputIds: probe }).logits.f32);
  const b = noGrad(() => reloaded.forward({ inputIds: probe }).logits.f32);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
  log(`\nSaved the adapter (PEFT format) to ${adapterDir}; reloaded on a fresh base: max |Δlogit| = ${diff}`);
  log(
    `Loss ${firstLoss.toFixed(3)} -> ${lastLoss.toFixed(3)} in ${opts.steps} steps (${((performance.now() - t0) / 1000).toFixed(1)} s).`,
  );
  return { firstLoss, lastLoss, adapterDir, before, after };
}

export function register(program: Command): void {
  program
    .command('demo')
    .description(
      'fine-tune LoRA adapters on the embedded stories260K model and show the loss fall (no network, no files needed)',
    )
    .option('--steps <n>', 'training steps', '60')
    .option('--lr <x>', 'AdamW learning rate', '0.01')
    .option('--rank <r>', 'LoRA rank', '8')
    .option('--seed <s>', 'random seed', '0')
    .option('--out <dir>', 'where to save the adapter (default: a new temporary folder)')
    .action((o: { steps: string; lr: string; rank: string; seed: string; out?: string }) => {
      const num = (name: string, v: string, int: boolean): number => {
        const x = Number(v);
        if (!Number.isFinite(x) || (int && !Number.isInteger(x)) || x < 0)
          throw new Error(`--${name}: expected a ${int ? 'non-negative integer' : 'number'}, got "${v}"`);
        return x;
      };
      runDemo({
        steps: num('steps', o.steps, true),
        lr: num('lr', o.lr, false),
        rank: num('rank', o.rank, true),
        seed: num('seed', o.seed, true),
        ...(o.out ? { out: o.out } : {}),
      });
    });
}
