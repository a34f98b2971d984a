/**
 * transformers' ACT2FN names mapped to the activation ops, for the models that read `hidden_act` /
 * `activation_function` from config.json.
 */
/** Activation names of transformers' ACT2FN accepted in `hidden_act` / `activation_function`. */
export const ACTIVATIONS = [
  'gelu',
  'gelu_new',
  'gelu_fast',
  'gelu_pytorch_tanh',
  'gelu_python',
  'gelu_accurate',
  'quick_gelu',
  'relu',
  'relu6',
  'silu',
  'swish',
  'tanh',
  'sigmoid',
  'mish',
  'leaky_relu',
  'linear',
] as const;
/** One of {@link ACTIVATIONS}. */
export type Activation = (typeof ACTIVATIONS)[number];

import * as F from '../tensor/ops.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * The activation named in config.json. "gelu" is the exact erf form; "gelu_new",
 * "gelu_pytorch_tanh" and "gelu_fast" are the same tanh approximation (they differ only in how
 * the constant is written); "relu" as is.
 *
 * @param name the config value
 * @param field the config field it came from, for the error message
 * @throws Error naming the field and the supported values for any other activation
 */
export function activation(name: Activation, field: string): (x: Tensor) => Tensor {
  switch (name) {
    case 'gelu':
    case 'gelu_python':
      return (x) => F.gelu(x, 'none');
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast':
      return (x) => F.gelu(x, 'tanh');
    case 'relu':
      return F.relu;
    default:
      throw new Error(
        `config.json: ${field} "${name}" is not supported (expected "gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast" or "relu")`,
      );
  }
}
