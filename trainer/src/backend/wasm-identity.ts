// Identity (tf.clone) for the wasm backend without a copy: the output shares the input's heap
// buffer and counts a reference, as the cpu backend does; the buffer is freed with its last
// reference (BackendWasm.disposeData counts them down). The stock kernel copies, and tfjs clones
// every tensor it saves for the backward pass (Engine.saveTensorsForBackwardMode): ~200 copies of
// activations per bert-tiny step, and during the forward pass both the activation and its copy
// live on the heap. No kernel writes into its inputs, so sharing is safe.
import type * as tf from '@tensorflow/tfjs-core';
import { asWasmBackend } from './wasm-heap.ts';

export function makeSharingIdentity(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype === 'string') return stock(args);
    asWasmBackend(args.backend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}
