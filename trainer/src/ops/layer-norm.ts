// LayerNorm over the last axis fused with the sum that always precedes it in BERT (eps from the
// config, biased variance as torch's):
//   residualLayerNorm:  LayerNorm(dropout(y + bias) + residual), y a Linear's product before its
//                       bias (the attention output and FFN output projections);
//   embeddingLayerNorm: dropout(LayerNorm(words + types + positions)), positions [seq, hidden]
//                       added to every sequence of the batch.
// On wasm one kernel each way (trainer/wasm/src/layer-norm.c), the gradients of gamma, beta, the
// bias and the positions summed over tokens inside the backward kernel; elsewhere composed of tfjs
// ops, in the order Hugging Face's modules compute them. Dropout masks are inputs (drawn by
// model/seeded-masks.ts), so the op is a pure function of its inputs, as recomputation needs.
import * as tf from '@tensorflow/tfjs-core';
import { hasFusedKernel, registerGradientOnce, registerWasmKernel, runFused } from './fused-kernel.ts';

/** trainer/wasm/src/layer-norm.c; a pointer 0 is an absent term. */
interface LayerNormKernels {
  layer_norm_forward(
    out: number, y: number, bias: number, preMask: number, res: number, res2: number, period: number,
    gamma: number, beta: number, postMask: number, rows: number, h: number, eps: number,
  ): void;
  layer_norm_backward(
    ds: number, dyPre: number, dbias: number, dres2: number, dgamma: number, dbeta: number,
    dy: number, y: number, bias: number, preMask: number, res: number, res2: number, period: number,
    gamma: number, postMask: number, rows: number, h: number, eps: number,
  ): void;
}

/** The kernel's inputs by the names its variants use. */
interface Terms {
  y: tf.Tensor; // y (residual form) or words (embedding form)
  bias?: tf.Tensor;
  preMask?: tf.Tensor;
  res?: tf.Tensor; // residual, or the token types' embeddings
  res2?: tf.Tensor; // positions [period, h]
  gamma: tf.Tensor;
  beta: tf.Tensor;
  postMask?: tf.Tensor;
}
type TermName = keyof Terms;

const GRAD = 'BallastLayerNormGrad';

/**
 * One tfjs kernel per combination of terms: the tape saves inputs by name, and an absent one
 * cannot be named.
 */
const VARIANTS = {
  residual: { name: 'BallastResidualLayerNorm', terms: ['y', 'bias', 'res', 'gamma', 'beta'] },
  residualDropout: { name: 'BallastResidualDropoutLayerNorm', terms: ['y', 'bias', 'preMask', 'res', 'gamma', 'beta'] },
  embedding: { name: 'BallastEmbeddingLayerNorm', terms: ['y', 'res', 'res2', 'gamma', 'beta'] },
  embeddingDropout: { name: 'BallastEmbeddingLayerNormDropout', terms: ['y', 'res', 'res2', 'gamma', 'beta', 'postMask'] },
} as const satisfies Record<string, { name: string; terms: readonly TermName[] }>;

/** LayerNorm(dropout(y + bias) + residual); `dropoutMask` (inverted, as seeded-masks draws it) optional. */
export function residualLayerNorm(
  y: tf.Tensor, bias: tf.Tensor, residual: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number, dropoutMask?: tf.Tensor,
): tf.Tensor {
  checkRows('residualLayerNorm', { y, residual, dropoutMask }, { bias, gamma, beta });
  const variant = dropoutMask ? VARIANTS.residualDropout : VARIANTS.residual;
  const terms: Terms = { y, bias, preMask: dropoutMask, res: residual, gamma, beta };
  if (hasFusedKernel(variant.name)) return runFused(variant.name, pick(terms, variant.terms), { eps }) as tf.Tensor;
  return composed(terms, eps);
}

/** residualLayerNorm composed of tfjs ops on any backend (the other backends' path; for A/B). */
export function residualLayerNormComposed(
  y: tf.Tensor, bias: tf.Tensor, residual: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number, dropoutMask?: tf.Tensor,
): tf.Tensor {
  return composed({ y, bias, preMask: dropoutMask, res: residual, gamma, beta }, eps);
}

/**
 * dropout(LayerNorm(words + types + positions)): words and types [N, hidden], positions
 * [seq, hidden] with N a multiple of seq (row r is at position r mod seq).
 */
export function embeddingLayerNorm(
  words: tf.Tensor, types: tf.Tensor, positions: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number, dropoutMask?: tf.Tensor,
): tf.Tensor {
  const h = checkRows('embeddingLayerNorm', { words, types, dropoutMask }, { gamma, beta });
  const seq = positions.shape[0] as number;
  const rows = words.size / h;
  if (positions.rank !== 2 || positions.shape[1] !== h || seq === 0 || rows % seq !== 0) {
    throw new Error(`embeddingLayerNorm: positions has shape [${positions.shape}], expected [seq, ${h}] with seq dividing ${rows} rows`);
  }
  const variant = dropoutMask ? VARIANTS.embeddingDropout : VARIANTS.embedding;
  const terms: Terms = { y: words, res: types, res2: positions, gamma, beta, postMask: dropoutMask };
  if (hasFusedKernel(variant.name)) return runFused(variant.name, pick(terms, variant.terms), { eps }) as tf.Tensor;
  return composed(terms, eps);
}

/** embeddingLayerNorm composed of tfjs ops on any backend (the other backends' path; for A/B). */
export function embeddingLayerNormComposed(
  words: tf.Tensor, types: tf.Tensor, positions: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number, dropoutMask?: tf.Tensor,
): tf.Tensor {
  return composed({ y: words, res: types, res2: positions, gamma, beta, postMask: dropoutMask }, eps);
}

/** The last-axis size; checks that every [rows, h] tensor has `main`'s shape and every vector is [h]. */
function checkRows(op: string, full: Record<string, tf.Tensor | undefined>, vectors: Record<string, tf.Tensor>): number {
  const [mainName, main] = Object.entries(full)[0] as [string, tf.Tensor];
  if (main.rank < 1) throw new Error(`${op}: ${mainName} is a scalar`);
  const h = main.shape[main.rank - 1] as number;
  for (const [name, t] of Object.entries(full)) {
    if (t && !tf.util.arraysEqual(t.shape, main.shape)) throw new Error(`${op}: ${name} has shape [${t.shape}], expected [${main.shape}] as ${mainName}`);
  }
  for (const [name, t] of Object.entries(vectors)) {
    if (t.rank !== 1 || t.shape[0] !== h) throw new Error(`${op}: ${name} has shape [${t.shape}], expected [${h}]`);
  }
  return h;
}

function pick(terms: Terms, names: readonly TermName[]): tf.NamedTensorMap {
  const out: tf.NamedTensorMap = {};
  for (const n of names) out[n] = terms[n] as tf.Tensor;
  return out;
}

/** The same math from tfjs ops, in Hugging Face's order of operations. */
function composed(t: Terms, eps: number): tf.Tensor {
  return tf.tidy(() => {
    let s = t.bias ? tf.add(t.y, t.bias) : t.y;
    if (t.preMask) s = tf.mul(s, t.preMask);
    if (t.res) s = tf.add(s, t.res);
    if (t.res2) {
      const [seq, h] = t.res2.shape as [number, number];
      s = tf.reshape(tf.add(tf.reshape(s, [-1, seq, h]), t.res2), t.y.shape);
    }
    const mean = tf.mean(s, -1, true);
    const xc = tf.sub(s, mean);
    const variance = tf.mean(tf.square(xc), -1, true);
    const out = tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(variance, eps))), t.gamma), t.beta);
    return t.postMask ? tf.mul(out, t.postMask) : out;
  });
}

function ptrOr0(ptr: (t: tf.TensorInfo) => number, t: tf.TensorInfo | undefined): number {
  return t ? ptr(t) : 0;
}

for (const variant of Object.values(VARIANTS)) {
  registerWasmKernel<LayerNormKernels>(variant.name, 'layer-norm', (inputs, k, attrs) => {
    const { y, bias, preMask, res, res2, gamma, beta, postMask } = inputs as Record<TermName, tf.TensorInfo | undefined>;
    const yi = y as tf.TensorInfo;
    const h = yi.shape[yi.shape.length - 1] as number;
    const out = k.output(yi.shape);
    const p = (t: tf.TensorInfo | undefined) => ptrOr0(k.ptr, t);
    k.kernels.layer_norm_forward(
      k.ptr(out), k.ptr(yi), p(bias), p(preMask), p(res), p(res2), res2 ? (res2.shape[0] as number) : 1,
      p(gamma), p(beta), p(postMask), tf.util.sizeFromShape(yi.shape) / h, h, attrs.eps as number,
    );
    return out;
  });

  registerGradientOnce({
    kernelName: variant.name,
    inputsToSave: [...variant.terms],
    gradFunc: (dy, saved, attrs) => {
      const t = Object.fromEntries(variant.terms.map((n, i) => [n, saved[i] as tf.Tensor])) as unknown as Terms;
      const { beta: _, ...kernelInputs } = pick(t, variant.terms);
      // Run at once, not per input: one kernel computes every gradient.
      const grads = runFused(GRAD, { dy: dy as tf.Tensor, ...kernelInputs }, attrs) as tf.Tensor[];
      const [ds, dgamma, dbeta] = grads as [tf.Tensor, tf.Tensor, tf.Tensor];
      let next = 3;
      const dyPre = t.preMask ? grads[next++] as tf.Tensor : undefined;
      const dbias = t.bias ? grads[next++] as tf.Tensor : undefined;
      const dres2 = t.res2 ? grads[next++] as tf.Tensor : undefined;
      const eps = attrs.eps as number;
      const map: Record<string, () => tf.Tensor> = {
        // Distinct tensors per input (the tape disposes one input's gradient when it accumulates
        // another), and each output handed to the tape, which frees it once used.
        y: () => dyPre ?? tf.clone(ds),
        res: () => ds,
        gamma: () => dgamma,
        beta: () => dbeta,
      };
      if (dbias) map.bias = () => dbias;
      if (dres2) map.res2 = () => dres2;
      // Never needed in training (masks are constants); here for completeness, composed.
      if (t.preMask) map.preMask = () => tf.mul(tf.add(t.y, t.bias as tf.Tensor), ds);
      if (t.postMask) {
        map.postMask = () => tf.mul(dy as tf.Tensor, embeddingLayerNorm(t.y, t.res as tf.Tensor, t.res2 as tf.Tensor, t.gamma, t.beta, eps));
      }
      return map;
    },
  });
}

registerWasmKernel<LayerNormKernels>(GRAD, 'layer-norm', (inputs, k, attrs) => {
  const { dy, y, bias, preMask, res, res2, gamma, postMask } = inputs as Record<string, tf.TensorInfo | undefined>;
  const yi = y as tf.TensorInfo;
  const h = yi.shape[yi.shape.length - 1] as number;
  const ds = k.output(yi.shape);
  const dgamma = k.output([h]);
  const dbeta = k.output([h]);
  const dyPre = preMask ? k.output(yi.shape) : undefined;
  const dbias = bias ? k.output([h]) : undefined;
  const dres2 = res2 ? k.output(res2.shape) : undefined;
  const p = (t: tf.TensorInfo | undefined) => ptrOr0(k.ptr, t);
  k.kernels.layer_norm_backward(
    k.ptr(ds), p(dyPre), p(dbias), p(dres2), k.ptr(dgamma), k.ptr(dbeta),
    p(dy), k.ptr(yi), p(bias), p(preMask), p(res), p(res2), res2 ? (res2.shape[0] as number) : 1,
    p(gamma), p(postMask), tf.util.sizeFromShape(yi.shape) / h, h, attrs.eps as number,
  );
  return [ds, dgamma, dbeta, ...[dyPre, dbias, dres2].filter((t): t is tf.TensorInfo => t !== undefined)];
});
