import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../util/rng.ts';
import { dropoutMaskFrom } from './dropout-mask.ts';
import { useWasm } from './fused-op-testing.ts';

before(useWasm);

async function maskOn(backend: string, seed: number, shape: number[], rate: number): Promise<Float32Array> {
  await tf.setBackend(backend);
  const m = dropoutMaskFrom(Rng.derive(seed, 'mask-test'), shape, rate);
  const data = m.dataSync() as Float32Array;
  m.dispose();
  return data;
}

test('the wasm kernel draws the JavaScript stream exactly: every value, every rate, ragged sizes', async () => {
  for (const [shape, rate] of [[[1], 0.1], [[3], 0.5], [[7, 9], 0.1], [[16, 2, 33, 33], 0.1], [[1000], 0], [[1000], 0.999]] as Array<[number[], number]>) {
    const cpu = await maskOn('cpu', 5, shape, rate);
    const wasm = await maskOn('wasm', 5, shape, rate);
    assert.deepEqual(Array.from(wasm), Array.from(cpu), `shape [${shape}], rate ${rate}`);
  }
});

test('a rate whose threshold lands on a draw exactly: u < rate·2^32, not <=', async () => {
  // The first draw of the stream, as a rate: that element is kept (u/2^32 < u/2^32 is false),
  // and a rate one ulp above drops it.
  const u = Rng.derive(9, 'mask-test').nextUint32();
  for (const rate of [u / 2 ** 32, (u + 0.5) / 2 ** 32]) {
    const cpu = await maskOn('cpu', 9, [5], rate);
    const wasm = await maskOn('wasm', 9, [5], rate);
    assert.deepEqual(Array.from(wasm), Array.from(cpu), `rate ${rate}`);
  }
  assert.notEqual((await maskOn('wasm', 9, [1], u / 2 ** 32))[0], 0);
  assert.equal((await maskOn('wasm', 9, [1], (u + 0.5) / 2 ** 32))[0], 0);
});

test('a rate outside [0, 1) is an error naming it', async () => {
  await tf.setBackend('wasm');
  assert.throws(() => dropoutMaskFrom(new Rng(1), [4], 1), /dropout rate must be in \[0, 1\), got 1/);
});
