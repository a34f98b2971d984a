/**
 * Journey 1: adapt a causal language model to your own text with LoRA.
 * Run from the repository root: `npx tsc -p . && node dist/examples/own-text.js`
 * (stories260K and the demo's stories stand in for your model and your text file).
 */
import { readFileSync } from 'node:fs';
import {
  AutoModelForCausalLM,
  AutoTokenizer,
  causalLmLossFn,
  collateCausalLm,
  evaluate,
  getPeftModel,
  loraConfig,
  packSequences,
  train,
  type CausalLM,
} from 'tunekit';

const modelDir = 'assets/stories260K'; // or a folder from `npx tunekit pull Qwen/Qwen2.5-0.5B-Instruct`
const tokenizer = AutoTokenizer.fromPretrained(modelDir);
const model = AutoModelForCausalLM.fromPretrained(modelDir);
const eos = model.config.eosTokenIds[0] ?? 2;

// One document per line; documents are packed into rows of 48 tokens (run_clm's group_texts).
const lines = (file: string): string[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim());
const trainRows = packSequences(
  lines('assets/demo/pip-stories.txt').map((t) => tokenizer.encode(t)),
  48,
  eos,
);
const valid = lines('assets/demo/pip-held-out.txt').map((t) => ({ inputIds: [...tokenizer.encode(t), eos] }));

const peft = getPeftModel(
  model,
  loraConfig({ r: 8, loraAlpha: 16, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] }),
);
peft.printTrainableParameters();
const lm = peft as unknown as CausalLM;
const collate = (ex: Parameters<typeof collateCausalLm>[0]): ReturnType<typeof collateCausalLm> =>
  collateCausalLm(ex, { padTokenId: eos });
const loss = causalLmLossFn();

const before = evaluate(lm, valid, { collate, loss, batchSize: 8 });
train({
  model: lm,
  args: { batchSize: 8, maxSteps: 20, learningRate: 3e-3, evalEvery: 10, outDir: 'runs/own-text', progress: 'lines' },
  train: trainRows,
  valid,
  collate,
  loss,
  saveModel: (dir) => peft.savePretrained(dir), // runs/own-text/adapter: a PEFT folder
});
const after = evaluate(lm, valid, { collate, loss, batchSize: 8 });
console.log(`held-out perplexity ${Math.exp(before.loss).toFixed(2)} -> ${Math.exp(after.loss).toFixed(2)}`);
console.log('report: npx tunekit report runs/own-text');
