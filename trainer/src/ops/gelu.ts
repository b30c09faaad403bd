// Exact GELU, x·Φ(x) = x·(1 + erf(x/√2))/2, as BERT and Hugging Face's "gelu", after a Linear
// layer's bias (biasGelu, what BERT's FFN computes). On wasm one fused kernel each way
// (trainer/wasm/src/gelu.c; the bias's gradient, a sum over rows, inside the backward one);
// elsewhere composed of tfjs ops.
import * as tf from '@tensorflow/tfjs-core';
import { checkBias, hasFusedKernel, registerGradientOnce, registerWasmKernel, rowsAndCols, runFused } from './fused-kernel.ts';

/** trainer/wasm/src/gelu.c */
interface GeluKernels {
  gelu_bias_forward(out: number, x: number, bias: number, rows: number, cols: number): void;
  gelu_bias_backward(dx: number, dbias: number, dy: number, x: number, bias: number, rows: number, cols: number): void;
}

const BIAS_GELU = 'BallastBiasGelu';
const BIAS_GELU_GRAD = 'BallastBiasGeluGrad';

/** GELU composed of tfjs ops (biasGelu's path on backends without its kernel). */
function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

/** gelu(x + bias), bias [cols] added to every row of x [..., cols]. */
export function biasGelu(x: tf.Tensor, bias: tf.Tensor): tf.Tensor {
  checkBias('biasGelu', 'x', x, bias);
  if (hasFusedKernel(BIAS_GELU)) return runFused(BIAS_GELU, { x, bias }) as tf.Tensor;
  return biasGeluComposed(x, bias);
}

/** biasGelu as a bias add then `gelu` (the other backends' path; for A/B). */
export function biasGeluComposed(x: tf.Tensor, bias: tf.Tensor): tf.Tensor {
  return tf.tidy(() => gelu(tf.add(x, bias)));
}

registerWasmKernel<GeluKernels>(BIAS_GELU, 'gelu', ({ x, bias }, k) => {
  const t = x as tf.TensorInfo;
  const { rows, cols } = rowsAndCols(t);
  const out = k.output(t.shape);
  k.kernels.gelu_bias_forward(k.ptr(out), k.ptr(t), k.ptr(bias as tf.TensorInfo), rows, cols);
  return out;
});

registerWasmKernel<GeluKernels>(BIAS_GELU_GRAD, 'gelu', ({ dy, x, bias }, k) => {
  const t = x as tf.TensorInfo;
  const { rows, cols } = rowsAndCols(t);
  const dx = k.output(t.shape);
  const dbias = k.output([cols]);
  k.kernels.gelu_bias_backward(k.ptr(dx), k.ptr(dbias), k.ptr(dy as tf.TensorInfo), k.ptr(t), k.ptr(bias as tf.TensorInfo), rows, cols);
  return [dx, dbias];
});

registerGradientOnce({
  kernelName: BIAS_GELU,
  inputsToSave: ['x', 'bias'],
  gradFunc: (dy, saved) => {
    // One kernel computes both gradients: run it once, here, rather than in each input's function.
    const [dx, dbias] = runFused(BIAS_GELU_GRAD, { dy: dy as tf.Tensor, x: saved[0] as tf.Tensor, bias: saved[1] as tf.Tensor }) as [tf.Tensor, tf.Tensor];
    return { x: () => dx, bias: () => dbias };
  },
});
