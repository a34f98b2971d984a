/**
 * What a PEFT method provides to the shared machinery (PeftModel, adapter folders, the registry).
 * Layer methods (LoRA, IA3, bottleneck, LoRA experts) inject layers into the model; prompt methods
 * attach an encoder to the PeftModel and feed the model through its input hook.
 */
import type { Module, ModuleDict } from '../nn/module.js';
import type { Tensor } from '../tensor/tensor.js';
import type { PeftConfigBase } from './config.js';
import type { BiasMode } from './tuner.js';

/** The parts of a PeftModel a method works on. */
export interface PeftHost {
  /** The wrapped base model (modified in place by layer methods). */
  readonly model: Module;
  /** Prompt-learning encoders by adapter name (`prompt_encoder.<name>`). */
  readonly prompt_encoder: ModuleDict;
  /** How prompt methods feed the model, by adapter name. */
  readonly inputHooks: Map<string, InputHook>;
  /** Extra loss terms by adapter name. */
  readonly auxLosses: Map<string, () => Tensor | null>;
}

/** A function the forward pass runs the input through (prompt methods prepend virtual tokens or prefixes). */
export type InputHook = (input: Record<string, unknown>) => {
  input: Record<string, unknown>;
  /** Turns the model's output back into the caller's (e.g. drops the virtual tokens' positions). */
  finish?: (output: unknown) => unknown;
};

/** What a PEFT method implements for the shared machinery (PeftModel, adapter folders, the registry). */
export interface PeftMethod<C extends PeftConfigBase = PeftConfigBase> {
  /** adapter_config.json `peft_type`. */
  readonly peftType: string;
  /** Parameter-name prefix of this method's layers (`lora_`, `ia3_`); freezing and saving use it. */
  readonly prefix: string;
  /** Config fields the parser understands (others are reported once and ignored). */
  readonly knownFields: readonly string[];
  /** Parse and validate a config read from `label`. */
  fromJson(json: Record<string, unknown>, label: string): C;
  /** The config as PEFT writes it (sorted keys). */
  toJson(config: C): Record<string, unknown>;
  /** Fill defaults that depend on the model (targets, dims) before adding. */
  resolve?(config: C, model: Module): C;
  /** Add adapter `name` (fresh weights) to the host. `forLoading` skips inits that change the base (PiSSA). */
  add(host: PeftHost, config: C, name: string, opts: { forLoading: boolean }): void;
  /** How biases train and save (LoRA's `bias`); default "none". */
  bias?(config: C): BiasMode;
  /** Saved tensors of adapter `name` under PEFT's keys; default: parameters by prefix. */
  stateDict?(host: PeftHost, config: C, name: string): Map<string, Tensor>;
  /** Tensors that receive the loaded values (same keys as stateDict); default: stateDict. */
  loadTargets?(host: PeftHost, config: C, name: string): Map<string, Tensor>;
  /** Called after loading values from folder `dir` (prompt methods install them in their encoder). */
  afterLoad?(host: PeftHost, config: C, name: string, dir: string, warn: (message: string) => void): void;
  /** Extra files written next to the adapter (e.g. the prompt encoder for resuming). */
  extraFiles?(host: PeftHost, config: C, name: string, dir: string): void;
  /** Parameters that train for adapter `name`, beyond the prefix rule (prompt encoders). */
  trainable?(host: PeftHost, config: C, name: string): Tensor[];
}
