// BertConfig: the architecture from a Hugging Face `config.json`, validated when read so that a
// wrong value fails with the file and key instead of a shape error deep inside a forward pass.
// Keys we do not use (model_type, transformers_version, …) are kept in `extra` and written back on
// save, so a checkpoint round-trips through Ballast without losing anything.
import { readFileSync } from 'node:fs';
import { CheckpointError } from './checkpoint-error.ts';

export type ProblemType = 'single_label_classification' | 'regression';

export interface BertConfig {
  vocabSize: number;
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  intermediateSize: number;
  /** Only exact (erf) GELU, as BERT was trained with. */
  hiddenAct: 'gelu';
  hiddenDropoutProb: number;
  attentionProbsDropoutProb: number;
  maxPositionEmbeddings: number;
  typeVocabSize: number;
  initializerRange: number;
  layerNormEps: number;
  padTokenId: number;
  numLabels: number;
  problemType: ProblemType;
  /** Label names by id; length numLabels. */
  id2label: string[];
  /** Every other key of config.json, kept verbatim for saving. */
  extra: Record<string, unknown>;
}

// The keys this module owns; everything else goes to `extra`.
const OWN_KEYS = new Set([
  'vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'hidden_act',
  'hidden_dropout_prob', 'attention_probs_dropout_prob', 'max_position_embeddings', 'type_vocab_size',
  'initializer_range', 'layer_norm_eps', 'pad_token_id', 'num_labels', 'problem_type', 'id2label', 'label2id',
  'architectures', 'position_embedding_type', 'model_type',
]);

/** Reads and validates `config.json`. Throws CheckpointError naming the file and key. */
export function readBertConfig(path: string): BertConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new CheckpointError(path, `cannot read: ${(cause as Error).message}`, undefined, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new CheckpointError(path, `not valid JSON: ${(cause as Error).message}`, undefined, { cause });
  }
  return parseBertConfig(json, path);
}

/**
 * Validates a parsed config.json. Defaults are Hugging Face's BertConfig defaults for keys that
 * old checkpoints omit (layer_norm_eps, pad_token_id, …); the architecture keys are required.
 */
export function parseBertConfig(json: unknown, file: string): BertConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new CheckpointError(file, 'expected a JSON object');
  }
  const obj = json as Record<string, unknown>;
  const int = (key: string, fallback?: number, min = 1): number => {
    const v = obj[key] ?? fallback;
    if (v === undefined) throw new CheckpointError(file, 'missing', key);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      throw new CheckpointError(file, `expected an integer >= ${min}, got ${JSON.stringify(v)}`, key);
    }
    return v;
  };
  const num = (key: string, fallback: number, check: (v: number) => boolean, what: string): number => {
    const v = obj[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || !check(v)) {
      throw new CheckpointError(file, `expected ${what}, got ${JSON.stringify(v)}`, key);
    }
    return v;
  };
  const prob = (key: string): number => num(key, 0.1, (v) => v >= 0 && v < 1, 'a probability in [0, 1)');

  const hiddenAct = obj.hidden_act ?? 'gelu';
  if (hiddenAct !== 'gelu') {
    throw new CheckpointError(
      file,
      `only 'gelu' (exact, erf) is supported, got ${JSON.stringify(hiddenAct)}; BERT checkpoints use 'gelu'`,
      'hidden_act',
    );
  }
  const hiddenSize = int('hidden_size');
  const numAttentionHeads = int('num_attention_heads');
  if (hiddenSize % numAttentionHeads !== 0) {
    throw new CheckpointError(file, `hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numAttentionHeads}`, 'num_attention_heads');
  }
  // RoBERTa, ELECTRA, DistilBERT… differ in names or semantics (RoBERTa offsets its positions by
  // padding_idx + 1): loading one as BERT would run and silently compute something else.
  const modelType = obj.model_type ?? 'bert';
  if (modelType !== 'bert') {
    throw new CheckpointError(file, `only BERT checkpoints ('bert') are supported, got ${JSON.stringify(modelType)}`, 'model_type');
  }
  const positionType = obj.position_embedding_type ?? 'absolute';
  if (positionType !== 'absolute') {
    throw new CheckpointError(file, `only 'absolute' is supported, got ${JSON.stringify(positionType)}`, 'position_embedding_type');
  }

  const { id2label, numLabels } = parseLabels(obj, file);
  const problemTypeRaw = obj.problem_type ?? (numLabels === 1 ? 'regression' : 'single_label_classification');
  if (problemTypeRaw !== 'single_label_classification' && problemTypeRaw !== 'regression') {
    throw new CheckpointError(file, `expected 'single_label_classification' or 'regression', got ${JSON.stringify(problemTypeRaw)}`, 'problem_type');
  }
  if ((problemTypeRaw === 'regression') !== (numLabels === 1)) {
    throw new CheckpointError(file, `${problemTypeRaw} does not fit num_labels ${numLabels} (regression has exactly 1)`, 'problem_type');
  }

  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (!OWN_KEYS.has(k)) extra[k] = v;

  return {
    vocabSize: int('vocab_size'),
    hiddenSize,
    numHiddenLayers: int('num_hidden_layers'),
    numAttentionHeads,
    intermediateSize: int('intermediate_size'),
    hiddenAct: 'gelu',
    hiddenDropoutProb: prob('hidden_dropout_prob'),
    attentionProbsDropoutProb: prob('attention_probs_dropout_prob'),
    maxPositionEmbeddings: int('max_position_embeddings', 512),
    typeVocabSize: int('type_vocab_size', 2),
    initializerRange: num('initializer_range', 0.02, (v) => v > 0, 'a positive number'),
    layerNormEps: num('layer_norm_eps', 1e-12, (v) => v > 0, 'a positive number'),
    padTokenId: int('pad_token_id', 0, 0),
    numLabels,
    problemType: problemTypeRaw,
    id2label,
    extra,
  };
}

// HF writes id2label with string keys ("0", "1", …); num_labels defaults to the size of id2label,
// and to 2 when neither is given (HF's default).
function parseLabels(obj: Record<string, unknown>, file: string): { id2label: string[]; numLabels: number } {
  const raw = obj.id2label;
  let id2label: string[] | undefined;
  if (raw !== undefined) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new CheckpointError(file, 'expected an object {"0": "label", …}', 'id2label');
    }
    const entries = Object.entries(raw as Record<string, unknown>);
    id2label = new Array<string>(entries.length);
    for (const [k, v] of entries) {
      const id = Number(k);
      if (!Number.isInteger(id) || id < 0 || id >= entries.length || typeof v !== 'string') {
        throw new CheckpointError(file, `expected ids 0..${entries.length - 1} mapped to strings, got ${JSON.stringify(k)}: ${JSON.stringify(v)}`, 'id2label');
      }
      id2label[id] = v;
    }
  }
  const numLabelsRaw = obj.num_labels ?? id2label?.length ?? 2;
  if (typeof numLabelsRaw !== 'number' || !Number.isInteger(numLabelsRaw) || numLabelsRaw < 1) {
    throw new CheckpointError(file, `expected an integer >= 1, got ${JSON.stringify(numLabelsRaw)}`, 'num_labels');
  }
  if (id2label !== undefined && id2label.length !== numLabelsRaw) {
    throw new CheckpointError(file, `has ${id2label.length} labels but num_labels is ${numLabelsRaw}`, 'id2label');
  }
  return { id2label: id2label ?? defaultLabels(numLabelsRaw), numLabels: numLabelsRaw };
}

export function defaultLabels(numLabels: number): string[] {
  return Array.from({ length: numLabels }, (_, i) => `LABEL_${i}`);
}

/** The same architecture with a new head: `numLabels` outputs, named by `labels` (default LABEL_i). */
export function withHead(config: BertConfig, numLabels: number, labels?: string[]): BertConfig {
  if (labels !== undefined && labels.length !== numLabels) {
    throw new Error(`withHead: ${labels.length} label names for ${numLabels} labels`);
  }
  return {
    ...config,
    numLabels,
    problemType: numLabels === 1 ? 'regression' : 'single_label_classification',
    id2label: labels ?? defaultLabels(numLabels),
  };
}

/** The config.json Hugging Face transformers loads as BertForSequenceClassification. */
export function bertConfigToJson(config: BertConfig): Record<string, unknown> {
  const id2label: Record<string, string> = {};
  const label2id: Record<string, number> = {};
  config.id2label.forEach((label, i) => {
    id2label[String(i)] = label;
    label2id[label] = i;
  });
  return {
    ...config.extra,
    architectures: ['BertForSequenceClassification'],
    model_type: 'bert',
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    num_hidden_layers: config.numHiddenLayers,
    num_attention_heads: config.numAttentionHeads,
    intermediate_size: config.intermediateSize,
    hidden_act: config.hiddenAct,
    hidden_dropout_prob: config.hiddenDropoutProb,
    attention_probs_dropout_prob: config.attentionProbsDropoutProb,
    max_position_embeddings: config.maxPositionEmbeddings,
    type_vocab_size: config.typeVocabSize,
    initializer_range: config.initializerRange,
    layer_norm_eps: config.layerNormEps,
    pad_token_id: config.padTokenId,
    position_embedding_type: 'absolute',
    num_labels: config.numLabels,
    problem_type: config.problemType,
    id2label,
    label2id,
  };
}
