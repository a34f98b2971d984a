/**
 * AdapterHub bottleneck adapters on GPT-2 and Llama-family decoders, in AdapterHub's decoder-block
 * placement: `attention_adapters(attn_output, residual, None)` / `output_adapters(mlp_output,
 * residual, None)` (original_ln_before true = Pfeiffer's input a + r). A folder written as
 * AdapterHub writes it loads and matches a float64 adapter written here from AdapterHub's formula
 * (Adapter.pre_forward / forward / post_forward with no layer norm), in eval and, for GPT-2, in
 * train mode with dropout (AdapterHub's order: resid_dropout before the adapter).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors, type RawTensor } from '../../src/io/safetensors.js';
import { GPT2LMHeadModel } from '../../src/models/gpt2.js';
import { LlamaForCausalLM } from '../../src/models/llama.js';
import type { DecoderForCausalLM } from '../../src/models/causal-lm.js';
import { Module } from '../../src/nn/module.js';
import { loadAdapterHub, saveAdapterHub } from '../../src/peft/bottleneck/adapterhub.js';
import { bottleneckConfig } from '../../src/peft/bottleneck/config.js';
import { DecoderBottleneckLayer } from '../../src/peft/bottleneck/layer.js';
import { ResidualAdd } from '../../src/models/residual.js';
import { getPeftModel } from '../../src/peft/peft-model.js';
import * as F from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { assertClose } from '../helpers/close.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { gpt2Config, llamaConfig } from '../helpers/tiny-models.js';

const D = 16,
  BOT = 4; // reduction_factor 4
const gjson = {
  architectures: ['GPT2LMHeadModel'],
  model_type: 'gpt2',
  vocab_size: 40,
  n_embd: D,
  n_head: 4,
  n_layer: 2,
  n_positions: 32,
};
const ljson = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 40,
  hidden_size: D,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 64,
  rms_norm_eps: 1e-5,
  tie_word_embeddings: false,
};
const gpt2 = (json: Record<string, unknown> = gjson): GPT2LMHeadModel =>
  new GPT2LMHeadModel(gpt2Config(json), { seed: 3, configJson: json }).freeze();
const llama = (): LlamaForCausalLM => new LlamaForCausalLM(llamaConfig(ljson), { seed: 7, configJson: ljson }).freeze();

/** AdapterHub's BnConfig.to_dict() (seq_bn = Pfeiffer), with overrides. */
function bnConfig(over: Record<string, unknown>): Record<string, unknown> {
  return {
    adapter_residual_before_ln: false,
    architecture: 'bottleneck',
    cross_adapter: false,
    dropout: 0.0,
    init_weights: 'bert',
    inv_adapter: null,
    is_parallel: false,
    leave_out: [],
    ln_after: false,
    ln_before: false,
    mh_adapter: false,
    non_linearity: 'relu',
    original_ln_after: true,
    original_ln_before: true,
    output_adapter: true,
    phm_layer: false,
    reduction_factor: 4,
    residual_before_ln: true,
    scaling: 1.0,
    stochastic_depth: 0.0,
    use_gating: false,
    ...over,
  };
}

interface HubAdapter {
  down: Float32Array; // [BOT, D]
  downB: Float32Array;
  up: Float32Array; // [D, BOT]
  upB: Float32Array;
}

/** Random AdapterHub weights for each (layer, location), and the folder's safetensors. */
function hubWeights(
  base: string,
  locations: readonly string[],
  seed: number,
): { adapters: Map<string, HubAdapter>; raw: Map<string, RawTensor> } {
  const rng = new Rng(seed);
  const rnd = (n: number, s: number): Float32Array =>
    Float32Array.from({ length: n }, () => (rng.nextU32() / 2 ** 32 - 0.5) * s);
  const adapters = new Map<string, HubAdapter>();
  const raw = new Map<string, RawTensor>();
  const f32 = (shape: number[], a: Float32Array): RawTensor => ({
    dtype: 'F32',
    shape,
    data: new Uint8Array(a.buffer.slice(0)),
  });
  for (let l = 0; l < 2; l++) {
    for (const loc of locations) {
      const a: HubAdapter = { down: rnd(BOT * D, 1), downB: rnd(BOT, 0.5), up: rnd(D * BOT, 1), upB: rnd(D, 0.2) };
      adapters.set(`${l}.${loc}`, a);
      const p = `${base}.${l}.${loc}.adapters.hub`;
      raw.set(`${p}.adapter_down.0.weight`, f32([BOT, D], a.down));
      raw.set(`${p}.adapter_down.0.bias`, f32([BOT], a.downB));
      raw.set(`${p}.adapter_up.weight`, f32([D, BOT], a.up));
      raw.set(`${p}.adapter_up.bias`, f32([D], a.upB));
    }
  }
  return { adapters, raw };
}

const ACT: Record<string, (z: number) => number> = {
  relu: (z) => Math.max(0, z),
  swish: (z) => z / (1 + Math.exp(-z)),
};

/**
 * AdapterHub's Adapter on a decoder block, in float64 (layer_norm None, original_ln_after true):
 * pre_forward: residual = a (residual_before_ln true); x = a + r (original_ln_before) else a;
 * residual = x (residual_before_ln false). forward: y = scaling·up(act(down(x))) + residual.
 * post_forward: y + r.
 */
class HubReference64 extends Module {
  constructor(
    private readonly a: HubAdapter,
    private readonly olb: boolean,
    private readonly rbl: boolean,
    private readonly act: (z: number) => number,
    private readonly scaling: number,
  ) {
    super();
  }

  forward(out: Tensor, residual: Tensor): Tensor {
    const o = out.f32,
      r = residual.f32,
      y = new Float32Array(o.length);
    const { down, downB, up, upB } = this.a;
    for (let t = 0; t < o.length / D; t++) {
      const x = Array.from({ length: D }, (_, i) => (o[t * D + i] ?? NaN) + (this.olb ? (r[t * D + i] ?? NaN) : 0));
      const z = Array.from({ length: BOT }, (_, j) =>
        this.act(x.reduce((s, v, i) => s + v * (down[j * D + i] ?? NaN), downB[j] ?? NaN)),
      );
      for (let i = 0; i < D; i++) {
        const u = z.reduce((s, v, j) => s + v * (up[i * BOT + j] ?? NaN), upB[i] ?? NaN);
        const skip = this.rbl ? (o[t * D + i] ?? NaN) : (x[i] ?? NaN);
        y[t * D + i] = this.scaling * u + skip + (r[t * D + i] ?? NaN);
      }
    }
    return new Tensor(y, out.shape);
  }
}

type Block = Module & { attention_adapters: Module; output_adapters: Module };

function blocksOf(m: DecoderForCausalLM): Block[] {
  if (m instanceof GPT2LMHeadModel) return m.transformer.h;
  if (m instanceof LlamaForCausalLM) return m.model.layers;
  throw new Error('unknown model');
}

function withReference(
  m: DecoderForCausalLM,
  adapters: Map<string, HubAdapter>,
  opts: { olb: boolean; rbl: boolean; act: string; scaling: number },
): DecoderForCausalLM {
  blocksOf(m).forEach((b, l) => {
    for (const loc of ['attention_adapters', 'output_adapters'] as const) {
      const a = adapters.get(`${l}.${loc}`);
      const act = ACT[opts.act];
      if (a && act) b[loc] = new HubReference64(a, opts.olb, opts.rbl, act, opts.scaling);
    }
  });
  return m;
}

const CASES = [
  { name: 'Pfeiffer (seq_bn: original_ln_before true, residual_before_ln true)', houlsby: false, olb: true, rbl: true },
  { name: 'Houlsby with original_ln_before, residual_before_ln false', houlsby: true, olb: true, rbl: false },
  { name: 'Houlsby (double_seq_bn: original_ln_before false)', houlsby: true, olb: false, rbl: true },
];

for (const [family, make, base, modelType] of [
  ['GPT-2', gpt2, 'transformer.h', 'gpt2'],
  ['Llama', llama, 'model.layers', 'llama'],
] as const) {
  for (const c of CASES) {
    test(`AdapterHub ${c.name} on ${family}: loads and matches AdapterHub's formula in float64`, () => {
      const act = c.houlsby ? 'swish' : 'relu';
      const locs = c.houlsby ? ['attention_adapters', 'output_adapters'] : ['output_adapters'];
      const { adapters, raw } = hubWeights(base, locs, 11);
      const dir = mkdtempSync(join(tmpdir(), 'tunekit-hubdec-'));
      try {
        writeSafetensors(join(dir, 'adapter.safetensors'), raw, { format: 'pt' });
        const config = bnConfig({
          mh_adapter: c.houlsby,
          non_linearity: act,
          original_ln_before: c.olb,
          residual_before_ln: c.rbl,
          scaling: 0.7,
        });
        writeFileSync(
          join(dir, 'adapter_config.json'),
          JSON.stringify({ config, hidden_size: D, model_type: modelType, name: 'hub' }),
        );
        const ids = new Int32Array([1, 5, 9, 2, 30, 7]);
        const peft = loadAdapterHub(make().eval(), dir);
        const out = peft.forward({ inputIds: ids }).logits.f32;
        const ref = withReference(make().eval(), adapters, { olb: c.olb, rbl: c.rbl, act, scaling: 0.7 });
        assertClose(out, ref.forward({ inputIds: ids }).logits.f32, { atol: 2e-5 });
        // The adapters change the output (not an identity passing by accident).
        const plain = make().eval().forward({ inputIds: ids }).logits.f32;
        assert.ok(plain.some((v, i) => Math.abs(v - (out[i] ?? NaN)) > 1e-3));
        // Save → AdapterHub's keys and config back; reloads to the same logits.
        const dir2 = join(dir, 'again');
        saveAdapterHub(peft, dir2, { savedName: 'hub' });
        assert.deepEqual(
          [...readSafetensors(join(dir2, 'adapter.safetensors')).tensors.keys()].sort(),
          [...raw.keys()].sort(),
        );
        assertClose(loadAdapterHub(make().eval(), dir2).forward({ inputIds: ids }).logits.f32, out, { atol: 0 });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
}

test('GPT-2 in training: resid_dropout / mlp dropout act before the adapter, as in AdapterHub', () => {
  const json = { ...gjson, resid_pdrop: 0.5, attn_pdrop: 0, embd_pdrop: 0 };
  // Structure: what reaches the hook is the dropped-out projection (exact zeros at about half the places).
  const spy = gpt2(json).train();
  const seen: Tensor[] = [];
  class Spy extends ResidualAdd {
    override forward(out: Tensor, residual: Tensor): Tensor {
      seen.push(out);
      return super.forward(out, residual);
    }
  }
  const block = spy.transformer.h[0];
  assert.ok(block);
  block.output_adapters = new Spy();
  const ids = new Int32Array([1, 5, 9, 2, 30, 7, 3, 4]);
  spy.forward({ inputIds: ids });
  const zeros = seen[0]?.f32.filter((v) => v === 0).length ?? 0;
  assert.ok(zeros > 0.3 * ids.length * D && zeros < 0.7 * ids.length * D, `zeros ${zeros}`);
  // Numbers: the adapter in train mode equals the float64 AdapterHub reference fed by the same dropout masks (same seeds).
  const { adapters, raw } = hubWeights('transformer.h', ['output_adapters'], 5);
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-hubdec-'));
  try {
    writeSafetensors(join(dir, 'adapter.safetensors'), raw, { format: 'pt' });
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ config: bnConfig({}), name: 'hub' }));
    const peft = loadAdapterHub(gpt2(json), dir);
    peft.train();
    const ref = withReference(gpt2(json).train(), adapters, { olb: true, rbl: true, act: 'relu', scaling: 1 });
    for (let step = 0; step < 2; step++)
      assertClose(peft.forward({ inputIds: ids }).logits.f32, ref.forward({ inputIds: ids }).logits.f32, {
        atol: 2e-5,
      });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('decoder bottleneck layer: gradients match finite differences (input a + r, both skips)', () => {
  for (const rbl of [true, false]) {
    const layer = new DecoderBottleneckLayer(new ResidualAdd(), 8);
    layer.addAdapter('default', {
      reductionFactor: 4,
      act: 'gelu',
      scaling: 1.3,
      seed: 2,
      originalLnBefore: true,
      residualBeforeLn: rbl,
    });
    layer.setActive(['default']);
    const a = layer.adapters.get('default');
    assert.ok(a);
    const down = a.adapter_down[0];
    assert.ok(down?.bias && a.adapter_up.bias);
    a.adapter_up.weight.f32.set(F.randn([8, 2], new Rng(4), 0.5).f32);
    const out = F.randn([3, 8], new Rng(3), 1, { requiresGrad: true });
    const res = F.randn([3, 8], new Rng(5), 1, { requiresGrad: true });
    gradcheck(`decoder bottleneck rbl=${rbl}`, (o, r) => layer.forward(o, r), [
      out,
      res,
      down.weight,
      down.bias,
      a.adapter_up.weight,
      a.adapter_up.bias,
    ]);
  }
});

test('decoder bottleneck: Pfeiffer default on GPT-2 / Llama, identity at init, unload restores the residual add; post_add refused', () => {
  for (const make of [gpt2, llama]) {
    const ids = new Int32Array([1, 5, 9, 2]);
    const base = make().eval().forward({ inputIds: ids }).logits.f32;
    const peft = getPeftModel(make().eval(), bottleneckConfig({ architecture: 'pfeiffer' }));
    const keys = [...peft.adapterStateDict().keys()];
    assert.equal(keys.length, 2 * 4);
    assert.ok(
      keys.every((k) => /\.(h|layers)\.\d\.output_adapters\.adapters\.adapter_(down\.0|up)\./.test(k)),
      keys[0],
    );
    assertClose(peft.forward({ inputIds: ids }).logits.f32, base, { atol: 0 });
    const plain = peft.unload();
    assert.ok(blocksOf(plain as DecoderForCausalLM).every((b) => b.output_adapters instanceof ResidualAdd));
    assert.throws(
      () => getPeftModel(make(), bottleneckConfig({ architecture: 'pfeiffer', residualBeforeLn: 'post_add' })),
      /residual_before_ln = "post_add" needs the sub-layer's layer norm/,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-hubdec-'));
  try {
    writeSafetensors(join(dir, 'adapter.safetensors'), hubWeights('model.layers', ['output_adapters'], 1).raw, {
      format: 'pt',
    });
    writeFileSync(
      join(dir, 'adapter_config.json'),
      JSON.stringify({ config: bnConfig({ residual_before_ln: 'post_add' }), name: 'hub' }),
    );
    assert.throws(() => loadAdapterHub(llama(), dir), /adapter_config\.json: .*post_add/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
