import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { dropoutMask, mixoutWeight } from './seeded-masks.ts';

before(async () => {
  await tf.setBackend('cpu');
});

test('dropout masks: rate, inverted scale, determinism per (seed, step, site)', () => {
  const m = dropoutMask([100, 100], 0.1, { seed: 1, step: 2 }, 'site').dataSync();
  const zeros = m.filter((v) => v === 0).length;
  assert.ok(zeros > 900 && zeros < 1100, `about 10% dropped: ${zeros}`);
  assert.ok(m.every((v) => v === 0 || Math.abs(v - 1 / 0.9) < 1e-6));
  const again = dropoutMask([100, 100], 0.1, { seed: 1, step: 2 }, 'site').dataSync();
  assert.deepEqual(again, m);
  assert.notDeepEqual(dropoutMask([100, 100], 0.1, { seed: 1, step: 3 }, 'site').dataSync(), m);
  assert.notDeepEqual(dropoutMask([100, 100], 0.1, { seed: 1, step: 2 }, 'other').dataSync(), m);
});

test('mixout: whole rows (input features) from W0, rescaled so that the expectation is W', () => {
  const rows = 2000;
  const p = 0.3;
  const w = tf.fill([rows, 3], 2);
  const w0 = tf.fill([rows, 3], 1);
  const mixed = mixoutWeight(w, w0, p, { seed: 4, step: 0 }, 'x').arraySync() as number[][];
  // Kept rows: (W - p·W0)/(1-p) = (2 - 0.3)/0.7; replaced rows: (W0 - p·W0)/(1-p) = 1.
  const kept = (2 - p) / (1 - p);
  let mean = 0;
  for (const row of mixed) {
    assert.ok(row.every((v) => Math.abs(v - (row[0] as number)) < 1e-6), 'one draw per row');
    assert.ok(Math.abs((row[0] as number) - kept) < 1e-5 || Math.abs((row[0] as number) - 1) < 1e-5);
    mean += (row[0] as number) / rows;
  }
  assert.ok(Math.abs(mean - 2) < 0.1, `E[mix] = W: ${mean}`);
  tf.dispose([w, w0]);
});
