/**
 * Journey 5: evaluation. Every metric goes through one registry (the names of `tunekit eval-metrics`),
 * with the reference implementation's defaults and bootstrap confidence intervals; perplexity comes
 * from a model's token log-likelihoods; rep-n and distinct-n measure how much generations repeat.
 * Run from the repository root: `npx tsc -p . && node dist/examples/evaluation.js`
 */
import { AutoModelForCausalLM, AutoTokenizer, generate, noGrad } from 'tunekit';
import { bootstrapMetric, computeMetrics, listMetrics } from 'tunekit/metrics';

console.log(
  `metrics: ${listMetrics()
    .map((m) => m.name)
    .join(', ')}`,
);

// Generation metrics against references (sacrebleu's BLEU and chrF, rouge-score's ROUGE).
const predictions = ['the cat sat on the mat', 'a penguin bakes bread'];
const references = ['the cat sat on the mat', 'the penguin bakes warm bread'];
const scores = computeMetrics(['bleu', 'chrf', 'rouge'], { predictions, references });
const bleuCi = bootstrapMetric('bleu', { predictions, references }, {}, { nSamples: 1000, seed: 1 });
console.log(
  `BLEU ${scores.bleu?.score.toFixed(2)} [${bleuCi.low.toFixed(2)}, ${bleuCi.high.toFixed(2)}], chrF ${scores.chrf?.score.toFixed(2)}, ROUGE-1 ${scores.rouge?.score.toFixed(4)}`,
);

// Perplexity of a model on a text: per-token NLLs from its logits.
const modelDir = 'assets/stories260K';
const tokenizer = AutoTokenizer.fromPretrained(modelDir);
const model = AutoModelForCausalLM.fromPretrained(modelDir);
const ids = tokenizer.encode('Once upon a time, there was a little girl named Lily. She liked to play in the park.');
const logits = noGrad(() => model.forward({ inputIds: Int32Array.from(ids) }).logits);
const V = logits.shape.at(-1) ?? 0;
const nll: number[] = [];
for (let t = 0; t + 1 < ids.length; t++) {
  const row = logits.f32.subarray(t * V, (t + 1) * V);
  const max = Math.max(...row);
  const logSum = max + Math.log(row.reduce((s, z) => s + Math.exp(z - max), 0));
  nll.push(logSum - (row[ids[t + 1] ?? 0] ?? 0));
}
console.log(`perplexity ${computeMetrics(['perplexity'], { predictions: [nll] }).perplexity?.score.toFixed(3)}`);

// Repetition of greedy generations, without and with repetition controls.
const prompt = tokenizer.encode('Once upon a time');
for (const settings of [{}, { repetitionPenalty: 1.3, noRepeatNgramSize: 3 }]) {
  const tokens = generate(model, prompt, { maxNewTokens: 60, ...settings }).tokens.map((s) => s.map(String));
  const rep = computeMetrics(['rep', 'distinct'], { predictions: tokens }, { rep: { n: 3 } });
  console.log(
    `${JSON.stringify(settings)}: rep-3 ${rep.rep?.score.toFixed(3)}, distinct-2 ${rep.distinct?.score.toFixed(3)}`,
  );
}
