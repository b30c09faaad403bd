// Completes and speeds up tfjs-backend-wasm for BERT training: registers the kernel it lacks
// (UnsortedSegmentSum, the embedding gradient) and wraps four stock kernels with faster paths:
// BatchMatMul (batched and transposed products on XNNPACK), Sum (leading axes as a product),
// Transpose (last two axes on a blocked SIMD kernel) and Identity (a shared buffer, no copy).
// Call after importing @tensorflow/tfjs-backend-wasm (which registers the stock kernels) and before
// tf.setBackend('wasm') (which runs the kernels' setup functions); calling it again does nothing.
import * as tf from '@tensorflow/tfjs-core';
import { makeFastBatchMatMul } from './wasm-batch-matmul.ts';
import { unsortedSegmentSumConfig } from './wasm-segment-sum.ts';
import { makeLeadingAxesSum } from './wasm-sum.ts';
import { makeFastTranspose } from './wasm-transpose.ts';
import { makeSharingIdentity } from './wasm-identity.ts';

// Marks our replacements, so that a second call (or a second copy of this module) keeps them.
const OURS = Symbol.for('ballast.wasm.kernel');

/** Wraps the stock kernel `name` with `make(stockKernelFunc)`, keeping its setup function. */
function replace(name: string, make: (stock: tf.KernelFunc) => tf.KernelFunc): void {
  const stock = tf.getKernel(name, 'wasm');
  if (!stock) throw new Error(`registerWasmKernels: no stock wasm kernel ${name}; import @tensorflow/tfjs-backend-wasm first`);
  if (OURS in stock.kernelFunc) return;
  const ours = make(stock.kernelFunc);
  Object.defineProperty(ours, OURS, { value: true });
  tf.unregisterKernel(name, 'wasm');
  // The stock setup function binds the C functions that the fallback paths call.
  tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: ours, setupFunc: stock.setupFunc });
}

export function registerWasmKernels(): void {
  replace(tf.BatchMatMul, makeFastBatchMatMul);
  replace(tf.Sum, makeLeadingAxesSum);
  replace(tf.Transpose, makeFastTranspose);
  replace(tf.Identity, makeSharingIdentity);
  if (!tf.getKernel(tf.UnsortedSegmentSum, 'wasm')) tf.registerKernel(unsortedSegmentSumConfig);
}
