/**
 * Gradient checkpointing recomputes each block in backward: gradients equal the normal path (LoRA
 * with dropout, whose masks are replayed, and full fine-tuning), and generation is unaffected.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loraConfig } from '../../src/peft/lora/config.js';
import { getPeftModel } from '../../src/peft/peft-model.js';
import { collateCausalLm } from '../../src/train/collate.js';
import { disableGradientCheckpointing, enableGradientCheckpointing } from '../../src/train/gradient-checkpointing.js';
import { noGrad } from '../../src/tensor/tensor.js';
import { LlamaDecoderLayer } from '../../src/models/llama.js';
import { maxAbsDiff, tinyExamples, tinyLlama } from './helpers.js';

/** Counts block forwards: with checkpointing each block runs twice (forward, then recompute in backward). */
let blockCalls = 0;
const proto = LlamaDecoderLayer.prototype as unknown as { forward: (...a: unknown[]) => unknown };
const original = proto.forward;
proto.forward = function (this: unknown, ...a: unknown[]) {
  blockCalls++;
  return original.apply(this, a);
};

function grads(
  setup: (m: ReturnType<typeof tinyLlama>) => void,
  checkpoint: boolean,
): { loss: number; grads: Float32Array[]; calls: number } {
  blockCalls = 0;
  const m = tinyLlama();
  setup(m);
  if (checkpoint) assert.equal(enableGradientCheckpointing(m), 2);
  m.train();
  const b = collateCausalLm(tinyExamples(3), { padTokenId: 2 });
  const out = m.forward({
    inputIds: b.inputIds,
    batchSize: b.batchSize,
    attentionMask: b.attentionMask,
    labels: b.labels,
  });
  out.loss!.backward();
  return {
    loss: out.loss!.item(),
    grads: m.trainableParameters().map(([, t]) => t.grad ?? new Float32Array(t.size)),
    calls: blockCalls,
  };
}

for (const [name, setup] of [
  [
    'LoRA with dropout 0.2',
    (m: ReturnType<typeof tinyLlama>) => {
      getPeftModel(m, loraConfig({ targetModules: ['q_proj', 'v_proj', 'up_proj'], r: 4, loraDropout: 0.2, seed: 3 }));
    },
  ],
  [
    'full fine-tuning',
    (m: ReturnType<typeof tinyLlama>) => {
      m.freeze(false);
    },
  ],
] as const) {
  test(`gradient checkpointing: ${name}: loss and every gradient equal the normal path`, () => {
    const a = grads(setup, false);
    const b = grads(setup, true);
    assert.equal(a.loss, b.loss);
    assert.deepEqual([a.calls, b.calls], [2, 4], 'each of the 2 blocks is recomputed once');
    assert.equal(a.grads.length, b.grads.length);
    let norm = 0;
    a.grads.forEach((g, i) => {
      norm = Math.max(norm, ...g.map(Math.abs));
      assert.ok(maxAbsDiff(g, b.grads[i]!) <= 1e-7, `parameter ${i}: ${maxAbsDiff(g, b.grads[i]!)}`);
    });
    assert.ok(norm > 0, 'gradients are not all zero');
  });
}

test('gradient checkpointing leaves generation (KV cache) and inference alone, and can be turned off', () => {
  const m = tinyLlama();
  const ids = Int32Array.from([1, 5, 6, 7]);
  const plain = noGrad(() => m.forward({ inputIds: ids }).logits.f32);
  enableGradientCheckpointing(m);
  const cache = m.newCache();
  const cached = noGrad(() => m.forward({ inputIds: ids, cache }).logits.f32);
  assert.equal(maxAbsDiff(plain, cached), 0);
  disableGradientCheckpointing(m);
  assert.ok(!Object.prototype.hasOwnProperty.call(m.model.layers[0], 'forward'));
});
