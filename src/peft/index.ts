/**
 * Parameter-efficient fine-tuning, with Python PEFT's adapter folders and key names: wrap a model
 * with {@link getPeftModel}, train, save with `PeftModel.savePretrained`, load PEFT-written folders
 * with `PeftModel.fromPretrained`. Methods: LoRA (with DoRA, rsLoRA, PiSSA), IA3, prompt tuning,
 * P-tuning and prefix tuning.
 *
 * @module tunekit/peft
 */
export { getPeftModel, PeftModel, type LoadAdapterOptions } from './peft-model.js';
export { TASK_TYPES, type TaskType, type PeftConfigBase } from './config.js';
export { TunerLayer, type TargetSpec, type BiasMode } from './tuner.js';
export { readAdapterFolder, ADAPTER_CONFIG, ADAPTER_WEIGHTS, type AdapterFiles } from './adapter-folder.js';
export { supportedPeftTypes } from './registry.js';
export { loraConfig, loraScaling, DEFAULT_LORA_TARGETS, type LoraConfig, type LoraInit } from './lora/config.js';
export { LoRALinear, LoRAEmbedding, type LoraLayerOptions } from './lora/layer.js';
export { ia3Config, DEFAULT_IA3_TARGETS, DEFAULT_IA3_FEEDFORWARD, type IA3Config } from './ia3/config.js';
export { IA3Linear } from './ia3/layer.js';
export {
  promptTuningConfig,
  pTuningConfig,
  prefixTuningConfig,
  type PromptConfig,
  type PromptLearningFields,
  type PromptTuningConfig,
  type PTuningConfig,
  type PrefixTuningConfig,
} from './prompt/config.js';
export { PromptEmbedding, PromptEncoder, PrefixEncoder, PromptSource } from './prompt/encoders.js';
