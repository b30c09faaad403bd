// Completes and speeds up tfjs-backend-wasm for BERT training: registers the kernels it lacks and
// replaces its BatchMatMul with one that keeps batched and transposed products on XNNPACK.
// Call after importing @tensorflow/tfjs-backend-wasm (which registers the stock kernels) and before
// tf.setBackend('wasm') (which runs the kernels' setup functions); calling it again does nothing.
import * as tf from '@tensorflow/tfjs-core';
import { makeFastBatchMatMul } from './wasm-batch-matmul.ts';
import { unsortedSegmentSumConfig } from './wasm-segment-sum.ts';

// Marks our BatchMatMul, so that a second call (or a second copy of this module) keeps it.
const FAST = Symbol.for('ballast.wasm.fastBatchMatMul');

export function registerWasmKernels(): void {
  const stock = tf.getKernel(tf.BatchMatMul, 'wasm');
  if (!stock) throw new Error('registerWasmKernels: import @tensorflow/tfjs-backend-wasm first');
  if (!(FAST in stock.kernelFunc)) {
    const fast = makeFastBatchMatMul(stock.kernelFunc);
    Object.defineProperty(fast, FAST, { value: true });
    tf.unregisterKernel(tf.BatchMatMul, 'wasm');
    // The stock setup function binds the C function that the fallback path calls.
    tf.registerKernel({ kernelName: tf.BatchMatMul, backendName: 'wasm', kernelFunc: fast, setupFunc: stock.setupFunc });
  }
  if (!tf.getKernel(tf.UnsortedSegmentSum, 'wasm')) tf.registerKernel(unsortedSegmentSumConfig);
}
