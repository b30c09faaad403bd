// LayerNorm over the last axis fused with the sum that always precedes it in BERT (eps from the
// config, biased variance as torch's):
//   residualLayerNorm: LayerNorm(dropout(y + bias) + residual), y a Linear's product before its
//                      bias (the attention output and FFN output projections);
//   bertEmbeddings:    dropout(LayerNorm(words[ids] + types[typeIds] + positions[0..seq))), the
//                      lookups included (Hugging Face's BertEmbeddings).
// On wasm one kernel each way (trainer/wasm/src/layer-norm.c), the gradients of gamma, beta, the
// bias and the embedding tables summed over tokens inside the backward kernel; elsewhere composed
// of tfjs ops, in the order Hugging Face's modules compute them. Dropout masks are inputs (drawn by
// model/seeded-masks.ts), so the ops are pure functions of their inputs, as recomputation needs.
import * as tf from '@tensorflow/tfjs-core';
import { hasFusedKernel, registerGradientOnce, registerWasmKernel, rowsAndCols, runFused } from './fused-kernel.ts';

/** trainer/wasm/src/layer-norm.c; a pointer 0 is an absent term. */
interface LayerNormKernels {
  layer_norm_forward(out: number, y: number, bias: number, preMask: number, res: number, gamma: number, beta: number, rows: number, h: number, eps: number): void;
  layer_norm_backward(
    ds: number, dyPre: number, dbias: number, dgamma: number, dbeta: number,
    dy: number, y: number, bias: number, preMask: number, res: number, gamma: number, rows: number, h: number, eps: number,
  ): void;
  embedding_forward(
    out: number, words: number, ids: number, types: number, typeIds: number, positions: number, seq: number,
    gamma: number, beta: number, postMask: number, rows: number, h: number, eps: number,
  ): void;
  embedding_backward(
    dwords: number, vocab: number, dtypes: number, ntypes: number, dpos: number, npos: number, dgamma: number, dbeta: number, scratch: number,
    dy: number, words: number, ids: number, types: number, typeIds: number, positions: number, seq: number,
    gamma: number, postMask: number, rows: number, h: number, eps: number,
  ): void;
}

// One tfjs kernel per combination of inputs: the tape saves inputs by name, and an absent one
// cannot be named.
const RESIDUAL = 'BallastResidualLayerNorm';
const RESIDUAL_DROPOUT = 'BallastResidualDropoutLayerNorm';
const RESIDUAL_GRAD = 'BallastResidualLayerNormGrad';
const EMBEDDINGS = 'BallastBertEmbeddings';
const EMBEDDINGS_DROPOUT = 'BallastBertEmbeddingsDropout';
const EMBEDDINGS_GRAD = 'BallastBertEmbeddingsGrad';

/** LayerNorm(dropout(y + bias) + residual); `dropoutMask` (inverted, as seeded-masks draws it) optional. */
export function residualLayerNorm(
  y: tf.Tensor, bias: tf.Tensor, residual: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number, dropoutMask?: tf.Tensor,
): tf.Tensor {
  const h = lastAxis('residualLayerNorm', 'y', y);
  sameShape('residualLayerNorm', y, { residual, dropoutMask });
  vectors('residualLayerNorm', h, { bias, gamma, beta });
  const name = dropoutMask ? RESIDUAL_DROPOUT : RESIDUAL;
  if (hasFusedKernel(name)) {
    const inputs: tf.NamedTensorMap = dropoutMask ? { y, bias, preMask: dropoutMask, res: residual, gamma, beta } : { y, bias, res: residual, gamma, beta };
    return runFused(name, inputs, { eps }) as tf.Tensor;
  }
  return residualLayerNormComposed(y, bias, residual, gamma, beta, eps, dropoutMask);
}

/** residualLayerNorm composed of tfjs ops on any backend (the other backends' path; for A/B). */
export function residualLayerNormComposed(
  y: tf.Tensor, bias: tf.Tensor, residual: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number, dropoutMask?: tf.Tensor,
): tf.Tensor {
  return tf.tidy(() => {
    const biased = tf.add(y, bias);
    return layerNormComposed(tf.add(dropoutMask ? tf.mul(biased, dropoutMask) : biased, residual), gamma, beta, eps);
  });
}

export interface EmbeddingTables {
  /** [vocab, hidden] */
  words: tf.Tensor;
  /** [typeVocab, hidden] */
  types: tf.Tensor;
  /** [maxPositions, hidden]; sequence position p reads row p. */
  positions: tf.Tensor;
  gamma: tf.Tensor;
  beta: tf.Tensor;
}

/**
 * dropout(LayerNorm((words[ids] + types[typeIds]) + positions)) → [N, hidden], for N = batch·seq
 * tokens; `ids` and `typeIds` int32 [N]. The tables' gradients are dense, zero in rows no token used.
 */
export function bertEmbeddings(tables: EmbeddingTables, ids: tf.Tensor, typeIds: tf.Tensor, seq: number, eps: number, dropoutMask?: tf.Tensor): tf.Tensor {
  const { words, types, positions, gamma, beta } = tables;
  const h = lastAxis('bertEmbeddings', 'words', words);
  for (const [name, t] of Object.entries({ words, types, positions })) {
    if (t.rank !== 2 || t.shape[1] !== h) throw new Error(`bertEmbeddings: ${name} has shape [${t.shape}], expected [rows, ${h}]`);
  }
  vectors('bertEmbeddings', h, { gamma, beta });
  const n = ids.size;
  if (ids.rank !== 1 || ids.dtype !== 'int32') throw new Error(`bertEmbeddings: ids is ${ids.dtype} [${ids.shape}], expected int32 [tokens]`);
  if (typeIds.rank !== 1 || typeIds.dtype !== 'int32' || typeIds.size !== n) {
    throw new Error(`bertEmbeddings: typeIds is ${typeIds.dtype} [${typeIds.shape}], expected int32 [${n}] as ids`);
  }
  if (!(seq > 0 && n % seq === 0 && seq <= (positions.shape[0] as number))) {
    throw new Error(`bertEmbeddings: sequence length ${seq} must divide the ${n} tokens and not exceed the ${positions.shape[0]} positions`);
  }
  // The kernels read (and their gradients write) the rows the ids name: an id outside its table
  // would touch memory of other tensors.
  checkIds('ids', ids, words.shape[0] as number);
  checkIds('typeIds', typeIds, types.shape[0] as number);
  if (dropoutMask && !tf.util.arraysEqual(dropoutMask.shape, [n, h])) throw new Error(`bertEmbeddings: dropoutMask has shape [${dropoutMask.shape}], expected [${n},${h}]`);
  const name = dropoutMask ? EMBEDDINGS_DROPOUT : EMBEDDINGS;
  if (hasFusedKernel(name)) {
    return tf.tidy(() => {
      const inputs: tf.NamedTensorMap = { words, ids, types, typeIds, positions, gamma, beta };
      if (dropoutMask) inputs.postMask = dropoutMask;
      return runFused(name, inputs, { eps, seq }) as tf.Tensor;
    });
  }
  return bertEmbeddingsComposed(tables, ids, typeIds, seq, eps, dropoutMask);
}

/** bertEmbeddings composed of tfjs ops on any backend (the other backends' path; for A/B). */
export function bertEmbeddingsComposed(tables: EmbeddingTables, ids: tf.Tensor, typeIds: tf.Tensor, seq: number, eps: number, dropoutMask?: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const { words, types, positions, gamma, beta } = tables;
    const h = words.shape[1] as number;
    const wordRows = tf.gather(words, ids); // [N, h]
    // A one-hot matmul for the few token types: a plain 2-D product, cheaper than a gather's
    // gradient (tf.oneHot needs a depth of 2 or more).
    const typeCount = types.shape[0] as number;
    const typeRows = typeCount >= 2 ? tf.matMul(tf.oneHot(typeIds, typeCount), types) : tf.gather(types, typeIds); // [N, h]
    const positionRows = tf.slice(positions, [0, 0], [seq, h]); // [seq, h]
    const sum = tf.reshape(tf.add(tf.reshape(tf.add(wordRows, typeRows), [-1, seq, h]), positionRows), [-1, h]);
    const out = layerNormComposed(sum, gamma, beta, eps);
    return dropoutMask ? tf.mul(out, dropoutMask) : out;
  });
}

function layerNormComposed(s: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  const mean = tf.mean(s, -1, true);
  const xc = tf.sub(s, mean);
  const variance = tf.mean(tf.square(xc), -1, true);
  return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(variance, eps))), gamma), beta);
}

function checkIds(name: string, ids: tf.Tensor, rows: number): void {
  const values = ids.dataSync();
  for (let i = 0; i < values.length; i++) {
    const id = values[i] as number;
    if (!(id >= 0 && id < rows)) throw new Error(`bertEmbeddings: ${name}[${i}] is ${id}, outside its table's ${rows} rows`);
  }
}

function lastAxis(op: string, name: string, t: tf.Tensor): number {
  if (t.rank < 1) throw new Error(`${op}: ${name} is a scalar`);
  return t.shape[t.rank - 1] as number;
}

function sameShape(op: string, main: tf.Tensor, others: Record<string, tf.Tensor | undefined>): void {
  for (const [name, t] of Object.entries(others)) {
    if (t && !tf.util.arraysEqual(t.shape, main.shape)) throw new Error(`${op}: ${name} has shape [${t.shape}], expected [${main.shape}]`);
  }
}

function vectors(op: string, h: number, named: Record<string, tf.Tensor>): void {
  for (const [name, t] of Object.entries(named)) {
    if (t.rank !== 1 || t.shape[0] !== h) throw new Error(`${op}: ${name} has shape [${t.shape}], expected [${h}]`);
  }
}

const ptrOr0 = (ptr: (t: tf.TensorInfo) => number, t: tf.TensorInfo | undefined) => (t ? ptr(t) : 0);

for (const name of [RESIDUAL, RESIDUAL_DROPOUT]) {
  registerWasmKernel<LayerNormKernels>(name, 'layer-norm', ({ y, bias, preMask, res, gamma, beta }, k, attrs) => {
    const yi = y as tf.TensorInfo;
    const h = yi.shape[yi.shape.length - 1] as number;
    const out = k.output(yi.shape);
    k.kernels.layer_norm_forward(
      k.ptr(out), k.ptr(yi), k.ptr(bias as tf.TensorInfo), ptrOr0(k.ptr, preMask), k.ptr(res as tf.TensorInfo),
      k.ptr(gamma as tf.TensorInfo), k.ptr(beta as tf.TensorInfo), rowsAndCols(yi).rows, h, attrs.eps as number,
    );
    return out;
  });

  const saves = name === RESIDUAL_DROPOUT ? ['y', 'bias', 'preMask', 'res', 'gamma'] : ['y', 'bias', 'res', 'gamma'];
  registerGradientOnce({
    kernelName: name,
    inputsToSave: saves,
    gradFunc: (dy, saved, attrs) => {
      const t = Object.fromEntries(saves.map((n, i) => [n, saved[i] as tf.Tensor])) as Record<string, tf.Tensor>;
      // Run at once, not per input: one kernel computes every gradient.
      const [ds, dgamma, dbeta, dbias, dyPre] = runFused(RESIDUAL_GRAD, { dy: dy as tf.Tensor, ...t }, attrs) as tf.Tensor[];
      return {
        // Distinct tensors per input (the tape disposes one input's gradient when it accumulates
        // another), and each output handed to the tape, which frees it once used.
        y: () => dyPre ?? tf.clone(ds as tf.Tensor),
        bias: () => dbias as tf.Tensor,
        // Never needed in training (masks are constants); here for completeness.
        preMask: () => tf.mul(tf.add(t.y as tf.Tensor, t.bias as tf.Tensor), ds as tf.Tensor),
        res: () => ds as tf.Tensor,
        gamma: () => dgamma as tf.Tensor,
        beta: () => dbeta as tf.Tensor,
      };
    },
  });
}

registerWasmKernel<LayerNormKernels>(RESIDUAL_GRAD, 'layer-norm', ({ dy, y, bias, preMask, res, gamma }, k, attrs) => {
  const yi = y as tf.TensorInfo;
  const h = yi.shape[yi.shape.length - 1] as number;
  const ds = k.output(yi.shape);
  const dgamma = k.output([h]);
  const dbeta = k.output([h]);
  const dbias = k.output([h]);
  const dyPre = preMask ? k.output(yi.shape) : undefined;
  k.kernels.layer_norm_backward(
    k.ptr(ds), ptrOr0(k.ptr, dyPre), k.ptr(dbias), k.ptr(dgamma), k.ptr(dbeta),
    k.ptr(dy as tf.TensorInfo), k.ptr(yi), k.ptr(bias as tf.TensorInfo), ptrOr0(k.ptr, preMask), k.ptr(res as tf.TensorInfo),
    k.ptr(gamma as tf.TensorInfo), rowsAndCols(yi).rows, h, attrs.eps as number,
  );
  return dyPre ? [ds, dgamma, dbeta, dbias, dyPre] : [ds, dgamma, dbeta, dbias];
});

for (const name of [EMBEDDINGS, EMBEDDINGS_DROPOUT]) {
  registerWasmKernel<LayerNormKernels>(name, 'layer-norm', ({ words, ids, types, typeIds, positions, gamma, beta, postMask }, k, attrs) => {
    const w = words as tf.TensorInfo;
    const h = w.shape[1] as number;
    const n = (ids as tf.TensorInfo).shape[0] as number;
    const out = k.output([n, h]);
    k.kernels.embedding_forward(
      k.ptr(out), k.ptr(w), k.ptr(ids as tf.TensorInfo), k.ptr(types as tf.TensorInfo), k.ptr(typeIds as tf.TensorInfo),
      k.ptr(positions as tf.TensorInfo), attrs.seq as number, k.ptr(gamma as tf.TensorInfo), k.ptr(beta as tf.TensorInfo),
      ptrOr0(k.ptr, postMask), n, h, attrs.eps as number,
    );
    return out;
  }, ['ids', 'typeIds']);

  const saves = ['words', 'ids', 'types', 'typeIds', 'positions', 'gamma', 'beta', ...(name === EMBEDDINGS_DROPOUT ? ['postMask'] : [])];
  registerGradientOnce({
    kernelName: name,
    inputsToSave: saves,
    gradFunc: (dy, saved, attrs) => {
      const t = Object.fromEntries(saves.map((n, i) => [n, saved[i] as tf.Tensor])) as Record<string, tf.Tensor>;
      const { beta: _beta, ...kernelInputs } = t;
      const [dwords, dtypes, dpos, dgamma, dbeta] = runFused(EMBEDDINGS_GRAD, { dy: dy as tf.Tensor, ...kernelInputs }, attrs) as tf.Tensor[];
      return {
        words: () => dwords as tf.Tensor,
        types: () => dtypes as tf.Tensor,
        positions: () => dpos as tf.Tensor,
        gamma: () => dgamma as tf.Tensor,
        beta: () => dbeta as tf.Tensor,
        // Ids select rows: no gradient. The mask's (never needed in training) for completeness.
        ids: () => tf.zerosLike(t.ids as tf.Tensor),
        typeIds: () => tf.zerosLike(t.typeIds as tf.Tensor),
        postMask: () => {
          const { postMask: _mask, ...unmasked } = t;
          return tf.mul(dy as tf.Tensor, runFused(EMBEDDINGS, unmasked as tf.NamedTensorMap, attrs) as tf.Tensor);
        },
      };
    },
  });
}

registerWasmKernel<LayerNormKernels>(EMBEDDINGS_GRAD, 'layer-norm', ({ dy, words, ids, types, typeIds, positions, gamma, postMask }, k, attrs) => {
  const [w, ty, pos] = [words, types, positions] as tf.TensorInfo[] as [tf.TensorInfo, tf.TensorInfo, tf.TensorInfo];
  const h = w.shape[1] as number;
  const dwords = k.output(w.shape);
  const dtypes = k.output(ty.shape);
  const dpos = k.output(pos.shape);
  const dgamma = k.output([h]);
  const dbeta = k.output([h]);
  const scratch = k.output([h]);
  k.kernels.embedding_backward(
    k.ptr(dwords), w.shape[0] as number, k.ptr(dtypes), ty.shape[0] as number, k.ptr(dpos), pos.shape[0] as number,
    k.ptr(dgamma), k.ptr(dbeta), k.ptr(scratch),
    k.ptr(dy as tf.TensorInfo), k.ptr(w), k.ptr(ids as tf.TensorInfo), k.ptr(ty), k.ptr(typeIds as tf.TensorInfo), k.ptr(pos), attrs.seq as number,
    k.ptr(gamma as tf.TensorInfo), ptrOr0(k.ptr, postMask), (ids as tf.TensorInfo).shape[0] as number, h, attrs.eps as number,
  );
  k.backend.disposeData(scratch.dataId);
  return [dwords, dtypes, dpos, dgamma, dbeta];
}, ['ids', 'typeIds']);
