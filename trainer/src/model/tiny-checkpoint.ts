// Tiny BERT checkpoints in the Hugging Face layout, built deterministically from a seed, for tests
// (here and in the training loop's) and for the PyTorch parity fixtures. Unlike BERT's own
// initialisation, LayerNorm weights and all biases are random too, so that a swapped gamma/beta, a
// missing bias or a transposed weight changes the logits.
import { Rng } from '../util/rng.ts';
import { parseBertConfig, type BertConfig } from './bert-config.ts';
import { bertParamSpecs } from './bert-params.ts';
import { saveCheckpoint } from './checkpoint.ts';
import type { HostTensor } from './safetensors.ts';

export interface TinyCheckpointOptions {
  seed?: number;
  numLabels?: number;
  vocabSize?: number;
  hiddenSize?: number;
  numHiddenLayers?: number;
  numAttentionHeads?: number;
  intermediateSize?: number;
  maxPositionEmbeddings?: number;
  /** Dropout probabilities written into config.json (default 0.1, as BERT). */
  dropout?: number;
}

export const TINY_SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

export function tinyConfig(options: TinyCheckpointOptions = {}): BertConfig {
  const numLabels = options.numLabels ?? 2;
  return parseBertConfig(
    {
      vocab_size: options.vocabSize ?? 100,
      hidden_size: options.hiddenSize ?? 32,
      num_hidden_layers: options.numHiddenLayers ?? 2,
      num_attention_heads: options.numAttentionHeads ?? 2,
      intermediate_size: options.intermediateSize ?? 64,
      max_position_embeddings: options.maxPositionEmbeddings ?? 64,
      hidden_dropout_prob: options.dropout ?? 0.1,
      attention_probs_dropout_prob: options.dropout ?? 0.1,
      num_labels: numLabels,
      model_type: 'bert',
    },
    'tiny-checkpoint',
  );
}

/** Random weights (Ballast layout) with every parameter, LayerNorm and biases included, non-trivial. */
export function tinyWeights(config: BertConfig, seed: number): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const spec of bertParamSpecs(config)) {
    const rng = Rng.derive(seed, `tiny:${spec.name}`);
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(count);
    const [mean, std] = spec.kind === 'layernorm-weight' ? [1, 0.1] : spec.kind.endsWith('bias') ? [0, 0.1] : [0, 0.2];
    for (let i = 0; i < count; i++) data[i] = mean + std * rng.normal();
    out.set(spec.name, { shape: [...spec.shape], data });
  }
  return out;
}

/** `[PAD] [UNK] [CLS] [SEP] [MASK] a b … w0 w1 …`, vocabSize tokens. */
export function tinyVocab(vocabSize: number): string[] {
  const vocab: string[] = [...TINY_SPECIALS];
  for (let c = 97; c <= 122 && vocab.length < vocabSize; c++) vocab.push(String.fromCharCode(c));
  for (let i = 0; vocab.length < vocabSize; i++) vocab.push(`w${i}`);
  return vocab;
}

/** Writes config.json, model.safetensors, vocab.txt and tokenizer_config.json into `dir`. */
export function writeTinyCheckpoint(dir: string, options: TinyCheckpointOptions = {}): { config: BertConfig; weights: Map<string, HostTensor> } {
  const config = tinyConfig(options);
  const weights = tinyWeights(config, options.seed ?? 0);
  const vocabFiles = new Map<string, Buffer>([
    ['vocab.txt', Buffer.from(`${tinyVocab(config.vocabSize).join('\n')}\n`)],
    ['tokenizer_config.json', Buffer.from(`${JSON.stringify({ do_lower_case: true })}\n`)],
  ]);
  saveCheckpoint(dir, config, weights, { vocabFiles });
  return { config, weights };
}
