/**
 * Adapter folders as Python PEFT writes them (key names, config fields, shapes) load here and give
 * the outputs of an independent float64 reference: the published formulas applied to the file's
 * tensors, written into a plain copy of the base model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { Linear } from '../../src/nn/layers.js';
import type { Module } from '../../src/nn/module.js';
import { BertForSequenceClassification } from '../../src/models/bert.js';
import { GPT2LMHeadModel } from '../../src/models/gpt2.js';
import { LlamaForCausalLM } from '../../src/models/llama.js';
import { PeftModel } from '../../src/peft/peft-model.js';
import { noGrad } from '../../src/tensor/tensor.js';
import { skipWithoutShared, assetPath } from '../helpers/shared.js';
import {
  PEFT_LORA_DEFAULTS,
  maxDiff,
  mergedReference,
  randomValues,
  rowsOutIn,
  toStored,
  writePeftFolder,
} from '../helpers/peft-folder.js';
import { bertConfig, gpt2Config, TINY_BERT, TINY_GPT2 } from '../helpers/tiny-models.js';

const STORIES = 'stories260K-hf';

/** Replace `path`'s weight in a plain model by reference rows. */
function setRows(model: Module, path: string, rows: number[][]): void {
  const l = model.getModule(path) as Linear;
  l.weight.f32.set(toStored(rows, l.weightInOut));
}

function weightRows(model: Module, path: string): number[][] {
  const l = model.getModule(path) as Linear;
  return rowsOutIn(l.weight.f32, l.outFeatures, l.inFeatures, l.weightInOut);
}

const quiet = { onWarning: () => {} };

test(
  'Llama LoRA folder from PEFT with rank_pattern, alpha_pattern and rsLoRA: outputs match the float64 reference',
  { skip: skipWithoutShared(STORIES) },
  () => {
    const dir = assetPath(STORIES)!;
    const base = LlamaForCausalLM.fromPretrained(dir);
    // PEFT's rule: the first key k with re.match(r"(.*\.)?(k)$", name) wins.
    const rankPattern = { 'model.layers.1.self_attn.q_proj': 6, o_proj: 2 };
    const alphaPattern = { 'layers.3.self_attn.v_proj': 12, q_proj: 32 };
    const targets = ['q_proj', 'v_proj', 'o_proj'];
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
    const expect: Array<{ path: string; r: number; alpha: number }> = [];
    let seed = 1;
    for (let l = 0; l < 5; l++)
      for (const t of targets) {
        const path = `model.layers.${l}.self_attn.${t}`;
        const r = path === 'model.layers.1.self_attn.q_proj' ? 6 : t === 'o_proj' ? 2 : 4;
        const alpha = path === 'model.layers.3.self_attn.v_proj' ? 12 : t === 'q_proj' ? 32 : 8;
        const lin = base.getModule(path) as Linear;
        tensors[`base_model.model.${path}.lora_A.weight`] = {
          shape: [r, lin.inFeatures],
          data: randomValues(r * lin.inFeatures, seed++),
        };
        tensors[`base_model.model.${path}.lora_B.weight`] = {
          shape: [lin.outFeatures, r],
          data: randomValues(lin.outFeatures * r, seed++),
        };
        expect.push({ path, r, alpha });
      }
    const folder = writePeftFolder(
      {
        ...PEFT_LORA_DEFAULTS,
        r: 4,
        lora_alpha: 8,
        use_rslora: true,
        target_modules: targets,
        rank_pattern: rankPattern,
        alpha_pattern: alphaPattern,
      },
      tensors,
    );
    try {
      const peft = PeftModel.fromPretrained(LlamaForCausalLM.fromPretrained(dir), folder, quiet);
      const ref = LlamaForCausalLM.fromPretrained(dir);
      for (const { path, r, alpha } of expect) {
        const A = tensors[`base_model.model.${path}.lora_A.weight`]!.data;
        const B = tensors[`base_model.model.${path}.lora_B.weight`]!.data;
        setRows(ref, path, mergedReference(weightRows(ref, path), A, B, r, alpha / Math.sqrt(r)));
      }
      const ids = Int32Array.from([1, 403, 261, 17, 88, 301, 9, 44]);
      const got = noGrad(() => peft.forward({ inputIds: ids }).logits.f32);
      const want = noGrad(() => ref.forward({ inputIds: ids }).logits.f32);
      assert.ok(maxDiff(got, want) < 2e-4, `max |Δlogit| ${maxDiff(got, want)}`);
      // Without the patterns the outputs differ: the patterns were really applied.
      const plain = noGrad(() => base.forward({ inputIds: ids }).logits.f32);
      assert.ok(maxDiff(got, plain) > 1e-2);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  },
);

test(
  'Llama DoRA folder from PEFT (lora_magnitude_vector): outputs and merge match diag(m/‖W+sBA‖)(W+sBA)',
  { skip: skipWithoutShared(STORIES) },
  () => {
    const dir = assetPath(STORIES)!;
    const base = LlamaForCausalLM.fromPretrained(dir);
    const targets = ['q_proj', 'down_proj'];
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
    const paths: string[] = [];
    let seed = 100;
    for (let l = 0; l < 5; l++)
      for (const t of targets) {
        const path = `model.layers.${l}.${t === 'q_proj' ? 'self_attn' : 'mlp'}.${t}`;
        const lin = base.getModule(path) as Linear;
        tensors[`base_model.model.${path}.lora_A.weight`] = {
          shape: [4, lin.inFeatures],
          data: randomValues(4 * lin.inFeatures, seed++),
        };
        tensors[`base_model.model.${path}.lora_B.weight`] = {
          shape: [lin.outFeatures, 4],
          data: randomValues(lin.outFeatures * 4, seed++),
        };
        const m = randomValues(lin.outFeatures, seed++, 0.2).map((x) => 1 + x);
        tensors[`base_model.model.${path}.lora_magnitude_vector`] = { shape: [lin.outFeatures], data: m };
        paths.push(path);
      }
    const folder = writePeftFolder(
      { ...PEFT_LORA_DEFAULTS, r: 4, lora_alpha: 16, use_dora: true, target_modules: targets },
      tensors,
    );
    try {
      const model = LlamaForCausalLM.fromPretrained(dir);
      const peft = PeftModel.fromPretrained(model, folder, quiet);
      const ref = LlamaForCausalLM.fromPretrained(dir);
      for (const path of paths) {
        const t = (k: string): Float32Array => tensors[`base_model.model.${path}.${k}`]!.data;
        setRows(
          ref,
          path,
          mergedReference(
            weightRows(ref, path),
            t('lora_A.weight'),
            t('lora_B.weight'),
            4,
            4,
            t('lora_magnitude_vector'),
          ),
        );
      }
      const ids = Int32Array.from([1, 12, 99, 250, 7, 3]);
      const got = noGrad(() => peft.forward({ inputIds: ids }).logits.f32);
      const want = noGrad(() => ref.forward({ inputIds: ids }).logits.f32);
      assert.ok(maxDiff(got, want) < 2e-4, `DoRA forward vs reference: ${maxDiff(got, want)}`);
      const merged = peft.mergeAndUnload();
      const after = noGrad(() => merged.forward({ inputIds: ids }).logits.f32);
      assert.ok(maxDiff(after, got) < 1e-5, `merged vs unmerged DoRA: ${maxDiff(after, got)}`);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  },
);

test('GPT-2 Conv1D LoRA folder from PEFT (fan_in_fan_out, A/B in Linear orientation): outputs match the reference', () => {
  const json = {
    ...TINY_GPT2,
    n_inner: 40,
    activation_function: 'gelu_new',
  };
  const make = (): GPT2LMHeadModel =>
    new GPT2LMHeadModel(gpt2Config(json), { seed: 3, configJson: json }).eval().freeze();
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (let l = 0; l < 2; l++) {
    const p = `base_model.model.transformer.h.${l}.attn.c_attn`;
    tensors[`${p}.lora_A.weight`] = { shape: [4, 16], data: randomValues(64, 10 + l) };
    tensors[`${p}.lora_B.weight`] = { shape: [48, 4], data: randomValues(192, 20 + l) };
  }
  const folder = writePeftFolder(
    { ...PEFT_LORA_DEFAULTS, r: 4, lora_alpha: 8, fan_in_fan_out: true, target_modules: ['c_attn'] },
    tensors,
  );
  try {
    const peft = PeftModel.fromPretrained(make(), folder, quiet);
    const ref = make();
    for (let l = 0; l < 2; l++) {
      const path = `transformer.h.${l}.attn.c_attn`;
      const t = (k: string): Float32Array => tensors[`base_model.model.${path}.${k}`]!.data;
      setRows(ref, path, mergedReference(weightRows(ref, path), t('lora_A.weight'), t('lora_B.weight'), 4, 2));
    }
    const ids = Int32Array.from([3, 14, 15, 9, 26, 5]);
    const got = noGrad(() => peft.forward({ inputIds: ids }).logits.f32);
    const want = noGrad(() => ref.forward({ inputIds: ids }).logits.f32);
    assert.ok(maxDiff(got, want) < 1e-5, `GPT-2 LoRA vs reference: ${maxDiff(got, want)}`);
    assert.ok(
      maxDiff(
        got,
        noGrad(() => make().forward({ inputIds: ids }).logits.f32),
      ) > 1e-3,
    );
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

test('BERT sequence-classification LoRA folder with a modules_to_save classifier: the trained head is restored', () => {
  const json = {
    architectures: ['BertForSequenceClassification'],
    ...TINY_BERT,
    id2label: { 0: 'neg', 1: 'neu', 2: 'pos' },
    label2id: { neg: 0, neu: 1, pos: 2 },
  };
  const make = (): BertForSequenceClassification =>
    new BertForSequenceClassification(bertConfig(json), { seed: 4, configJson: json }).eval();
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {
    'base_model.model.classifier.weight': { shape: [3, 16], data: randomValues(48, 50, 0.5) },
    'base_model.model.classifier.bias': { shape: [3], data: randomValues(3, 51, 0.5) },
  };
  for (let l = 0; l < 2; l++)
    for (const t of ['query', 'value']) {
      const p = `base_model.model.bert.encoder.layer.${l}.attention.self.${t}`;
      tensors[`${p}.lora_A.weight`] = { shape: [2, 16], data: randomValues(32, 60 + l * 2 + (t === 'query' ? 0 : 1)) };
      tensors[`${p}.lora_B.weight`] = { shape: [16, 2], data: randomValues(32, 70 + l * 2 + (t === 'query' ? 0 : 1)) };
    }
  const folder = writePeftFolder(
    {
      ...PEFT_LORA_DEFAULTS,
      task_type: 'SEQ_CLS',
      r: 2,
      lora_alpha: 4,
      target_modules: ['query', 'value'],
      modules_to_save: ['classifier', 'score'],
    },
    tensors,
  );
  try {
    const peft = PeftModel.fromPretrained(make(), folder, quiet);
    const ref = make();
    for (let l = 0; l < 2; l++)
      for (const t of ['query', 'value']) {
        const path = `bert.encoder.layer.${l}.attention.self.${t}`;
        const g = (k: string): Float32Array => tensors[`base_model.model.${path}.${k}`]!.data;
        setRows(ref, path, mergedReference(weightRows(ref, path), g('lora_A.weight'), g('lora_B.weight'), 2, 2));
      }
    const head = ref.classifier as Linear;
    head.weight.f32.set(tensors['base_model.model.classifier.weight']!.data);
    head.bias!.f32.set(tensors['base_model.model.classifier.bias']!.data);
    const input = {
      inputIds: Int32Array.from([2, 17, 33, 8, 41, 3, 2, 9, 10, 0]),
      batchSize: 2,
      attentionMask: Uint8Array.from([1, 1, 1, 1, 1, 1, 1, 1, 0, 0]),
    };
    const got = noGrad(() => peft.forward(input).logits.f32);
    const want = noGrad(() => ref.forward(input).logits.f32);
    assert.ok(maxDiff(got, want) < 1e-5, `BERT LoRA + classifier vs reference: ${maxDiff(got, want)}`);
    // The saved adapter carries the classifier under PEFT's key again.
    const keys = [...peft.adapterStateDict().keys()];
    assert.ok(keys.includes('base_model.model.classifier.weight') && keys.includes('base_model.model.classifier.bias'));
    assert.equal(keys.length, Object.keys(tensors).length);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});
