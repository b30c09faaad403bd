import assert from 'node:assert/strict';
import { test } from 'node:test';
import { degenerateReason, evalSteps, isImprovement, selectEval } from './model-selection.ts';

test('evaluations are evenly spaced and always include the last update', () => {
  assert.deepEqual(evalSteps(100, 10), [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
  assert.deepEqual(evalSteps(25, 10), [3, 5, 8, 10, 13, 15, 18, 20, 23, 25]);
  assert.deepEqual(evalSteps(5, 10), [1, 2, 3, 4, 5]);
  assert.deepEqual(evalSteps(37, 0), [37]);
  assert.deepEqual(evalSteps(0, 10), [0], 'max_steps 0: the initial model is evaluated');
});

test('selection keeps the first best under the selection metric; NaN ranks lowest', () => {
  const evals = [
    { step: 10, validation: { loss: 1, accuracy: 0.6 } },
    { step: 20, validation: { loss: 0.9, accuracy: 0.7 } },
    { step: 30, validation: { loss: 0.5, accuracy: 0.7 } },
    { step: 40, validation: { loss: 0.4, accuracy: 0.65 } },
  ];
  assert.equal(selectEval(evals, 'accuracy')?.step, 20);
  assert.equal(selectEval([], 'accuracy'), undefined);
  assert.ok(isImprovement({ loss: 1, spearman: -0.5 }, { loss: 1, spearman: Number.NaN }, 'spearman'));
  assert.ok(!isImprovement({ loss: 1, spearman: Number.NaN }, { loss: 1, spearman: -0.5 }, 'spearman'));
});

test('degenerate: classification at or below the majority baseline, regression correlation ≤ 0', () => {
  assert.match(degenerateReason({ loss: 0.7, accuracy: 0.527 }, 'accuracy', 'classification', 0.527) ?? '', /no better than the majority-class baseline 0.527/);
  assert.equal(degenerateReason({ loss: 0.7, accuracy: 0.53 }, 'accuracy', 'classification', 0.527), undefined);
  assert.match(degenerateReason({ loss: 0.7, mcc: 0 }, 'mcc', 'classification', 0) ?? '', /mcc 0 is no better/);
  assert.match(degenerateReason({ loss: 2, spearman: -0.01 }, 'spearman', 'regression', undefined) ?? '', /spearman -0.01 ≤ 0/);
  assert.equal(degenerateReason({ loss: 2, spearman: 0.3 }, 'spearman', 'regression', undefined), undefined);
  assert.match(degenerateReason({ loss: 2, spearman: Number.NaN }, 'spearman', 'regression', undefined) ?? '', /undefined/);
  assert.throws(() => degenerateReason({ loss: 1, accuracy: 0.9 }, 'accuracy', 'classification', undefined));
});
