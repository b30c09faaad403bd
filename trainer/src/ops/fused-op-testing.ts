// For the fused ops' tests: an op's value and gradients on wasm (its fused kernels) against the
// cpu backend (its composition of tfjs ops), from the same host inputs.
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { initBackend } from '../backend/select-backend.ts';
import { Rng } from '../util/rng.ts';

export async function useWasm(): Promise<void> {
  const info = await initBackend({ override: 'wasm' });
  assert.equal(info.name, 'wasm');
}

export function randomArray(length: number, seed: number, scale = 1): Float32Array {
  const rng = Rng.derive(seed, 'fused-op-test');
  return Float32Array.from({ length }, () => scale * rng.normal());
}

export interface HostInput {
  data: Float32Array;
  shape: number[];
}

interface Outcome {
  value: Float32Array;
  grads: Float32Array[];
}

async function runOn(backend: string, f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: HostInput[], dy: Float32Array | undefined): Promise<Outcome> {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const xs = inputs.map((i) => tf.tensor(i.data, i.shape));
  const value = tf.tidy(() => f(...xs));
  const out: Outcome = { value: value.dataSync() as Float32Array, grads: [] };
  if (dy) {
    const dyT = tf.tensor(dy, value.shape);
    const grads = tf.grads(f)(xs, dyT);
    out.grads = grads.map((g) => g.dataSync() as Float32Array);
    tf.dispose([dyT, ...grads]);
  }
  tf.dispose([value, ...xs]);
  assert.equal(tf.memory().numTensors, before, `${backend}: the op leaked tensors`);
  return out;
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  let at = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    const err = Math.abs(a - e) / (1 + Math.abs(e));
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  assert.ok(worst <= tol, `${what}[${at}]: ${actual[at]} vs ${expected[at]} (relative error ${worst} > ${tol})`);
}

/**
 * `f` on wasm against cpu: value within `tol`, and, given `dy` (a cotangent of the output's size),
 * every input's gradient within `gradTol`.
 */
export async function assertMatchesCpu(
  f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: HostInput[], options: { tol: number; gradTol?: number; dy?: Float32Array; what: string },
): Promise<void> {
  const cpu = await runOn('cpu', f, inputs, options.dy);
  const wasm = await runOn('wasm', f, inputs, options.dy);
  assertClose(wasm.value, cpu.value, options.tol, `${options.what}: value`);
  wasm.grads.forEach((g, i) => assertClose(g, cpu.grads[i] as Float32Array, options.gradTol ?? options.tol, `${options.what}: gradient of input ${i}`));
}
