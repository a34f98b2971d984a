/**
 * Bottleneck adapters: identity at the start, finite-difference gradients, Houlsby/Pfeiffer
 * placements on BERT, GPT-2 and Llama, and the method's evidence on stories260K.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Linear } from '../../src/nn/layers.js';
import { BertForSequenceClassification } from '../../src/models/bert.js';
import { bottleneckConfig } from '../../src/peft/bottleneck/config.js';
import { BottleneckLayer } from '../../src/peft/bottleneck/layer.js';
import { getPeftModel } from '../../src/peft/peft-model.js';
import * as F from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { checkMethod } from '../helpers/peft-check.js';
import { skipWithoutShared } from '../helpers/shared.js';
import { bertConfig, tinyGpt2, TINY_BERT } from '../helpers/tiny-models.js';

test('bottleneck layer: identity at init, gradients match finite differences', () => {
  const base = new Linear(8, 8, { rng: new Rng(1) }).freeze();
  const layer = new BottleneckLayer(base);
  layer.addAdapter('default', { reductionFactor: 4, act: 'swish', scaling: 1.5, seed: 2 });
  layer.setActive(['default']);
  const x = F.randn([3, 8], new Rng(3), 1, { requiresGrad: true });
  assert.deepEqual(layer.forward(x).f32, base.forward(x).f32);
  const a = layer.adapters.get('default')!;
  a.adapter_up.weight.f32.set(F.randn([8, 2], new Rng(4), 0.5).f32);
  const params = [a.adapter_down[0]!.weight, a.adapter_down[0]!.bias!, a.adapter_up.weight, a.adapter_up.bias!];
  gradcheck('bottleneck', (v) => layer.forward(v), [x, ...params]);
  assert.equal(base.weight.grad, null);
});

test('Houlsby and Pfeiffer placements on BERT and GPT-2 (adapter_down.0 / adapter_up inside, as AdapterHub names them)', () => {
  const bjson = {
    architectures: ['BertForSequenceClassification'],
    ...TINY_BERT,
  };
  const bert = new BertForSequenceClassification(bertConfig(bjson), {
    seed: 1,
    configJson: bjson,
  }).freeze();
  const pb = getPeftModel(bert, bottleneckConfig({ architecture: 'houlsby', taskType: 'SEQ_CLS' }));
  const keys = [...pb.adapterStateDict().keys()];
  assert.ok(keys.includes('base_model.model.bert.encoder.layer.0.output.adapters.adapter_down.0.weight'));
  assert.ok(keys.includes('base_model.model.bert.encoder.layer.1.attention.output.adapters.adapter_up.bias'));
  assert.equal(keys.length, 2 * 2 * 4);
  const gpt = tinyGpt2({}, 1).freeze();
  // Default placement: the block's residual hooks (AdapterHub's output_adapters); a custom Linear
  // target sees its output alone, so Pfeiffer's input (output + residual) is refused there.
  assert.throws(
    () => getPeftModel(gpt, bottleneckConfig({ architecture: 'pfeiffer', targetModules: ['mlp.c_proj'] })),
    /original_ln_before = true .* default placement/,
  );
  const pg = getPeftModel(gpt, bottleneckConfig({ architecture: 'pfeiffer' }));
  assert.deepEqual(
    [...new Set([...pg.adapterStateDict().keys()].map((k) => k.split('.adapters.')[0]))],
    ['base_model.model.transformer.h.0.output_adapters', 'base_model.model.transformer.h.1.output_adapters'],
  );
  assert.throws(() => pg.mergeAndUnload(), /cannot be merged/);
  const pc = getPeftModel(
    tinyGpt2({}, 1).freeze(),
    bottleneckConfig({ architecture: 'pfeiffer', originalLnBefore: false, targetModules: ['mlp.c_proj'] }),
  );
  assert.ok(pc.model.getModule('transformer.h.0.mlp.c_proj') instanceof BottleneckLayer);
});

test('bottleneck adapters on stories260K (Houlsby and Pfeiffer)', { skip: skipWithoutShared('stories260K-hf') }, () => {
  checkMethod('houlsby', bottleneckConfig({ architecture: 'houlsby', reductionFactor: 8 }), {
    merge: false,
    expectPrefix: /\.adapters\.default\./,
  });
  checkMethod('pfeiffer', bottleneckConfig({ architecture: 'pfeiffer', reductionFactor: 8 }), {
    merge: false,
    expectPrefix: /\.adapters\.default\./,
  });
});
