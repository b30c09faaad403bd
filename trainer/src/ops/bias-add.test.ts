import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { biasAdd, biasGrad } from './bias-add.ts';
import { assertMatchesCpu, randomArray, useWasm } from './fused-op-testing.ts';

before(useWasm);

test('biasAdd matches tfjs Add on cpu, value and both gradients, odd sizes included', async () => {
  for (const shape of [[1, 1], [3, 5], [4, 4], [7, 9], [2048, 128], [5, 130], [2, 3, 6]]) {
    const cols = shape[shape.length - 1] as number;
    const size = shape.reduce((a, b) => a * b, 1);
    const seed = size * 10 + cols;
    await assertMatchesCpu((y, b) => biasAdd(y, b), [{ data: randomArray(size, seed), shape }, { data: randomArray(cols, seed + 1), shape: [cols] }], {
      tol: 1e-7, gradTol: 5e-5, dy: randomArray(size, seed + 2), what: `biasAdd[${shape}]`,
    });
  }
});

test('biasGrad over 2048 rows is as close to the float64 sum as float32 row-order summation allows', async () => {
  await tf.setBackend('wasm');
  const [rows, cols] = [2048, 12];
  const data = randomArray(rows * cols, 5);
  const got = tf.tidy(() => biasGrad(tf.tensor2d(data, [rows, cols])).dataSync());
  for (let j = 0; j < cols; j++) {
    let exact = 0;
    for (let r = 0; r < rows; r++) exact += data[r * cols + j] as number;
    assert.ok(Math.abs((got[j] as number) - exact) < 1e-4, `column ${j}: ${got[j]} vs ${exact}`);
  }
});

test('biasGrad sums over every axis but the last', async () => {
  await tf.setBackend('wasm');
  const dy = tf.tensor3d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [2, 2, 3]);
  assert.deepEqual(Array.from(biasGrad(dy).dataSync()), [22, 26, 30]);
  dy.dispose();
});

test('biasAdd rejects a bias of the wrong shape by name', async () => {
  await tf.setBackend('wasm');
  tf.tidy(() => assert.throws(() => biasAdd(tf.zeros([2, 3]), tf.zeros([2])), /biasAdd: bias has shape \[2\], expected \[3\]/));
});
