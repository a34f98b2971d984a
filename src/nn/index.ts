/** Modules: parameters by transformers' names, and the layers models are built from. */
export { Module, ModuleDict, ParamDict } from './module.js';
export { Linear, Embedding, LayerNorm, RMSNorm, Dropout, LSTM, type LinearLike } from './layers.js';
export { normalLinear, normalEmbedding, type NormalLinearOptions } from './init.js';
export { mseLoss, bceWithLogitsLoss } from './losses.js';
export { setComputeDtype, computeDtypeOf, parseComputeDtype, COMPUTE_DTYPES, type ComputeDtype } from './compute-dtype.js';
