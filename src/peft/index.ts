/** Parameter-efficient fine-tuning methods. */
export * from './config.js';
export * from './tuner.js';
export * from './adapter-folder.js';
export * from './method.js';
export * from './registry.js';
export * from './peft-model.js';
export * from './lora/config.js';
export * from './lora/layer.js';
export * from './lora/model.js';
export * from './lora/dora.js';
export * from './lora/pissa.js';
export * from './ia3/config.js';
export * from './ia3/layer.js';
export * from './ia3/model.js';
export * from './prompt/config.js';
export * from './prompt/encoders.js';
export * from './prompt/model.js';
