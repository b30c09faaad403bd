// Models Ballast builds itself, with random weights from the init seed: `builtin:quickstart-tiny`
// for the offline quickstart (its vocabulary is the synthetic task's, owned by the data module),
// and the standard BERT shapes for benchmarks and memory tests.
import { SYNTHETIC_VOCAB, syntheticVocabText } from '../data/synthetic-task.ts';
import { parseBertConfig, type BertConfig } from './bert-config.ts';

export const BUILTIN_MODELS = ['quickstart-tiny'] as const;
export type BuiltinModelName = (typeof BUILTIN_MODELS)[number];

export interface BuiltinModel {
  config: BertConfig;
  /** The files a checkpoint directory of this model holds besides weights and config. */
  vocabFiles: Map<string, Buffer>;
}

export function builtinModel(name: string): BuiltinModel {
  if (name !== 'quickstart-tiny') {
    throw new Error(`unknown builtin model 'builtin:${name}' (known: ${BUILTIN_MODELS.map((n) => `builtin:${n}`).join(', ')})`);
  }
  const config = parseBertConfig(
    {
      vocab_size: SYNTHETIC_VOCAB.length,
      hidden_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      intermediate_size: 128,
      max_position_embeddings: 128,
      hidden_act: 'gelu',
      hidden_dropout_prob: 0.1,
      attention_probs_dropout_prob: 0.1,
      type_vocab_size: 2,
      initializer_range: 0.02,
      layer_norm_eps: 1e-12,
      pad_token_id: 0,
      model_type: 'bert',
    },
    `builtin:${name}`,
  );
  const vocabFiles = new Map<string, Buffer>([
    ['vocab.txt', Buffer.from(syntheticVocabText(), 'utf8')],
    ['tokenizer_config.json', Buffer.from(`${JSON.stringify({ do_lower_case: true, model_max_length: 128, tokenizer_class: 'BertTokenizer' }, null, 2)}\n`, 'utf8')],
  ]);
  return { config, vocabFiles };
}

/** The BERT shapes of Turc et al. (tiny, mini, small) and bert-base, with BERT's 30522-token vocabulary. */
export const BERT_SHAPES = {
  'bert-tiny': { hidden: 128, layers: 2, heads: 2 },
  'bert-mini': { hidden: 256, layers: 4, heads: 4 },
  'bert-small': { hidden: 512, layers: 4, heads: 8 },
  'bert-medium': { hidden: 512, layers: 8, heads: 8 },
  'bert-base': { hidden: 768, layers: 12, heads: 12 },
} as const;
export type BertShape = keyof typeof BERT_SHAPES;

export function bertShapeConfig(shape: BertShape, numLabels = 2): BertConfig {
  const s = BERT_SHAPES[shape];
  return parseBertConfig(
    {
      vocab_size: 30522,
      hidden_size: s.hidden,
      num_hidden_layers: s.layers,
      num_attention_heads: s.heads,
      intermediate_size: 4 * s.hidden,
      max_position_embeddings: 512,
      num_labels: numLabels,
      model_type: 'bert',
    },
    shape,
  );
}
