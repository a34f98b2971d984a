/**
 * `--method` for `tunekit train`: the PEFT config built from the flags (library config functions),
 * or full / freeze fine-tuning of the model itself, and how the result is saved.
 */
import type { Module } from '../nn/module.js';
import { bottleneckConfig } from '../peft/bottleneck/config.js';
import type { PeftConfigBase } from '../peft/config.js';
import { ia3Config } from '../peft/ia3/config.js';
import { loraConfig } from '../peft/lora/config.js';
import { moeLoraConfig } from '../peft/moe-lora/config.js';
import { PeftModel, getPeftModel } from '../peft/peft-model.js';
import { prefixTuningConfig, promptTuningConfig, pTuningConfig } from '../peft/prompt/config.js';
import { methodFor } from '../peft/registry.js';
import { PEFT_TASK_TYPE, type Task } from './task-setup.js';

export const METHODS = [
  'lora',
  'dora',
  'ia3',
  'adapter',
  'prefix',
  'prompt',
  'p-tuning',
  'moe-lora',
  'full',
  'freeze',
] as const;
export type Method = (typeof METHODS)[number];

/** peft_type written by each adapter method (full/freeze write a model folder). */
export const PEFT_TYPE: Record<Method, string | null> = {
  lora: 'LORA',
  dora: 'LORA',
  ia3: 'IA3',
  adapter: 'BOTTLENECK',
  prefix: 'PREFIX_TUNING',
  prompt: 'PROMPT_TUNING',
  'p-tuning': 'P_TUNING',
  'moe-lora': 'MOE_LORA',
  full: null,
  freeze: null,
};

/** The method flags (as `tunekit train` parses them). */
export interface MethodFlags {
  method: Method;
  rank?: number;
  alpha?: number;
  dropout?: number;
  targetModules?: string[];
  numVirtualTokens?: number;
  reductionFactor?: number;
  experts?: number;
  topK?: number;
  trainableLayers?: number;
  seed: number;
}

/** Flags that only some methods read: giving one to another method is an error, not a silent no-op. */
const METHOD_FLAGS: Record<string, readonly Method[]> = {
  rank: ['lora', 'dora', 'moe-lora'],
  alpha: ['lora', 'dora', 'moe-lora'],
  dropout: ['lora', 'dora', 'moe-lora'],
  targetModules: ['lora', 'dora', 'ia3', 'moe-lora'],
  numVirtualTokens: ['prefix', 'prompt', 'p-tuning'],
  reductionFactor: ['adapter'],
  experts: ['moe-lora'],
  topK: ['moe-lora'],
  trainableLayers: ['freeze'],
};

/** Refuses method flags the chosen method does not read. */
export function checkMethodFlags(flags: MethodFlags): void {
  for (const [key, methods] of Object.entries(METHOD_FLAGS)) {
    if ((flags as unknown as Record<string, unknown>)[key] !== undefined && !methods.includes(flags.method)) {
      const flag = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      throw new Error(`${flag} applies to --method ${methods.join('|')}, not ${flags.method}`);
    }
  }
}

/** The PEFT config of an adapter method, from the flags (PEFT's defaults for the rest). */
export function peftConfigFor(flags: MethodFlags, task: Task, baseModel: string): PeftConfigBase {
  const base = { taskType: PEFT_TASK_TYPE[task], baseModelNameOrPath: baseModel, seed: flags.seed };
  const targets: { targetModules?: string[] } = flags.targetModules ? { targetModules: flags.targetModules } : {};
  const r = flags.rank ?? 8;
  switch (flags.method) {
    case 'lora':
    case 'dora':
      return loraConfig({
        ...base,
        ...targets,
        r,
        loraAlpha: flags.alpha ?? 2 * r,
        loraDropout: flags.dropout ?? 0,
        useDora: flags.method === 'dora',
      });
    case 'ia3':
      // PEFT requires feed-forward modules to be a subset of the targets: only those the user named.
      return ia3Config({
        taskType: base.taskType,
        baseModelNameOrPath: base.baseModelNameOrPath,
        ...(flags.targetModules
          ? {
              targetModules: flags.targetModules,
              feedforwardModules: flags.targetModules.filter((t) => /down_proj|mlp\.c_proj|output\.dense/.test(t)),
            }
          : {}),
      });
    case 'adapter':
      return bottleneckConfig({ ...base, reductionFactor: flags.reductionFactor ?? 16 });
    case 'prompt':
      return promptTuningConfig({ ...base, numVirtualTokens: flags.numVirtualTokens ?? 8 });
    case 'p-tuning':
      return pTuningConfig({ ...base, numVirtualTokens: flags.numVirtualTokens ?? 8 });
    case 'prefix':
      return prefixTuningConfig({ ...base, numVirtualTokens: flags.numVirtualTokens ?? 8 });
    case 'moe-lora':
      return moeLoraConfig({
        ...base,
        ...targets,
        r,
        loraAlpha: flags.alpha ?? 2 * r,
        loraDropout: flags.dropout ?? 0,
        numExperts: flags.experts ?? 4,
        topK: flags.topK ?? null,
      });
    default:
      throw new Error(`--method ${flags.method} is not an adapter method`);
  }
}

/** What a method made of the model: the module to train, how to save it, and the run log's description. */
export interface AppliedMethod {
  trained: Module;
  peft: PeftModel | null;
  save: (dir: string) => void;
  describe: Record<string, unknown>;
}

/** Block index of a parameter path (`...layers.3.`, `...h.3.`, `...layer.3.`), or null. */
function blockIndex(path: string): number | null {
  const m = /(?:^|\.)(?:layers|h|layer)\.(\d+)\./.exec(path);
  return m?.[1] !== undefined ? Number(m[1]) : null;
}

/**
 * Applies `--method` to `model`: a new adapter, the adapter of `initAdapter` (trainable), every
 * weight (full), or the last `trainableLayers` blocks (freeze).
 */
export function applyMethod(
  model: Module & { savePretrained?(dir: string): void },
  flags: MethodFlags,
  task: Task,
  baseModel: string,
  initAdapter?: string,
): AppliedMethod {
  if (flags.method === 'full' || flags.method === 'freeze') {
    if (initAdapter !== undefined)
      throw new Error(`--init-adapter needs an adapter method, not --method ${flags.method}`);
    const save = (dir: string): void => {
      if (typeof model.savePretrained !== 'function')
        throw new Error('this model class cannot save itself as a folder');
      model.savePretrained(dir);
    };
    model.freeze(false);
    if (flags.method === 'freeze') {
      const n = flags.trainableLayers ?? 2;
      const named = model.namedParameters();
      const blocks = named.map(([p]) => blockIndex(p)).filter((i): i is number => i !== null);
      if (blocks.length === 0) throw new Error('--method freeze: found no numbered blocks (layers.N) in the model');
      const last = Math.max(...blocks);
      for (const [p, t] of named) {
        const i = blockIndex(p);
        // Heads of classifiers (score, classifier, qa_outputs) stay trainable; embeddings and other blocks freeze.
        const head = /^(score|classifier|qa_outputs)\./.test(p);
        t.requiresGrad = head || (i !== null && i > last - n);
      }
    }
    model.train();
    return {
      trained: model,
      peft: null,
      save,
      describe: {
        peftType: flags.method === 'full' ? 'FULL' : 'FREEZE',
        trainableParameters: model.numParameters(true),
      },
    };
  }
  let peft: PeftModel;
  if (initAdapter !== undefined) {
    peft = PeftModel.fromPretrained(model, initAdapter, { isTrainable: true, onWarning: () => {} });
    const type = peft.configOf().peftType;
    const want = PEFT_TYPE[flags.method];
    if (type !== want)
      throw new Error(
        `--init-adapter ${initAdapter}: holds a ${type} adapter, but --method ${flags.method} trains ${want}`,
      );
  } else {
    peft = getPeftModel(model, peftConfigFor(flags, task, baseModel));
  }
  const cfg = peft.configOf();
  return {
    trained: peft,
    peft,
    save: (dir) => peft.savePretrained(dir),
    describe: {
      peftType: cfg.peftType,
      config: methodFor(cfg.peftType).toJson(cfg),
      trainableParameters: peft.numParameters(true),
    },
  };
}
