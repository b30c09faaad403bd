// The parameters of BertForSequenceClassification: their Hugging Face names, shapes, roles in the
// paper's methods (layer index for layer-wise LR decay, weight-decay exemption) and their
// initialisation. Names are Hugging Face's (`bert.encoder.layer.0.attention.self.query.weight`);
// LayerNorm parameters are `.weight/.bias` (old `.gamma/.beta` names are mapped on load).
//
// Storage: Linear weights are held as [in, out], the transpose of Hugging Face's [out, in], because
// wasm's fast matmul path (XNNPACK) is a plain 2-D product with no transposes: x[N, in] @ W[in, out].
// Checkpoint load/save transposes at the boundary; nothing else needs to know.
import { Rng } from '../util/rng.ts';
import type { BertConfig } from './bert-config.ts';
import type { HostTensor } from './safetensors.ts';

export type ParamKind = 'embedding' | 'linear-weight' | 'linear-bias' | 'layernorm-weight' | 'layernorm-bias';

export interface ParamSpec {
  /** Hugging Face name. */
  name: string;
  /** Shape as Ballast stores it (Linear weights [in, out]). */
  shape: number[];
  kind: ParamKind;
  /** Layer index for layer-wise LR decay: embeddings 0, block i → i + 1, pooler/classifier L + 1. */
  layer: number;
}

/** The suffixes of one transformer block's parameters, in a fixed order (the block's inputs). */
export const BLOCK_PARAM_SUFFIXES = [
  'attention.self.query.weight', 'attention.self.query.bias',
  'attention.self.key.weight', 'attention.self.key.bias',
  'attention.self.value.weight', 'attention.self.value.bias',
  'attention.output.dense.weight', 'attention.output.dense.bias',
  'attention.output.LayerNorm.weight', 'attention.output.LayerNorm.bias',
  'intermediate.dense.weight', 'intermediate.dense.bias',
  'output.dense.weight', 'output.dense.bias',
  'output.LayerNorm.weight', 'output.LayerNorm.bias',
] as const;
export type BlockParamSuffix = (typeof BLOCK_PARAM_SUFFIXES)[number];

export function blockParamName(layer: number, suffix: BlockParamSuffix): string {
  return `bert.encoder.layer.${layer}.${suffix}`;
}

function kindOf(name: string): ParamKind {
  if (name.includes('LayerNorm.')) return name.endsWith('.weight') ? 'layernorm-weight' : 'layernorm-bias';
  if (name.includes('embeddings.')) return 'embedding';
  return name.endsWith('.weight') ? 'linear-weight' : 'linear-bias';
}

/** Every parameter of the model, in Hugging Face's state-dict order. */
export function bertParamSpecs(config: BertConfig): ParamSpec[] {
  const { hiddenSize: h, intermediateSize: ff, numHiddenLayers: L } = config;
  const specs: ParamSpec[] = [];
  const add = (name: string, shape: number[], layer: number) => specs.push({ name, shape, kind: kindOf(name), layer });
  add('bert.embeddings.word_embeddings.weight', [config.vocabSize, h], 0);
  add('bert.embeddings.position_embeddings.weight', [config.maxPositionEmbeddings, h], 0);
  add('bert.embeddings.token_type_embeddings.weight', [config.typeVocabSize, h], 0);
  add('bert.embeddings.LayerNorm.weight', [h], 0);
  add('bert.embeddings.LayerNorm.bias', [h], 0);
  const blockShapes: Record<BlockParamSuffix, number[]> = {
    'attention.self.query.weight': [h, h], 'attention.self.query.bias': [h],
    'attention.self.key.weight': [h, h], 'attention.self.key.bias': [h],
    'attention.self.value.weight': [h, h], 'attention.self.value.bias': [h],
    'attention.output.dense.weight': [h, h], 'attention.output.dense.bias': [h],
    'attention.output.LayerNorm.weight': [h], 'attention.output.LayerNorm.bias': [h],
    'intermediate.dense.weight': [h, ff], 'intermediate.dense.bias': [ff],
    'output.dense.weight': [ff, h], 'output.dense.bias': [h],
    'output.LayerNorm.weight': [h], 'output.LayerNorm.bias': [h],
  };
  for (let i = 0; i < L; i++) {
    for (const suffix of BLOCK_PARAM_SUFFIXES) add(blockParamName(i, suffix), blockShapes[suffix], i + 1);
  }
  add('bert.pooler.dense.weight', [h, h], L + 1);
  add('bert.pooler.dense.bias', [h], L + 1);
  add('classifier.weight', [h, config.numLabels], L + 1);
  add('classifier.bias', [config.numLabels], L + 1);
  return specs;
}

/** Layer index for layer-wise LR decay: embeddings 0, block i → i + 1, pooler and classifier L + 1. */
export function paramLayerIndex(name: string, numHiddenLayers: number): number {
  if (name.startsWith('bert.embeddings.')) return 0;
  const m = /^bert\.encoder\.layer\.(\d+)\./.exec(name);
  if (m) return Number(m[1]) + 1;
  if (name.startsWith('bert.pooler.') || name.startsWith('classifier.')) return numHiddenLayers + 1;
  throw new Error(`paramLayerIndex: not a BERT parameter name: '${name}'`);
}

/** `*.bias` and LayerNorm parameters get no weight decay (as the paper's code and HF's examples). */
export function isNoDecay(name: string): boolean {
  return name.endsWith('.bias') || name.includes('LayerNorm.');
}

/** True for the Linear weights mixout mixes (the embeddings are not Linear layers). */
export function isLinearWeight(name: string): boolean {
  return kindOf(name) === 'linear-weight';
}

/**
 * A fresh value in Hugging Face's `_init_weights` scheme: Linear and Embedding weights
 * N(0, initializer_range), biases 0, LayerNorm 1 and 0; the padding row of the word embeddings 0.
 * Draws come from `rng` in element order of Ballast's storage layout.
 */
export function initParam(spec: ParamSpec, config: BertConfig, rng: Rng): HostTensor {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(count);
  switch (spec.kind) {
    case 'embedding':
    case 'linear-weight':
      for (let i = 0; i < count; i++) data[i] = rng.normal() * config.initializerRange;
      if (spec.name === 'bert.embeddings.word_embeddings.weight' && config.padTokenId < config.vocabSize) {
        data.fill(0, config.padTokenId * config.hiddenSize, (config.padTokenId + 1) * config.hiddenSize);
      }
      break;
    case 'layernorm-weight':
      data.fill(1);
      break;
    case 'linear-bias':
    case 'layernorm-bias':
      break;
  }
  return { shape: [...spec.shape], data };
}

/**
 * A full random model from `seed`, each parameter from its own stream (derived from the seed and
 * the name) so that one parameter's values do not depend on which others were drawn first.
 */
export function initBertParams(config: BertConfig, seed: number): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const spec of bertParamSpecs(config)) out.set(spec.name, initParam(spec, config, Rng.derive(seed, `init:${spec.name}`)));
  return out;
}

/** [rows, cols] → [cols, rows]: between HF's Linear [out, in] and Ballast's [in, out]. */
export function transpose2d(t: HostTensor): HostTensor {
  const [rows, cols] = t.shape as [number, number];
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = t.data[base + c] as number;
  }
  return { shape: [cols, rows], data: out };
}
