/**
 * tunekit/peft: parameter-efficient fine-tuning in Hugging Face PEFT's spirit and file format.
 *
 * Start with {@link getPeftModel} (a config per method: {@link loraConfig}, {@link ia3Config},
 * {@link promptTuningConfig}, {@link pTuningConfig}, {@link prefixTuningConfig},
 * {@link moeLoraConfig}) or {@link PeftModel.fromPretrained} for a folder written by Python PEFT.
 * The shared machinery ({@link selectTargets}, {@link TunerLayer}, adapter folders, the method
 * registry) is exported for new methods.
 *
 * @module tunekit/peft
 */

/** The model wrapper and its verbs (save/load, merge, several adapters, disableAdapter scope, extraLoss). */
export { PeftModel, TunerModel, getPeftModel, withAdapter, type LoadAdapterOptions } from './peft-model.js';

/** Fields every config carries and the helpers that read them strictly. */
export { TASK_TYPES, type TaskType, type PeftConfigBase } from './config.js';

/** LoRA (rsLoRA, rank/alpha patterns, bias modes, gaussian/PiSSA init, Conv1D, Embedding) and DoRA. */
export {
  loraConfig,
  loraScaling,
  loraConfigFromJson,
  loraConfigToJson,
  DEFAULT_LORA_TARGETS,
  type LoraConfig,
  type LoraInit,
} from './lora/config.js';
export { LoRALinear, LoRAEmbedding, transposeOutIn, weightOutIn, type LoraLayerOptions } from './lora/layer.js';
export { LORA, applyLora, injectLora, withTaskHeads, TASK_HEADS } from './lora/model.js';
export { doraRowNorms } from './lora/dora.js';
export { pissaInit, topSingular } from './lora/pissa.js';

/** IA3: learned scaling vectors on keys, values and feed-forward inputs. */
export {
  ia3Config,
  ia3ConfigFromJson,
  ia3ConfigToJson,
  DEFAULT_IA3_TARGETS,
  DEFAULT_IA3_FEEDFORWARD,
  type IA3Config,
} from './ia3/config.js';
export { IA3Linear } from './ia3/layer.js';
export { IA3, injectIA3, isFeedforward } from './ia3/model.js';

/** Prompt tuning, P-tuning (MLP / bi-LSTM encoder) and prefix tuning through the models' hook. */
export {
  promptTuningConfig,
  pTuningConfig,
  prefixTuningConfig,
  promptConfigFromJson,
  promptConfigToJson,
  type PromptTuningConfig,
  type PTuningConfig,
  type PrefixTuningConfig,
  type PromptConfig,
  type PromptLearningFields,
} from './prompt/config.js';
export { PromptSource, PromptEmbedding, PromptEncoder, PrefixEncoder, EncoderActivation } from './prompt/encoders.js';
export { PROMPT_TUNING, P_TUNING, PREFIX_TUNING, PROMPT_ENCODER_FILE, prefixFromFlat } from './prompt/model.js';

/** Mixture of LoRA experts (router soft / top-k, load-balancing loss; file format in moe-lora/config.ts). */
export { moeLoraConfig, moeLoraConfigFromJson, moeLoraConfigToJson, type MoeLoraConfig } from './moe-lora/config.js';
export { MoeLoraLinear, MoeExperts, loadBalancingLoss } from './moe-lora/layer.js';
export { MOE_LORA, injectMoeLora } from './moe-lora/model.js';

/** Bottleneck adapters (Houlsby / Pfeiffer placements for BERT, GPT-2, Llama; tunekit's folder format). */
export {
  bottleneckConfig,
  bottleneckConfigFromJson,
  bottleneckConfigToJson,
  type BottleneckConfig,
} from './bottleneck/config.js';
export { BottleneckAdapter, BottleneckLayer } from './bottleneck/layer.js';
export { BOTTLENECK, bottleneckTargets } from './bottleneck/model.js';

/** The shared tuner: target matching, injection, freezing by prefix, modules_to_save, merge/unload. */
export {
  ALL_LINEAR,
  TunerLayer,
  ModulesToSaveWrapper,
  fullMatch,
  matchesName,
  matchesTarget,
  layerIndex,
  patternValue,
  modelFamily,
  defaultTargets,
  selectTargets,
  expandAllLinear,
  candidateModules,
  tunerLayers,
  saveWrappers,
  addModulesToSave,
  cloneTrainable,
  markOnlyAdapterTrainable,
  adapterStateDict,
  adapterKeyOf,
  unloadLayers,
  type TargetSpec,
  type BiasMode,
} from './tuner.js';

/** PEFT adapter folders: strict reading, whole-folder writing. */
export {
  ADAPTER_CONFIG,
  ADAPTER_WEIGHTS,
  readAdapterFolder,
  writeAdapterFolder,
  loadTensorsInto,
  warnUnknownFields,
  type AdapterFiles,
} from './adapter-folder.js';

/** peft_type -> method, and what a method implements. */
export { methodFor, registerMethod, supportedPeftTypes } from './registry.js';
export type { PeftMethod, PeftHost, InputHook } from './method.js';
