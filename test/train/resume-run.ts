/**
 * One training run shared by the resume test and its child process: LoRA with dropout (per-layer
 * generators), NEFTune noise (the trainer's generator), shuffled epochs, accumulation, AdamW.
 * Run as a script with TUNEKIT_RESUME_CHILD=<outDir>:<killAtStep>, it kills itself with SIGKILL
 * right after that step (its last checkpoint is the one before).
 */
import { loraConfig } from '../../src/peft/lora/config.js';
import { getPeftModel } from '../../src/peft/peft-model.js';
import { causalLmLossFn, collateCausalLm } from '../../src/train/collate.js';
import { train, type TrainCallbacks } from '../../src/train/trainer.js';
import { tinyExamples, tinyLlama } from './helpers.js';

export function resumeRun(
  outDir: string | undefined,
  opts: { resume?: boolean; callbacks?: TrainCallbacks } = {},
): Float32Array[] {
  const model = tinyLlama();
  getPeftModel(
    model,
    loraConfig({ targetModules: ['q_proj', 'v_proj', 'down_proj'], r: 4, loraAlpha: 8, loraDropout: 0.1, seed: 5 }),
  );
  train({
    model,
    args: {
      batchSize: 2,
      gradientAccumulationSteps: 2,
      maxSteps: 9,
      learningRate: 2e-2,
      warmupSteps: 2,
      lrScheduler: 'cosine',
      seed: 11,
      progress: 'none',
      ...(outDir ? { outDir, saveEvery: 2 } : {}),
      ...(opts.resume ? { resumeFrom: 'latest' } : {}),
    },
    train: tinyExamples(14),
    collate: (e) => collateCausalLm(e, { padTokenId: 2 }),
    loss: causalLmLossFn({ neftuneAlpha: 5 }),
    ...(opts.callbacks ? { callbacks: opts.callbacks } : {}),
  });
  return model.trainableParameters().map(([, t]) => Float32Array.from(t.f32));
}

const child = process.env.TUNEKIT_RESUME_CHILD;
if (child) {
  const at = child.lastIndexOf(':');
  const outDir = child.slice(0, at);
  const killAt = Number(child.slice(at + 1));
  resumeRun(outDir, {
    callbacks: {
      onStep: (s) => {
        if (s.step === killAt) process.kill(process.pid, 'SIGKILL');
      },
    },
  });
}
