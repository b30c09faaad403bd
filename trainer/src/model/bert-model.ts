// BertForSequenceClassification with Hugging Face's semantics, on TensorFlow.js.
//
// Layout choices, all for speed on wasm (whose fast matmul is a plain 2-D product, no transposes):
// activations stay 2-D [batch·seq, hidden] through every Linear, Linear weights are stored
// [in, out], and the attention core is one op (ops/attention.ts) that on wasm reads the heads of
// q, k and v in place, with no transposes and no per-(example, head) products.
//
// Memory: tfjs keeps every forward intermediate until the gradients are done, which does not fit
// bert-base at batch 8 in wasm's 4 GiB heap. With `recompute` (the default) each transformer block
// is one tf.customGrad that keeps only its input and recomputes the block, with the same seeded
// dropout masks, inside its gradient (activation checkpointing, as torch.utils.checkpoint).
//
// Padding mask: (1 − mask)·finfo(float32).min added to the scores of masked keys, as current
// Hugging Face does (older releases used −10000; after softmax both give exactly 0 in float32).
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's entry point registers kernels' forward functions only; training needs the gradients.
import './tfjs-gradients.ts';
import { selfAttention } from '../ops/attention.ts';
import { biasAdd } from '../ops/bias-add.ts';
import { biasGelu } from '../ops/gelu.ts';
import { bertEmbeddings, residualLayerNorm } from '../ops/layer-norm.ts';
import type { BertConfig } from './bert-config.ts';
import {
  BLOCK_PARAM_SUFFIXES, bertParamSpecs, blockParamName, isLinearWeight, isNoDecay, paramLayerIndex,
} from './bert-params.ts';
import type { HostTensor } from './safetensors.ts';
import { dropoutMask, mixoutWeight, seededDropout, type MaskSeed } from './seeded-masks.ts';

/** One batch of tokenised inputs, row-major [size, seqLength] (the data module's Batch is one). */
export interface BertInputs {
  /** Number of examples. */
  size: number;
  seqLength: number;
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  /** 1 for real tokens, 0 for padding. */
  attentionMask: Int32Array;
}

export interface ForwardOptions {
  /** Dropout (or mixout) on. */
  training: boolean;
  /** The trial's dropout_seed; masks are a pure function of (dropoutSeed, step, site). */
  dropoutSeed?: number;
  /**
   * The update index; a new step draws new masks. Two training forwards with the same (seed, step)
   * get the same masks, so micro-batches of one update need distinct values here.
   */
  step?: number;
}

export interface BertModelOptions {
  /**
   * Recompute block activations in the backward pass (activation checkpointing): true, false, or
   * 'auto' (the default): on when the activations all blocks would keep exceed
   * `recomputeAboveBytes` for the batch at hand. It costs one more forward of each block (about
   * a quarter more time per step) and saves most of the activation memory. On wasm (4 GiB heap),
   * seq 128: bert-small at batch 16 peaks at 1.41 GiB without it; bert-base at batch 8 at 3.59 GiB
   * without and about 2.1 GiB with it.
   */
  recompute?: boolean | 'auto';
  /** The 'auto' threshold; default 1 GiB (bert-tiny, mini and small at batch 16 stay below it, bert-base at batch 8 is above). */
  recomputeAboveBytes?: number;
  /** Overrides hidden (and classifier) dropout of the config (the trial's `dropout`). */
  hiddenDropout?: number;
  /** Overrides attention-probability dropout of the config. */
  attentionDropout?: number;
}

/** A parameter with what the optimizer needs to know about it. */
export interface ParamInfo {
  name: string;
  variable: tf.Variable;
  /** For layer-wise LR decay: embeddings 0, block i → i + 1, pooler and classifier L + 1. */
  layer: number;
  /** `*.bias` and LayerNorm parameters: no weight decay. */
  noDecay: boolean;
}

// torch.finfo(torch.float32).min
const FLOAT32_MIN = -3.4028234663852886e38;

interface BlockContext {
  batch: number;
  seq: number;
  maskAdd: tf.Tensor; // [batch, 1, 1, seq]
  masks: MaskSeed | undefined; // undefined: no dropout/mixout
}

export class BertForSequenceClassification {
  readonly config: BertConfig;
  /** Hugging Face names → variables; Linear weights stored [in, out]. */
  readonly params: ReadonlyMap<string, tf.Variable>;
  readonly recompute: boolean | 'auto';
  readonly recomputeAboveBytes: number;
  readonly hiddenDropout: number;
  readonly attentionDropout: number;
  readonly classifierDropout: number;
  private mixoutP = 0;
  private mixoutTargets = new Map<string, tf.Tensor>();

  /** Takes ownership of nothing: the tensors are copied into new variables. */
  constructor(config: BertConfig, weights: ReadonlyMap<string, HostTensor>, options: BertModelOptions = {}) {
    this.config = config;
    this.recompute = options.recompute ?? 'auto';
    this.recomputeAboveBytes = options.recomputeAboveBytes ?? 2 ** 30;
    this.hiddenDropout = options.hiddenDropout ?? config.hiddenDropoutProb;
    this.attentionDropout = options.attentionDropout ?? config.attentionProbsDropoutProb;
    const classifierDropout = config.extra.classifier_dropout;
    this.classifierDropout = options.hiddenDropout ?? (typeof classifierDropout === 'number' ? classifierDropout : config.hiddenDropoutProb);
    const params = new Map<string, tf.Variable>();
    for (const spec of bertParamSpecs(config)) {
      const t = weights.get(spec.name);
      if (!t) throw new Error(`BertForSequenceClassification: no weights for '${spec.name}'`);
      if (t.shape.length !== spec.shape.length || t.shape.some((d, i) => d !== spec.shape[i])) {
        throw new Error(`BertForSequenceClassification: '${spec.name}' has shape [${t.shape}], expected [${spec.shape}]`);
      }
      // No variable names: tfjs names are global, and two models (e.g. best and current) coexist.
      // Inside a tidy, so that the initial tensor (which shares the variable's buffer) is released
      // and disposing the variable frees the memory.
      params.set(spec.name, tf.tidy(() => tf.variable(tf.tensor(t.data, spec.shape), true)));
    }
    this.params = params;
  }

  /** Every parameter with its LR-decay layer and weight-decay exemption, in HF state-dict order. */
  paramInfo(): ParamInfo[] {
    return [...this.params].map(([name, variable]) => ({
      name,
      variable,
      layer: paramLayerIndex(name, this.config.numHiddenLayers),
      noDecay: isNoDecay(name),
    }));
  }

  /** Copies of the current weights on the host (Ballast layout: Linear [in, out]). */
  getWeights(): Map<string, HostTensor> {
    const out = new Map<string, HostTensor>();
    for (const [name, v] of this.params) out.set(name, { shape: [...v.shape], data: v.dataSync() as Float32Array });
    return out;
  }

  /** Assigns some or all weights (Ballast layout); shapes must match. */
  setWeights(weights: ReadonlyMap<string, HostTensor>): void {
    for (const [name, t] of weights) {
      const v = this.params.get(name);
      if (!v) throw new Error(`setWeights: unknown parameter '${name}'`);
      if (t.shape.length !== v.shape.length || t.shape.some((d, i) => d !== v.shape[i])) {
        throw new Error(`setWeights: '${name}' has shape [${t.shape}], expected [${v.shape}]`);
      }
      tf.tidy(() => v.assign(tf.tensor(t.data, v.shape)));
    }
  }

  /**
   * Mixout with probability p from now on (p = 0 turns it off): every Linear weight is mixed with
   * its value at this call (the target W0) in training forwards, and dropout is off, as in Lee et
   * al. and the paper's code.
   */
  setMixout(p: number): void {
    if (!(p >= 0 && p < 1)) throw new Error(`setMixout: p must be in [0, 1), got ${p}`);
    for (const t of this.mixoutTargets.values()) t.dispose();
    this.mixoutTargets.clear();
    this.mixoutP = p;
    if (p === 0) return;
    for (const [name, v] of this.params) if (isLinearWeight(name)) this.mixoutTargets.set(name, tf.keep(v.clone()));
  }

  get mixout(): number {
    return this.mixoutP;
  }

  /** Logits [batch, numLabels]. Call inside tf.tidy / tf.variableGrads; intermediates are tidied. */
  forward(inputs: BertInputs, options: ForwardOptions): tf.Tensor2D {
    checkInputs(inputs, this.config);
    const masks: MaskSeed | undefined = options.training
      ? { seed: options.dropoutSeed ?? 0, step: options.step ?? 0 }
      : undefined;
    // Without masks (evaluation) nothing is differentiated, so there is nothing to recompute.
    const recompute = masks !== undefined && this.recomputes(inputs.size, inputs.seqLength);
    return tf.tidy(() => {
      const { size: batch, seqLength: seq } = inputs;
      const mask = tf.tensor(inputs.attentionMask, [batch, 1, 1, seq], 'float32');
      const ctx: BlockContext = { batch, seq, maskAdd: tf.mul(tf.sub(1, mask), FLOAT32_MIN), masks };
      let h = this.embed(inputs, masks); // [batch·seq, hidden]
      for (let i = 0; i < this.config.numHiddenLayers; i++) {
        h = recompute ? this.checkpointedBlock(i, h, ctx) : this.block(i, h, this.blockParams(i), ctx);
      }
      return this.head(h, batch, masks);
    });
  }

  /** Whether a training forward of this batch shape recomputes block activations. */
  recomputes(batch: number, seq: number): boolean {
    if (this.recompute !== 'auto') return this.recompute;
    return this.activationBytes(batch, seq) > this.recomputeAboveBytes;
  }

  /**
   * A rough count of the bytes the tape keeps for all blocks' backward: per token about 16 hidden-
   * and 4 intermediate-sized float32 values, plus about 6 copies of the attention matrix.
   */
  activationBytes(batch: number, seq: number): number {
    const { hiddenSize: h, intermediateSize: ff, numAttentionHeads: heads, numHiddenLayers: layers } = this.config;
    return 4 * layers * (batch * seq * (16 * h + 4 * ff) + 6 * batch * heads * seq * seq);
  }

  /** Mean cross-entropy over the batch (classification) or mean squared error (regression). */
  loss(logits: tf.Tensor2D, labels: Int32Array | Float32Array | number[]): tf.Scalar {
    return tf.tidy(() => {
      const batch = logits.shape[0];
      if (labels.length !== batch) throw new Error(`loss: ${labels.length} labels for a batch of ${batch}`);
      if (this.config.problemType === 'regression') {
        const y = tf.tensor1d(Float32Array.from(labels), 'float32');
        return tf.mean(tf.squaredDifference(tf.reshape(logits, [batch]), y)) as tf.Scalar;
      }
      const n = this.config.numLabels;
      for (const l of labels) if (!Number.isInteger(l) || l < 0 || l >= n) throw new Error(`loss: label ${l} outside [0, ${n})`);
      const onehot = tf.oneHot(tf.tensor1d(Int32Array.from(labels), 'int32'), n); // [batch, labels]
      return tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1))) as tf.Scalar;
    });
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    for (const t of this.mixoutTargets.values()) t.dispose();
    this.mixoutTargets.clear();
  }

  private p(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`no parameter '${name}'`);
    return v;
  }

  private blockParams(i: number): tf.Variable[] {
    return BLOCK_PARAM_SUFFIXES.map((s) => this.p(blockParamName(i, s)));
  }

  private dropoutRate(rate: number, masks: MaskSeed | undefined): number {
    // Mixout replaces dropout (Lee et al.; the paper's code sets every Dropout to p = 0).
    return masks === undefined || this.mixoutP > 0 ? 0 : rate;
  }

  /** x[N, in] @ W[in, out] + b, with W mixed with its target under mixout. */
  private linear(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, name: string, masks: MaskSeed | undefined): tf.Tensor {
    return biasAdd(this.product(x, w, name, masks), b);
  }

  /** A Linear layer without its bias, which the fused op after it adds: x[N, in] @ W[in, out]. */
  private product(x: tf.Tensor, w: tf.Tensor, name: string, masks: MaskSeed | undefined): tf.Tensor {
    let weight = w;
    const target = this.mixoutTargets.get(name);
    if (masks !== undefined && this.mixoutP > 0 && target !== undefined) weight = mixoutWeight(w, target, this.mixoutP, masks, name);
    return tf.matMul(x, weight);
  }

  /** The mask of dropout at `rate` for `site`, for a fused op to apply; none when dropout is off. */
  private dropoutMaskAt(rate: number, shape: number[], masks: MaskSeed | undefined, site: string): tf.Tensor | undefined {
    const effective = this.dropoutRate(rate, masks);
    return effective > 0 && masks !== undefined ? dropoutMask(shape, effective, masks, site) : undefined;
  }

  private embed(inputs: BertInputs, masks: MaskSeed | undefined): tf.Tensor2D {
    const { size: batch, seqLength: seq } = inputs;
    const tables = {
      words: this.p('bert.embeddings.word_embeddings.weight'),
      types: this.p('bert.embeddings.token_type_embeddings.weight'),
      positions: this.p('bert.embeddings.position_embeddings.weight'),
      gamma: this.p('bert.embeddings.LayerNorm.weight'),
      beta: this.p('bert.embeddings.LayerNorm.bias'),
    };
    const ids = tf.tensor1d(inputs.inputIds, 'int32'); // checked against the vocabulary by checkInputs
    const typeIds = tf.tensor1d(inputs.tokenTypeIds, 'int32');
    const mask = this.dropoutMaskAt(this.hiddenDropout, [batch * seq, this.config.hiddenSize], masks, 'embeddings');
    return bertEmbeddings(tables, ids, typeIds, seq, this.config.layerNormEps, mask) as tf.Tensor2D; // [N, hidden]
  }

  /** One transformer block; `w` in BLOCK_PARAM_SUFFIXES order. x: [N, hidden] → [N, hidden]. */
  private block(i: number, x: tf.Tensor, w: tf.Tensor[], ctx: BlockContext): tf.Tensor2D {
    const [wq, bq, wk, bk, wv, bv, wo, bo, ln1g, ln1b, wi, bi, wo2, bo2, ln2g, ln2b] = w as [
      tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor,
      tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor,
    ];
    const { batch, seq, masks } = ctx;
    const { hiddenSize: hidden, numAttentionHeads: heads } = this.config;
    const n = batch * seq;
    const name = (s: string) => `bert.encoder.layer.${i}.${s}`;
    const q = this.linear(x, wq, bq, name('attention.self.query.weight'), masks); // [N, hidden]
    const k = this.linear(x, wk, bk, name('attention.self.key.weight'), masks); // [N, hidden]
    const v = this.linear(x, wv, bv, name('attention.self.value.weight'), masks); // [N, hidden]
    // The probabilities' dropout mask is drawn here, from the same site as before, so that the
    // recomputed block gets the same one; the op applies it.
    const probsMask = this.dropoutMaskAt(this.attentionDropout, [batch, heads, seq, seq], masks, `layer.${i}.attention.probs`);
    const context = selfAttention(q, k, v, { heads, maskAdd: ctx.maskAdd, dropoutMask: probsMask }); // [N, hidden]
    // Each output projection's bias, dropout, residual and LayerNorm in one op; the FFN's first
    // bias in its GELU.
    const eps = this.config.layerNormEps;
    const attn = this.product(context, wo, name('attention.output.dense.weight'), masks); // [N, hidden]
    const h1 = residualLayerNorm(attn, bo, x, ln1g, ln1b, eps, this.dropoutMaskAt(this.hiddenDropout, [n, hidden], masks, `layer.${i}.attention.output`)); // [N, hidden]
    const inter = biasGelu(this.product(h1, wi, name('intermediate.dense.weight'), masks), bi); // [N, ff]
    const out = this.product(inter, wo2, name('output.dense.weight'), masks); // [N, hidden]
    return residualLayerNorm(out, bo2, h1, ln2g, ln2b, eps, this.dropoutMaskAt(this.hiddenDropout, [n, hidden], masks, `layer.${i}.output`)) as tf.Tensor2D; // [N, hidden]
  }

  /**
   * The block as one tf.customGrad: the forward keeps only the block input (and the padding mask);
   * the gradient recomputes the block under its own tape and differentiates it. Masks are redrawn
   * from the same (seed, step, site), so the recomputed block is the forward's block exactly.
   */
  private checkpointedBlock(i: number, x: tf.Tensor2D, ctx: BlockContext): tf.Tensor2D {
    const params = this.blockParams(i);
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const save = args[args.length - 1] as tf.GradSaveFunc;
      const xIn = args[0] as tf.Tensor2D;
      save([xIn, ctx.maskAdd]);
      const value = this.block(i, xIn, params, ctx);
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
        const [xSaved, maskAdd] = saved as [tf.Tensor, tf.Tensor];
        const replay: BlockContext = { ...ctx, maskAdd };
        return isolatedGrads((xr, ...pr) => this.block(i, xr, pr, replay), [xSaved, ...params], dy);
      };
      return { value, gradFunc };
    });
    return f(x, ...params) as tf.Tensor2D;
  }

  private head(h: tf.Tensor, batch: number, masks: MaskSeed | undefined): tf.Tensor2D {
    const { hiddenSize: hidden } = this.config;
    // Row b of [batch, seq·hidden] starts with token 0 of sequence b: the [CLS] state, kept 2-D.
    const cls = tf.slice(tf.reshape(h, [batch, -1]), [0, 0], [batch, hidden]); // [batch, hidden]
    const pooled = tf.tanh(this.linear(cls, this.p('bert.pooler.dense.weight'), this.p('bert.pooler.dense.bias'), 'bert.pooler.dense.weight', masks));
    const dropped = seededDropout(pooled, this.dropoutRate(this.classifierDropout, masks), masks, 'classifier');
    return this.linear(dropped, this.p('classifier.weight'), this.p('classifier.bias'), 'classifier.weight', masks) as tf.Tensor2D; // [batch, labels]
  }
}

/**
 * tf.grads run from inside another gradient's backward pass. The engine keeps one `activeTape`
 * and a nested `gradients()` at depth 0 replaces it and finally sets it to null, after which the
 * outer pass crashes disposing its saved tensors; restoring it keeps both passes intact (the
 * nested pass disposes its own saved tensors first).
 */
function isolatedGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], dy: tf.Tensor): tf.Tensor[] {
  const state = (tf.engine() as unknown as { state: { activeTape: unknown } }).state;
  const outer = state.activeTape;
  try {
    return tf.grads(f)(xs, dy);
  } finally {
    state.activeTape = outer;
  }
}

function checkInputs(inputs: BertInputs, config: BertConfig): void {
  const { size: batchSize, seqLength } = inputs;
  const n = batchSize * seqLength;
  if (!(batchSize > 0 && seqLength > 0)) throw new Error(`forward: empty batch (${batchSize} × ${seqLength})`);
  if (seqLength > config.maxPositionEmbeddings) {
    throw new Error(`forward: sequence length ${seqLength} exceeds max_position_embeddings ${config.maxPositionEmbeddings}`);
  }
  for (const key of ['inputIds', 'tokenTypeIds', 'attentionMask'] as const) {
    if (inputs[key].length !== n) throw new Error(`forward: ${key} has ${inputs[key].length} values, expected ${batchSize} × ${seqLength}`);
  }
  for (let i = 0; i < n; i++) {
    const id = inputs.inputIds[i] as number;
    if (id < 0 || id >= config.vocabSize) throw new Error(`forward: token id ${id} at position ${i} outside the vocabulary (${config.vocabSize})`);
    const t = inputs.tokenTypeIds[i] as number;
    if (t < 0 || t >= config.typeVocabSize) throw new Error(`forward: token type ${t} at position ${i} outside [0, ${config.typeVocabSize})`);
  }
}
