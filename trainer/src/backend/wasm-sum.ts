// Sum over leading axes for the wasm backend, as one XNNPACK product: ones[1, outer]·x[outer, inner].
//
// Every bias and LayerNorm gradient is such a sum (dy [tokens, features] reduced over the tokens).
// The stock kernel reduces only innermost axes, so it first transposes x with a naive strided
// loop: 38 ms for [2048, 512] where the product takes 2 ms (bench/README.md). Other reductions
// (innermost axes, all axes, int32) go to the stock kernel, which does them without a transpose.
import * as tf from '@tensorflow/tfjs-core';
import { product2d, view } from './wasm-batch-matmul.ts';
import { asWasmBackend, heapView, tensorData } from './wasm-heap.ts';

export function makeLeadingAxesSum(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const backend = asWasmBackend(args.backend);
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
    if (x.dtype !== 'float32' || !leading) return stock(args);
    const outer = tf.util.sizeFromShape(x.shape.slice(0, axes.length));
    const innerShape = x.shape.slice(axes.length);
    const inner = tf.util.sizeFromShape(innerShape);
    if (outer === 0 || inner === 0) return stock(args);
    const ones = backend.makeOutput([1, outer], 'float32');
    const out = backend.makeOutput(keepDims ? [...axes.map(() => 1), ...innerShape] : innerShape, 'float32');
    try {
      heapView(backend, ones).fill(1);
      // x as the product's right-hand side through a view id: XNNPACK caches a packed copy of the
      // right-hand side per id, and the view's disposal below drops it at once.
      const xId = view(backend, tensorData(backend, x).memoryOffset, outer * inner);
      try {
        product2d(backend, tensorData(backend, ones).id, xId, tensorData(backend, out).id, 1, outer, inner);
      } finally {
        backend.wasm.tfjs.disposeData(xId);
      }
    } finally {
      backend.disposeData(ones.dataId);
    }
    return out;
  };
}
