// Transpose for the wasm backend: a swap of the last two axes (with any leading axes kept in
// place) runs on Ballast's blocked SIMD kernel (trainer/wasm/src/transpose.c); other permutations
// go to the stock kernel. The stock kernel moves one element at a time with strided index
// arithmetic, several ns an element, and the backward pass of every Linear transposes its input
// ([tokens, in] for dW = xᵀ·dy), so for the small shapes that loop cost about as much as the product.
import * as tf from '@tensorflow/tfjs-core';
import { kernelModule } from './ballast-kernels.ts';
import { asWasmBackend, tensorData } from './wasm-heap.ts';

interface TransposeKernels {
  transpose_last2(out: number, x: number, batch: number, rows: number, cols: number): void;
}

/** Whether `perm` keeps the leading axes and swaps the last two. */
function swapsLastTwo(perm: number[]): boolean {
  const r = perm.length;
  return r >= 2 && perm[r - 2] === r - 1 && perm[r - 1] === r - 2 && perm.slice(0, -2).every((p, i) => p === i);
}

export function makeFastTranspose(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const backend = asWasmBackend(args.backend);
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { perm } = args.attrs as unknown as tf.TransposeAttrs;
    // 4-byte elements only: the kernel moves 32-bit words.
    if ((x.dtype !== 'float32' && x.dtype !== 'int32') || !swapsLastTwo(perm)) return stock(args);
    const r = x.shape.length;
    const rows = x.shape[r - 2] as number;
    const cols = x.shape[r - 1] as number;
    const batch = tf.util.sizeFromShape(x.shape.slice(0, -2));
    const out = backend.makeOutput([...x.shape.slice(0, -2), cols, rows], x.dtype);
    if (batch * rows * cols === 0) return out;
    kernelModule<TransposeKernels>(backend, 'transpose').transpose_last2(
      tensorData(backend, out).memoryOffset, tensorData(backend, x).memoryOffset, batch, rows, cols,
    );
    return out;
  };
}
