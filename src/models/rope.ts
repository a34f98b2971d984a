/**
 * Rotary position embeddings of the Llama family: the RoPE settings of config.json and the inverse
 * frequencies of transformers' `modeling_rope_utils.py` (default, linear, dynamic NTK, YaRN, Llama 3,
 * LongRoPE).
 */
import { FieldReader, isPlainObject } from '../io/json.js';

/** RoPE variants of transformers' ROPE_INIT_FUNCTIONS that {@link computeRopeInvFreq} implements. */
export const ROPE_TYPES = ['default', 'linear', 'dynamic', 'yarn', 'llama3', 'longrope'] as const;
/** One of {@link ROPE_TYPES}. */
export type RopeType = (typeof ROPE_TYPES)[number];

/**
 * RoPE parameters after transformers v5's `standardize_rope_params`: the legacy `rope_scaling` and
 * the newer `rope_parameters` are read the same way, `type` is accepted for `rope_type`, `rope_theta` and
 * `partial_rotary_factor` are merged in, and llama3/yarn/longrope get `originalMaxPositionEmbeddings`
 * (top-level `original_max_position_embeddings` first, then the dict's, then `max_position_embeddings`).
 */
export interface RopeParameters {
  ropeType: RopeType;
  /** Base θ; default 10000. */
  ropeTheta: number;
  /** Fraction of head_dim that is rotated; default 1. */
  partialRotaryFactor: number;
  /** linear/dynamic/yarn/llama3 scale factor; longrope: null → max_position_embeddings / original. */
  factor: number | null;
  originalMaxPositionEmbeddings: number | null;
  /** yarn/longrope attention (cos/sin) scaling; null → derived from factor. */
  attentionFactor: number | null;
  /** yarn: default 32 / 1. */
  betaFast: number;
  betaSlow: number;
  /** yarn (DeepSeek style) mscale / mscale_all_dim; null when absent. */
  mscale: number | null;
  mscaleAllDim: number | null;
  /** yarn: floor/ceil the correction range; default true. */
  truncate: boolean;
  /** llama3: defaults none (required). */
  lowFreqFactor: number | null;
  highFreqFactor: number | null;
  /** longrope per-frequency factors (length rotary_dim/2). */
  shortFactor: number[] | null;
  longFactor: number[] | null;
}

/**
 * Reads RoPE settings from `rope_parameters` (transformers v5) or `rope_scaling` (legacy), with
 * `rope_theta` / `partial_rotary_factor` from the dict or the top level (default 10000 / 1).
 * Layer-type-nested dicts (Gemma-style) are rejected.
 */
export function parseRopeParameters(f: FieldReader, maxPositionEmbeddings: number, headDim: number): RopeParameters {
  const key = f.has('rope_parameters') ? 'rope_parameters' : 'rope_scaling';
  const raw = f.has(key) ? f.obj[key] : {};
  if (!isPlainObject(raw)) f.fail(key, 'an object');
  if (Object.values(raw).some(isPlainObject)) {
    throw new Error(`${f.label}: field "${key}" holds per-layer-type RoPE settings, which are not supported`);
  }
  const r = new FieldReader(`${f.label}: ${key}`, raw);
  const typeField = r.has('rope_type') ? 'rope_type' : 'type';
  const ropeType = r.oneOf(typeField, ROPE_TYPES, 'default');
  const ropeTheta = r.has('rope_theta') ? r.num('rope_theta', 10000, true) : f.num('rope_theta', 10000, true);
  const partialRotaryFactor = r.has('partial_rotary_factor')
    ? r.num('partial_rotary_factor', 1, true)
    : f.num('partial_rotary_factor', 1, true);
  if (partialRotaryFactor > 1)
    (r.has('partial_rotary_factor') ? r : f).fail('partial_rotary_factor', 'a number in (0, 1]');
  const rotaryDim = Math.floor(headDim * partialRotaryFactor);
  // transformers' standardize_rope_params: a top-level original_max_position_embeddings (Phi-3) wins.
  let originalMaxPositionEmbeddings: number | null = null;
  if (ropeType === 'llama3' || ropeType === 'yarn' || ropeType === 'longrope') {
    originalMaxPositionEmbeddings = f.has('original_max_position_embeddings')
      ? f.int('original_max_position_embeddings', maxPositionEmbeddings)
      : r.int('original_max_position_embeddings', maxPositionEmbeddings);
  }
  const needFactor = ropeType === 'linear' || ropeType === 'dynamic' || ropeType === 'yarn' || ropeType === 'llama3';
  if (needFactor && !r.has('factor')) r.fail('factor', `present for rope_type "${ropeType}"`);
  const factor = r.optNum('factor', true);
  const params: RopeParameters = {
    ropeType,
    ropeTheta,
    partialRotaryFactor,
    factor,
    originalMaxPositionEmbeddings,
    attentionFactor: r.optNum('attention_factor'),
    betaFast: r.num('beta_fast', 32, true),
    betaSlow: r.num('beta_slow', 1, true),
    mscale: r.optNum('mscale'),
    mscaleAllDim: r.optNum('mscale_all_dim'),
    truncate: r.bool('truncate', true),
    lowFreqFactor: null,
    highFreqFactor: null,
    shortFactor: null,
    longFactor: null,
  };
  if (params.attentionFactor !== null && params.attentionFactor < 0) r.fail('attention_factor', 'a number >= 0');
  if (ropeType === 'llama3') {
    for (const k of ['low_freq_factor', 'high_freq_factor']) if (!r.has(k)) r.fail(k, 'present for rope_type "llama3"');
    params.lowFreqFactor = r.num('low_freq_factor', 1, true);
    params.highFreqFactor = r.num('high_freq_factor', 4, true);
    if (params.highFreqFactor <= params.lowFreqFactor)
      r.fail('high_freq_factor', `greater than low_freq_factor (${params.lowFreqFactor})`);
  }
  if (ropeType === 'yarn' && params.betaFast < params.betaSlow)
    r.fail('beta_fast', `>= beta_slow (${params.betaSlow})`);
  if (ropeType === 'longrope') {
    for (const k of ['short_factor', 'long_factor']) if (!r.has(k)) r.fail(k, `a list of ${rotaryDim / 2} numbers`);
    params.shortFactor = r.optNumList('short_factor', Math.floor(rotaryDim / 2));
    params.longFactor = r.optNumList('long_factor', Math.floor(rotaryDim / 2));
  }
  return params;
}

/** What {@link computeRopeInvFreq} needs from a config. */
export interface RopeConfig {
  headDim: number;
  maxPositionEmbeddings: number;
  rope: RopeParameters;
}

/**
 * Inverse frequencies of the rotary embedding and the attention (cos/sin) scaling, as transformers'
 * `ROPE_INIT_FUNCTIONS[rope_type](config, device, seq_len)` computes them:
 *
 * - default: `inv_freq[i] = 1 / θ^(2i/d)`, d = floor(head_dim × partial_rotary_factor).
 * - linear: default / factor.
 * - dynamic (NTK): θ' = θ·((factor·L/max_pos) − (factor − 1))^(d/(d−2)) with L = max(seqLen, max_pos).
 * - yarn: blend of interpolated (÷factor) and extrapolated frequencies with a linear ramp over the
 *   correction range of beta_fast/beta_slow rotations at original_max_position_embeddings; attention
 *   scaling `0.1·ln(factor)+1` (or the mscale/mscale_all_dim ratio, or attention_factor).
 * - llama3: wavelengths above original/low_freq_factor are ÷factor, below original/high_freq_factor
 *   unchanged, smoothly interpolated in between.
 * - longrope: `1 / (ext·θ^(2i/d))` with ext = long_factor when seqLen > original, else short_factor;
 *   attention scaling `sqrt(1 + ln(factor)/ln(original))` (factor default max_pos/original).
 *
 * Computed in float64 (transformers computes in float32, so values agree to float32 rounding).
 *
 * @param config head_dim, max_position_embeddings and RoPE parameters (e.g. a {@link DecoderConfig})
 * @param seqLen current sequence length (only dynamic and longrope depend on it); default none
 * @returns `invFreq` of length d/2 and `attentionScaling` (1 for default/linear/dynamic/llama3)
 */
export function computeRopeInvFreq(
  config: RopeConfig,
  seqLen?: number,
): { invFreq: Float64Array; attentionScaling: number } {
  const p = config.rope;
  const dim = Math.floor(config.headDim * p.partialRotaryFactor);
  const half = Math.floor((dim + 1) / 2); // arange(0, dim, 2) has ceil(dim/2) entries
  const defaultInvFreq = (base: number): Float64Array => {
    const out = new Float64Array(half);
    for (let i = 0; i < half; i++) out[i] = 1 / base ** ((2 * i) / dim);
    return out;
  };
  const maxPos = config.maxPositionEmbeddings;
  switch (p.ropeType) {
    case 'default':
      return { invFreq: defaultInvFreq(p.ropeTheta), attentionScaling: 1 };
    case 'linear': {
      const invFreq = defaultInvFreq(p.ropeTheta).map((v) => v / p.factor!);
      return { invFreq, attentionScaling: 1 };
    }
    case 'dynamic': {
      const factor = p.factor!;
      const len = Math.max(seqLen ?? maxPos, maxPos);
      const base = p.ropeTheta * ((factor * len) / maxPos - (factor - 1)) ** (dim / (dim - 2));
      return { invFreq: defaultInvFreq(base), attentionScaling: 1 };
    }
    case 'yarn':
      return yarnInvFreq(p, dim, half, maxPos);
    case 'llama3': {
      const factor = p.factor!;
      const low = p.lowFreqFactor!;
      const high = p.highFreqFactor!;
      const oldContext = p.originalMaxPositionEmbeddings ?? maxPos;
      const lowFreqWavelen = oldContext / low;
      const highFreqWavelen = oldContext / high;
      const invFreq = defaultInvFreq(p.ropeTheta).map((f) => {
        const wavelen = (2 * Math.PI) / f;
        if (wavelen < highFreqWavelen) return f;
        if (wavelen > lowFreqWavelen) return f / factor;
        const smooth = (oldContext / wavelen - low) / (high - low);
        return ((1 - smooth) * f) / factor + smooth * f;
      });
      return { invFreq, attentionScaling: 1 };
    }
    case 'longrope': {
      const original = p.originalMaxPositionEmbeddings ?? maxPos;
      const factor = p.factor ?? maxPos / original;
      const attentionScaling =
        p.attentionFactor ?? (factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(original)));
      const ext = seqLen !== undefined && seqLen > original ? p.longFactor! : p.shortFactor!;
      const invFreq = new Float64Array(half);
      for (let i = 0; i < half; i++) invFreq[i] = 1 / (ext[i]! * p.ropeTheta ** ((2 * i) / dim));
      return { invFreq, attentionScaling };
    }
  }
}

function yarnInvFreq(
  p: RopeParameters,
  dim: number,
  half: number,
  maxPos: number,
): { invFreq: Float64Array; attentionScaling: number } {
  const original = p.originalMaxPositionEmbeddings ?? maxPos;
  const factor = p.factor ?? maxPos / original;
  const mscale = (scale: number, m = 1): number => (scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1);
  let attentionScaling = p.attentionFactor;
  if (attentionScaling === null) {
    // transformers tests truthiness: a 0 mscale counts as absent.
    attentionScaling =
      p.mscale && p.mscaleAllDim ? mscale(factor, p.mscale) / mscale(factor, p.mscaleAllDim) : mscale(factor);
  }
  // Dimension index at which a frequency completes `rotations` turns over the original context.
  const correctionDim = (rotations: number): number =>
    (dim * Math.log(original / (rotations * 2 * Math.PI))) / (2 * Math.log(p.ropeTheta));
  let low = correctionDim(p.betaFast);
  let high = correctionDim(p.betaSlow);
  if (p.truncate) {
    low = Math.floor(low);
    high = Math.ceil(high);
  }
  low = Math.max(low, 0);
  high = Math.min(high, dim - 1);
  if (low === high) high += 0.001; // avoid a zero-width ramp, as the reference does
  const invFreq = new Float64Array(half);
  for (let i = 0; i < half; i++) {
    const posFreq = p.ropeTheta ** ((2 * i) / dim);
    const extrapolation = 1 / posFreq;
    const interpolation = 1 / (factor * posFreq);
    const ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
    const extrapolationWeight = 1 - ramp;
    invFreq[i] = interpolation * (1 - extrapolationWeight) + extrapolation * extrapolationWeight;
  }
  return { invFreq, attentionScaling };
}
