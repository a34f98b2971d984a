/**
 * Prompt tuning, P-tuning and prefix tuning as PEFT methods. They replace no layer: the encoder
 * lives at `prompt_encoder.<name>` of the PeftModel, and the PeftModel's forward feeds the model
 * through the models' one hook (`inputsEmbeds` for virtual tokens, `prefix` for keys/values).
 *
 * Decoders (Llama, GPT-2), as PEFT: virtual tokens come first; the attention mask gets P ones and
 * the labels P ignore entries; in generation they are fed once, at prefill (later steps find them in
 * the cache). Logits and hidden states are returned for the real tokens only.
 * BERT: the virtual tokens go right after [CLS], so that the pooler reads the real [CLS] (PEFT puts
 * them before it, which makes a sequence classifier pool a virtual token); token-level outputs
 * (logits, hidden states, QA start/end logits) are returned for the real tokens, token labels get
 * -100 at the virtual positions, and the QA span loss is computed on the real tokens' logits (answer
 * positions index the real tokens, as without the adapter).
 * Prefix tuning: the flat vector [P, 2·L·d] is viewed as [P, 2L, heads, head_dim] (key, value per
 * layer) and passed as the models' KV prefix on every call; real tokens start at position P.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../../io/safetensors.js';
import { AutoTokenizer } from '../../io/tokenizer.js';
import type { KVPrefix } from '../../models/attention.js';
import { spanLoss } from '../../models/bert.js';
import { Embedding } from '../../nn/layers.js';
import type { Module } from '../../nn/module.js';
import * as F from '../../tensor/ops.js';
import { Rng } from '../../tensor/random.js';
import { Tensor, noGrad } from '../../tensor/tensor.js';
import { loadTensorsInto, toRaw } from '../adapter-folder.js';
import { writeSafetensors } from '../../io/safetensors.js';
import type { PeftHost, PeftMethod } from '../method.js';
import {
  PREFIX_TUNING_FIELDS,
  PROMPT_TUNING_FIELDS,
  P_TUNING_FIELDS,
  promptConfigFromJson,
  promptConfigToJson,
  type PromptConfig,
  type PromptTuningConfig,
} from './config.js';
import { PrefixEncoder, PromptEmbedding, PromptEncoder, type PromptSource } from './encoders.js';

/** The encoder network beside a saved adapter, for resuming training (PEFT saves only its output). */
export const PROMPT_ENCODER_FILE = 'prompt_encoder.safetensors';

/** What the prompt methods need to know about a model. */
interface Geometry {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  bert: boolean;
}

function geometry(model: Module): Geometry {
  const c = (model as unknown as { config?: Record<string, unknown> }).config ?? {};
  const num = (k: string): number | undefined => (typeof c[k] === 'number' ? c[k] : undefined);
  const hidden = num('hiddenSize'),
    layers = num('numHiddenLayers'),
    heads = num('numAttentionHeads'),
    vocab = num('vocabSize');
  if (hidden === undefined || layers === undefined || heads === undefined || vocab === undefined)
    throw new Error(
      'prompt learning: the model has no config with hiddenSize / numHiddenLayers / numAttentionHeads / vocabSize',
    );
  const kvHeads = num('numKeyValueHeads') ?? heads;
  return {
    hidden,
    layers,
    heads,
    kvHeads,
    headDim: num('headDim') ?? hidden / heads,
    vocab,
    bert: c.family === 'bert',
  };
}

/** Word embeddings [B, T, d] of ids as the model itself computes them. */
function embedTokens(model: Module, ids: Int32Array, B: number): Tensor {
  const m = model as unknown as {
    embedTokens?: (ids: Int32Array, b: number) => Tensor;
    bert?: { embedTokens(ids: Int32Array, b: number): Tensor };
  };
  if (m.embedTokens) return m.embedTokens(ids, B);
  if (m.bert) return m.bert.embedTokens(ids, B);
  throw new Error('prompt learning: the model cannot embed tokens (no embedTokens)');
}

function tokenTable(model: Module): Tensor {
  return (model as unknown as { inputEmbeddings(): Tensor }).inputEmbeddings();
}

/** Fill and check the geometry fields (a loaded config for another base is an error naming the field). */
function resolvePrompt<C extends PromptConfig>(config: C, model: Module): C {
  const g = geometry(model);
  const prefix = config.peftType === 'PREFIX_TUNING';
  const want = {
    tokenDim: prefix ? g.headDim * g.kvHeads : g.hidden,
    numAttentionHeads: prefix ? g.kvHeads : g.heads,
    numLayers: g.layers,
    numTransformerSubmodules: 1,
  };
  const field: Record<keyof typeof want, string> = {
    tokenDim: 'token_dim',
    numAttentionHeads: 'num_attention_heads',
    numLayers: 'num_layers',
    numTransformerSubmodules: 'num_transformer_submodules',
  };
  for (const k of Object.keys(want) as Array<keyof typeof want>) {
    const have = config[k];
    if (have !== null && have !== want[k])
      throw new Error(
        `${config.peftType}: ${field[k]} is ${have} but the model needs ${want[k]} (an adapter for another base model?)`,
      );
  }
  return { ...config, ...want };
}

/** Output rows of an encoder: [P, d] virtual tokens, or [P, 2·L·d] prefixes. */
function outputDim(c: PromptConfig): number {
  const d = c.tokenDim ?? 0;
  return c.peftType === 'PREFIX_TUNING' ? 2 * (c.numLayers ?? 0) * d : d;
}

function buildEncoder(c: PromptConfig, model: Module, direct: boolean): PromptSource {
  const P = c.numVirtualTokens;
  const d = c.tokenDim ?? 0;
  const rng = new Rng(c.seed);
  if (direct || c.peftType === 'PROMPT_TUNING' || (c.peftType === 'PREFIX_TUNING' && !c.prefixProjection)) {
    const e = new Embedding(P, outputDim(c), { rng });
    e.weight.requiresGrad = true;
    if (!direct && c.peftType === 'PROMPT_TUNING') initPromptTuning(e, c, model, rng);
    return new PromptEmbedding(e);
  }
  if (c.peftType === 'P_TUNING')
    return new PromptEncoder(P, d, {
      type: c.encoderReparameterizationType,
      hidden: c.encoderHiddenSize ?? d,
      numLayers: c.encoderNumLayers,
      dropout: c.encoderDropout,
      seed: c.seed,
    });
  return new PrefixEncoder(P, d, c.encoderHiddenSize ?? d, outputDim(c), c.seed);
}

/** PEFT's prompt_tuning_init: RANDOM (N(0, 1)), TEXT (the text's token embeddings, repeated/truncated), SAMPLE_VOCAB. */
function initPromptTuning(e: Embedding, c: PromptTuningConfig, model: Module, rng: Rng): void {
  const P = c.numVirtualTokens;
  let ids: number[] = [];
  if (c.promptTuningInit === 'RANDOM') return;
  const vocab = geometry(model).vocab;
  if (c.promptTuningInit === 'SAMPLE_VOCAB') ids = Array.from({ length: P }, () => rng.int(vocab));
  else {
    const tok = c.tokenizer ?? (c.tokenizerNameOrPath ? AutoTokenizer.fromPretrained(c.tokenizerNameOrPath) : null);
    if (!tok) throw new Error('PROMPT_TUNING: "TEXT" init needs tokenizer_name_or_path (or a tokenizer)');
    const text = tok.encode(c.promptTuningInitText ?? '');
    if (text.length === 0) throw new Error('PROMPT_TUNING: prompt_tuning_init_text encodes to no tokens');
    while (ids.length < P) ids = ids.concat(text);
    ids = ids.slice(0, P);
  }
  const table = F.toF32(tokenTable(model));
  e.weight.f32.set(F.embedding(table, Int32Array.from(ids)).f32);
}

/** [P, d] -> [B, P, d] (gradients sum over the batch). */
function repeatBatch(x: Tensor, B: number): Tensor {
  const one = F.reshape(x, [1, ...x.shape]);
  return B === 1
    ? one
    : F.concat(
        Array.from({ length: B }, () => one),
        0,
      );
}

/** Insert `n` copies of `value` per row at column `at` of a [B, T] array. */
function insertCols<A extends Int32Array | Uint8Array>(arr: A, B: number, at: number, n: number, value: number): A {
  const T = arr.length / B;
  const out = new (arr.constructor as new (len: number) => A)(B * (T + n));
  for (let b = 0; b < B; b++) {
    out.set(arr.subarray(b * T, b * T + at), b * (T + n));
    out.fill(value, b * (T + n) + at, b * (T + n) + at + n);
    out.set(arr.subarray(b * T + at, (b + 1) * T), b * (T + n) + at + n);
  }
  return out;
}

/** Drop positions [at, at + n) of dim 1 of a [B, T, ...] tensor. */
function dropCols(x: Tensor, at: number, n: number): Tensor {
  const T = x.dim(1);
  const parts = [F.slice(x, 1, 0, at), F.slice(x, 1, at + n, T)].filter((p) => p.dim(1) > 0);
  return parts.length === 1 ? parts[0]! : F.concat(parts, 1);
}

/** The encoder's flat prefixes as the models' KVPrefix: [P, 2L·H·D] viewed [P, 2L, H, D]. */
export function prefixFromFlat(flat: Tensor, layers: number, heads: number, headDim: number, B: number): KVPrefix {
  const P = flat.dim(0);
  const perm = F.permute(F.reshape(flat, [P, 2 * layers, heads, headDim]), [1, 2, 0, 3]); // [2L, H, P, D]
  const out: Array<{ k: Tensor; v: Tensor }> = [];
  for (let l = 0; l < layers; l++) {
    const part = (kv: number): Tensor =>
      repeatBatch(F.reshape(F.slice(perm, 0, 2 * l + kv, 2 * l + kv + 1), [heads, P, headDim]), B);
    out.push({ k: part(0), v: part(1) });
  }
  return out;
}

/** Register the forward hook of adapter `name`. */
function installHook(host: PeftHost, c: PromptConfig, name: string): void {
  const g = geometry(host.model);
  const P = c.numVirtualTokens;
  host.inputHooks.set(name, (input) => {
    const encoder = host.prompt_encoder.get(name) as PromptSource | undefined;
    if (!encoder) throw new Error(`prompt adapter "${name}" has no encoder`);
    const B = typeof input.batchSize === 'number' ? input.batchSize : 1;
    const mask = input.attentionMask as Uint8Array | undefined;
    if (input.positionIds !== undefined)
      throw new Error(
        `${c.peftType}: positionIds cannot be combined with prompt learning (positions follow the virtual tokens)`,
      );
    if (c.peftType === 'PREFIX_TUNING') {
      // Always handed over, also after prefill when the model has seeded the cache with it: the
      // model then checks that the cache holds this very prefix (another adapter or changed
      // weights since the prefill is an error, not the old prefix attended in silence).
      const prefix = prefixFromFlat(encoder.output(), g.layers, c.numAttentionHeads ?? g.kvHeads, g.headDim, B);
      const next: Record<string, unknown> = { ...input, prefix };
      if (mask) next.attentionMask = insertCols(mask, B, 0, P, 1);
      return { input: next };
    }
    const cache = input.cache as { length: number } | undefined;
    if (cache && cache.length > 0) {
      // Generation after prefill: the virtual tokens are in the cache; the mask still counts them.
      return { input: mask ? { ...input, attentionMask: insertCols(mask, B, 0, P, 1) } : input };
    }
    const at = g.bert ? 1 : 0; // BERT: after [CLS]
    const ids = input.inputIds as Int32Array | undefined;
    const words = (input.inputsEmbeds as Tensor | undefined) ?? (ids ? embedTokens(host.model, ids, B) : null);
    if (!words) throw new Error('forward: give inputIds or inputsEmbeds');
    const T = words.dim(1);
    const prompts = repeatBatch(encoder.output(), B);
    const parts = [F.slice(words, 1, 0, at), prompts, F.slice(words, 1, at, T)].filter((p) => p.dim(1) > 0);
    const next: Record<string, unknown> = { ...input, inputsEmbeds: F.concat(parts, 1) };
    delete next.inputIds;
    if (mask) next.attentionMask = insertCols(mask, B, at, P, 1);
    if (input.tokenTypeIds instanceof Int32Array) next.tokenTypeIds = insertCols(input.tokenTypeIds, B, at, P, 0);
    const labels = input.labels;
    if (labels instanceof Int32Array && (!g.bert || labels.length === B * T))
      next.labels = insertCols(labels, B, at, P, -100);
    // Question answering: the span loss is taken over the real tokens' start/end logits only (below),
    // so the virtual tokens neither shift the answer positions nor compete in its softmax.
    const span = input.startPositions !== undefined || input.endPositions !== undefined;
    if (span) {
      delete next.startPositions;
      delete next.endPositions;
    }
    return {
      input: next,
      finish: (out) => {
        const o = out as { logits: Tensor; hidden?: Tensor; loss?: Tensor; startLogits?: Tensor; endLogits?: Tensor };
        const result: Record<string, unknown> = { ...o };
        // Token-level outputs for the real tokens only (read lazily: the logits may be computed on demand).
        // Only per-token tensors ([B, T + P, ...]; QA's start/end logits [B, T + P]): a sequence
        // classifier's [B, numLabels] logits stay whole even when numLabels happens to be T + P.
        const strip = (t: Tensor, rank = 3): Tensor => (t.ndim === rank && t.dim(1) === T + P ? dropCols(t, at, P) : t);
        Object.defineProperty(result, 'logits', { get: () => strip(o.logits), enumerable: true });
        if (o.hidden) result.hidden = strip(o.hidden);
        if (o.startLogits && o.endLogits) {
          const start = strip(o.startLogits, 2),
            end = strip(o.endLogits, 2);
          result.startLogits = start;
          result.endLogits = end;
          if (span)
            result.loss = spanLoss(
              start,
              end,
              input.startPositions as Int32Array | undefined,
              input.endPositions as Int32Array | undefined,
            );
        } else if (span) {
          throw new Error(`${c.peftType}: startPositions/endPositions given to a model without start/end logits`);
        }
        return result;
      },
    };
  });
}

const encoderState = new WeakMap<PeftHost, Map<string, Tensor>>();

function promptMethod(peftType: PromptConfig['peftType'], fields: readonly string[]): PeftMethod<PromptConfig> {
  return {
    peftType,
    prefix: 'prompt_encoder',
    knownFields: fields,
    fromJson: promptConfigFromJson,
    toJson: promptConfigToJson,
    resolve: resolvePrompt,
    add(host, config, name, opts) {
      // Loaded for inference: PEFT's inference-mode encoder, the saved output in an embedding.
      host.prompt_encoder.set(name, buildEncoder(config, host.model, opts.forLoading && config.inferenceMode));
      installHook(host, config, name);
    },
    stateDict(host, _config, name) {
      const enc = host.prompt_encoder.get(name) as PromptSource | undefined;
      if (!enc) throw new Error(`no prompt encoder for adapter "${name}"`);
      const out = noGrad(() => enc.output());
      return new Map([['prompt_embeddings', new Tensor(Float32Array.from(out.f32), out.shape)]]);
    },
    loadTargets(host, config, name) {
      const t = new Tensor(new Float32Array(config.numVirtualTokens * outputDim(config)), [
        config.numVirtualTokens,
        outputDim(config),
      ]);
      let m = encoderState.get(host);
      if (!m) encoderState.set(host, (m = new Map<string, Tensor>()));
      m.set(name, t);
      return new Map([['prompt_embeddings', t]]);
    },
    afterLoad(host, config, name, dir, warn) {
      const saved = encoderState.get(host)?.get(name);
      encoderState.get(host)?.delete(name);
      if (!saved) return;
      let enc = host.prompt_encoder.get(name) as PromptSource;
      const file = join(dir, PROMPT_ENCODER_FILE);
      if (!enc.direct && existsSync(file)) {
        // Resume: the full encoder, checked against the output PEFT's file carries.
        const state = readSafetensors(file).tensors;
        const own = new Map(enc.namedParameters());
        loadTensorsInto(own, { weightsPath: file, tensors: state }, name);
        const out = noGrad(() => enc.output()).f32;
        let diff = 0;
        for (let i = 0; i < out.length; i++) diff = Math.max(diff, Math.abs((out[i] ?? 0) - (saved.f32[i] ?? 0)));
        if (diff > 1e-4)
          throw new Error(
            `${file}: the encoder's output differs from prompt_embeddings by ${diff}; the two files do not belong together`,
          );
        return;
      }
      if (!enc.direct) {
        warn(
          `${dir}: no ${PROMPT_ENCODER_FILE}; training continues on the saved virtual tokens directly (the ${config.peftType} encoder network is not in PEFT's file)`,
        );
        enc = buildEncoder(config, host.model, true);
        host.prompt_encoder.set(name, enc);
      }
      enc.embedding.weight.f32.set(saved.f32);
    },
    extraFiles(host, _config, name, dir) {
      const enc = host.prompt_encoder.get(name) as PromptSource | undefined;
      if (!enc || enc.direct) return;
      writeSafetensors(join(dir, PROMPT_ENCODER_FILE), toRaw(new Map(enc.namedParameters())), { format: 'pt' });
    },
  };
}

/** The prompt-tuning method as the PEFT registry sees it. */
export const PROMPT_TUNING = promptMethod('PROMPT_TUNING', PROMPT_TUNING_FIELDS);
/** The P-tuning method as the PEFT registry sees it. */
export const P_TUNING = promptMethod('P_TUNING', P_TUNING_FIELDS);
/** The prefix-tuning method as the PEFT registry sees it. */
export const PREFIX_TUNING = promptMethod('PREFIX_TUNING', PREFIX_TUNING_FIELDS);
