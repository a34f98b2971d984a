/**
 * The evidence every PEFT method owes on stories260K (issue 8): a short run lowers the loss, the
 * base weights stay bit-for-bit, only the method's parameters get gradients, save -> load gives
 * identical logits, merged equals unmerged within 1e-5 (layer methods).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LlamaForCausalLM } from '../../src/models/llama.js';
import type { PeftConfigBase } from '../../src/peft/config.js';
import { PeftModel, getPeftModel } from '../../src/peft/peft-model.js';
import { AdamW } from '../../src/train/optim.js';
import * as F from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { noGrad } from '../../src/tensor/tensor.js';
import { maxDiff } from './peft-folder.js';
import { assetPath } from './shared.js';

const STORIES = 'stories260K-hf';

/** Token windows from the model's own greedy-ish vocabulary range (fixed, deterministic). */
function batch(): { inputIds: Int32Array; batchSize: number; labels: Int32Array } {
  const rng = new Rng(5);
  const ids = Int32Array.from({ length: 2 * 24 }, () => 3 + rng.int(300));
  return { inputIds: ids, batchSize: 2, labels: ids };
}

/** The evidence list of the issue, for one method config. */
export function checkMethod(
  name: string,
  config: PeftConfigBase,
  opts: {
    merge: boolean;
    steps?: number;
    lr?: number;
    expectPrefix: RegExp;
    transform?: (p: PeftModel<LlamaForCausalLM>) => void;
  },
): void {
  const dir = assetPath(STORIES)!;
  const model = LlamaForCausalLM.fromPretrained(dir);
  const before = new Map(model.namedParameters().map(([p, t]) => [p, Float32Array.from(t.f32)]));
  const peft = getPeftModel(model, config);
  opts.transform?.(peft);
  const trainable = peft.trainableParameters();
  assert.ok(trainable.length > 0, `${name}: something trains`);
  for (const [p] of trainable) assert.match(p, opts.expectPrefix, `${name}: only the method's parameters train (${p})`);
  const b = batch();
  const optim = new AdamW(
    trainable.map(([, t]) => t),
    { lr: opts.lr ?? 0.02, weightDecay: 0 },
  );
  const losses: number[] = [];
  peft.train();
  for (let s = 0; s < (opts.steps ?? 12); s++) {
    optim.zeroGrad();
    const out = peft.forward(b);
    const extra = peft.extraLoss();
    const loss = extra ? F.add(out.loss!, extra) : out.loss!;
    loss.backward();
    for (const [p, t] of peft.namedParameters()) {
      if (!t.requiresGrad) assert.equal(t.grad, null, `${name}: frozen ${p} got a gradient`);
    }
    optim.step();
    losses.push(loss.item());
  }
  peft.eval();
  assert.ok(
    losses[losses.length - 1]! < losses[0]! - 0.05,
    `${name}: loss ${losses[0]} -> ${losses[losses.length - 1]}`,
  );
  // Base weights bit-for-bit.
  let compared = 0;
  for (const [p, t] of model.namedParameters()) {
    if (/(^|\.)(lora_|ia3_|moe_|adapters\.)|modules_to_save/.test(p)) continue;
    const orig = before.get(p.replace(/\.base_layer\./g, '.').replace(/\.original_module\./g, '.'));
    assert.ok(orig, `${name}: ${p} is not a base parameter`);
    assert.deepEqual(t.f32, orig, `${name}: base weight ${p} changed`);
    compared++;
  }
  assert.equal(compared, before.size, `${name}: every base weight compared`);
  const probe = Int32Array.from([1, 403, 261, 17, 88, 301]);
  const logits = noGrad(() => peft.forward({ inputIds: probe }).logits.f32);
  const folder = mkdtempSync(join(tmpdir(), `tunekit-${name}-`));
  try {
    peft.savePretrained(folder);
    const cfg = JSON.parse(readFileSync(join(folder, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(cfg.peft_type, config.peftType);
    const loaded = PeftModel.fromPretrained(LlamaForCausalLM.fromPretrained(dir), folder, {
      onWarning: (m) => assert.fail(m),
    });
    const again = noGrad(() => loaded.forward({ inputIds: probe }).logits.f32);
    assert.deepEqual(again, logits, `${name}: save -> load gives identical logits`);
    if (opts.merge) {
      const merged = loaded.mergeAndUnload();
      assert.equal(merged.namedParameters().filter(([p]) => /lora_|ia3_|base_layer/.test(p)).length, 0);
      const m = noGrad(() => merged.forward({ inputIds: probe }).logits.f32);
      assert.ok(maxDiff(m, logits) < 1e-5, `${name}: merged vs unmerged ${maxDiff(m, logits)}`);
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
