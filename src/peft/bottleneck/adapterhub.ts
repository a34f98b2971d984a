/**
 * AdapterHub's (adapter-hub/adapters) folder layout for bottleneck adapters, both directions:
 *
 *   adapter_config.json   {"config": {BnConfig fields}, "hidden_size", "model_type", "name",
 *                          "model_name", "model_class", "version"}
 *   adapter.safetensors   bert.encoder.layer.<i>.attention.output.adapters.<name>.adapter_down.0.weight
 *                         bert.encoder.layer.<i>.output.adapters.<name>.adapter_up.bias ...
 *
 * BERT: any supported BnConfig (tunekit hooks the sub-layer output as AdapterHub does, layer.ts).
 * GPT-2 and the Llama family (keys `model.layers.<i>.attention_adapters.adapters.<name>...`,
 * `...output_adapters...`): the adapter replaces the block's residual add as in AdapterHub's
 * decoder blocks (DecoderBottleneckLayer), original_ln_before true/false, residual_before_ln
 * true/false ("post_add" needs a layer norm these blocks do not pass: refused).
 * Supported BnConfig: sequential (is_parallel false), mh_adapter + output_adapter (Houlsby,
 * `double_seq_bn`) or output_adapter alone (Pfeiffer, `seq_bn`), any numeric reduction_factor and
 * scaling, non_linearity relu / swish / silu / gelu / tanh, original_ln_before true/false,
 * residual_before_ln true / false / "post_add", original_ln_after true, no ln_before/ln_after, no
 * gating, PHM, invertible or cross adapters, leave_out empty, dropout and stochastic_depth 0.
 * Anything else is an error naming the file and field. `pytorch_adapter.bin` (a pickle) and head
 * files (`head_config.json`) are refused.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFolderAtomicSync } from '../../io/files.js';
import { isPlainObject, readJsonObject } from '../../io/json.js';
import { readSafetensors, writeSafetensors } from '../../io/safetensors.js';
import type { Module } from '../../nn/module.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { TaskType } from '../config.js';
import { loadTensorsInto, toRaw } from '../adapter-folder.js';
import { getPeftModel, type PeftModel } from '../peft-model.js';
import { modelFamily } from '../tuner.js';
import { bottleneckConfig, type BottleneckConfig } from './config.js';
import { bottleneckTargets } from './model.js';

/** File name of an AdapterHub adapter's config. */
export const ADAPTERHUB_CONFIG = 'adapter_config.json';
/** File name of an AdapterHub adapter's weights. */
export const ADAPTERHUB_WEIGHTS = 'adapter.safetensors';
const PICKLE_WEIGHTS = 'pytorch_adapter.bin';

/** BnConfig fields whose value must be AdapterHub's default (tunekit implements only that). */
const MUST_BE_DEFAULT: Record<string, unknown> = {
  original_ln_after: true,
  ln_before: false,
  ln_after: false,
  is_parallel: false,
  use_gating: false,
  adapter_residual_before_ln: false,
  inv_adapter: null,
  cross_adapter: false,
  leave_out: [],
  dropout: 0,
  phm_layer: false,
  stochastic_depth: 0,
};
/** BnConfig fields that change nothing once the weights exist (init) or only matter for a feature refused above. */
const INERT: Record<string, unknown> = {
  architecture: 'bottleneck',
  init_weights: 'bert',
  inv_adapter_reduction_factor: null,
  phm_dim: 4,
  factorized_phm_W: true,
  shared_W_phm: false,
  shared_phm_rule: true,
  factorized_phm_rule: false,
  phm_c_init: 'normal',
  phm_init_range: 0.0001,
  learn_phm: true,
  hypercomplex_nonlinearity: 'glorot-uniform',
  phm_rank: 1,
  phm_bias: true,
};
const HANDLED = [
  'mh_adapter',
  'output_adapter',
  'reduction_factor',
  'non_linearity',
  'original_ln_before',
  'residual_before_ln',
  'scaling',
];
const TOP_LEVEL = ['config', 'hidden_size', 'model_type', 'name', 'model_name', 'model_class', 'version'];

const ACTIVATIONS: Record<string, BottleneckConfig['nonLinearity']> = {
  relu: 'relu',
  swish: 'swish',
  silu: 'swish',
  gelu: 'gelu',
  tanh: 'tanh',
};

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Parse and validate an AdapterHub adapter_config.json into a tunekit BottleneckConfig. */
export function adapterHubConfigFromJson(
  json: Record<string, unknown>,
  label: string,
  taskType: TaskType | null,
): { config: BottleneckConfig; name: string; hiddenSize: number | null } {
  for (const k of Object.keys(json))
    if (!TOP_LEVEL.includes(k)) throw new Error(`${label}: unknown field "${k}" (expected ${TOP_LEVEL.join(', ')})`);
  const c = json['config'];
  if (!isPlainObject(c))
    throw new Error(`${label}: field "config" must be an object of BnConfig fields, got ${JSON.stringify(c)}`);
  const at = (f: string): string => `${label}: field "config.${f}"`;
  for (const [k, v] of Object.entries(c)) {
    if (k in MUST_BE_DEFAULT) {
      // dropout/stochastic_depth may be written as 0 or 0.0; JSON makes both 0.
      if (!same(v, MUST_BE_DEFAULT[k]))
        throw new Error(
          `${at(k)} = ${JSON.stringify(v)} is not supported (tunekit implements only ${JSON.stringify(MUST_BE_DEFAULT[k])})`,
        );
    } else if (k === 'architecture') {
      if (v !== 'bottleneck') throw new Error(`${at(k)} must be "bottleneck", got ${JSON.stringify(v)}`);
    } else if (!(k in INERT) && !HANDLED.includes(k)) {
      throw new Error(`${at(k)}: unknown field`);
    }
  }
  const bool = (f: string): boolean => {
    const v = c[f];
    if (typeof v !== 'boolean') throw new Error(`${at(f)} must be true or false, got ${JSON.stringify(v)}`);
    return v;
  };
  const mh = bool('mh_adapter');
  if (!bool('output_adapter'))
    throw new Error(
      `${at('output_adapter')} = false is not supported (only output adapters, with or without mh_adapter)`,
    );
  const rf = c['reduction_factor'];
  if (typeof rf !== 'number' || !(rf > 0))
    throw new Error(
      `${at('reduction_factor')} must be a positive number (per-layer mappings are not supported), got ${JSON.stringify(rf)}`,
    );
  const nl = c['non_linearity'];
  const act = typeof nl === 'string' ? ACTIVATIONS[nl.toLowerCase()] : undefined;
  if (!act)
    throw new Error(
      `${at('non_linearity')} must be one of ${Object.keys(ACTIVATIONS).join(', ')}, got ${JSON.stringify(nl)}`,
    );
  const olb = c['original_ln_before'] === undefined ? false : bool('original_ln_before');
  const rbl = c['residual_before_ln'] === undefined ? true : c['residual_before_ln'];
  if (rbl !== true && rbl !== false && rbl !== 'post_add')
    throw new Error(`${at('residual_before_ln')} must be true, false or "post_add", got ${JSON.stringify(rbl)}`);
  const scaling = c['scaling'] === undefined ? 1 : c['scaling'];
  if (typeof scaling !== 'number' || !Number.isFinite(scaling))
    throw new Error(
      `${at('scaling')} must be a number ("learned"/"channel" scalings are not supported), got ${JSON.stringify(scaling)}`,
    );
  const name = json['name'];
  if (typeof name !== 'string' || !/^[A-Za-z0-9_-]+$/.test(name))
    throw new Error(
      `${label}: field "name" must be the adapter name (letters, digits, _ or -), got ${JSON.stringify(name)}`,
    );
  const hs = json['hidden_size'];
  if (hs !== undefined && (typeof hs !== 'number' || !Number.isSafeInteger(hs)))
    throw new Error(`${label}: field "hidden_size" must be an integer, got ${JSON.stringify(hs)}`);
  const config = bottleneckConfig({
    taskType,
    architecture: mh ? 'houlsby' : 'pfeiffer',
    reductionFactor: rf,
    nonLinearity: act,
    scaling,
    originalLnBefore: olb,
    residualBeforeLn: rbl,
    inferenceMode: true,
  });
  return { config, name, hiddenSize: typeof hs === 'number' ? hs : null };
}

/** The BnConfig AdapterHub would write for `c` (every field, as `BnConfig.to_dict()` does). */
export function adapterHubConfigToJson(c: BottleneckConfig): Record<string, unknown> {
  if (c.architecture !== 'houlsby' && c.architecture !== 'pfeiffer')
    throw new Error(`BOTTLENECK: architecture "${String(c.architecture)}"`);
  return {
    ...INERT,
    ...MUST_BE_DEFAULT,
    mh_adapter: c.architecture === 'houlsby',
    output_adapter: true,
    reduction_factor: c.reductionFactor,
    non_linearity: c.nonLinearity ?? (c.architecture === 'houlsby' ? 'swish' : 'relu'),
    original_ln_before: c.originalLnBefore ?? c.architecture === 'pfeiffer',
    residual_before_ln: c.residualBeforeLn,
    scaling: c.scaling,
  };
}

/**
 * In-memory module path (after `base_model.model.`) -> AdapterHub's, by family. Adapters already
 * sit at AdapterHub's paths: BERT's sub-layer output modules (under its base-model prefix `bert.`),
 * decoders' `attention_adapters` / `output_adapters` residual hooks (models/residual.ts).
 */
const KEY_MAPS: Record<string, Array<[RegExp, string]>> = {
  bert: [[/^(?:bert\.)?(encoder\.layer\.\d+\.(?:attention\.output|output)\.adapters\.)/, 'bert.$1']],
  llama: [[/^(model\.layers\.\d+\.(?:attention|output)_adapters\.adapters\.)/, '$1']],
  gpt2: [[/^(transformer\.h\.\d+\.(?:attention|output)_adapters\.adapters\.)/, '$1']],
};
KEY_MAPS['mistral'] = KEY_MAPS['qwen2'] = KEY_MAPS['qwen3'] = KEY_MAPS['llama'] ?? [];
/** AdapterHub's base_model_prefix per family: keys may be saved with or without it. */
const BASE_PREFIX: Record<string, string> = {
  bert: 'bert.',
  llama: 'model.',
  mistral: 'model.',
  qwen2: 'model.',
  qwen3: 'model.',
  gpt2: 'transformer.',
};

function familyOf(model: Module, what: string): string {
  const family = modelFamily(model);
  if (family === null || !KEY_MAPS[family])
    throw new Error(
      `${what}: AdapterHub's layout is implemented for BERT, GPT-2 and the Llama family, not for model family "${family}"`,
    );
  return family;
}

/** File key of an in-memory parameter path `base_model.model.<module path>.adapters.<name>...`. */
function fileKey(family: string, path: string, from: string, to: string): string {
  const k = path.replace(/^base_model\.model\./, '');
  for (const [re, rep] of KEY_MAPS[family] ?? []) {
    if (re.test(k)) return k.replace(re, rep).replace(`.adapters.${from}.`, `.adapters.${to}.`);
  }
  throw new Error(`AdapterHub: adapter parameter "${k}" has no AdapterHub equivalent`);
}

function adapterParams(peft: Module, name: string): Array<[string, Tensor]> {
  return peft.namedParameters().filter(([p]) => p.includes(`.adapters.${name}.`));
}

/**
 * Write adapter `name` of a BERT / GPT-2 / Llama PeftModel as AdapterHub does (whole or not at all). `savedName`
 * is the name inside keys and config (default: the adapter's name).
 */
export function saveAdapterHub(
  peft: PeftModel,
  dir: string,
  opts: { adapterName?: string; savedName?: string; modelName?: string } = {},
): void {
  const name = opts.adapterName ?? peft.activeAdapter;
  const savedName = opts.savedName ?? name;
  const family = familyOf(peft.model, 'saveAdapterHub');
  const config = peft.configOf(name);
  if (config.peftType !== 'BOTTLENECK')
    throw new Error(`saveAdapterHub: adapter "${name}" is ${config.peftType}, not a bottleneck adapter`);
  const c = config as BottleneckConfig;
  // Custom targets have no AdapterHub equivalent (it places adapters by mh_adapter/output_adapter only).
  if (c.targetModules !== null && !same(c.targetModules, bottleneckTargets(peft.model, c.architecture))) {
    throw new Error(
      `saveAdapterHub: custom target_modules ${JSON.stringify(c.targetModules)} cannot be expressed in AdapterHub's config`,
    );
  }
  const params = adapterParams(peft, name);
  if (params.length === 0) throw new Error(`saveAdapterHub: adapter "${name}" has no parameters`);
  const tensors = new Map(params.map(([p, t]) => [fileKey(family, p, name, savedName), t]));
  const cfgJson = (peft.model as unknown as { config?: { hiddenSize?: unknown } }).config;
  const json = {
    config: adapterHubConfigToJson(c),
    hidden_size: typeof cfgJson?.hiddenSize === 'number' ? cfgJson.hiddenSize : null,
    model_class: peft.model.constructor.name,
    model_name: opts.modelName ?? c.baseModelNameOrPath ?? null,
    model_type: family,
    name: savedName,
    version: 'adapters.1.2.0',
  };
  writeFolderAtomicSync(
    dir,
    (tmp) => {
      writeSafetensors(join(tmp, ADAPTERHUB_WEIGHTS), toRaw(tensors), { format: 'pt' });
      writeFileSync(join(tmp, ADAPTERHUB_CONFIG), `${JSON.stringify(json, null, 2)}\n`);
    },
    { keep: (n) => ![ADAPTERHUB_CONFIG, ADAPTERHUB_WEIGHTS, PICKLE_WEIGHTS].includes(n) },
  );
}

/**
 * Load an AdapterHub bottleneck adapter folder onto a BERT, GPT-2 or Llama-family model (frozen),
 * as adapter `adapterName` (default "default"). Keys may carry the base-model prefix or not.
 */
export function loadAdapterHub<M extends Module>(
  model: M,
  dir: string,
  opts: { adapterName?: string; taskType?: TaskType | null } = {},
): PeftModel<M> {
  const family = familyOf(model, `loadAdapterHub ${dir}`);
  const configPath = join(dir, ADAPTERHUB_CONFIG);
  if (!existsSync(configPath)) throw new Error(`${dir}: no ${ADAPTERHUB_CONFIG} (not an AdapterHub adapter folder)`);
  if (existsSync(join(dir, 'head_config.json')))
    throw new Error(
      `${dir}: has a prediction head (head_config.json); AdapterHub heads are not loaded by tunekit, load the head's weights separately`,
    );
  const weightsPath = join(dir, ADAPTERHUB_WEIGHTS);
  if (!existsSync(weightsPath)) {
    if (existsSync(join(dir, PICKLE_WEIGHTS)))
      throw new Error(
        `${dir}: only ${PICKLE_WEIGHTS} (a pickle) is present; convert it to ${ADAPTERHUB_WEIGHTS} (pickles are not read, they can run code)`,
      );
    throw new Error(`${dir}: no ${ADAPTERHUB_WEIGHTS}`);
  }
  const taskType =
    opts.taskType !== undefined
      ? opts.taskType
      : /SequenceClassification/.test(model.constructor.name)
        ? 'SEQ_CLS'
        : /CausalLM/.test(model.constructor.name)
          ? 'CAUSAL_LM'
          : 'FEATURE_EXTRACTION';
  const json = readJsonObject(configPath);
  const { config, name, hiddenSize } = adapterHubConfigFromJson(json, configPath, taskType);
  const modelHidden = (model as unknown as { config?: { hiddenSize?: unknown } }).config?.hiddenSize;
  if (hiddenSize !== null && typeof modelHidden === 'number' && hiddenSize !== modelHidden) {
    throw new Error(`${configPath}: field "hidden_size" is ${hiddenSize}, the model's is ${modelHidden}`);
  }
  const adapterName = opts.adapterName ?? 'default';
  const mt = json['model_type'];
  if (typeof mt === 'string' && mt !== family)
    throw new Error(`${configPath}: field "model_type" is "${mt}", the model is ${family}`);
  let peft: PeftModel<M>;
  try {
    peft = getPeftModel(model, config, adapterName);
  } catch (err) {
    throw new Error(`${configPath}: ${(err as Error).message}`, { cause: err });
  }
  const file = readSafetensors(weightsPath).tensors;
  // Accept keys with or without AdapterHub's base-model prefix.
  const prefix = BASE_PREFIX[family] ?? '';
  const tensors = new Map([...file].map(([k, v]) => [k.startsWith(prefix) ? k : prefix + k, v]));
  const expected = new Map(
    adapterParams(peft, adapterName).map(([p, t]) => [fileKey(family, p, adapterName, name), t]),
  );
  loadTensorsInto(expected, { weightsPath, tensors }, name);
  return peft;
}
