/**
 * The trainable parts of the prompt methods, with PEFT's module names:
 *
 *   prompt tuning  PromptEmbedding  embedding [P, d]                       -> [P, d]
 *   P-tuning       PromptEncoder    MLP:  embedding -> mlp_head (Linear d->h, ReLU, Linear h->h, ReLU, Linear h->d)
 *                                   LSTM: embedding -> lstm_head (bi-LSTM d->h, encoder_num_layers) -> mlp_head (Linear 2h->2h, ReLU, Linear 2h->d)
 *   prefix tuning  PrefixEncoder    embedding [P, 2·L·d], or embedding [P, d] -> transform (Linear d->h, tanh, Linear h->2·L·d)
 *
 * `output()` is what PEFT saves as `prompt_embeddings`. A "direct" encoder (what PEFT builds in
 * inference mode, and what loading a saved adapter gives) is only the embedding, holding that output.
 */
import { Embedding, LSTM, Linear } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import * as F from '../../tensor/ops.js';
import { Rng } from '../../tensor/random.js';
import type { Tensor } from '../../tensor/tensor.js';

/** A parameter-free layer in a numbered list (torch.nn.Sequential's ReLU / Tanh). */
export class EncoderActivation extends Module {
  constructor(readonly kind: 'relu' | 'tanh') {
    super();
  }

  /** The activation applied elementwise. */
  forward(x: Tensor): Tensor {
    return this.kind === 'relu' ? F.relu(x) : F.tanh(x);
  }
}

function runSequential(layers: readonly Module[], x: Tensor): Tensor {
  for (const l of layers) x = (l as unknown as { forward(t: Tensor): Tensor }).forward(x);
  return x;
}

function trainableEmbedding(n: number, d: number, rng: Rng): Embedding {
  const e = new Embedding(n, d, { rng });
  e.weight.requiresGrad = true;
  return e;
}

/** What every prompt encoder offers. */
export abstract class PromptSource extends Module {
  embedding: Embedding;

  constructor(embedding: Embedding) {
    super();
    this.embedding = embedding;
  }

  /** True when the embedding holds the final output (no encoder network). */
  abstract readonly direct: boolean;
  /** The virtual tokens (prompt methods: [P, d]) or flat prefixes (prefix tuning: [P, 2·L·d]). */
  abstract output(): Tensor;
}

/** An embedding whose rows are the output (prompt tuning; any method once loaded for inference). */
export class PromptEmbedding extends PromptSource {
  readonly direct = true;

  output(): Tensor {
    return this.embedding.weight;
  }
}

/** P-tuning's encoder (MLP or bidirectional LSTM). */
export class PromptEncoder extends PromptSource {
  readonly direct = false;
  lstm_head: LSTM | null = null;
  mlp_head: Module[];

  constructor(
    P: number,
    d: number,
    opts: { type: 'MLP' | 'LSTM'; hidden: number; numLayers: number; dropout: number; seed: number },
  ) {
    const rng = new Rng(opts.seed);
    super(trainableEmbedding(P, d, rng));
    const h = opts.hidden;
    if (opts.type === 'MLP') {
      this.mlp_head = [
        new Linear(d, h, { rng }),
        new EncoderActivation('relu'),
        new Linear(h, h, { rng }),
        new EncoderActivation('relu'),
        new Linear(h, d, { rng }),
      ];
    } else {
      this.lstm_head = new LSTM(d, h, { numLayers: opts.numLayers, bidirectional: true, dropout: opts.dropout, rng });
      this.mlp_head = [new Linear(2 * h, 2 * h, { rng }), new EncoderActivation('relu'), new Linear(2 * h, d, { rng })];
    }
  }

  output(): Tensor {
    let x = this.embedding.weight; // [P, d]
    if (this.lstm_head) {
      const [P, d] = x.shape as [number, number];
      x = F.reshape(this.lstm_head.forward(F.reshape(x, [1, P, d])), [P, this.lstm_head.hiddenSize * 2]);
    }
    return runSequential(this.mlp_head, x);
  }
}

/** Prefix tuning's encoder with the projection MLP. */
export class PrefixEncoder extends PromptSource {
  readonly direct = false;
  transform: Module[];

  constructor(P: number, d: number, hidden: number, outDim: number, seed: number) {
    const rng = new Rng(seed);
    super(trainableEmbedding(P, d, rng));
    this.transform = [
      new Linear(d, hidden, { rng }),
      new EncoderActivation('tanh'),
      new Linear(hidden, outDim, { rng }),
    ];
  }

  output(): Tensor {
    return runSequential(this.transform, this.embedding.weight);
  }
}
