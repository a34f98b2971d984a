/**
 * Adding an architecture from outside the package (docs/models.md): a toy bigram language model,
 * its config parser and class, registered with one registerArchitecture call; the Auto classes,
 * parseModelConfig and savePretrained -> fromPretrained then handle it like a built-in family.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readConfigJson } from '../../src/io/hf-config.js';
import type { Embedding } from '../../src/nn/layers.js';
import { normalEmbedding } from '../../src/nn/init.js';
import {
  AutoModelForCausalLM,
  AutoModelForSequenceClassification,
  DecoderForCausalLM,
  SUPPORTED_ARCHITECTURES,
  lmHeadOutput,
  loadIntoModule,
  parseFamilyConfig,
  parseModelConfig,
  readModelWeights,
  registerArchitecture,
  supportedArchitectures,
  type CausalLMInput,
  type CausalLMOutput,
  type ConfigContext,
  type ModelConfigBase,
} from '../../src/models/index.js';
import { Rng } from '../../src/tensor/random.js';
import { noGrad } from '../../src/tensor/tensor.js';
import { assertClose } from '../helpers/close.js';

/** The toy's config: the base fields only (vocab_size and n_embd are its own). */
interface BigramConfig extends ModelConfigBase {
  family: 'toy-bigram';
}

/** Its config parser: field names, defaults and errors as a real family's. */
function parseBigramConfig(ctx: ConfigContext): BigramConfig {
  const { f } = ctx;
  return {
    ...ctx.base,
    family: 'toy-bigram',
    modelType: ctx.modelType || 'toy-bigram',
    vocabSize: f.int('vocab_size', 16),
    hiddenSize: f.int('n_embd', 8),
    numHiddenLayers: 0,
    numAttentionHeads: 1,
    maxPositionEmbeddings: f.int('n_positions', 64),
    tieWordEmbeddings: true,
  };
}

/** logits[t] = E · E[id_t]: an embedding table and its tied head. */
class ToyBigramLM extends DecoderForCausalLM {
  wte: Embedding;
  constructor(
    readonly config: BigramConfig,
    opts: { seed: number; configJson: Record<string, unknown> },
  ) {
    super();
    this.configJson = opts.configJson;
    this.wte = normalEmbedding(config.vocabSize, config.hiddenSize, new Rng(opts.seed), 0.5);
  }
  readonly configJson: Record<string, unknown>;

  static fromPretrained(dir: string): ToyBigramLM {
    const { json, path } = readConfigJson(dir);
    const config = parseFamilyConfig(json, path, { 'toy-bigram': ['ToyBigramLM'] }, parseBigramConfig, 'toy bigram');
    const model = new ToyBigramLM(config, { seed: 0, configJson: json });
    loadIntoModule(model, readModelWeights(dir), { label: dir });
    return model.freeze().eval();
  }

  protected tokenEmbedding(): Embedding {
    return this.wte;
  }

  forward(input: CausalLMInput): CausalLMOutput {
    const ids = input.inputIds;
    if (!ids) throw new Error('ToyBigramLM: give inputIds');
    const B = input.batchSize ?? 1;
    const h = this.wte.forward(ids, [B, ids.length / B]);
    return lmHeadOutput(h, this.wte.weight, input, null);
  }
}

registerArchitecture<BigramConfig>({
  modelType: 'toy-bigram',
  architectures: ['ToyBigramLM'],
  parseConfig: parseBigramConfig,
  sizeTerms: (c) => ({
    terms: [{ fields: ['vocab_size', 'n_embd'], bytes: c.vocabSize * c.hiddenSize * 4 }],
    layers: 0,
    layersField: 'n_layer',
  }),
  causalLM: {
    fromPretrained: (dir) => ToyBigramLM.fromPretrained(dir),
    create: (config, opts) => new ToyBigramLM(config, opts),
  },
});

const TOY = { architectures: ['ToyBigramLM'], model_type: 'toy-bigram', vocab_size: 11, n_embd: 6 };

/** The same logits in float64 from the table: logits[t][v] = Σ_h E[v][h]·E[id_t][h]. */
function referenceLogits(table: Float32Array, dim: number, ids: number[], vocab: number): number[] {
  const out: number[] = [];
  for (const id of ids)
    for (let v = 0; v < vocab; v++) {
      let s = 0;
      for (let h = 0; h < dim; h++) s += table[v * dim + h]! * table[id * dim + h]!;
      out.push(s);
    }
  return out;
}

test('a registered architecture: Auto builds it, saves and reloads it, and its logits are the independent reference', () => {
  const model = AutoModelForCausalLM.fromConfig(TOY, { seed: 3 });
  assert.ok(model instanceof ToyBigramLM);
  const ids = [1, 4, 10, 0];
  const logits = noGrad(() => model.forward({ inputIds: Int32Array.from(ids) }).logits);
  assert.deepEqual(logits.shape, [1, 4, 11]);
  assertClose(logits.f32, referenceLogits(model.wte.weight.f32, 6, ids, 11), { atol: 1e-6 });

  const dir = mkdtempSync(join(tmpdir(), 'tunekit-registry-'));
  try {
    model.savePretrained(dir);
    const back = AutoModelForCausalLM.fromPretrained(dir);
    assert.ok(back instanceof ToyBigramLM);
    assert.deepEqual(back.wte.weight.f32, model.wte.weight.f32);
    assert.deepEqual(parseModelConfig(readConfigJson(dir).json).family, 'toy-bigram');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a registered architecture: its parser errors name config.json and the field; missing classes are named', () => {
  assert.throws(
    () => AutoModelForCausalLM.fromConfig({ ...TOY, n_embd: 'six' }),
    /^Error: config\.json: field "n_embd"/,
  );
  // Found by model_type alone, as transformers' Auto classes do.
  const { architectures: _, ...bare } = TOY;
  assert.equal(parseModelConfig(bare).architecture, 'ToyBigramLM');
  assert.throws(
    () => AutoModelForSequenceClassification.fromConfig(TOY),
    /sequence classification is available for llama, mistral, qwen2, qwen3, gpt2, bert checkpoints only; this config is ToyBigramLM/,
  );
  assert.ok(supportedArchitectures().includes('ToyBigramLM'));
  assert.ok(!SUPPORTED_ARCHITECTURES.includes('ToyBigramLM'), 'the built-in list stays the built-ins');
  assert.throws(
    () => parseModelConfig({ architectures: ['NopeForCausalLM'] }),
    /unsupported architecture "NopeForCausalLM" \(supported: LlamaForCausalLM, .*ToyBigramLM\)/,
  );
});

test('registerArchitecture refuses a model_type or class name that is taken', () => {
  const entry = {
    modelType: 'toy-bigram',
    architectures: ['OtherLM'],
    parseConfig: parseBigramConfig,
    sizeTerms: () => ({ terms: [], layers: 0, layersField: 'n_layer' }),
  };
  assert.throws(() => registerArchitecture(entry), /model_type "toy-bigram" is already registered/);
  assert.throws(
    () => registerArchitecture({ ...entry, modelType: 'toy-2', architectures: ['GPT2LMHeadModel'] }),
    /"GPT2LMHeadModel" is already registered/,
  );
  assert.throws(
    () => registerArchitecture({ ...entry, modelType: 'toy-3', architectures: [] }),
    /lists no architectures/,
  );
});
