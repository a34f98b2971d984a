/** Module paths through the keyed containers (ModuleDict, ParamDict), as adapter layers use them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Module, ModuleDict, ParamDict } from '../../src/nn/module.js';
import { Tensor } from '../../src/tensor/tensor.js';

class Leaf extends Module {
  weight = new Tensor(new Float32Array([1, 2]), [2], { requiresGrad: true });
}

class Holder extends Module {
  lora_A = new ModuleDict<Leaf>();
  ia3_l = new ParamDict();
}

test('ModuleDict and ParamDict: PEFT-style paths, replacement by path, map operations', () => {
  const h = new Holder();
  h.lora_A.set('default', new Leaf());
  h.lora_A.set('other', new Leaf());
  h.ia3_l.set('default', new Tensor(new Float32Array([3]), [1]));
  assert.deepEqual(
    h.namedParameters().map(([p]) => p),
    ['lora_A.default.weight', 'lora_A.other.weight', 'ia3_l.default'],
  );
  assert.equal(h.getModule('lora_A.other'), h.lora_A.get('other'));
  const replacement = new Tensor(new Float32Array([7]), [1]);
  h.ia3_l.set('default', new Tensor(new Float32Array([3]), [1]));
  h.setParameter('ia3_l.default', replacement);
  assert.equal(h.ia3_l.get('default'), replacement);
  const leaf = new Leaf();
  h.setModule('lora_A.default', leaf);
  assert.equal(h.lora_A.get('default'), leaf);
  assert.throws(() => h.setParameter('lora_A.default', replacement), /"lora_A.default" is not a parameter/);
  assert.throws(() => h.setModule('ia3_l.default', leaf), /"ia3_l.default" is not a module/);
  assert.deepEqual([h.lora_A.keys(), h.lora_A.size, h.ia3_l.size], [['default', 'other'], 2, 1]);
  assert.ok(h.lora_A.delete('other'));
  assert.deepEqual([h.lora_A.has('other'), h.lora_A.size], [false, 1]);
  assert.equal(h.numParameters(), 3);
});
