// What every fused op (this folder) shares: each is a tfjs kernel of its own, registered for the
// wasm backend and run on Ballast's wasm kernels (backend/ballast-kernels.ts), with its gradient
// another such kernel; on any other backend (cpu, tfjs-node) the op is composed of tfjs ops, with
// the same math. Going through tfjs's kernel registry keeps the tape, tidy, memory accounting and
// tf.profile working as for any built-in op.
import * as tf from '@tensorflow/tfjs-core';
// The composed path is differentiated by tfjs's own gradients, which tfjs-core does not register.
import '../model/tfjs-gradients.ts';
import { kernelModule } from '../backend/ballast-kernels.ts';
import { asWasmBackend, tensorData, type WasmBackend } from '../backend/wasm-heap.ts';

/** Whether the current backend runs `kernelName` itself (else the op composes tfjs ops). */
export function hasFusedKernel(kernelName: string): boolean {
  return tf.getKernel(kernelName, tf.getBackend()) !== undefined;
}

export function runFused(kernelName: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap = {}): tf.Tensor | tf.Tensor[] {
  return tf.engine().runKernel(kernelName, inputs, attrs) as tf.Tensor | tf.Tensor[];
}

export interface WasmKernelContext<K> {
  backend: WasmBackend;
  /** The C functions of the op's module, trainer/wasm/NAME.wasm. */
  kernels: K;
  /** A new float32 output tensor. */
  output(shape: number[]): tf.TensorInfo;
  /** A tensor's byte offset on the heap (stable: heap growth keeps offsets). */
  ptr(t: tf.TensorInfo): number;
}

/**
 * Registers kernel `name` on wasm, run by `run` with the C functions of trainer/wasm/MODULE.wasm;
 * `run` gets the inputs (checked to be float32, or int32 for those named in `int32Inputs`) and a
 * context.
 */
export function registerWasmKernel<K>(
  name: string,
  module: string,
  run: (inputs: Record<string, tf.TensorInfo>, ctx: WasmKernelContext<K>, attrs: tf.NamedAttrMap) => tf.TensorInfo | tf.TensorInfo[],
  int32Inputs: readonly string[] = [],
): void {
  if (tf.getKernel(name, 'wasm')) return;
  tf.registerKernel({
    kernelName: name,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = asWasmBackend(backend);
      for (const [key, t] of Object.entries(inputs)) {
        const expected = int32Inputs.includes(key) ? 'int32' : 'float32';
        if (t && t.dtype !== expected) throw new Error(`${name}: input '${key}' is ${t.dtype}, expected ${expected}`);
      }
      const ctx: WasmKernelContext<K> = {
        backend: b,
        kernels: kernelModule<K>(b, module),
        output: (shape) => b.makeOutput(shape, 'float32'),
        ptr: (t) => tensorData(b, t).memoryOffset,
      };
      return run(inputs as Record<string, tf.TensorInfo>, ctx, attrs ?? {});
    },
  });
}

/** Throws unless `bias` is a vector of x's last-axis size (a Linear layer's bias for x [..., cols]). */
export function checkBias(op: string, xName: string, x: tf.Tensor, bias: tf.Tensor): void {
  const cols = x.shape[x.rank - 1];
  if (x.rank < 1 || bias.rank !== 1 || bias.shape[0] !== cols) {
    throw new Error(`${op}: bias has shape [${bias.shape}], expected [${cols}] for ${xName} of shape [${x.shape}]`);
  }
}

/** A tensor [..., cols] as the rows of its last axis, as the row-wise kernels take it. */
export function rowsAndCols(t: tf.TensorInfo): { rows: number; cols: number } {
  const cols = t.shape[t.shape.length - 1] as number;
  return { rows: tf.util.sizeFromShape(t.shape) / cols, cols };
}

/** Registers a gradient once (the registry is global; a second import must not throw or warn). */
export function registerGradientOnce(config: tf.GradConfig): void {
  if (tf.getGradient(config.kernelName)) return;
  tf.registerGradient(config);
}
