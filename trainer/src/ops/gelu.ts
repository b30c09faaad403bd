// Exact GELU, x·Φ(x) = x·(1 + erf(x/√2))/2, as BERT and Hugging Face's "gelu", alone or after a
// Linear layer's bias (biasGelu). On wasm one fused kernel each way (trainer/wasm/src/gelu.c; the
// bias's gradient, a sum over rows, inside the backward one); elsewhere composed of tfjs ops.
import * as tf from '@tensorflow/tfjs-core';
import { hasFusedKernel, registerGradientOnce, registerWasmKernel, runFused } from './fused-kernel.ts';

/** trainer/wasm/src/gelu.c */
interface GeluKernels {
  gelu_forward(out: number, x: number, n: number): void;
  gelu_backward(dx: number, dy: number, x: number, n: number): void;
  gelu_bias_forward(out: number, x: number, bias: number, rows: number, cols: number): void;
  gelu_bias_backward(dx: number, dbias: number, dy: number, x: number, bias: number, rows: number, cols: number): void;
}

const GELU = 'BallastGelu';
const GELU_GRAD = 'BallastGeluGrad';
const BIAS_GELU = 'BallastBiasGelu';
const BIAS_GELU_GRAD = 'BallastBiasGeluGrad';

export function gelu(x: tf.Tensor): tf.Tensor {
  if (hasFusedKernel(GELU)) return runFused(GELU, { x }) as tf.Tensor;
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

/** gelu(x + bias), bias [cols] added to every row of x [..., cols]. */
export function biasGelu(x: tf.Tensor, bias: tf.Tensor): tf.Tensor {
  const cols = x.shape[x.rank - 1];
  if (x.rank < 1 || bias.rank !== 1 || bias.shape[0] !== cols) {
    throw new Error(`biasGelu: bias has shape [${bias.shape}], expected [${cols}] for x of shape [${x.shape}]`);
  }
  if (hasFusedKernel(BIAS_GELU)) return runFused(BIAS_GELU, { x, bias }) as tf.Tensor;
  return biasGeluComposed(x, bias);
}

/** biasGelu as a bias add then `gelu` (the other backends' path; for A/B). */
export function biasGeluComposed(x: tf.Tensor, bias: tf.Tensor): tf.Tensor {
  return tf.tidy(() => gelu(tf.add(x, bias)));
}

registerWasmKernel<GeluKernels>(GELU, 'gelu', ({ x }, k) => {
  const t = x as tf.TensorInfo;
  const out = k.output(t.shape);
  k.kernels.gelu_forward(k.ptr(out), k.ptr(t), tf.util.sizeFromShape(t.shape));
  return out;
});

registerWasmKernel<GeluKernels>(GELU_GRAD, 'gelu', ({ dy, x }, k) => {
  const t = x as tf.TensorInfo;
  const dx = k.output(t.shape);
  k.kernels.gelu_backward(k.ptr(dx), k.ptr(dy as tf.TensorInfo), k.ptr(t), tf.util.sizeFromShape(t.shape));
  return dx;
});

registerGradientOnce({
  kernelName: GELU,
  inputsToSave: ['x'],
  gradFunc: (dy, saved) => ({ x: () => runFused(GELU_GRAD, { dy: dy as tf.Tensor, x: saved[0] as tf.Tensor }) as tf.Tensor }),
});

registerWasmKernel<GeluKernels>(BIAS_GELU, 'gelu', ({ x, bias }, k) => {
  const t = x as tf.TensorInfo;
  const cols = t.shape[t.shape.length - 1] as number;
  const out = k.output(t.shape);
  k.kernels.gelu_bias_forward(k.ptr(out), k.ptr(t), k.ptr(bias as tf.TensorInfo), tf.util.sizeFromShape(t.shape) / cols, cols);
  return out;
});

registerWasmKernel<GeluKernels>(BIAS_GELU_GRAD, 'gelu', ({ dy, x, bias }, k) => {
  const t = x as tf.TensorInfo;
  const cols = t.shape[t.shape.length - 1] as number;
  const dx = k.output(t.shape);
  const dbias = k.output([cols]);
  k.kernels.gelu_bias_backward(
    k.ptr(dx), k.ptr(dbias), k.ptr(dy as tf.TensorInfo), k.ptr(t), k.ptr(bias as tf.TensorInfo), tf.util.sizeFromShape(t.shape) / cols, cols,
  );
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
