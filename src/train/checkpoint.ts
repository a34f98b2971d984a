/**
 * Trainer checkpoints: everything a run needs to continue as if never stopped.
 *
 *   <out>/checkpoints/step-N/
 *     trainable.safetensors   every trainable parameter by its module path (float32)
 *     optimizer.safetensors   AdamW moments (`m.<i>`, `v.<i>`) or SGD buffers (`buf.<i>`), i = parameter index
 *     trainer_state.json      step, data position, optimizer step counts, every RNG's state, best
 *                             metric and early-stopping counter, the parameter names in order
 *     adapter/                (optional) the adapter or model folder as the run's `saveModel` writes it
 *
 * A checkpoint folder is written whole or not at all ({@link writeFolderWhole}).
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFolderAtomicSync } from '../io/files.js';
import { readJsonObject } from '../io/json.js';
import { readSafetensors, writeSafetensors, type RawTensor } from '../io/safetensors.js';
import type { Module } from '../nn/module.js';
import { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { AdamW, SGD, type Optimizer } from './optim.js';

/**
 * Write a folder all at once (io/files' writeFolderAtomicSync: temporary sibling, fsync, swap):
 * a crash leaves either the old folder or the new one, never a half-written one.
 */
export function writeFolderWhole(dir: string, fill: (tmpDir: string) => void): void {
  writeFolderAtomicSync(dir, fill);
}

/** The trainer's state saved in a checkpoint (step, epoch, generators, optimiser). */
export interface TrainerState {
  /** Optimizer steps completed. */
  step: number;
  /** Epoch of the next step and the index of that step inside the epoch's plan. */
  epoch: number;
  stepInEpoch: number;
  /** Best watched metric so far and the step it was reached at. */
  best: { step: number; metric: string; value: number } | null;
  /** Evaluations since the watched metric last improved (early stopping). */
  evalsWithoutImprovement: number;
  /** Generator states by owner path ("trainer", "model.layers.0.dropout", ...). */
  rngs: Record<string, number[]>;
  /** Trainable parameter paths, in optimizer order. */
  parameters: string[];
  optimizer: { type: 'adamw' | 'sgd'; steps: Array<number | null> };
  seed: number;
  /** The general set's figures measured before the first step (forgetting), when the run has one. */
  generalBefore?: Record<string, number>;
}

/** Every Rng held directly by a module of `model` (dropout layers...), by "<module path>.<field>". */
export function moduleRngs(model: Module): Map<string, Rng> {
  const out = new Map<string, Rng>();
  for (const [path, m] of model.namedModules()) {
    for (const [key, value] of Object.entries(m))
      if (value instanceof Rng) out.set(path ? `${path}.${key}` : key, value);
  }
  return out;
}

function f32Raw(data: Float32Array, shape: readonly number[]): RawTensor {
  return { dtype: 'F32', shape: [...shape], data };
}

/** Write a checkpoint folder (whole). `saveModel` adds the adapter/model folder under `adapter/`. */
export function saveCheckpoint(
  dir: string,
  parts: {
    params: ReadonlyArray<[string, Tensor]>;
    optimizer: Optimizer;
    state: Omit<TrainerState, 'parameters' | 'optimizer'>;
    saveModel?: (dir: string) => void;
  },
): void {
  writeFolderWhole(dir, (tmp) => {
    writeSafetensors(
      join(tmp, 'trainable.safetensors'),
      new Map(parts.params.map(([name, t]) => [name, f32Raw(t.f32, t.shape)])),
      { format: 'pt' },
    );
    const opt = new Map<string, RawTensor>();
    let optimizerState: TrainerState['optimizer'];
    if (parts.optimizer instanceof AdamW) {
      const sd = parts.optimizer.stateDict();
      sd.forEach((s, i) => {
        if (s) {
          opt.set(`m.${i}`, f32Raw(s.m, [s.m.length]));
          opt.set(`v.${i}`, f32Raw(s.v, [s.v.length]));
        }
      });
      optimizerState = { type: 'adamw', steps: sd.map((s) => s?.step ?? null) };
    } else if (parts.optimizer instanceof SGD) {
      const sd = parts.optimizer.stateDict();
      sd.forEach((b, i) => {
        if (b) opt.set(`buf.${i}`, f32Raw(b, [b.length]));
      });
      optimizerState = { type: 'sgd', steps: sd.map((b) => (b ? 1 : null)) };
    } else {
      throw new Error('saveCheckpoint: only AdamW and SGD optimizers can be checkpointed');
    }
    writeSafetensors(join(tmp, 'optimizer.safetensors'), opt, { format: 'pt' });
    const state: TrainerState = { ...parts.state, parameters: parts.params.map(([n]) => n), optimizer: optimizerState };
    writeFileSync(join(tmp, 'trainer_state.json'), JSON.stringify(state, null, 1) + '\n');
    if (parts.saveModel) parts.saveModel(join(tmp, 'adapter'));
  });
}

/** Checkpoint folders under `<out>/checkpoints`, oldest first. */
export function listCheckpoints(outDir: string): Array<{ step: number; path: string }> {
  const root = join(outDir, 'checkpoints');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((name) => ({ name, m: /^step-(\d+)$/.exec(name) }))
    .filter(
      (e): e is { name: string; m: RegExpExecArray } =>
        e.m !== null && existsSync(join(root, e.name, 'trainer_state.json')),
    )
    .map((e) => ({ step: Number(e.m[1]), path: join(root, e.name) }))
    .sort((a, b) => a.step - b.step);
}

function readState(dir: string): TrainerState {
  const j = readJsonObject(join(dir, 'trainer_state.json'));
  const where = `${dir}/trainer_state.json`;
  const int = (k: string): number => {
    const v = j[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
      throw new Error(`${where}: field "${k}" must be a non-negative integer`);
    return v;
  };
  if (!Array.isArray(j.parameters) || !j.parameters.every((p) => typeof p === 'string'))
    throw new Error(`${where}: field "parameters" must be a list of names`);
  const opt = j.optimizer as Record<string, unknown> | undefined;
  if (!opt || (opt.type !== 'adamw' && opt.type !== 'sgd') || !Array.isArray(opt.steps))
    throw new Error(`${where}: field "optimizer" must be {type: "adamw" | "sgd", steps: [...]}`);
  const rngs = j.rngs;
  if (rngs === null || typeof rngs !== 'object' || Array.isArray(rngs))
    throw new Error(`${where}: field "rngs" must be an object`);
  let generalBefore: Record<string, number> | undefined;
  if (j.generalBefore !== undefined) {
    const g = j.generalBefore;
    if (
      g === null ||
      typeof g !== 'object' ||
      Array.isArray(g) ||
      !Object.values(g).every((v) => typeof v === 'number' && Number.isFinite(v))
    )
      throw new Error(`${where}: field "generalBefore" must be an object of finite numbers`);
    generalBefore = g as Record<string, number>;
  }
  return {
    ...(generalBefore ? { generalBefore } : {}),
    step: int('step'),
    epoch: int('epoch'),
    stepInEpoch: int('stepInEpoch'),
    seed: int('seed'),
    best: (j.best ?? null) as TrainerState['best'],
    evalsWithoutImprovement: int('evalsWithoutImprovement'),
    rngs: rngs as Record<string, number[]>,
    parameters: j.parameters,
    optimizer: { type: opt.type, steps: opt.steps as Array<number | null> },
  };
}

/**
 * Restore a checkpoint into live objects: trainable weights (by name, which must match the
 * run's trainable parameters exactly), optimizer state, and every named generator.
 */
export function loadCheckpoint(
  dir: string,
  parts: {
    params: ReadonlyArray<[string, Tensor]>;
    optimizer: Optimizer;
    rngs: Map<string, Rng>;
  },
): TrainerState {
  const state = readState(dir);
  const names = parts.params.map(([n]) => n);
  if (names.length !== state.parameters.length || names.some((n, i) => n !== state.parameters[i])) {
    throw new Error(
      `${dir}: the checkpoint's trainable parameters (${state.parameters.length}) differ from this run's (${names.length}); first difference: ${names.find((n, i) => n !== state.parameters[i]) ?? state.parameters[names.length] ?? '?'}`,
    );
  }
  const weights = readSafetensors(join(dir, 'trainable.safetensors')).tensors;
  for (const [name, t] of parts.params) {
    const raw = weights.get(name);
    if (!raw || raw.dtype !== 'F32' || raw.data.length !== t.size)
      throw new Error(`${dir}/trainable.safetensors: "${name}" is missing or does not match ${t.label()}`);
    t.f32.set(raw.data as Float32Array);
  }
  const opt = readSafetensors(join(dir, 'optimizer.safetensors')).tensors;
  const vec = (key: string, size: number): Float32Array => {
    const raw = opt.get(key);
    if (!raw || raw.dtype !== 'F32' || raw.data.length !== size)
      throw new Error(`${dir}/optimizer.safetensors: "${key}" is missing or has the wrong size (expected ${size})`);
    return raw.data as Float32Array;
  };
  if (parts.optimizer instanceof AdamW) {
    if (state.optimizer.type !== 'adamw')
      throw new Error(`${dir}: checkpoint optimizer is ${state.optimizer.type}, this run uses adamw`);
    parts.optimizer.loadStateDict(
      parts.params.map(([, t], i) => {
        const step = state.optimizer.steps[i];
        return typeof step === 'number' ? { m: vec(`m.${i}`, t.size), v: vec(`v.${i}`, t.size), step } : null;
      }),
    );
  } else if (parts.optimizer instanceof SGD) {
    if (state.optimizer.type !== 'sgd')
      throw new Error(`${dir}: checkpoint optimizer is ${state.optimizer.type}, this run uses sgd`);
    parts.optimizer.loadStateDict(
      parts.params.map(([, t], i) => (opt.has(`buf.${i}`) ? vec(`buf.${i}`, t.size) : null)),
    );
  } else {
    throw new Error('loadCheckpoint: only AdamW and SGD optimizers can be restored');
  }
  for (const [name, rng] of parts.rngs) {
    const s = state.rngs[name];
    if (!s) throw new Error(`${dir}/trainer_state.json: no state for generator "${name}"`);
    rng.setState(s);
  }
  return state;
}
