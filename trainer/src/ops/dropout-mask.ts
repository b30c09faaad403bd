// Inverted dropout masks (0 with probability `rate`, else 1/(1 − rate)) drawn from one of Ballast's
// seeded streams. On wasm a kernel writes the mask straight onto the heap (trainer/wasm/src/dropout.c),
// value for value the mask the JavaScript loop draws from the same stream, which every other
// backend uses: bert-base draws ~47M mask values a step, serially on the main thread.
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../util/rng.ts';
import { hasFusedKernel, registerWasmKernel, runFused } from './fused-kernel.ts';

interface DropoutKernels {
  dropout_mask(out: number, n: number, state: number, threshold: number, scale: number): void;
}

const DROPOUT_MASK = 'BallastDropoutMask';

/** A [shape] mask from `rng`'s next draws (consumed from it only on the JavaScript path). */
export function dropoutMaskFrom(rng: Rng, shape: number[], rate: number): tf.Tensor {
  if (!(rate >= 0 && rate < 1)) throw new Error(`dropout rate must be in [0, 1), got ${rate}`);
  const scale = 1 / (1 - rate);
  // A draw u/2^32 falls below rate exactly when u < ceil(rate·2^32) (a power-of-two scaling is
  // exact in doubles); rates within 2^-32 of 1 do not fit the kernel's 32-bit threshold.
  const threshold = Math.ceil(rate * 2 ** 32);
  if (hasFusedKernel(DROPOUT_MASK) && threshold <= 0xffffffff) {
    return runFused(DROPOUT_MASK, {}, { shape, state: rng.streamState, threshold, scale }) as tf.Tensor;
  }
  const data = new Float32Array(tf.util.sizeFromShape(shape));
  for (let i = 0; i < data.length; i++) data[i] = rng.nextFloat() < rate ? 0 : scale;
  return tf.tensor(data, shape);
}

registerWasmKernel<DropoutKernels>(DROPOUT_MASK, 'dropout', (_inputs, k, attrs) => {
  const { shape, state, threshold, scale } = attrs as { shape: number[]; state: number; threshold: number; scale: number };
  const out = k.output(shape);
  k.kernels.dropout_mask(k.ptr(out), tf.util.sizeFromShape(shape), state, threshold, scale);
  return out;
});
