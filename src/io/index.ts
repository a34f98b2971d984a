/**
 * File and format layer: safetensors, Hugging Face config/generation_config, tokenizers with chat
 * templates, and Hub downloads. Independent of the tensor core (plain typed arrays and shapes).
 */
export * from './safetensors.js';
export * from './hf-config.js';
export * from './tokenizer.js';
export * from './hub.js';
export {
  writeFileAtomic, writeJsonAtomic, writeFolderAtomic, writeFolderAtomicSync, readFileBounded, readTextBounded, cleanStaleTemps,
  recoverFolder, fsyncFolder, describeFsError, type FileContents, type FolderWriteOptions,
} from './files.js';
export { modelMemoryBudget, dtypeBytes, type SizeTerm } from './model-size.js';
export { FieldReader, readJsonFile, readJsonObject, MAX_CONFIG_BYTES } from './json.js';
