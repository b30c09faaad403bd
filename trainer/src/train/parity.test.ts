// The trainer against PyTorch on the cpu backend (tfjs's reference kernels): every case, plus the
// check that the cases are far enough apart for the comparison to mean something.
// What is compared: fixtures/parity-suite.ts; how the fixtures were made: fixtures/make-parity-fixtures.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { PARITY_TOLERANCE, fixture, maxRelDiff, parityTests } from './fixtures/parity-suite.ts';

await tf.setBackend('cpu');

test('the cases are far apart: a wrong optimizer or a dropped weight decay could not pass', () => {
  const gap = (a: string, b: string) => maxRelDiff(fixture(a).losses, fixture(b).losses);
  const pairs = [['adamw', 'adamw-wd'], ['bertadam', 'bertadam-wd'], ['adamw', 'bertadam'], ['adamw-reinit-llrd-pwd', 'bertadam-reinit-llrd'], ['adamw-regression', 'bertadam-regression']] as const;
  for (const [a, b] of pairs) assert.ok(gap(a, b) > 30 * PARITY_TOLERANCE, `${a} vs ${b}: ${gap(a, b)}`);
});

parityTests({ name: 'cpu', package: '@tensorflow/tfjs-backend-cpu', device: 'cpu', threads: 1, chosen_by: 'override' });
