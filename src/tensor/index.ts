/**
 * Float32 tensors with reverse-mode autograd, and the differentiable operations the models are
 * built from (the `torch` + `torch.nn.functional` of tunekit).
 *
 * @module tunekit/tensor
 */
export {
  Tensor,
  noGrad,
  isGradEnabled,
  sizeOf,
  shapeStr,
  type DType,
  type GradNode,
  type BackwardContext,
} from './tensor.js';
export {
  // creation
  tensor,
  zeros,
  full,
  randn,
  rand,
  toF32,
  broadcastShapes,
  // element-wise
  add,
  sub,
  mul,
  div,
  scale,
  addScalar,
  neg,
  log,
  exp,
  gelu,
  silu,
  relu,
  tanh,
  sigmoid,
  dropout,
  // reductions
  sum,
  mean,
  max,
  // shapes
  reshape,
  permute,
  transpose,
  slice,
  concat,
  split,
  splitHeads,
  mergeHeads,
  // layers
  embedding,
  matmul,
  linear,
  loraLinear,
  softmax,
  logSoftmax,
  layerNorm,
  rmsNorm,
  crossEntropy,
  linearCrossEntropy,
  scaledDotProductAttention,
  packedAttention,
  tokenMajorAttention,
  rope,
  withInt8Activations,
  type CrossEntropyOptions,
  type AttentionOptions,
  type PackedAttentionOptions,
  type LoraUpdate,
} from './ops.js';
export { Rng } from './random.js';
export {
  Profiler,
  formatProfile,
  PROFILE_CATEGORIES,
  type Profile,
  type ProfileCategory,
  type ProfileEntry,
} from './profile.js';
