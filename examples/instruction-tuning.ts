/**
 * Journey 3: instruction tuning (SFT). Records are prompt/completion pairs, Alpaca instructions or
 * chat messages (`loadExamples` reads them from JSONL, JSON, CSV or Parquet); `sftTokens` masks the
 * prompt so that only the answer is learned, using the tokenizer's chat template when it has one
 * (Qwen2.5-Instruct does) and the Alpaca prompt otherwise.
 * Run from the repository root: `npx tsc -p . && node dist/examples/instruction-tuning.js`
 */
import {
  AutoModelForCausalLM,
  AutoTokenizer,
  causalLmLossFn,
  collateCausalLm,
  generate,
  getPeftModel,
  loraConfig,
  sftTokens,
  train,
  type Example,
} from 'tunekit';

const modelDir = 'assets/stories260K'; // e.g. models/Qwen2.5-0.5B-Instruct after `npx tunekit pull`
const tokenizer = AutoTokenizer.fromPretrained(modelDir);
const model = AutoModelForCausalLM.fromPretrained(modelDir);
const eos = model.config.eosTokenIds[0] ?? 2;

const records: Example[] = [
  { kind: 'prompt-completion', prompt: 'Who bakes bread on the hill?', completion: ' Pip the penguin bakes bread.' },
  { kind: 'prompt-completion', prompt: 'What color is Pip?', completion: ' Pip is purple.' },
  { kind: 'instruction', instruction: 'Name a friend of Pip.', input: '', output: 'The seal is his friend.' },
];
const data = records.map((r) => sftTokens(tokenizer, r, { eosTokenId: eos }));

const peft = getPeftModel(model, loraConfig({ r: 8, loraAlpha: 16, targetModules: ['q_proj', 'v_proj', 'o_proj'] }));
train({
  model: peft,
  args: { batchSize: 3, maxSteps: 40, learningRate: 1e-2, progress: 'none' },
  train: data,
  collate: (ex) => collateCausalLm(ex, { padTokenId: eos }),
  loss: causalLmLossFn({ neftuneAlpha: 5 }), // NEFTune noise on the input embeddings while training
});

const prompt = tokenizer.encode('What color is Pip?');
const out = generate(model, prompt, { maxNewTokens: 12, tokenizer });
console.log(out.texts?.[0]);
peft.savePretrained('runs/sft-adapter');
