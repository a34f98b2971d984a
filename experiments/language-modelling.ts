/**
 * Causal-LM experiments with stories260K (LoRA):
 *   - alpaca: Alpaca-style instruction tuning (prompt masked), valid loss before/after, with and
 *     without NEFTune; then the repetition table (rep-n, distinct-n of sampled answers to held-out
 *     instructions) for base / tuned / tuned+NEFTune, each without and with a repetition penalty;
 *   - forgetting: general-set (held-out TinyStories) perplexity before and after instruction tuning,
 *     plain / with replay of TinyStories text / with L2-SP, at LoRA ranks 4 and 16 and two learning rates.
 */
import { readFileSync } from 'node:fs';
import { AutoTokenizer, type PreTrainedTokenizer } from '../src/io/tokenizer.js';
import { LlamaForCausalLM } from '../src/models/llama.js';
import { loraConfig } from '../src/peft/lora/config.js';
import { getPeftModel } from '../src/peft/peft-model.js';
import { generate } from '../src/generate/generate.js';
import { loadExamples, shuffled, type Example } from '../src/train/data.js';
import {
  causalLmLossFn,
  collateCausalLm,
  packSequences,
  type CausalLmBatch,
  type LmExample,
} from '../src/train/collate.js';
import { sftTokens } from '../src/train/sft.js';
import { evaluate, repetitionMetrics, train } from '../src/train/trainer.js';
import { asset, lineChart, log } from './common.js';

const STORIES = asset('stories260K-hf');
const TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
const collate = (e: LmExample[]): CausalLmBatch => collateCausalLm(e, { padTokenId: 2 });

async function alpacaData(
  tok: PreTrainedTokenizer,
  maxLength: number,
): Promise<{ train: LmExample[]; valid: LmExample[]; prompts: Example[] }> {
  const all = shuffled(await loadExamples(asset('alpaca-demo', 'alpaca_en_demo.json')), 5);
  // stories260K's 512-token vocabulary spells the Stanford Alpaca preamble in ~80 tokens, more than
  // the window: a short "Q: ... A:" prompt instead (still masked out of the loss).
  const enc = (e: Example): LmExample =>
    sftTokens(
      tok,
      e.kind === 'instruction' ? { kind: 'prompt-completion', prompt: shortPrompt(e), completion: ` ${e.output}` } : e,
      { maxLength },
    );
  // Keep examples whose answer starts inside the window (a fully masked example teaches nothing).
  const usable = all.map((e) => ({ e, t: enc(e) })).filter(({ t }) => [...t.labels!].slice(1).some((l) => l !== -100));
  return {
    train: usable.slice(60).map((x) => x.t),
    valid: usable.slice(0, 60).map((x) => x.t),
    prompts: usable.slice(0, 12).map((x) => x.e),
  };
}

function shortPrompt(e: Example): string {
  return e.kind === 'instruction' ? `Q: ${e.instruction}${e.input ? ` ${e.input}` : ''}\nA:` : '';
}

function generalSet(tok: PreTrainedTokenizer): { replay: LmExample[]; heldOut: LmExample[] } {
  const stories = readFileSync(asset('tinystories-sample', 'tinystories_sample.txt'), 'utf8')
    .split('\n')
    .filter((l) => l.trim());
  // The sample is small (3.8 KB, ~20 rows of 48 tokens): half held out, half for replay.
  const rows = packSequences(
    stories.map((s) => tok.encode(s)),
    48,
    2,
  );
  const half = Math.floor(rows.length / 2);
  return { heldOut: rows.slice(0, half), replay: rows.slice(half) };
}

function sampleAnswers(
  model: LlamaForCausalLM,
  tok: PreTrainedTokenizer,
  prompts: Example[],
  penalty: number,
): number[][] {
  return prompts.map((p, i) => {
    const ids = tok.encode(shortPrompt(p));
    return (
      generate(model, ids, {
        maxNewTokens: 32,
        doSample: true,
        temperature: 0.8,
        topK: 50,
        seed: i,
        ...(penalty !== 1 ? { repetitionPenalty: penalty } : {}),
      }).tokens[0] ?? []
    );
  });
}

async function alpaca(): Promise<Record<string, unknown>> {
  const tok = AutoTokenizer.fromPretrained(STORIES);
  const data = await alpacaData(tok, 128);
  const table: Array<Record<string, unknown>> = [];
  const curves: Array<{ label: string; points: Array<[number, number]> }> = [];
  const runs: Record<string, unknown> = {};
  const base = LlamaForCausalLM.fromPretrained(STORIES);
  const baseValid = evaluate(base, data.valid, { collate, loss: causalLmLossFn(), batchSize: 20 }).loss;
  for (const penalty of [1, 1.3])
    table.push({
      model: 'base (untrained)',
      repetitionPenalty: penalty,
      ...repetitionMetrics(sampleAnswers(base, tok, data.prompts, penalty)),
    });
  for (const neftune of [0, 5]) {
    const model = LlamaForCausalLM.fromPretrained(STORIES);
    getPeftModel(model, loraConfig({ targetModules: TARGETS, r: 8, loraAlpha: 16, seed: 0 }));
    const r = train({
      model,
      args: {
        batchSize: 8,
        maxSteps: 60,
        learningRate: 1e-2,
        warmupRatio: 0.05,
        lrScheduler: 'cosine',
        evalEvery: 20,
        progress: 'lines',
        logEvery: 20,
        seed: 0,
        outDir: `experiments/results/runs/alpaca-neftune${neftune}`,
      },
      train: data.train,
      valid: data.valid,
      collate,
      loss: causalLmLossFn({ neftuneAlpha: neftune }),
      lengthOf: (e) => e.inputIds.length,
      sample: (m) =>
        sampleAnswers(m, tok, data.prompts.slice(0, 4), 1).map((t, i) => ({
          prompt: data.prompts[i]!.kind,
          output: tok.decode(t),
          tokens: t,
        })),
    });
    const label = neftune ? `tuned + NEFTune α=${neftune}` : 'tuned';
    curves.push({ label: `${label} (train)`, points: r.history.map((h) => [h.step, h.loss]) });
    curves.push({
      label: `${label} (valid)`,
      points: [[0, baseValid], ...r.evals.map((e) => [e.step, e.loss] as [number, number])],
    });
    runs[label] = { validLossBefore: baseValid, validLossAfter: r.evals.at(-1)?.loss, elapsedSec: r.elapsedSec };
    model.eval();
    for (const penalty of [1, 1.3])
      table.push({
        model: label,
        repetitionPenalty: penalty,
        ...repetitionMetrics(sampleAnswers(model, tok, data.prompts, penalty)),
      });
    const example = sampleAnswers(model, tok, data.prompts.slice(0, 2), 1).map((t, i) => ({
      instruction:
        data.prompts[i]!.kind === 'instruction' ? (data.prompts[i] as { instruction: string }).instruction : '',
      answer: tok.decode(t, { skipSpecialTokens: true }),
    }));
    runs[`${label} samples`] = example;
  }
  lineChart(
    'alpaca-loss',
    'Alpaca instruction tuning, stories260K + LoRA r=8 (completion tokens)',
    'cross-entropy',
    curves,
  );
  return {
    task: 'Alpaca-style instruction tuning (alpaca_en_demo as Q:/A: prompt-completion, prompt masked, 128-token window)',
    trainExamples: data.train.length,
    validExamples: data.valid.length,
    runs,
    repetition: table,
  };
}

async function forgetting(): Promise<Record<string, unknown>> {
  const tok = AutoTokenizer.fromPretrained(STORIES);
  const data = await alpacaData(tok, 96);
  const general = generalSet(tok);
  const ppl = (m: LlamaForCausalLM, ex: LmExample[]): number =>
    Math.exp(evaluate(m, ex, { collate, loss: causalLmLossFn(), batchSize: 20 }).loss);
  const base = LlamaForCausalLM.fromPretrained(STORIES);
  const before = { generalPerplexity: ppl(base, general.heldOut), taskPerplexity: ppl(base, data.valid.slice(0, 30)) };
  const rows: Array<Record<string, unknown>> = [];
  for (const rank of [4, 16]) {
    for (const lr of [3e-3, 3e-2]) {
      for (const variant of ['plain', 'replay 0.25', 'L2-SP 1.0'] as const) {
        const model = LlamaForCausalLM.fromPretrained(STORIES);
        getPeftModel(model, loraConfig({ targetModules: TARGETS, r: rank, loraAlpha: 2 * rank, seed: 0 }));
        const r = train({
          model,
          args: {
            batchSize: 8,
            maxSteps: 20,
            learningRate: lr,
            warmupSteps: 2,
            lrScheduler: 'cosine',
            progress: 'none',
            seed: 0,
            ...(variant === 'replay 0.25' ? { replayRatio: 0.25 } : {}),
            ...(variant === 'L2-SP 1.0' ? { l2spStrength: 1.0 } : {}),
          },
          train: data.train,
          collate,
          loss: causalLmLossFn(),
          ...(variant === 'replay 0.25' ? { replay: general.replay } : {}),
        });
        const row = {
          rank,
          lr,
          variant,
          generalPerplexity: ppl(model, general.heldOut),
          taskPerplexity: ppl(model, data.valid.slice(0, 30)),
          seconds: Math.round(r.elapsedSec),
        };
        rows.push(row);
        log(JSON.stringify(row));
      }
    }
  }
  return {
    general: `TinyStories sample (stories260K's pre-training domain): ${general.heldOut.length} held-out rows of 48 tokens; ${general.replay.length} other rows for replay`,
    task: 'Alpaca instruction tuning (96-token window), 20 steps × 8 examples, LoRA on all projections',
    before,
    rows,
  };
}

export const experiments = { alpaca, forgetting };
