// The parts of tfjs-backend-wasm's BackendWasm (4.22) that our own wasm kernels use. The class is
// not exported with these members typed, so this file is the one place that names its internals;
// wasm-kernels.test.ts checks them against the cpu backend, so a tfjs upgrade that moves them fails
// there, not in a training run.
import * as tf from '@tensorflow/tfjs-core';

/** What the wasm backend records for each tensor: its C++ id and where its bytes are on the heap. */
export interface WasmTensorData {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: tf.DataType;
  refCount: number;
}

export interface WasmModule {
  HEAPU8: Uint8Array;
  /** The module's (shared) memory; Ballast's own kernels import it. */
  wasmMemory: WebAssembly.Memory;
  /** Emscripten's malloc on the heap: a byte offset, 0 when out of memory. */
  _malloc(bytes: number): number;
  cwrap(name: string, returnType: string | null, argTypes: string[]): (...args: unknown[]) => unknown;
  tfjs: {
    /** Records (id → heap offset, element count) in the C++ tensor map; allocates nothing. */
    registerTensor(id: number, size: number, memoryOffset: number): void;
    /** Forgets an id on the C++ side (and drops XNNPACK operators cached on it); frees nothing. */
    disposeData(id: number): void;
  };
}

export interface WasmBackend extends tf.KernelBackend {
  wasm: WasmModule;
  dataIdMap: { get(dataId: tf.DataId): WasmTensorData | undefined };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
  /** One more reference to a buffer; disposeData frees it when the count reaches 0. */
  incRef(dataId: tf.DataId): void;
}

export function asWasmBackend(backend: unknown): WasmBackend {
  const b = backend as Partial<WasmBackend>;
  if (!b.wasm || !b.dataIdMap || typeof b.dataIdNextNumber !== 'number') {
    throw new Error('expected the tfjs wasm backend (BackendWasm) with its heap; is @tensorflow/tfjs-backend-wasm 4.22?');
  }
  return b as WasmBackend;
}

export function tensorData(backend: WasmBackend, info: tf.TensorInfo): WasmTensorData {
  const data = backend.dataIdMap.get(info.dataId);
  if (!data) throw new Error('wasm backend: tensor data not found (disposed?)');
  return data;
}

/**
 * A view of a tensor's elements on the wasm heap. Take views only after the kernel's last
 * allocation: growing the heap replaces its buffer.
 */
export function heapView(backend: WasmBackend, info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array {
  const { memoryOffset, dtype } = tensorData(backend, info);
  const size = tf.util.sizeFromShape(info.shape);
  const buffer = backend.wasm.HEAPU8.buffer;
  switch (dtype) {
    case 'float32':
      return new Float32Array(buffer, memoryOffset, size);
    case 'int32':
      return new Int32Array(buffer, memoryOffset, size);
    case 'bool':
      return new Uint8Array(buffer, memoryOffset, size);
    default:
      throw new Error(`wasm backend: no heap view for dtype ${dtype}`);
  }
}

/** The heap size in bytes (wasm memory only grows, so this is also the peak so far). */
export function heapBytes(backend: WasmBackend): number {
  return backend.wasm.HEAPU8.buffer.byteLength;
}
