// UnsortedSegmentSum for the wasm backend, which has none. It is the gradient of tf.gather, so the
// word-embedding gradient of every BERT step runs through it: rows of x are added into the rows of
// the output named by segmentIds, one pass over x (O(x.size)), straight on the wasm heap. Never a
// dense one-hot matmul (a [tokens, 30522] product), and not the cpu backend's kernel either, which
// compares every id with every segment.
import * as tf from '@tensorflow/tfjs-core';
import { asWasmBackend, heapView, type WasmBackend } from './wasm-heap.ts';

/** out[segmentIds[i], ...] += x[i, ...]; ids outside [0, numSegments) are dropped, as TensorFlow. */
export function unsortedSegmentSum(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const backend: WasmBackend = asWasmBackend(args.backend);
  const { x, segmentIds } = args.inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const numSegments = (args.attrs as unknown as tf.UnsortedSegmentSumAttrs).numSegments;
  if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new Error(`UnsortedSegmentSum (wasm): unsupported dtype ${x.dtype}`);
  if (segmentIds.dtype !== 'int32') throw new Error(`UnsortedSegmentSum (wasm): segmentIds must be int32, got ${segmentIds.dtype}`);
  const idRank = segmentIds.shape.length;
  if (x.shape.length < idRank || segmentIds.shape.some((d, i) => d !== x.shape[i])) {
    throw new Error(`UnsortedSegmentSum (wasm): segmentIds shape [${segmentIds.shape}] is not a prefix of x shape [${x.shape}]`);
  }
  const innerShape = x.shape.slice(idRank);
  const inner = tf.util.sizeFromShape(innerShape);
  const out = backend.makeOutput([numSegments, ...innerShape], x.dtype);
  // Views after the allocation above (it may grow the heap).
  const xs = heapView(backend, x);
  const ids = heapView(backend, segmentIds);
  const os = heapView(backend, out);
  os.fill(0);
  for (let i = 0; i < ids.length; i++) {
    const seg = ids[i] as number;
    if (seg < 0 || seg >= numSegments) continue;
    const src = i * inner;
    const dst = seg * inner;
    for (let j = 0; j < inner; j++) os[dst + j] = (os[dst + j] as number) + (xs[src + j] as number);
  }
  return out;
}

export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc,
};
