/**
 * Journey 2: a text classifier. A decoder (stories260K) gets a sequence-classification head and LoRA
 * adapters (PEFT's SEQ_CLS task: the head is trained and saved with the adapter); the held-out
 * accuracy and macro-F1 come from the metric registry with bootstrap intervals.
 * For BERT (e.g. bert-base-chinese) use
 * `AutoModelForSequenceClassification.fromPretrained(dir, { numLabels: 2 })` the same way.
 * Run from the repository root: `npx tsc -p . && node dist/examples/classifier.js`
 */
import {
  AutoTokenizer,
  LlamaForSequenceClassification,
  classificationLoss,
  classificationTokens,
  collateClassification,
  getPeftModel,
  labelMapping,
  loraConfig,
  predictClassification,
  train,
  type Example,
} from 'tunekit';
import { bootstrapMetric, computeMetrics } from 'tunekit/metrics';

const modelDir = 'assets/stories260K';
const tokenizer = AutoTokenizer.fromPretrained(modelDir);
const model = LlamaForSequenceClassification.fromPretrained(modelDir, { numLabels: 2, padTokenId: 0, seed: 0 });

const happy = [
  'Lily laughed and played with her friends.',
  'Tom was happy and hugged his mom.',
  'The sun was warm and the birds sang.',
  'Sue smiled when she got a new toy.',
];
const sad = [
  'Lily cried because her toy was broken.',
  'Tom was sad and alone in the dark.',
  'The dog was lost and hungry in the rain.',
  'Sue lost her ball and felt bad.',
];
const examples: Example[] = [
  ...happy.map((text) => ({ kind: 'label' as const, text, label: 'happy' })),
  ...sad.map((text) => ({ kind: 'label' as const, text, label: 'sad' })),
];
const { toId, names } = labelMapping(examples, 'classification');
const data = examples.map((e) => classificationTokens(tokenizer, e, toId));

const peft = getPeftModel(
  model,
  loraConfig({ taskType: 'SEQ_CLS', r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj'] }),
);
peft.printTrainableParameters();
train({
  model,
  args: { batchSize: 8, maxSteps: 30, learningRate: 1e-2, progress: 'none' },
  train: data,
  collate: (ex) => collateClassification(ex, { padTokenId: 0 }),
  loss: classificationLoss,
});

// Scored on the training sentences here for brevity; use a held-out split in real work.
const { predictions, references } = predictClassification(model, data, { padTokenId: 0 });
const scores = computeMetrics(['accuracy', 'f1'], { predictions, references }, { f1: { average: 'macro' } });
const ci = bootstrapMetric('accuracy', { predictions, references }, {}, { nSamples: 1000 });
console.log(
  `labels ${names.join(', ')}: accuracy ${scores.accuracy?.score} [${ci.low}, ${ci.high}], macro-F1 ${scores.f1?.score}`,
);
peft.savePretrained('runs/classifier-adapter');
