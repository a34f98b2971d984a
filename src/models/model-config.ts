/**
 * What every architecture's config parser shares: the fields common to all typed configs, the
 * options of the readers, and the context the registry hands each parser (src/models/registry.ts
 * picks the parser from config.json's `architectures` / `model_type`). Each family's own fields and
 * defaults live beside its model (llama-config.ts, gpt2-config.ts, bert-config.ts).
 */
import { readConfigJson } from '../io/hf-config.js';
import { FieldReader } from '../io/json.js';
import { modelMemoryBudget } from '../io/model-size.js';

/** Fields common to every typed config. */
export interface ModelConfigBase {
  /** The class config.json names (`architectures[0]`), or the one assumed from `model_type`. */
  architecture: string;
  /** The registry key (config.json `model_type`) of the parser that read it. */
  family: string;
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  bosTokenId: number | null;
  /** `eos_token_id` normalised to a list (it may be an int or a list in config.json). */
  eosTokenIds: number[];
  padTokenId: number | null;
  /** `torch_dtype` (v4) / `dtype` (v5) as written, e.g. "float32", "bfloat16"; null when absent. */
  dtype: string | null;
}

/** Options of {@link parseModelConfig} and {@link readModelConfig}. */
export interface ModelConfigOptions {
  /**
   * Check the memory the declared shapes need against `maxModelBytes` (see {@link checkModelConfigSize});
   * default false for {@link parseModelConfig} (inspecting a config), true for {@link readModelConfig}
   * (the loaders' entry point).
   */
  checkSize?: boolean;
  /** The memory budget; default {@link modelMemoryBudget} (TUNEKIT_MAX_MODEL_BYTES, else the machine's memory). */
  maxModelBytes?: number;
}

/** The base fields read the same way for every family (families override some defaults). */
export type BaseFields = Pick<ModelConfigBase, 'architecture' | 'bosTokenId' | 'eosTokenIds' | 'padTokenId' | 'dtype'>;

/** What the registry hands an architecture's config parser. */
export interface ConfigContext {
  /** config.json's fields, with the file's label for error messages. */
  f: FieldReader;
  /** The resolved class name (a task head's class is resolved to its family's base class). */
  architecture: string;
  /** config.json `model_type` as written ('' when absent). */
  modelType: string;
  /** The registry key of this family (config.json `model_type` of its checkpoints). */
  family: string;
  base: BaseFields;
  /** Whether to check the declared shapes against `budget` (the parser calls checkModelSize). */
  checkSize: boolean;
  /** Memory budget in bytes. */
  budget: number;
}

/** Reads the fields of {@link BaseFields} (no family defaults applied). */
export function baseFields(f: FieldReader, architecture: string): BaseFields {
  return {
    architecture,
    bosTokenId: null,
    eosTokenIds: f.idList('eos_token_id'),
    padTokenId: f.optInt('pad_token_id'),
    dtype: f.optStr('dtype') ?? f.optStr('torch_dtype'),
  };
}

/**
 * Parses config.json with one family's parser, for a class's own `fromPretrained` (the registry's
 * {@link parseModelConfig} picks the parser by itself; a class knows which family it is).
 *
 * @param families model_type -> the class names this class accepts (the first is the one a bare model_type means)
 * @param what the family's name in the error, e.g. "Llama-family"
 * @throws Error `<label>: GPT2LMHeadModel is not a Llama-family model` for another family's config
 */
export function parseFamilyConfig<C extends ModelConfigBase>(
  json: Record<string, unknown>,
  label: string,
  families: Readonly<Record<string, readonly [string, ...string[]]>>,
  parse: (ctx: ConfigContext) => C,
  what: string,
  opts: ModelConfigOptions = {},
): C {
  const f: FieldReader = new FieldReader(label, json);
  const modelType = f.str('model_type', '');
  let found: [string, string] | undefined;
  let given = `model_type ${JSON.stringify(modelType)}`;
  if (f.has('architectures')) {
    const list = f.obj.architectures;
    if (!Array.isArray(list) || list.length === 0 || typeof list[0] !== 'string')
      f.fail('architectures', 'a non-empty list of class names');
    const name: string = list[0];
    given = name;
    for (const [family, names] of Object.entries(families)) if (names.includes(name)) found = [family, names[0]];
  } else {
    const names = families[modelType];
    if (names) found = [modelType, names[0]];
  }
  if (!found) throw new Error(`${label}: ${given} is not a ${what} model`);
  const [family, architecture] = found;
  return parse({
    f,
    architecture,
    modelType,
    family,
    base: baseFields(f, architecture),
    checkSize: opts.checkSize ?? true,
    budget: opts.maxModelBytes ?? modelMemoryBudget(),
  });
}

/** {@link parseFamilyConfig} of `<dir>/config.json`, shapes checked against the memory budget. */
export function readFamilyConfig<C extends ModelConfigBase>(
  dir: string,
  families: Readonly<Record<string, readonly [string, ...string[]]>>,
  parse: (ctx: ConfigContext) => C,
  what: string,
): { config: C; configJson: Record<string, unknown> } {
  const { json, path } = readConfigJson(dir);
  return { config: parseFamilyConfig(json, path, families, parse, what), configJson: json };
}
