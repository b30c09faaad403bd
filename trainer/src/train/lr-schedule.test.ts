import assert from 'node:assert/strict';
import { test } from 'node:test';
import { learningRateAt, scheduleLength } from './lr-schedule.ts';

test('warmup starts at 0 and reaches lr at k = W, then decays linearly to 0 at k = T', () => {
  const lr = 1e-3;
  const T = 10;
  const W = 4;
  const got = Array.from({ length: T }, (_, k) => learningRateAt(k, lr, T, W));
  const want = [0, 0.25, 0.5, 0.75, 1, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6].map((f) => f * lr);
  got.forEach((v, k) => assert.ok(Math.abs(v - (want[k] as number)) < 1e-15, `k=${k}: ${v} vs ${want[k]}`));
  assert.equal(learningRateAt(T, lr, T, W), 0);
  assert.equal(learningRateAt(T + 5, lr, T, W), 0, 'never negative past the end');
});

test('no warmup: the first update runs at the full rate (HF max(1, ·) guards)', () => {
  assert.equal(learningRateAt(0, 2e-5, 5, 0), 2e-5);
  assert.equal(learningRateAt(4, 2e-5, 5, 0), 2e-5 / 5);
  // W = T: all warmup, never divides by zero.
  assert.equal(learningRateAt(3, 1, 4, 4), 0.75);
});

test('T counts a partial last batch as an update; epochs multiply; max_steps wins', () => {
  assert.deepEqual(scheduleLength({ numTrain: 100, batchSize: 32, epochs: 3, warmupRatio: 0.1 }), {
    totalSteps: 12, // ceil(100/32) = 4 batches per epoch
    warmupSteps: 1, // floor(1.2)
    stepsPerEpoch: 4,
  });
  assert.equal(scheduleLength({ numTrain: 96, batchSize: 32, epochs: 3, warmupRatio: 0.1 }).totalSteps, 9);
  assert.equal(scheduleLength({ numTrain: 100, batchSize: 32, epochs: 3, maxSteps: 50, warmupRatio: 0.1 }).totalSteps, 50);
  assert.equal(scheduleLength({ numTrain: 100, batchSize: 32, epochs: 3, maxSteps: 50, warmupRatio: 0.1 }).warmupSteps, 5);
  assert.equal(scheduleLength({ numTrain: 100, batchSize: 32, epochs: 0.5, warmupRatio: 0 }).totalSteps, 2);
  assert.equal(scheduleLength({ numTrain: 100, batchSize: 32, epochs: 3, warmupRatio: 0.5, warmupSteps: 7 }).warmupSteps, 7);
  // 0.1 · 30 is 3.0000000000000004 in floating point and 0.3 · 10 is 2.9999999999999996: both mean 3.
  assert.equal(scheduleLength({ numTrain: 30, batchSize: 1, epochs: 1, warmupRatio: 0.1 }).warmupSteps, 3);
  assert.equal(scheduleLength({ numTrain: 10, batchSize: 1, epochs: 1, warmupRatio: 0.3 }).warmupSteps, 3);
});
