/**
 * File and format layer: safetensors, Hugging Face config/generation_config, tokenizers with chat
 * templates, Hub downloads, and whole-or-nothing file and folder writes. Independent of the tensor
 * core (plain typed arrays and shapes).
 *
 * @module tunekit/io
 */
export {
  readSafetensorsHeader,
  readSafetensors,
  writeSafetensors,
  readShardedSafetensors,
  bf16ToF32,
  f32ToBf16,
  f16ToF32,
  f32ToF16,
  DTYPE_SIZE,
  MAX_HEADER_BYTES,
  type Dtype,
  type TensorData,
  type RawTensor,
  type SafetensorsContents,
  type TensorInfo,
} from './safetensors.js';
export {
  readConfigJson,
  configJsonPath,
  readGenerationConfig,
  parseGenerationConfig,
  type GenerationConfig,
} from './hf-config.js';
export {
  PreTrainedTokenizer,
  AutoTokenizer,
  MAX_TOKENIZER_JSON_BYTES,
  MAX_TOKENIZER_CONFIG_BYTES,
  type Side,
  type TruncationStrategy,
  type ChatMessage,
  type EncodeOptions,
  type BatchEncodeOptions,
  type BatchEncoding,
  type DecodeOptions,
  type ChatTemplateOptions,
} from './tokenizer.js';
export {
  pullRepo,
  listRepoFiles,
  hubCacheDir,
  hubEndpoint,
  repoCacheDir,
  cachedSnapshotDir,
  validateRepoId,
  HubError,
  DEFAULT_ENDPOINT,
  DEFAULT_DOWNLOAD_TIMEOUT_S,
  DEFAULT_RETRIES,
  type RepoFile,
  type PullOptions,
  type PullResult,
} from './hub.js';
export {
  writeFileAtomic,
  writeJsonAtomic,
  writeFolderAtomic,
  writeFolderAtomicSync,
  readFileBounded,
  readTextBounded,
  recoverFolder,
  type FileContents,
  type FolderWriteOptions,
} from './files.js';
export { modelMemoryBudget, dtypeBytes, type SizeTerm } from './model-size.js';
export { readJsonFile, readJsonObject, MAX_CONFIG_BYTES } from './json.js';
