/**
 * Modules: parameters by transformers' names, the layers models are built from, the training
 * losses, and the compute precision of frozen weights.
 *
 * @module
 */
export { Module, ModuleDict, ParamDict } from './module.js';
export { Linear, Embedding, LayerNorm, RMSNorm, Dropout, type LinearLike } from './layers.js';
export { normalLinear, normalEmbedding, type NormalLinearOptions } from './init.js';
export { mseLoss, bceWithLogitsLoss } from './losses.js';
export {
  setComputeDtype,
  computeDtypeOf,
  parseComputeDtype,
  COMPUTE_DTYPES,
  type ComputeDtype,
} from './compute-dtype.js';
