// Exact GELU, x·Φ(x) = x·(1 + erf(x/√2))/2, as BERT and Hugging Face's "gelu". On wasm one fused
// kernel each way (trainer/wasm/src/gelu.c); elsewhere composed of tfjs ops.
import * as tf from '@tensorflow/tfjs-core';
import { hasFusedKernel, registerGradientOnce, registerWasmKernel, runFused } from './fused-kernel.ts';

/** trainer/wasm/src/gelu.c */
interface GeluKernels {
  gelu_forward(out: number, x: number, n: number): void;
  gelu_backward(dx: number, dy: number, x: number, n: number): void;
}

const GELU = 'BallastGelu';
const GELU_GRAD = 'BallastGeluGrad';

export function gelu(x: tf.Tensor): tf.Tensor {
  if (hasFusedKernel(GELU)) return runFused(GELU, { x }) as tf.Tensor;
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
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
