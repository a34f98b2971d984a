/** Parameter-efficient fine-tuning methods. */
export * from './lora/config.js';
export * from './lora/layer.js';
export * from './lora/model.js';
