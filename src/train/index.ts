/** Optimisers and training steps. */
export * from './optim.js';
export * from './causal-lm.js';
export * from './losses.js';
