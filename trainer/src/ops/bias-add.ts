// A Linear layer's bias, y + b with b [cols] added to every row of y [..., cols], where no fused op
// follows to take it (the attention projections, pooler, classifier). On wasm one kernel each way
// (trainer/wasm/src/bias-add.c): the bias's gradient, a sum over rows, in one pass; y's gradient is
// dy itself. Elsewhere tfjs's Add.
import * as tf from '@tensorflow/tfjs-core';
import { checkBias, hasFusedKernel, registerGradientOnce, registerWasmKernel, rowsAndCols, runFused } from './fused-kernel.ts';

/** trainer/wasm/src/bias-add.c */
interface BiasAddKernels {
  bias_add_forward(out: number, y: number, bias: number, rows: number, cols: number): void;
  bias_grad(dbias: number, dy: number, rows: number, cols: number): void;
}

const BIAS_ADD = 'BallastBiasAdd';
const BIAS_GRAD = 'BallastBiasGrad';

export function biasAdd(y: tf.Tensor, bias: tf.Tensor): tf.Tensor {
  checkBias('biasAdd', 'y', y, bias);
  if (hasFusedKernel(BIAS_ADD)) return runFused(BIAS_ADD, { y, bias }) as tf.Tensor;
  return tf.add(y, bias);
}

/** The sums over rows of `dy` [..., cols]: the gradient of a bias added to every row. */
export function biasGrad(dy: tf.Tensor): tf.Tensor {
  if (hasFusedKernel(BIAS_GRAD)) return runFused(BIAS_GRAD, { dy }) as tf.Tensor;
  return tf.sum(tf.reshape(dy, [-1, dy.shape[dy.rank - 1] as number]), 0);
}

registerWasmKernel<BiasAddKernels>(BIAS_ADD, 'bias-add', ({ y, bias }, k) => {
  const t = y as tf.TensorInfo;
  const { rows, cols } = rowsAndCols(t);
  const out = k.output(t.shape);
  k.kernels.bias_add_forward(k.ptr(out), k.ptr(t), k.ptr(bias as tf.TensorInfo), rows, cols);
  return out;
});

registerWasmKernel<BiasAddKernels>(BIAS_GRAD, 'bias-add', ({ dy }, k) => {
  const t = dy as tf.TensorInfo;
  const { rows, cols } = rowsAndCols(t);
  const dbias = k.output([cols]);
  k.kernels.bias_grad(k.ptr(dbias), k.ptr(t), rows, cols);
  return dbias;
});

registerGradientOnce({
  kernelName: BIAS_ADD,
  gradFunc: (dy) => ({ y: () => tf.clone(dy as tf.Tensor), bias: () => biasGrad(dy as tf.Tensor) }),
});
