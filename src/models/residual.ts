/**
 * The residual add that closes a decoder sub-layer (`residual + out`), as a module of its own.
 *
 * It has no parameters and changes nothing by itself. It exists so that a PEFT method can replace
 * it: AdapterHub's bottleneck adapters on GPT-2 and the Llama family sit exactly here
 * (`attention_adapters(attn_output, residual, None)`, `output_adapters(mlp_output, residual, None)`
 * in its decoder blocks), after the sub-layer's dropout and with the sub-layer's input available,
 * which a wrapper around the output projection cannot see.
 */
import { Module } from '../nn/module.js';
import * as F from '../tensor/ops.js';
import type { Tensor } from '../tensor/tensor.js';

export class ResidualAdd extends Module {
  /** out: the sub-layer's output (after its dropout); residual: the sub-layer's input (before its norm). */
  forward(out: Tensor, residual: Tensor): Tensor {
    return F.add(residual, out);
  }
}

/** A module that can stand where a ResidualAdd stands. */
export interface ResidualHook extends Module {
  forward(out: Tensor, residual: Tensor): Tensor;
}
