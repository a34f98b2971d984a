/**
 * Journey 4: prompt-based methods. Prompt tuning, P-tuning and prefix tuning train a few virtual
 * tokens (or per-layer key/value prefixes) and leave every weight of the model untouched; the saved
 * folders are PEFT's own.
 * Run from the repository root: `npx tsc -p . && node dist/examples/prompt-methods.js`
 */
import {
  AutoModelForCausalLM,
  AutoTokenizer,
  PeftModel,
  causalLmLossFn,
  collateCausalLm,
  getPeftModel,
  pTuningConfig,
  prefixTuningConfig,
  promptTuningConfig,
  train,
  type PeftConfigBase,
} from 'tunekit';

const modelDir = 'assets/stories260K';
const tokenizer = AutoTokenizer.fromPretrained(modelDir);
const text = ['Once upon a time, there was a purple penguin named Pip.', 'Pip baked warm bread for all his friends.'];
const data = text.map((t) => ({ inputIds: [...tokenizer.encode(t), 2] }));

const configs: Record<string, PeftConfigBase> = {
  'prompt-tuning': promptTuningConfig({
    taskType: 'CAUSAL_LM',
    numVirtualTokens: 8,
    promptTuningInit: 'TEXT',
    promptTuningInitText: 'a story about a penguin',
    tokenizerNameOrPath: modelDir,
  }),
  'p-tuning': pTuningConfig({ taskType: 'CAUSAL_LM', numVirtualTokens: 8, encoderHiddenSize: 64 }),
  'prefix-tuning': prefixTuningConfig({ taskType: 'CAUSAL_LM', numVirtualTokens: 8 }),
};
for (const [name, config] of Object.entries(configs)) {
  const peft = getPeftModel(AutoModelForCausalLM.fromPretrained(modelDir), config);
  const result = train({
    // the PeftModel's forward feeds the virtual tokens (or prefixes) to the model
    model: peft,
    args: { batchSize: 2, maxSteps: 20, learningRate: 0.1, progress: 'none' },
    train: data,
    collate: (ex) => collateCausalLm(ex, { padTokenId: 2 }),
    loss: causalLmLossFn(),
  });
  const dir = `runs/${name}-adapter`;
  peft.savePretrained(dir);
  const reloaded = PeftModel.fromPretrained(AutoModelForCausalLM.fromPretrained(modelDir), dir);
  console.log(
    `${name}: ${peft.numParameters(true)} trainable parameters, loss ${result.history[0]?.loss.toFixed(3)} -> ${result.history.at(-1)?.loss.toFixed(3)}, reloaded as ${reloaded.configOf().peftType}`,
  );
}
