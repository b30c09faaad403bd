import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { biasGelu } from './gelu.ts';
import { assertClose, assertMatchesCpu, randomArray, useWasm } from './fused-op-testing.ts';

before(useWasm);

/** erf in float64 (Abramowitz & Stegun 7.1.26 is what both backends approximate; this is exact). */
function erf64(x: number): number {
  // Maclaurin series converges fast for |x| < 3; beyond, erf is 1 to float32 precision.
  if (Math.abs(x) > 4) return Math.sign(x);
  let sum = 0;
  let term = x;
  for (let n = 0; n < 200; n++) {
    sum += term / (2 * n + 1);
    term *= (-x * x) / (n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

test('fused bias + GELU matches the composed ops on cpu along one row, value and gradients, odd sizes included', async () => {
  for (const n of [1, 3, 4, 7, 4097]) {
    const x = randomArray(n, n, 3);
    await assertMatchesCpu((t) => biasGelu(t, tf.zeros([n])), [{ data: x, shape: [n] }], { tol: 1e-6, gradTol: 1e-6, dy: randomArray(n, n + 1), what: `biasGelu[${n}]` });
  }
});

test('fused bias + GELU against float64 exact GELU and its derivative', async () => {
  await tf.setBackend('wasm');
  const xs = Float32Array.from({ length: 2001 }, (_, i) => -10 + i / 100);
  const x = tf.tensor1d(xs);
  const zero = tf.zeros([xs.length]);
  const y = biasGelu(x, zero).dataSync();
  const dx = tf.grad((t: tf.Tensor) => biasGelu(t, zero))(x).dataSync();
  const expected = xs.map((v) => 0.5 * v * (1 + erf64(v / Math.SQRT2)));
  const expectedGrad = xs.map((v) => 0.5 * (1 + erf64(v / Math.SQRT2)) + (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI));
  assertClose(y, expected, 2e-6, 'gelu');
  assertClose(dx, expectedGrad, 2e-6, "gelu'");
  // Far tails: x for large x, 0 (not NaN) for very negative x.
  assert.deepEqual(Array.from(tf.tidy(() => biasGelu(tf.tensor1d([-1e30, -100, 100, 1e30]), tf.zeros([4]))).dataSync()).map((v) => v + 0), [0, 0, 100, Math.fround(1e30)]);
  tf.dispose([x, zero]);
});

test('fused bias + GELU rejects non-float32 input by name', async () => {
  await tf.setBackend('wasm');
  tf.tidy(() => assert.throws(() => biasGelu(tf.tensor1d([1, 2], 'int32'), tf.zeros([2])), /BallastBiasGelu: input 'x' is int32/));
});

test('fused bias + GELU matches the composed ops on cpu, value and both gradients, odd sizes included', async () => {
  for (const [rows, cols] of [[1, 1], [3, 5], [4, 4], [7, 9], [33, 512], [5, 514]] as const) {
    const seed = rows * 1000 + cols;
    const x = { data: randomArray(rows * cols, seed, 3), shape: [rows, cols] };
    const bias = { data: randomArray(cols, seed + 1), shape: [cols] };
    await assertMatchesCpu((t, b) => biasGelu(t, b), [x, bias], { tol: 1e-6, gradTol: 1e-5, dy: randomArray(rows * cols, seed + 2), what: `biasGelu[${rows}, ${cols}]` });
  }
});

test('biasGelu rejects a bias of the wrong shape by name', async () => {
  await tf.setBackend('wasm');
  tf.tidy(() => assert.throws(() => biasGelu(tf.zeros([2, 3]), tf.zeros([2])), /biasGelu: bias has shape \[2\], expected \[3\]/));
});
