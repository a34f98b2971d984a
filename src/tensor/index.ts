/** tunekit/tensor: float32 tensors with reverse-mode autograd. */
export * from './tensor.js';
export * from './ops.js';
export { Rng } from './random.js';
