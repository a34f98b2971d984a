/**
 * AdapterHub layout: a folder written as AdapterHub writes it (config dict of BnConfig fields,
 * `bert.encoder.layer.<i>...adapters.<name>...` keys in adapter.safetensors) loads onto BERT and
 * gives the outputs of an independent float64 BERT + adapter written from AdapterHub's formulas;
 * save → load round-trips; unsupported fields fail naming the file and field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LlamaForCausalLM } from '../../src/models/llama.js';
import type { Linear } from '../../src/nn/layers.js';
import * as F from '../../src/tensor/ops.js';
import { readSafetensors, writeSafetensors, type RawTensor } from '../../src/io/safetensors.js';
import { BertModel } from '../../src/models/bert.js';
import { loadAdapterHub, saveAdapterHub } from '../../src/peft/bottleneck/adapterhub.js';
import { bottleneckConfig } from '../../src/peft/bottleneck/config.js';
import { getPeftModel } from '../../src/peft/peft-model.js';
import { Rng } from '../../src/tensor/random.js';
import { assertClose } from '../helpers/close.js';
import { bertConfig, llamaConfig, TINY_LLAMA } from '../helpers/tiny-models.js';

const D = 8,
  HEADS = 2,
  FF = 16,
  LAYERS = 2,
  EPS = 1e-12,
  BOT = 2; // reduction_factor 4
const bjson = {
  architectures: ['BertModel'],
  model_type: 'bert',
  vocab_size: 30,
  hidden_size: D,
  num_attention_heads: HEADS,
  num_hidden_layers: LAYERS,
  intermediate_size: FF,
  max_position_embeddings: 16,
  type_vocab_size: 2,
  layer_norm_eps: EPS,
};
const ids = new Int32Array([3, 17, 5, 9]);

function bert(): BertModel {
  return new BertModel(bertConfig(bjson), { seed: 1, configJson: bjson }).eval().freeze();
}

/** AdapterHub's BnConfig.to_dict() for seq_bn (Pfeiffer) / double_seq_bn (Houlsby), with overrides. */
function hubConfig(houlsby: boolean, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    config: {
      adapter_residual_before_ln: false,
      architecture: 'bottleneck',
      cross_adapter: false,
      dropout: 0.0,
      factorized_phm_W: true,
      factorized_phm_rule: false,
      hypercomplex_nonlinearity: 'glorot-uniform',
      init_weights: 'bert',
      inv_adapter: null,
      inv_adapter_reduction_factor: null,
      is_parallel: false,
      learn_phm: true,
      leave_out: [],
      ln_after: false,
      ln_before: false,
      mh_adapter: houlsby,
      non_linearity: houlsby ? 'swish' : 'relu',
      original_ln_after: true,
      original_ln_before: !houlsby,
      output_adapter: true,
      phm_bias: true,
      phm_c_init: 'normal',
      phm_dim: 4,
      phm_init_range: 0.0001,
      phm_layer: false,
      phm_rank: 1,
      reduction_factor: 4,
      residual_before_ln: true,
      scaling: 1.0,
      shared_W_phm: false,
      shared_phm_rule: true,
      stochastic_depth: 0.0,
      use_gating: false,
      ...over,
    },
    hidden_size: D,
    model_class: 'BertAdapterModel',
    model_name: 'tiny-bert',
    model_type: 'bert',
    name: 'sst',
    version: 'adapters.1.2.0',
  };
}

/** Random adapter weights under AdapterHub's key names. */
function hubWeights(houlsby: boolean, withPrefix = true): Map<string, Float64Array & { shape: number[] }> {
  const rng = new Rng(7);
  const out = new Map<string, Float64Array & { shape: number[] }>();
  const put = (k: string, shape: number[]): void => {
    const a = Object.assign(
      new Float64Array(shape.reduce((x, y) => x * y, 1)).map(() => (rng.nextU32() / 2 ** 32 - 0.5) * 0.8),
      { shape },
    );
    out.set((withPrefix ? 'bert.' : '') + k, a);
  };
  for (let l = 0; l < LAYERS; l++) {
    for (const at of houlsby ? ['attention.output', 'output'] : ['output']) {
      const p = `encoder.layer.${l}.${at}.adapters.sst`;
      put(`${p}.adapter_down.0.weight`, [BOT, D]);
      put(`${p}.adapter_down.0.bias`, [BOT]);
      put(`${p}.adapter_up.weight`, [D, BOT]);
      put(`${p}.adapter_up.bias`, [D]);
    }
  }
  return out;
}

function writeHubFolder(
  dir: string,
  config: Record<string, unknown>,
  w: Map<string, Float64Array & { shape: number[] }>,
): void {
  const raw = new Map<string, RawTensor>(
    [...w].map(([k, v]) => [k, { dtype: 'F32', shape: v.shape, data: new Uint8Array(Float32Array.from(v).buffer) }]),
  );
  writeSafetensors(join(dir, 'adapter.safetensors'), raw, { format: 'pt' });
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(config));
}

// ---- independent float64 reference: BERT encoder + AdapterHub's bottleneck formulas ----
type Vec = number[];
const matvec = (W: Float64Array, b: Float64Array | null, x: Vec, out: number): Vec =>
  Array.from({ length: out }, (_, o) =>
    x.reduce((s, xi, i) => s + (W[o * x.length + i] ?? NaN) * xi, b ? (b[o] ?? NaN) : 0),
  );
const add = (a: Vec, b: Vec): Vec => a.map((v, i) => v + (b[i] ?? NaN));
function ln(x: Vec, g: Float64Array, b: Float64Array): Vec {
  const m = x.reduce((s, v) => s + v, 0) / x.length;
  const v = x.reduce((s, t) => s + (t - m) ** 2, 0) / x.length;
  return x.map((t, i) => ((t - m) / Math.sqrt(v + EPS)) * (g[i] ?? NaN) + (b[i] ?? NaN));
}
function erf(x: number): number {
  // series / continued fraction, |error| < 1e-15 on the range used
  if (Math.abs(x) > 5) return Math.sign(x);
  let sum = x,
    term = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
const acts: Record<string, (z: number) => number> = {
  relu: (z) => Math.max(0, z),
  swish: (z) => z / (1 + Math.exp(-z)),
  tanh: Math.tanh,
};

function reference(W: Map<string, Float64Array>, A: Map<string, Float64Array>, cfg: Record<string, unknown>): Vec[] {
  const g = (k: string): Float64Array => {
    const t = W.get(k);
    if (!t) throw new Error(`reference: no ${k}`);
    return t;
  };
  const act = acts[String(cfg['non_linearity'])] ?? ((_z: number) => NaN);
  const olb = cfg['original_ln_before'] === true,
    rbl = cfg['residual_before_ln'];
  // AdapterHub bottleneck_layer_forward(h, residual, LN) for one sequential adapter.
  const adapterLayer = (prefix: string, h: Vec, r: Vec, lnW: Float64Array, lnB: Float64Array): Vec => {
    const ak = (s: string): Float64Array => {
      const t = A.get(`bert.${prefix}.adapters.sst.${s}`);
      if (!t) throw new Error(s);
      return t;
    };
    if (!A.has(`bert.${prefix}.adapters.sst.adapter_up.bias`)) return ln(add(h, r), lnW, lnB);
    let input = h,
      skip = h;
    if (olb) {
      const s = add(h, r);
      if (rbl === 'post_add') skip = s;
      input = ln(s, lnW, lnB);
    }
    if (rbl === false) skip = input;
    const down = matvec(ak('adapter_down.0.weight'), ak('adapter_down.0.bias'), input, BOT).map(act);
    const up = matvec(ak('adapter_up.weight'), ak('adapter_up.bias'), down, D).map((v) => v * Number(cfg['scaling']));
    return ln(add(add(skip, up), r), lnW, lnB);
  };
  const hd = D / HEADS;
  let h: Vec[] = [...ids].map((id, t) =>
    ln(
      Array.from(
        { length: D },
        (_, i) =>
          (g('embeddings.word_embeddings.weight')[id * D + i] ?? NaN) +
          (g('embeddings.position_embeddings.weight')[t * D + i] ?? NaN) +
          (g('embeddings.token_type_embeddings.weight')[i] ?? NaN),
      ),
      g('embeddings.LayerNorm.weight'),
      g('embeddings.LayerNorm.bias'),
    ),
  );
  for (let l = 0; l < LAYERS; l++) {
    const p = `encoder.layer.${l}`;
    const lin = (n: string, x: Vec, out: number): Vec => matvec(g(`${p}.${n}.weight`), g(`${p}.${n}.bias`), x, out);
    const q = h.map((x) => lin('attention.self.query', x, D)),
      k = h.map((x) => lin('attention.self.key', x, D)),
      v = h.map((x) => lin('attention.self.value', x, D));
    const ctx = h.map((_, t) => {
      const o = new Array<number>(D).fill(0);
      for (let hh = 0; hh < HEADS; hh++) {
        const s = k.map((kk) => {
          let d = 0;
          for (let i = 0; i < hd; i++) d += (q[t]?.[hh * hd + i] ?? NaN) * (kk[hh * hd + i] ?? NaN);
          return d / Math.sqrt(hd);
        });
        const mx = Math.max(...s),
          e = s.map((z) => Math.exp(z - mx)),
          z = e.reduce((a, b) => a + b, 0);
        e.forEach((w, j) => {
          for (let i = 0; i < hd; i++) o[hh * hd + i] = (o[hh * hd + i] ?? 0) + (w / z) * (v[j]?.[hh * hd + i] ?? NaN);
        });
      }
      return o;
    });
    const a = h.map((x, t) =>
      adapterLayer(
        `${p}.attention.output`,
        lin('attention.output.dense', ctx[t] ?? [], D),
        x,
        g(`${p}.attention.output.LayerNorm.weight`),
        g(`${p}.attention.output.LayerNorm.bias`),
      ),
    );
    h = a.map((x) => {
      const inter = lin('intermediate.dense', x, FF).map((z) => 0.5 * z * (1 + erf(z / Math.SQRT2)));
      return adapterLayer(
        `${p}.output`,
        lin('output.dense', inter, D),
        x,
        g(`${p}.output.LayerNorm.weight`),
        g(`${p}.output.LayerNorm.bias`),
      );
    });
  }
  return h;
}

function baseWeights(m: BertModel): Map<string, Float64Array> {
  return new Map(m.namedParameters().map(([k, t]) => [k, Float64Array.from(t.f32)]));
}

function check(houlsby: boolean, over: Record<string, unknown>, withPrefix = true): void {
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-hub-'));
  try {
    const cfg = hubConfig(houlsby, over);
    const w = hubWeights(houlsby, withPrefix);
    writeHubFolder(dir, cfg, w);
    const model = bert();
    const W = baseWeights(model);
    const peft = loadAdapterHub(model, dir);
    const out = (peft.forward({ inputIds: ids }) as { hidden: { f32: Float32Array } }).hidden.f32;
    const A = new Map(
      [...w].map(([k, v]) => [k.startsWith('bert.') ? k : `bert.${k}`, Float64Array.from(Float32Array.from(v))]),
    );
    const ref = reference(W, A, cfg['config'] as Record<string, unknown>).flat();
    assertClose(out, ref, { atol: 2e-5, message: `${houlsby ? 'houlsby' : 'pfeiffer'} ${JSON.stringify(over)}` });
    // The adapter must change the output (else the comparison proves nothing).
    const base = bert().forward({ inputIds: ids }).hidden.f32;
    assert.ok(base.some((v, i) => Math.abs(v - (out[i] ?? NaN)) > 1e-3));
    // Round trip: tunekit writes AdapterHub's layout, which loads back to the same outputs.
    const dir2 = join(dir, 'again');
    saveAdapterHub(peft, dir2, { savedName: 'sst' });
    const saved = JSON.parse(readFileSync(join(dir2, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(saved['config'], { ...(cfg['config'] as object) });
    assert.deepEqual(
      [...readSafetensors(join(dir2, 'adapter.safetensors')).tensors.keys()].sort(),
      [...w.keys()].map((k) => (k.startsWith('bert.') ? k : `bert.${k}`)).sort(),
    );
    const again = (loadAdapterHub(bert(), dir2).forward({ inputIds: ids }) as { hidden: { f32: Float32Array } }).hidden
      .f32;
    assert.deepEqual(again, out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('AdapterHub Pfeiffer (seq_bn) folder on BERT matches a float64 reference of its formulas', () => {
  check(false, {});
  check(false, { residual_before_ln: false, scaling: 0.5 }, false);
  check(false, { residual_before_ln: 'post_add', non_linearity: 'tanh' });
});

test('AdapterHub Houlsby (double_seq_bn) folder on BERT matches a float64 reference of its formulas', () => {
  check(true, {});
  check(true, { original_ln_before: true, reduction_factor: 4.0 });
});

test('AdapterHub folders: unsupported fields, pickles, heads and other families fail loudly', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-hub-'));
  try {
    const w = hubWeights(false);
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ ln_after: true }, /adapter_config\.json: field "config\.ln_after" = true is not supported/],
      [{ is_parallel: true }, /"config\.is_parallel"/],
      [{ use_gating: true }, /"config\.use_gating"/],
      [{ leave_out: [0] }, /"config\.leave_out"/],
      [{ scaling: 'learned' }, /"config\.scaling" must be a number/],
      [{ reduction_factor: { default: 16, '1': 8 } }, /"config\.reduction_factor".*per-layer/],
      [{ non_linearity: 'leakyrelu' }, /"config\.non_linearity"/],
      [{ output_adapter: false }, /"config\.output_adapter"/],
      [{ fancy_new_field: 1 }, /"config\.fancy_new_field": unknown field/],
    ];
    for (const [over, re] of bad) {
      writeHubFolder(dir, hubConfig(false, over), w);
      assert.throws(() => loadAdapterHub(bert(), dir), re);
    }
    writeHubFolder(dir, { ...hubConfig(false), surprise: true }, w);
    assert.throws(() => loadAdapterHub(bert(), dir), /adapter_config\.json: unknown field "surprise"/);
    writeHubFolder(dir, { ...hubConfig(false), hidden_size: 12 }, w);
    assert.throws(() => loadAdapterHub(bert(), dir), /"hidden_size" is 12, the model's is 8/);
    // A dropped tensor is an error, not a silently zero adapter.
    const fewer = new Map([...w].filter(([k]) => !k.includes('layer.1.output.adapters.sst.adapter_up.bias')));
    writeHubFolder(dir, hubConfig(false), fewer);
    assert.throws(() => loadAdapterHub(bert(), dir), /adapter_up\.bias/);
    writeHubFolder(dir, hubConfig(false), w);
    writeFileSync(join(dir, 'head_config.json'), '{}');
    assert.throws(() => loadAdapterHub(bert(), dir), /head_config\.json/);
    rmSync(join(dir, 'head_config.json'));
    rmSync(join(dir, 'adapter.safetensors'));
    writeFileSync(join(dir, 'pytorch_adapter.bin'), 'x');
    assert.throws(() => loadAdapterHub(bert(), dir), /pytorch_adapter\.bin \(a pickle\)/);
    assert.ok(existsSync(join(dir, 'adapter_config.json')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const peft = getPeftModel(
    bert(),
    bottleneckConfig({
      architecture: 'pfeiffer',
      taskType: 'FEATURE_EXTRACTION',
      targetModules: '.*\\.layer\\.0\\.output',
    }),
  );
  assert.throws(() => saveAdapterHub(peft, join(tmpdir(), 'never-written')), /custom target_modules/);
});

// Pfeiffer (original_ln_before true) and the other placements on decoders: adapterhub-decoder.test.ts.
test('AdapterHub Houlsby folder on Llama (attention_adapters / output_adapters keys) acts after o_proj and down_proj', () => {
  const json = {
    ...TINY_LLAMA,
    vocab_size: 40,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: false,
  };
  const llama = (): LlamaForCausalLM =>
    new LlamaForCausalLM(llamaConfig(json), { seed: 7, configJson: json }).eval().freeze();
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-hub-'));
  try {
    // down.weight = 0, so each adapter adds the constant c = scaling · (up.W · silu(down.b) + up.b):
    // the same as a bias c on o_proj / down_proj of the base model (independent placement check).
    const d = 16,
      bot = 4,
      rng = new Rng(11);
    const rnd = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.nextU32() / 2 ** 32 - 0.5);
    const raw = new Map<string, RawTensor>();
    const consts = new Map<string, Float64Array>();
    const f32 = (shape: number[], a: Float32Array): RawTensor => ({
      dtype: 'F32',
      shape,
      data: new Uint8Array(a.buffer),
    });
    for (let l = 0; l < 2; l++) {
      for (const [hub, proj] of [
        ['attention_adapters', 'self_attn.o_proj'],
        ['output_adapters', 'mlp.down_proj'],
      ] as const) {
        const p = `model.layers.${l}.${hub}.adapters.hub`;
        const db = rnd(bot),
          uw = rnd(d * bot),
          ub = rnd(d);
        raw.set(`${p}.adapter_down.0.weight`, f32([bot, d], new Float32Array(bot * d)));
        raw.set(`${p}.adapter_down.0.bias`, f32([bot], db));
        raw.set(`${p}.adapter_up.weight`, f32([d, bot], uw));
        raw.set(`${p}.adapter_up.bias`, f32([d], ub));
        const s = [...db].map((z) => z / (1 + Math.exp(-z)));
        consts.set(
          `model.layers.${l}.${proj}`,
          Float64Array.from(
            { length: d },
            (_, o) => 0.5 * (s.reduce((acc, v, j) => acc + (uw[o * bot + j] ?? NaN) * v, 0) + (ub[o] ?? NaN)),
          ),
        );
      }
    }
    writeSafetensors(join(dir, 'adapter.safetensors'), raw, { format: 'pt' });
    const cfg = hubConfig(true, { scaling: 0.5 });
    writeFileSync(
      join(dir, 'adapter_config.json'),
      JSON.stringify({ ...cfg, hidden_size: d, model_type: 'llama', name: 'hub' }),
    );
    const tokens = new Int32Array([1, 5, 9, 2]);
    const out = loadAdapterHub(llama(), dir).forward({ inputIds: tokens }).logits.f32;
    const ref = llama();
    for (const [path, c] of consts) {
      const lin = ref.getModule(path) as Linear;
      lin.bias = F.tensor(c, [d]);
    }
    assertClose(out, ref.forward({ inputIds: tokens }).logits.f32, { atol: 2e-5 });
    assert.ok(
      llama()
        .forward({ inputIds: tokens })
        .logits.f32.some((v, i) => Math.abs(v - (out[i] ?? NaN)) > 1e-3),
    );
    // Round trip keeps AdapterHub's key names.
    const dir2 = join(dir, 'again');
    saveAdapterHub(loadAdapterHub(llama(), dir), dir2, { savedName: 'hub' });
    assert.deepEqual(
      [...readSafetensors(join(dir2, 'adapter.safetensors')).tensors.keys()].sort(),
      [...raw.keys()].sort(),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
