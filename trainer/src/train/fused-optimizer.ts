// The optimizer step on wasm in one pass per parameter tensor (trainer/wasm/src/optimizer.c): a
// squared norm of each gradient, then each tensor's whole update (pre-trained weight decay,
// clipping, m, v, weight decay, the Adam step) in one kernel instead of ~15 tfjs kernels, each of
// which reads and writes the whole tensor. The arithmetic is the composed path's in optimizer.ts,
// float32 operation for operation; only the gradient norms are summed in float64 here.
import * as tf from '@tensorflow/tfjs-core';
import { kernelModule } from '../backend/ballast-kernels.ts';
import { asWasmBackend, tensorData } from '../backend/wasm-heap.ts';
import { hasFusedKernel, registerWasmKernel, runFused } from '../ops/fused-kernel.ts';
import type { OptimizerKind } from './optimizer.ts';

/** trainer/wasm/src/optimizer.c */
interface OptimizerKernels {
  sum_squares(x: number, n: number): number;
  adam_update(
    kind: number, pOut: number, p: number, g: number, m: number, v: number, p0: number, n: number,
    coef: number, beta1: number, oneMinusBeta1: number, beta2: number, oneMinusBeta2: number, epsilon: number,
    prior: number, decay: number, step: number, bc2Sqrt: number,
  ): void;
}

const ADAM_UPDATE = 'BallastAdamUpdate';
const KIND: Record<OptimizerKind, number> = { adamw: 0, bertadam: 1 };

/** Whether the current backend has the fused step (wasm); elsewhere optimizer.ts composes tfjs ops. */
export function hasFusedOptimizer(): boolean {
  return hasFusedKernel(ADAM_UPDATE);
}

/**
 * Σ x² in float64, one pass. Called directly rather than as a tfjs kernel: a kernel's output is a
 * float32 tensor, and the float64 sum is the point (bert-base's word embeddings are 23M terms).
 */
export function sumOfSquares(x: tf.Tensor): number {
  if (x.dtype !== 'float32') throw new Error(`sumOfSquares: expected float32, got ${x.dtype}`);
  const backend = asWasmBackend(tf.backend());
  return kernelModule<OptimizerKernels>(backend, 'optimizer').sum_squares(tensorData(backend, x).memoryOffset, x.size);
}

/** One tensor's update, with the scalars as optimizer.ts's composed path uses them. */
export interface FusedUpdate {
  kind: OptimizerKind;
  /** Gradient clipping factor, min(1, max_grad_norm/(norm + 1e-6)). */
  coef: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** This tensor's learning rate (lr·llrd scale). */
  lr: number;
  /** This tensor's weight decay (0 for the no-decay parameters). */
  weightDecay: number;
  /** lr·λ of pre-trained weight decay; used only when p0 is given. */
  prior: number;
  /** 1 − β1^t and sqrt(1 − β2^t) (adamw's bias correction). */
  bc1: number;
  bc2Sqrt: number;
}

/**
 * p ← its update (a new buffer, assigned to the variable); m and v are updated in place.
 *
 * Why p gets a new buffer: a variable's data may be shared (clone() shares it: mixout's targets
 * and pre-trained weight decay's p0 are clones of the starting weights), and writing over it
 * would move them too. m and v are the optimizer's own: created by it, never handed out, so their
 * buffers have one reference, which the kernel checks before writing over them.
 */
export function fusedAdamUpdate(p: tf.Variable, g: tf.Tensor, m: tf.Variable, v: tf.Variable, p0: tf.Tensor | undefined, u: FusedUpdate): void {
  const inputs: tf.NamedTensorMap = p0 ? { p, g, m, v, p0 } : { p, g, m, v };
  // Rounded to float32 by the call into wasm, from the same float64 expressions the composed path
  // turns into float32 scalar tensors.
  const attrs = {
    kind: KIND[u.kind],
    coef: u.coef,
    beta1: u.beta1,
    oneMinusBeta1: 1 - u.beta1,
    beta2: u.beta2,
    oneMinusBeta2: 1 - u.beta2,
    epsilon: u.epsilon,
    prior: u.prior,
    decay: u.kind === 'adamw' ? 1 - u.lr * u.weightDecay : u.weightDecay,
    step: u.kind === 'adamw' ? u.lr / u.bc1 : u.lr,
    bc2Sqrt: u.bc2Sqrt,
  };
  const next = runFused(ADAM_UPDATE, inputs, attrs) as tf.Tensor;
  p.assign(next);
  next.dispose();
}

registerWasmKernel<OptimizerKernels>(ADAM_UPDATE, 'optimizer', (inputs, k, attrs) => {
  const { p, g, m, v, p0 } = inputs as Record<string, tf.TensorInfo>;
  const all = { p, g, m, v, ...(p0 ? { p0 } : {}) } as Record<string, tf.TensorInfo>;
  const n = tf.util.sizeFromShape((p as tf.TensorInfo).shape);
  for (const [key, t] of Object.entries(all)) {
    if (tf.util.sizeFromShape(t.shape) !== n) throw new Error(`${ADAM_UPDATE}: '${key}' has shape [${t.shape}], p has [${(p as tf.TensorInfo).shape}]`);
  }
  for (const [key, t] of [['m', m], ['v', v]] as const) {
    if (tensorData(k.backend, t as tf.TensorInfo).refCount !== 1) throw new Error(`${ADAM_UPDATE}: '${key}' shares its buffer; it is updated in place`);
  }
  const a = attrs as Record<string, number>;
  const out = k.output((p as tf.TensorInfo).shape);
  k.kernels.adam_update(
    a.kind as number, k.ptr(out), k.ptr(p as tf.TensorInfo), k.ptr(g as tf.TensorInfo), k.ptr(m as tf.TensorInfo), k.ptr(v as tf.TensorInfo), p0 ? k.ptr(p0) : 0, n,
    a.coef as number, a.beta1 as number, a.oneMinusBeta1 as number, a.beta2 as number, a.oneMinusBeta2 as number, a.epsilon as number,
    a.prior as number, a.decay as number, a.step as number, a.bc2Sqrt as number,
  );
  return out;
});
