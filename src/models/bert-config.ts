/**
 * config.json of BERT (BertModel and its task and pre-training head classes): typed fields with the
 * defaults of transformers' BertConfig and PretrainedConfig's label settings. Registered in
 * registry.ts; the model is bert.ts.
 */
import { isPlainObject, type FieldReader } from '../io/json.js';
import { LAYER_OVERHEAD_BYTES, checkModelSize, dtypeBytes, type SizeTerm } from '../io/model-size.js';
import { ACTIVATIONS, type Activation } from './activations.js';
import type { ConfigContext, ModelConfigBase } from './model-config.js';

/**
 * config.json class names BERT reads (any `model_type: "bert"` checkpoint also loads whatever its
 * head class; see bert.ts isBertConfig).
 */
export const BERT_ARCHITECTURES: readonly [string, ...string[]] = [
  'BertModel',
  'BertForSequenceClassification',
  'BertForTokenClassification',
  'BertForQuestionAnswering',
  // Pre-training checkpoints (bert-base-uncased, bert-base-chinese declare these): the encoder loads.
  'BertForMaskedLM',
  'BertForPreTraining',
];

/** transformers' `problem_type` for sequence classification heads (picks the loss). */
export type ProblemType = 'regression' | 'single_label_classification' | 'multi_label_classification';

/** BERT encoders and their task heads. */
export interface BertConfig extends ModelConfigBase {
  family: 'bert';
  intermediateSize: number;
  hiddenAct: Activation;
  typeVocabSize: number;
  layerNormEps: number;
  positionEmbeddingType: string;
  hiddenDropoutProb: number;
  attentionProbsDropoutProb: number;
  classifierDropout: number | null;
  /** len(id2label) when given, else `num_labels`, else 2 (PretrainedConfig). */
  numLabels: number;
  id2label: Record<number, string>;
  problemType: ProblemType | null;
}

const PROBLEM_TYPES = ['regression', 'single_label_classification', 'multi_label_classification'] as const;

/**
 * Parses a BERT config.json (the registry's parser for model_type bert). The label table
 * (num_labels entries, built here) is always checked against the memory budget before it is built;
 * the whole model's shapes when `ctx.checkSize`.
 */
export function parseBertConfig(ctx: ConfigContext): BertConfig {
  const f: FieldReader = ctx.f;
  const { modelType, base } = ctx;
  const checkSize = (c: BertShape): void => {
    if (ctx.checkSize) checkModelSize(f.label, bertSizeTerms(c), c.numHiddenLayers, 'num_hidden_layers', ctx.budget);
    else checkModelSize(f.label, [labelTableTerm(c.numLabels)], 0, 'num_hidden_layers', ctx.budget, c.numLabels * 128);
  };
  const hiddenSize = f.int('hidden_size', 768);
  const numAttentionHeads = f.int('num_attention_heads', 12);
  if (hiddenSize % numAttentionHeads !== 0)
    f.fail('hidden_size', `divisible by num_attention_heads (${numAttentionHeads})`);
  const shape = {
    dtype: base.dtype,
    vocabSize: f.int('vocab_size', 30522),
    hiddenSize,
    numHiddenLayers: f.int('num_hidden_layers', 12),
    maxPositionEmbeddings: f.int('max_position_embeddings', 512),
    typeVocabSize: f.int('type_vocab_size', 2),
    intermediateSize: f.int('intermediate_size', 3072),
  };
  // PretrainedConfig: id2label (keys are strings in JSON) wins over num_labels; default 2 labels.
  let id2label: Record<number, string> = {};
  if (f.has('id2label')) {
    const raw = f.obj.id2label;
    if (!isPlainObject(raw)) f.fail('id2label', 'an object {"0": "LABEL_0", ...}');
    for (const [k, v] of Object.entries(raw)) {
      const id = Number(k);
      if (!Number.isSafeInteger(id) || id < 0 || typeof v !== 'string')
        f.fail('id2label', 'an object mapping integer ids to label strings');
      id2label[id] = v;
    }
  }
  let numLabels = Object.keys(id2label).length;
  if (numLabels === 0) {
    numLabels = f.int('num_labels', 2);
    checkSize({ ...shape, numLabels }); // before the label table is built
    id2label = Object.fromEntries(Array.from({ length: numLabels }, (_, i) => [i, `LABEL_${i}`]));
  } else {
    if (f.has('num_labels') && f.int('num_labels', numLabels) !== numLabels)
      f.fail('num_labels', `equal to the number of id2label entries (${numLabels})`);
    checkSize({ ...shape, numLabels });
  }
  const problemType = f.has('problem_type') ? f.oneOf('problem_type', PROBLEM_TYPES, 'regression') : null;
  return {
    ...base,
    family: 'bert',
    modelType: modelType || 'bert',
    ...shape,
    numAttentionHeads,
    hiddenAct: f.oneOf('hidden_act', ACTIVATIONS, 'gelu'),
    layerNormEps: f.num('layer_norm_eps', 1e-12, true),
    positionEmbeddingType: f.str('position_embedding_type', 'absolute'),
    hiddenDropoutProb: f.num('hidden_dropout_prob', 0.1),
    attentionProbsDropoutProb: f.num('attention_probs_dropout_prob', 0.1),
    classifierDropout: f.optNum('classifier_dropout'),
    numLabels,
    id2label,
    problemType,
    tieWordEmbeddings: f.bool('tie_word_embeddings', true),
    bosTokenId: f.optInt('bos_token_id'),
    padTokenId: f.has('pad_token_id') ? base.padTokenId : 0,
  };
}

/** The id2label table parseBert builds: about 64 bytes a label. */
function labelTableTerm(numLabels: number): SizeTerm {
  return { fields: ['num_labels'], bytes: numLabels * 64 };
}

/** What the BERT size estimate needs (read before id2label is built). */
type BertShape = Pick<
  BertConfig,
  | 'dtype'
  | 'vocabSize'
  | 'hiddenSize'
  | 'numHiddenLayers'
  | 'maxPositionEmbeddings'
  | 'typeVocabSize'
  | 'intermediateSize'
  | 'numLabels'
>;

/** Sizes of BERT's parts, the task head and the label table (weights in the declared dtype). */
export function bertSizeTerms(c: BertShape): SizeTerm[] {
  const b = dtypeBytes(c.dtype);
  const {
    vocabSize: V,
    hiddenSize: H,
    numHiddenLayers: L,
    maxPositionEmbeddings: P,
    typeVocabSize: T,
    intermediateSize: I,
    numLabels: N,
  } = c;
  return [
    { fields: ['vocab_size', 'hidden_size'], bytes: V * H * b },
    { fields: ['max_position_embeddings', 'hidden_size'], bytes: P * H * b },
    { fields: ['type_vocab_size', 'hidden_size'], bytes: T * H * b },
    { fields: ['num_hidden_layers', 'hidden_size'], bytes: L * 4 * H * H * b + H * H * b },
    { fields: ['num_hidden_layers', 'hidden_size', 'intermediate_size'], bytes: L * 2 * H * I * b },
    // The classifier head, and the id2label table (about 64 bytes a label).
    { fields: ['num_labels', 'hidden_size'], bytes: N * H * b },
    labelTableTerm(N),
    { fields: ['num_hidden_layers'], bytes: L * LAYER_OVERHEAD_BYTES },
  ];
}
