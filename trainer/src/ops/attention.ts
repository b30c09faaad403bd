// The core of BERT's multi-head self-attention: context = dropout(softmax(q·kᵀ/√dh + maskAdd))·v
// per (example, head), with q, k, v and the context [batch·seq, hidden] and head h in columns
// [h·dh, (h+1)·dh) (what the Linear layers produce and consume).
//
// On wasm one fused kernel each way (trainer/wasm/src/attention.c) reads the heads in place: the
// composed path needs 3 transposes in and 1 out (and their gradients), and a BatchMatMul per
// (example, head) that wasm runs as separate XNNPACK calls whose pool dispatch dominates at BERT's
// small head sizes. The forward keeps the softmax probabilities (before dropout) for the backward,
// one [batch, heads, seq, seq] tensor, where the composed tape keeps several.
//
// Elsewhere the op is composed of tfjs ops, with the same math and the same summation roles.
import * as tf from '@tensorflow/tfjs-core';
import { hasFusedKernel, registerWasmKernel, runFused, type WasmKernelContext } from './fused-kernel.ts';

/** trainer/wasm/src/attention.c */
interface AttentionKernels {
  attention_forward_workspace(seq: number, headDim: number): number;
  attention_backward_workspace(seq: number, headDim: number): number;
  attention_forward(
    out: number, probs: number, q: number, k: number, v: number, maskAdd: number, drop: number, ws: number,
    batch: number, seq: number, heads: number, headDim: number, scale: number,
  ): void;
  attention_backward(
    dq: number, dk: number, dv: number, dctx: number, q: number, k: number, v: number, probs: number, drop: number, ws: number,
    batch: number, seq: number, heads: number, headDim: number, scale: number,
  ): void;
}

const ATTENTION = 'BallastAttention';
const ATTENTION_GRAD = 'BallastAttentionGrad';

export interface AttentionOptions {
  /** Number of heads; hidden (q's columns) must be a multiple of it. */
  heads: number;
  /** Added to the scores of each key: [batch, 1, 1, seq], (1 − mask)·float32 min for padding. */
  maskAdd: tf.Tensor;
  /**
   * Inverted dropout on the probabilities, [batch, heads, seq, seq] of 0 or 1/(1 − rate) (see
   * seeded-masks.ts dropoutMask); absent: no dropout.
   */
  dropoutMask?: tf.Tensor;
}

interface Dims {
  batch: number;
  seq: number;
  heads: number;
  headDim: number;
}

function dims(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, o: AttentionOptions): Dims {
  const { heads, maskAdd, dropoutMask } = o;
  if (q.rank !== 2) throw new Error(`selfAttention: q must be [batch·seq, hidden], got [${q.shape}]`);
  const [n, hidden] = q.shape as [number, number];
  for (const [name, t] of [['k', k], ['v', v]] as const) {
    if (!tf.util.arraysEqual(t.shape, q.shape)) throw new Error(`selfAttention: ${name} has shape [${t.shape}], expected q's [${q.shape}]`);
  }
  if (!(Number.isInteger(heads) && heads > 0 && hidden % heads === 0)) {
    throw new Error(`selfAttention: heads must be a positive divisor of hidden ${hidden}, got ${heads}`);
  }
  if (maskAdd.rank !== 4 || maskAdd.shape[1] !== 1 || maskAdd.shape[2] !== 1) {
    throw new Error(`selfAttention: maskAdd must be [batch, 1, 1, seq], got [${maskAdd.shape}]`);
  }
  const batch = maskAdd.shape[0] as number;
  const seq = maskAdd.shape[3] as number;
  if (batch * seq !== n) throw new Error(`selfAttention: q has ${n} rows, maskAdd is for ${batch} × ${seq}`);
  if (dropoutMask && !tf.util.arraysEqual(dropoutMask.shape, [batch, heads, seq, seq])) {
    throw new Error(`selfAttention: dropoutMask has shape [${dropoutMask.shape}], expected [${[batch, heads, seq, seq]}]`);
  }
  return { batch, seq, heads, headDim: hidden / heads };
}

/** Context [batch·seq, hidden] of multi-head self-attention; differentiable in q, k and v. */
export function selfAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: AttentionOptions): tf.Tensor2D {
  const d = dims(q, k, v, options);
  if (!hasFusedKernel(ATTENTION)) return composed(q, k, v, options, d);
  const { maskAdd, dropoutMask } = options;
  const attrs = { heads: d.heads };
  // customGrad rather than a registered gradient: the forward kernel's second output (P) would
  // otherwise get a materialised zero gradient in every backward pass, and the masks, which have
  // no gradient, stay out of the differentiated inputs.
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [qi, ki, vi, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const inputs: tf.NamedTensorMap = { q: qi, k: ki, v: vi, maskAdd };
    if (dropoutMask) inputs.dropoutMask = dropoutMask;
    const [context, probs] = runFused(ATTENTION, inputs, attrs) as [tf.Tensor2D, tf.Tensor];
    save(dropoutMask ? [qi, ki, vi, probs, dropoutMask] : [qi, ki, vi, probs]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [qs, ks, vs, ps, ms] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
      const gradInputs: tf.NamedTensorMap = { dy, q: qs, k: ks, v: vs, probs: ps };
      if (ms) gradInputs.dropoutMask = ms;
      return runFused(ATTENTION_GRAD, gradInputs, attrs) as tf.Tensor[];
    };
    return { value: context, gradFunc };
  });
  return f(q, k, v) as tf.Tensor2D;
}

/** selfAttention composed of tfjs ops on any backend (the fallback; bench/attention.ts's reference). */
export function selfAttentionComposed(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: AttentionOptions): tf.Tensor2D {
  return composed(q, k, v, options, dims(q, k, v, options));
}

/** The same math from tfjs ops (what the model did before the fused kernel). */
function composed(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, o: AttentionOptions, d: Dims): tf.Tensor2D {
  const { batch, seq, heads, headDim } = d;
  const n = batch * seq;
  return tf.tidy(() => {
    const qh = tf.transpose(tf.reshape(q, [batch, seq, heads, headDim]), [0, 2, 1, 3]); // [B, heads, seq, dh]
    // K transposed once so that no product needs a transpose flag (wasm's fast path has none).
    const kt = tf.transpose(tf.reshape(k, [batch, seq, heads, headDim]), [0, 2, 3, 1]); // [B, heads, dh, seq]
    const vh = tf.transpose(tf.reshape(v, [batch, seq, heads, headDim]), [0, 2, 1, 3]); // [B, heads, seq, dh]
    const scores = tf.add(tf.div(tf.matMul(qh, kt), Math.sqrt(headDim)), o.maskAdd); // [B, heads, seq, seq]
    let probs = tf.softmax(scores);
    if (o.dropoutMask) probs = tf.mul(probs, o.dropoutMask);
    return tf.reshape(tf.transpose(tf.matMul(probs, vh), [0, 2, 1, 3]), [n, heads * headDim]) as tf.Tensor2D; // [N, hidden]
  });
}

function headDims(x: tf.TensorInfo, attrs: tf.NamedAttrMap): { hidden: number; heads: number; headDim: number } {
  const hidden = x.shape[1] as number;
  const heads = attrs.heads as number;
  return { hidden, heads, headDim: hidden / heads };
}

/** A float32 scratch block of `floats` on the heap, freed by the returned function. */
function workspace<K>(ctx: WasmKernelContext<K>, floats: number): { ptr: number; free: () => void } {
  const t = ctx.output([Math.max(floats, 1)]);
  return { ptr: ctx.ptr(t), free: () => ctx.backend.disposeData(t.dataId) };
}

registerWasmKernel<AttentionKernels>(ATTENTION, 'attention', (inputs, ctx, attrs) => {
  const { q, k, v, maskAdd, dropoutMask } = inputs as Record<string, tf.TensorInfo>;
  const { heads, headDim } = headDims(q as tf.TensorInfo, attrs);
  const batch = (maskAdd as tf.TensorInfo).shape[0] as number;
  const seq = (maskAdd as tf.TensorInfo).shape[3] as number;
  const out = ctx.output((q as tf.TensorInfo).shape);
  const probs = ctx.output([batch, heads, seq, seq]);
  const ws = workspace(ctx, ctx.kernels.attention_forward_workspace(seq, headDim));
  try {
    ctx.kernels.attention_forward(
      ctx.ptr(out), ctx.ptr(probs), ctx.ptr(q as tf.TensorInfo), ctx.ptr(k as tf.TensorInfo), ctx.ptr(v as tf.TensorInfo),
      ctx.ptr(maskAdd as tf.TensorInfo), dropoutMask ? ctx.ptr(dropoutMask) : 0, ws.ptr,
      batch, seq, heads, headDim, 1 / Math.sqrt(headDim),
    );
  } finally {
    ws.free();
  }
  return [out, probs];
});

registerWasmKernel<AttentionKernels>(ATTENTION_GRAD, 'attention', (inputs, ctx, attrs) => {
  const { dy, q, k, v, probs, dropoutMask } = inputs as Record<string, tf.TensorInfo>;
  const { heads, headDim } = headDims(q as tf.TensorInfo, attrs);
  const [batch, , seq] = (probs as tf.TensorInfo).shape as [number, number, number, number];
  const shape = (q as tf.TensorInfo).shape;
  const dq = ctx.output(shape);
  const dk = ctx.output(shape);
  const dv = ctx.output(shape);
  const ws = workspace(ctx, ctx.kernels.attention_backward_workspace(seq, headDim));
  try {
    ctx.kernels.attention_backward(
      ctx.ptr(dq), ctx.ptr(dk), ctx.ptr(dv), ctx.ptr(dy as tf.TensorInfo),
      ctx.ptr(q as tf.TensorInfo), ctx.ptr(k as tf.TensorInfo), ctx.ptr(v as tf.TensorInfo), ctx.ptr(probs as tf.TensorInfo),
      dropoutMask ? ctx.ptr(dropoutMask) : 0, ws.ptr,
      batch, seq, heads, headDim, 1 / Math.sqrt(headDim),
    );
  } finally {
    ws.free();
  }
  return [dq, dk, dv];
});
