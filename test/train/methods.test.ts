/**
 * train() with every PEFT method and with full and partial ("freeze") fine-tuning, on stories260K:
 * the loss falls, only the method's weights change (every base weight bit-identical, except what
 * full/freeze trains), and a run resumed from a checkpoint ends bit-identical to one never stopped
 * (so the method's weights, P-tuning's encoder and the MoE router included, are restored exactly).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors } from '../../src/io/safetensors.js';
import { LlamaForCausalLM } from '../../src/models/llama.js';
import type { Module } from '../../src/nn/module.js';
import { bottleneckConfig } from '../../src/peft/bottleneck/config.js';
import type { PeftConfigBase } from '../../src/peft/config.js';
import { ia3Config } from '../../src/peft/ia3/config.js';
import { loraConfig } from '../../src/peft/lora/config.js';
import { moeLoraConfig } from '../../src/peft/moe-lora/config.js';
import { getPeftModel } from '../../src/peft/peft-model.js';
import { pTuningConfig, prefixTuningConfig, promptTuningConfig } from '../../src/peft/prompt/config.js';
import { Rng } from '../../src/tensor/random.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { causalLmLossFn, collateCausalLm, type LmExample } from '../../src/train/collate.js';
import { freezeExcept } from '../../src/train/freeze.js';
import { evaluate, train, type TrainResult } from '../../src/train/trainer.js';
import { repoRoot } from '../helpers/shared.js';

const STORIES = join(repoRoot, 'assets', 'stories260K');

/** Two token sequences (fixed), four copies each: something a few steps can start to learn. */
function data(): LmExample[] {
  const rng = new Rng(11);
  const seqs = [0, 1].map(() => Array.from({ length: 16 }, () => 3 + rng.int(300)));
  return Array.from({ length: 8 }, (_, i) => {
    const ids = seqs[i % 2] ?? [];
    return { inputIds: ids, labels: ids };
  });
}

interface Case {
  name: string;
  lr: number;
  /** Apply the method to a fresh base model; returns the module to train. */
  setup(model: LlamaForCausalLM): Module;
  /** Paths (in the trained module) of exactly the weights that may train. */
  trains: RegExp;
  /** A trainable path that must be in the checkpoint (the encoder, the router...). */
  mustSave?: RegExp;
}

const peft =
  (config: PeftConfigBase) =>
  (m: LlamaForCausalLM): Module =>
    getPeftModel(m, config);

const CASES: Case[] = [
  {
    name: 'LoRA',
    lr: 1e-2,
    setup: peft(loraConfig({ targetModules: ['q_proj', 'v_proj'], r: 4, loraAlpha: 8, seed: 1 })),
    trains: /\.lora_[AB]\.default\.weight$/,
  },
  {
    name: 'DoRA',
    lr: 1e-2,
    setup: peft(loraConfig({ targetModules: ['q_proj', 'v_proj'], r: 4, loraAlpha: 8, useDora: true, seed: 1 })),
    trains: /\.lora_([AB]\.default\.weight|magnitude_vector\.default)$/,
    mustSave: /lora_magnitude_vector/,
  },
  { name: 'IA3', lr: 5e-2, setup: peft(ia3Config({})), trains: /\.ia3_l\.default$/ },
  {
    name: 'bottleneck adapter',
    lr: 1e-2,
    setup: peft(bottleneckConfig({ architecture: 'pfeiffer', reductionFactor: 8, originalLnBefore: false })),
    trains: /\.adapters\.default\./,
  },
  {
    name: 'prompt tuning',
    lr: 5e-2,
    setup: peft(promptTuningConfig({ numVirtualTokens: 4 })),
    trains: /^prompt_encoder\.default\./,
  },
  {
    name: 'P-tuning (MLP encoder)',
    lr: 1e-2,
    setup: peft(pTuningConfig({ numVirtualTokens: 4, encoderHiddenSize: 32 })),
    trains: /^prompt_encoder\.default\./,
    mustSave: /^prompt_encoder\.default\..*mlp/,
  },
  {
    name: 'prefix tuning',
    lr: 1e-2,
    setup: peft(prefixTuningConfig({ numVirtualTokens: 4, prefixProjection: true, encoderHiddenSize: 32 })),
    trains: /^prompt_encoder\.default\./,
  },
  {
    name: 'MoE-LoRA',
    lr: 1e-2,
    setup: peft(
      moeLoraConfig({
        targetModules: ['q_proj', 'v_proj'],
        r: 4,
        loraAlpha: 8,
        numExperts: 3,
        topK: 2,
        routerAuxLossCoef: 0.05,
      }),
    ),
    trains: /\.moe_lora\.default\./,
    mustSave: /\.moe_lora\.default\.router\.weight$/,
  },
  {
    name: 'full',
    lr: 3e-3,
    setup: (m) => m.freeze(false),
    trains: /./,
  },
  {
    name: 'freeze (last 2 blocks + final norm)',
    lr: 3e-3,
    setup: (m) => {
      const trained = freezeExcept(m, { lastLayers: 2, modules: ['norm'] });
      assert.ok(trained.includes('model.norm.weight') && trained.includes('model.layers.4.mlp.down_proj.weight'));
      assert.ok(
        !trained.some((p) => /layers\.[0-2]\.|embed_tokens|input_layernorm/.test(p) && !/layers\.[34]\./.test(p)),
      );
      return m;
    },
    trains: /^model\.(layers\.[34]\.|norm\.weight$)/,
  },
];

const collate = (e: LmExample[]) => collateCausalLm(e, { padTokenId: 0 });
const loss = causalLmLossFn();

/** Six steps, a checkpoint every three (nothing written without outDir). */
function trainCase(c: Case, module: Module, outDir: string, resumeFrom?: string, maxSteps = 6): TrainResult {
  return train({
    model: module as LlamaForCausalLM,
    args: {
      batchSize: 4,
      maxSteps,
      saveEvery: outDir ? 3 : 0,
      learningRate: c.lr,
      lrScheduler: 'constant',
      progress: 'none',
      ...(outDir ? { outDir } : {}),
      ...(resumeFrom !== undefined ? { resumeFrom } : {}),
    },
    train: data(),
    collate,
    loss,
  });
}

for (const c of CASES) {
  test(`train() with ${c.name}: loss falls, only its weights change, resume is bit-identical`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'tunekit-methods-'));
    try {
      // Every base weight before the method is applied, by tensor identity (paths change under wrappers).
      const base = LlamaForCausalLM.fromPretrained(STORIES);
      const baseBefore = new Map<Tensor, Float32Array>();
      for (const [, t] of base.namedParameters()) baseBefore.set(t, Float32Array.from(t.f32));
      const trained = c.setup(base);
      const trainable = trained.trainableParameters();
      assert.ok(trainable.length > 0);
      for (const [p] of trainable) assert.match(p, c.trains, `${c.name}: ${p} trains`);
      const startTrainable = trainable.map(([, t]) => Float32Array.from(t.f32));
      const lossBefore = evaluate(trained as LlamaForCausalLM, data(), { collate, loss, batchSize: 8 }).loss;

      const a = join(dir, 'a');
      const straight = trainCase(c, trained, a);
      assert.equal(straight.steps, 6);
      const lossAfter = evaluate(trained as LlamaForCausalLM, data(), { collate, loss, batchSize: 8 }).loss;
      assert.ok(lossAfter < lossBefore - 0.02, `${c.name}: loss ${lossBefore} -> ${lossAfter}`);

      // Only the method's weights changed; every one of them is a trainable one.
      const trainableSet = new Set(trainable.map(([, t]) => t));
      let frozenCompared = 0;
      for (const [t, before] of baseBefore) {
        if (trainableSet.has(t)) continue;
        assert.deepEqual(t.f32, before, `${c.name}: a frozen base weight changed`);
        frozenCompared++;
      }
      if (c.name !== 'full') assert.ok(frozenCompared > 0);
      else assert.equal(frozenCompared, 0, 'full fine-tuning trains every base weight');
      const moved = trainable.filter(([, t], i) => t.f32.some((v, k) => v !== startTrainable[i]?.[k]));
      assert.ok(moved.length > 0, `${c.name}: the trainable weights moved`);
      const finalA = trainable.map(([, t]) => Float32Array.from(t.f32));

      // The checkpoint holds every trainable weight (encoder / router included).
      const ckpt = join(a, 'checkpoints', 'step-3');
      assert.ok(existsSync(join(ckpt, 'trainer_state.json')));
      const saved = readSafetensors(join(ckpt, 'trainable.safetensors')).tensors;
      assert.deepEqual([...saved.keys()].sort(), trainable.map(([p]) => p).sort());
      if (c.mustSave) {
        const re = c.mustSave;
        assert.ok(
          [...saved.keys()].some((k) => re.test(k)),
          `${c.name}: the checkpoint has ${String(re)}`,
        );
      }

      // Resume from step 3 on a fresh model: the same final weights, bit for bit.
      const resumed = c.setup(LlamaForCausalLM.fromPretrained(STORIES));
      assert.equal(trainCase(c, resumed, join(dir, 'b'), ckpt).steps, 6);
      const finalB = resumed.trainableParameters();
      assert.deepEqual(
        finalB.map(([p]) => p),
        trainable.map(([p]) => p),
      );
      finalB.forEach(([p, t], i) => assert.deepEqual(t.f32, finalA[i], `${c.name}: ${p} after resume`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("MoE-LoRA: train() adds the router's balancing loss; training the bare base model is an error", () => {
  const routerAfterOneStep = (coef: number): Float32Array => {
    const p = getPeftModel(
      LlamaForCausalLM.fromPretrained(STORIES),
      moeLoraConfig({ targetModules: ['q_proj'], r: 2, numExperts: 3, topK: 2, routerAuxLossCoef: coef }),
    );
    trainCase({ ...CASES[0]!, lr: 1e-2 }, p, '', undefined, 1);
    const router = p.trainableParameters().find(([n]) => /router\.weight$/.test(n));
    assert.ok(router);
    return Float32Array.from(router[1].f32);
  };
  const without = routerAfterOneStep(0);
  const withAux = routerAfterOneStep(1);
  assert.ok(
    without.some((v, i) => v !== withAux[i]),
    'the balancing loss (coefficient 1 vs 0) changes the router step',
  );
  const base = LlamaForCausalLM.fromPretrained(STORIES);
  getPeftModel(base, moeLoraConfig({ targetModules: ['q_proj'], r: 2, numExperts: 3 }));
  assert.throws(() => trainCase(CASES[0]!, base, ''), /pass the PeftModel/);
});

test('freezeExcept: bad choices are errors naming what is wrong', () => {
  const m = LlamaForCausalLM.fromPretrained(STORIES);
  assert.throws(() => freezeExcept(m, { lastLayers: 6 }), /lastLayers 6 but model\.layers has 5 blocks/);
  assert.throws(() => freezeExcept(m, { modules: ['lm_head'] }), /"lm_head" matches no parameter/);
  assert.throws(() => freezeExcept(m, {}), /nothing chosen/);
  assert.deepEqual(freezeExcept(m, { modules: ['embed_tokens'] }), ['model.embed_tokens.weight']);
  assert.deepEqual(
    m.trainableParameters().map(([p]) => p),
    ['model.embed_tokens.weight'],
  );
});
