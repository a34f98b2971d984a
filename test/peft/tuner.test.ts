/**
 * The shared tuner's rules (PEFT's check_target_module_exists / get_pattern_key) and bad adapter
 * folders, each rejected with an error naming the file, tensor or field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LlamaForCausalLM } from '../../src/models/llama.js';
import { loraConfig, type LoraConfig } from '../../src/peft/lora/config.js';
import { LoRALinear } from '../../src/peft/lora/layer.js';
import { PeftModel, getPeftModel } from '../../src/peft/peft-model.js';
import { candidateModules, expandAllLinear, layerIndex, matchesTarget, patternValue } from '../../src/peft/tuner.js';
import { PEFT_LORA_DEFAULTS, randomValues, writePeftFolder } from '../helpers/peft-folder.js';
import { tinyLlama as tiny } from '../helpers/tiny-models.js';

function tinyLlama(seed = 10, overrides: Record<string, unknown> = {}): LlamaForCausalLM {
  return tiny({ num_hidden_layers: 3, tie_word_embeddings: false, ...overrides }, seed).freeze();
}

test('target matching: exact, dotted suffix, full-match regex, exclusions, layer indices', () => {
  const p = 'model.layers.1.self_attn.q_proj';
  assert.ok(matchesTarget(p, { targetModules: ['q_proj'] }));
  assert.ok(matchesTarget(p, { targetModules: ['self_attn.q_proj'] }));
  assert.ok(matchesTarget(p, { targetModules: [p] }));
  assert.ok(!matchesTarget(p, { targetModules: ['proj'] }), 'a suffix must start at a dot');
  assert.ok(!matchesTarget(p, { targetModules: 'q_proj' }), 'a regex string must match the whole path');
  assert.ok(matchesTarget(p, { targetModules: '.*\\.(q|v)_proj' }));
  assert.ok(!matchesTarget(p, { targetModules: ['q_proj'], excludeModules: ['layers.1.self_attn.q_proj'] }));
  assert.ok(matchesTarget(p, { targetModules: ['q_proj'], layersToTransform: [0, 1] }));
  assert.ok(!matchesTarget(p, { targetModules: ['q_proj'], layersToTransform: 2 }));
  assert.ok(matchesTarget(p, { targetModules: ['q_proj'], layersToTransform: 1, layersPattern: 'layers' }));
  assert.ok(!matchesTarget(p, { targetModules: ['q_proj'], layersToTransform: 1, layersPattern: 'h' }));
  assert.equal(layerIndex('transformer.h.11.attn.c_attn', null), 11);
  assert.equal(layerIndex('bert.encoder.layer.3.attention.self.query', ['layer']), 3);
  assert.equal(layerIndex('lm_head', null), null);
});

test("rank/alpha patterns: PEFT's (.*\\.)?(key)$ rule, first matching key wins", () => {
  const pattern = { 'layers.1.self_attn.q_proj': 16, q_proj: 4, 'model.layers.0.mlp.down_proj': 2 };
  assert.equal(patternValue('model.layers.1.self_attn.q_proj', pattern, 8), 16);
  assert.equal(patternValue('model.layers.2.self_attn.q_proj', pattern, 8), 4);
  assert.equal(patternValue('model.layers.0.mlp.down_proj', pattern, 8), 2);
  assert.equal(patternValue('model.layers.10.mlp.down_proj', pattern, 8), 8);
  assert.equal(
    patternValue('model.layers.1.self_attn.xq_proj', pattern, 8),
    8,
    'a key matches whole path components only',
  );
  assert.equal(
    patternValue('model.layers.1.self_attn.q_proj', { 'layers\\.[01]\\..*q_proj': 3 }, 8),
    3,
    'keys are regular expressions',
  );
});

test('all-linear skips lm_head; null targets use the architecture default; layers_to_transform limits injection', () => {
  const model = tinyLlama();
  assert.deepEqual(expandAllLinear(model, null), [
    'down_proj',
    'gate_proj',
    'k_proj',
    'o_proj',
    'q_proj',
    'up_proj',
    'v_proj',
  ]);
  const all = getPeftModel(model, loraConfig({ targetModules: 'all-linear', r: 2 }));
  assert.equal(all.model.getModule('lm_head').constructor.name, 'Linear');
  assert.equal(candidateModules(model).filter(([, m]) => m instanceof LoRALinear).length, 21);
  assert.deepEqual(
    (all.configOf() as LoraConfig).targetModules,
    ['down_proj', 'gate_proj', 'k_proj', 'o_proj', 'q_proj', 'up_proj', 'v_proj'],
    'saved as the expanded list',
  );
  const def = tinyLlama();
  getPeftModel(def, loraConfig({ r: 2 }));
  assert.deepEqual(
    candidateModules(def)
      .filter(([, m]) => m instanceof LoRALinear)
      .map(([p]) => p.split('.').slice(-1)[0]),
    ['q_proj', 'v_proj', 'q_proj', 'v_proj', 'q_proj', 'v_proj'],
  );
  const some = tinyLlama();
  getPeftModel(some, loraConfig({ targetModules: ['q_proj'], layersToTransform: [0, 2], r: 2 }));
  assert.deepEqual(
    candidateModules(some)
      .filter(([, m]) => m instanceof LoRALinear)
      .map(([p]) => p),
    ['model.layers.0.self_attn.q_proj', 'model.layers.2.self_attn.q_proj'],
  );
  assert.throws(
    () => getPeftModel(tinyLlama(), loraConfig({ targetModules: ['q_proj'], layersToTransform: [7] })),
    /LoRA: no module of the model matches target_modules \["q_proj"\], layers_to_transform \[7\]/,
  );
  assert.throws(
    () => getPeftModel(tinyLlama(), loraConfig({ targetModules: ['lm_head'] })),
    /"lm_head" is the output head/,
  );
});

function goodFolder(): { dir: string; tensors: Record<string, { shape: number[]; data: Float32Array }> } {
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (let l = 0; l < 3; l++)
    for (const t of ['q_proj', 'v_proj']) {
      const out = t === 'q_proj' ? 16 : 8;
      tensors[`base_model.model.model.layers.${l}.self_attn.${t}.lora_A.weight`] = {
        shape: [2, 16],
        data: randomValues(32, l),
      };
      tensors[`base_model.model.model.layers.${l}.self_attn.${t}.lora_B.weight`] = {
        shape: [out, 2],
        data: randomValues(out * 2, l + 9),
      };
    }
  return { dir: writePeftFolder({ ...PEFT_LORA_DEFAULTS, r: 2, lora_alpha: 4 }, tensors), tensors };
}

test('bad adapter folders: each error names the file and the tensor or field', () => {
  const quiet = { onWarning: () => {} };
  const { dir, tensors } = goodFolder();
  const dirs = [dir];
  try {
    PeftModel.fromPretrained(tinyLlama(), dir, quiet);
    const cfgFile = join(dir, 'adapter_config.json');
    const weights = join(dir, 'adapter_model.safetensors');
    // An adapter for another base: hidden size 24 instead of 16.
    assert.throws(
      () => PeftModel.fromPretrained(tinyLlama(10, { hidden_size: 24, intermediate_size: 24 }), dir, quiet),
      (e: Error) =>
        e.message.includes(weights) &&
        /tensor "base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight" has shape \[2, 16\] but the model needs \[2, 24\]/.test(
          e.message,
        ),
    );
    // Missing tensor.
    const missing = { ...tensors };
    delete missing['base_model.model.model.layers.2.self_attn.v_proj.lora_B.weight'];
    const d1 = writePeftFolder({ ...PEFT_LORA_DEFAULTS, r: 2, lora_alpha: 4 }, missing);
    dirs.push(d1);
    assert.throws(
      () => PeftModel.fromPretrained(tinyLlama(), d1, quiet),
      /adapter_model\.safetensors: missing tensor "base_model\.model\.model\.layers\.2\.self_attn\.v_proj\.lora_B\.weight"/,
    );
    // Extra tensor.
    const d2 = writePeftFolder(
      { ...PEFT_LORA_DEFAULTS, r: 2, lora_alpha: 4 },
      {
        ...tensors,
        'base_model.model.model.layers.0.mlp.up_proj.lora_A.weight': { shape: [2, 16], data: randomValues(32, 3) },
      },
    );
    dirs.push(d2);
    assert.throws(
      () => PeftModel.fromPretrained(tinyLlama(), d2, quiet),
      /adapter_model\.safetensors: unexpected tensor "base_model\.model\.model\.layers\.0\.mlp\.up_proj\.lora_A\.weight"/,
    );
    // Unknown peft_type.
    writeFileSync(cfgFile, JSON.stringify({ ...PEFT_LORA_DEFAULTS, peft_type: 'VERA' }));
    assert.throws(
      () => PeftModel.fromPretrained(tinyLlama(), dir, quiet),
      (e: Error) => e.message.includes(cfgFile) && /peft_type "VERA" is not supported/.test(e.message),
    );
    // Wrong field types.
    writeFileSync(cfgFile, JSON.stringify({ ...PEFT_LORA_DEFAULTS, r: '2' }));
    assert.throws(
      () => PeftModel.fromPretrained(tinyLlama(), dir, quiet),
      (e: Error) => e.message.includes(cfgFile) && /field "r" must be a positive integer, got "2"/.test(e.message),
    );
    writeFileSync(cfgFile, JSON.stringify({ ...PEFT_LORA_DEFAULTS, r: 2, target_modules: [1, 2] }));
    assert.throws(
      () => PeftModel.fromPretrained(tinyLlama(), dir, quiet),
      /field "target_modules" must be a list of module names or a regex string, got \[1,2\]/,
    );
    writeFileSync(cfgFile, JSON.stringify({ ...PEFT_LORA_DEFAULTS, r: 2, rank_pattern: { q_proj: 'x' } }));
    assert.throws(
      () => PeftModel.fromPretrained(tinyLlama(), dir, quiet),
      /field "rank_pattern" entry "q_proj" must be a positive integer/,
    );
    writeFileSync(cfgFile, JSON.stringify({ ...PEFT_LORA_DEFAULTS, r: 2, lora_bias: true }));
    assert.throws(() => PeftModel.fromPretrained(tinyLlama(), dir, quiet), /field "lora_bias" = true is not supported/);
    // A target that matches nothing.
    writeFileSync(cfgFile, JSON.stringify({ ...PEFT_LORA_DEFAULTS, r: 2, target_modules: ['c_attn'] }));
    assert.throws(
      () => PeftModel.fromPretrained(tinyLlama(), dir, quiet),
      /LoRA: no module of the model matches target_modules \["c_attn"\]/,
    );
    // Unknown fields: ignored with ONE warning naming them.
    writeFileSync(cfgFile, JSON.stringify({ ...PEFT_LORA_DEFAULTS, r: 2, lora_alpha: 4, brand_new: 1, another: 'x' }));
    const warnings: string[] = [];
    PeftModel.fromPretrained(tinyLlama(), dir, { onWarning: (m) => warnings.push(m) });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /adapter_config\.json: ignoring unknown fields "brand_new", "another"/);
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});
