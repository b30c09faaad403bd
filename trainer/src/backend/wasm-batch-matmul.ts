// BatchMatMul for the wasm backend that always takes XNNPACK's fast path.
//
// The stock kernel runs XNNPACK (packed, SIMD, threaded: ~45 GFLOP/s per core here) only for one
// 2-D product without transposes; anything batched or transposed falls to a naive triple loop
// (1-5 GFLOP/s). Training needs both: attention is batched ([batch·heads, seq, dh] products) and
// every Linear's backward pass is transposed (dx = dy·Wᵀ, dW = xᵀ·dy). So:
//   - a transposed operand is materialised with the wasm Transpose kernel (O(size) copies,
//     cheap next to the O(m·k·n) product);
//   - a batch of products with one shared right-hand side is one tall 2-D product
//     ([batch·m, k]·[k, n]: the rows of a are contiguous);
//   - otherwise each product of the batch runs as its own 2-D product on views of the operands:
//     extra tensor ids registered on the C++ side at offsets inside the existing buffers, so no
//     slice is copied; they are unregistered right after (which also drops the XNNPACK operator
//     cached on the view's id).
// Shapes the fast path cannot express (both batch shapes > 1 and different, e.g. [2,1]·[1,3]
// broadcasting) go to the stock kernel.
import * as tf from '@tensorflow/tfjs-core';
import { asWasmBackend, tensorData, type WasmBackend } from './wasm-heap.ts';

type CBatchMatMul = (
  aId: number, aShape: Uint8Array, aRank: number,
  bId: number, bShape: Uint8Array, bRank: number,
  transposeA: boolean, transposeB: boolean, outId: number,
) => void;

const cBatchMatMul = new WeakMap<WasmBackend, CBatchMatMul>();

function cFunction(backend: WasmBackend): CBatchMatMul {
  let f = cBatchMatMul.get(backend);
  if (!f) {
    // The stock kernel's own binding: (a id, a shape, a rank, b id, b shape, b rank, transposeA,
    // transposeB, out id); shapes are int32 arrays passed as bytes.
    f = backend.wasm.cwrap('BatchMatMul', null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']) as CBatchMatMul;
    cBatchMatMul.set(backend, f);
  }
  return f;
}

const shapeBytes = (shape: number[]) => new Uint8Array(new Int32Array(shape).buffer);

/** out[m, n] = a[m, k]·b[k, n] on XNNPACK, for C++ tensor ids of contiguous row-major data. */
export function product2d(backend: WasmBackend, aId: number, bId: number, outId: number, m: number, k: number, n: number): void {
  cFunction(backend)(aId, shapeBytes([1, m, k]), 3, bId, shapeBytes([1, k, n]), 3, false, false, outId);
}

/** Registers a C++ tensor id over `size` floats at `offset` of the heap (no allocation). */
export function view(backend: WasmBackend, offset: number, size: number): number {
  const id = backend.dataIdNextNumber++;
  backend.wasm.tfjs.registerTensor(id, size, offset);
  return id;
}

/** x as [batch, rows, cols] → a new [batch, cols, rows] tensor (the caller disposes it). */
function transposeLast2(backend: WasmBackend, x: tf.TensorInfo, batch: number, rows: number, cols: number): tf.TensorInfo {
  const kernel = tf.getKernel(tf.Transpose, 'wasm');
  if (!kernel) throw new Error('wasm backend: no Transpose kernel');
  const x3: tf.TensorInfo = { dataId: x.dataId, shape: [batch, rows, cols], dtype: x.dtype };
  return kernel.kernelFunc({ inputs: { x: x3 }, backend, attrs: { perm: [0, 2, 1] } }) as tf.TensorInfo;
}

export function makeFastBatchMatMul(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const backend = asWasmBackend(args.backend);
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return stock(args);
    const ra = a.shape.length;
    const rb = b.shape.length;
    const k = transposeA ? (a.shape[ra - 2] as number) : (a.shape[ra - 1] as number);
    const kb = transposeB ? (b.shape[rb - 1] as number) : (b.shape[rb - 2] as number);
    const m = transposeA ? (a.shape[ra - 1] as number) : (a.shape[ra - 2] as number);
    const n = transposeB ? (b.shape[rb - 2] as number) : (b.shape[rb - 1] as number);
    if (k !== kb) {
      throw new Error(`Error in matMul: inner shapes (${k}) and (${kb}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`);
    }
    const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
    const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
    const outBatchShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const batch = tf.util.sizeFromShape(outBatchShape);
    if (batch !== Math.max(batchA, batchB) || (batchA !== batchB && batchA !== 1 && batchB !== 1)) return stock(args);
    const outShape = [...outBatchShape, m, n];
    if (m === 0 || n === 0 || k === 0 || batch === 0) return stock(args);

    const temps: tf.TensorInfo[] = [];
    try {
      // Row-major [batch, m, k] and [batch, k, n] operands.
      let a3 = a;
      if (transposeA) temps.push((a3 = transposeLast2(backend, a, batchA, k, m)));
      let b3 = b;
      if (transposeB) temps.push((b3 = transposeLast2(backend, b, batchB, n, k)));
      const out = backend.makeOutput(outShape, 'float32');
      const aData = tensorData(backend, a3);
      const bData = tensorData(backend, b3);
      const outData = tensorData(backend, out);
      if (batchB === 1) {
        // One right-hand side for the whole batch (Linear layers on [batch, seq, hidden]). Through a
        // view id, like every right-hand side here: XNNPACK keeps a packed copy of the right-hand
        // side cached per id until that id is disposed, which for a gradient dy (dW = xᵀ·dy) means
        // until the whole backward pass ends, hundreds of MB for bert-base; packing again per call
        // costs O(k·n) against the product's O(m·k·n).
        const bId = view(backend, bData.memoryOffset, k * n);
        try {
          product2d(backend, aData.id, bId, outData.id, batchA * m, k, n);
        } finally {
          backend.wasm.tfjs.disposeData(bId);
        }
      } else {
        for (let i = 0; i < batch; i++) {
          const aOffset = aData.memoryOffset + (batchA === 1 ? 0 : i * m * k * 4);
          const bOffset = bData.memoryOffset + i * k * n * 4;
          const aId = view(backend, aOffset, m * k);
          const bId = view(backend, bOffset, k * n);
          const outId = view(backend, outData.memoryOffset + i * m * n * 4, m * n);
          try {
            product2d(backend, aId, bId, outId, m, k, n);
          } finally {
            backend.wasm.tfjs.disposeData(aId);
            backend.wasm.tfjs.disposeData(bId);
            backend.wasm.tfjs.disposeData(outId);
          }
        }
      }
      return out;
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
}
