import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { accuracy, argmax, averageRanks, computeMetrics, taskMetrics, f1, majorityBaseline, majorityClass, mcc, pearson, spearman } from './metrics.ts';

const close = (actual: number, expected: number, tol = 1e-12) => assert.ok(Math.abs(actual - expected) <= tol, `${actual} != ${expected}`);

describe('classification metrics (values worked by hand)', () => {
  test('accuracy', () => {
    assert.deepEqual(accuracy([1, 0, 1, 1], [1, 1, 1, 0]), { value: 0.5 });
    assert.deepEqual(accuracy(new Int32Array([2, 2]), new Int32Array([2, 2])), { value: 1 });
    assert.equal(accuracy([], []).undefinedReason, 'no examples');
    assert.throws(() => accuracy([1], [1, 0]), /differ in length/);
  });

  test('binary F1 of class 1', () => {
    // tp=2 fp=1 fn=1: 2·2 / (2·2 + 1 + 1)
    close(f1([1, 1, 0, 0, 1], [1, 0, 0, 1, 1]).value, 4 / 6);
    assert.deepEqual(f1([0, 0, 0], [1, 1, 0]), { value: 0 }); // defined: recall 0
    assert.deepEqual(f1([0, 0], [0, 0]), { value: 0, undefinedReason: 'no positive predictions or labels' });
    assert.deepEqual(f1([1, 1], [1, 1]), { value: 1 });
  });

  test('Matthews correlation: binary, multiclass, degenerate', () => {
    // sklearn's docstring example: matthews_corrcoef([+1, +1, +1, -1], [+1, -1, +1, +1]) = -0.333…
    close(mcc([1, 0, 1, 1], [1, 1, 1, 0]).value, -1 / 3);
    // tp=2 tn=1 fp=1 fn=1: (2·1 − 1·1) / sqrt(3·3·2·2) = 1/6
    close(mcc([1, 1, 0, 0, 1], [1, 0, 0, 1, 1]).value, 1 / 6);
    // Three classes: c=3, s=6, t=p=(2,2,2): (3·6 − 12) / sqrt((36 − 12)(36 − 12)) = 0.25
    close(mcc([0, 1, 1, 2, 2, 0], [0, 0, 1, 1, 2, 2]).value, 0.25);
    assert.deepEqual(mcc([1, 0, 1], [1, 0, 1]), { value: 1 });
    assert.deepEqual(mcc([0, 1, 0], [1, 0, 1]), { value: -1 });
    // A model that always predicts one class: sklearn returns 0.0.
    assert.deepEqual(mcc([1, 1, 1, 1], [1, 0, 1, 0]), { value: 0, undefinedReason: 'predictions are a single class' });
    assert.deepEqual(mcc([1, 0, 1, 0], [1, 1, 1, 1]), { value: 0, undefinedReason: 'labels are a single class' });
  });

  test('argmax takes the first maximum', () => {
    assert.deepEqual(argmax(new Float32Array([0.1, 0.9, 2, -1, 3, 3]), 2), new Int32Array([1, 0, 0]));
    assert.throws(() => argmax([1, 2, 3], 2), /multiple of 2/);
  });

  test('majority class and baseline', () => {
    assert.equal(majorityClass([0, 1, 1, 2, 2]), 1); // tie: the smaller id
    assert.equal(majorityClass([2, 2, 0]), 2);
    assert.throws(() => majorityClass([]), /no labels/);
    // Train majority is 1; evaluation has 3 of 5 ones.
    assert.deepEqual(majorityBaseline('accuracy', [1, 1, 0], [1, 0, 1, 1, 0]), { value: 0.6 });
    assert.equal(majorityBaseline('mcc', [1, 1, 0], [1, 0, 1, 1, 0]).value, 0);
    close(majorityBaseline('f1', [1, 1, 0], [1, 0, 1, 1, 0]).value, 6 / 8);
  });
});

describe('correlations (values from SciPy 1.x)', () => {
  test('Pearson', () => {
    close(pearson([1, 2, 3, 4, 5, 6], [2.1, 3.9, 6.2, 7.8, 11.0, 11.5]).value, 0.9907587258207764);
    close(pearson([3.2, 1.0, 4.5, 1.0, 2.2, 4.5, 0.3], [2.0, 1.5, 5.0, 0.5, 2.5, 3.0, 1.0]).value, 0.854486495882085);
    close(pearson([1, 2, 3], [3, 2, 1]).value, -1);
    assert.ok(pearson([1e8 + 1, 1e8 + 2, 1e8 + 3], [1, 2, 3]).value > 1 - 1e-9); // centred sums, no cancellation
  });

  test('Spearman with tied ranks averaged', () => {
    assert.deepEqual([...averageRanks([3.2, 1.0, 4.5, 1.0, 2.2, 4.5, 0.3])], [5, 2.5, 6.5, 2.5, 4, 6.5, 1]);
    close(spearman([3.2, 1.0, 4.5, 1.0, 2.2, 4.5, 0.3], [2.0, 1.5, 5.0, 0.5, 2.5, 3.0, 1.0]).value, 0.8910563851303024);
    close(spearman([1, 2, 3, 4, 5, 6], [2.1, 3.9, 6.2, 7.8, 11.0, 11.5]).value, 1);
  });

  test('constant input: SciPy gives NaN, we give 0 and say why; NaN never escapes', () => {
    assert.deepEqual(pearson([1, 1, 1], [1, 2, 3]), { value: 0, undefinedReason: 'predictions are constant' });
    assert.deepEqual(spearman([1, 2, 3], [4, 4, 4]), { value: 0, undefinedReason: 'labels are constant' });
    assert.deepEqual(pearson([1], [2]), { value: 0, undefinedReason: 'fewer than two points' });
    assert.deepEqual(pearson([1, Number.NaN], [1, 2]), { value: 0, undefinedReason: 'non-finite values' });
  });
});

describe('computeMetrics', () => {
  test('named metrics with flags for the undefined ones', () => {
    const report = computeMetrics(['accuracy', 'f1'], [0, 0, 0], [0, 0, 0]);
    assert.deepEqual(report, { values: { accuracy: 1, f1: 0 }, undefinedMetrics: { f1: 'no positive predictions or labels' } });
    const reg = computeMetrics(['pearson', 'spearman'], new Float32Array([1, 2, 3]), new Float32Array([1, 2, 4]));
    close(reg.values.spearman ?? Number.NaN, 1);
    assert.deepEqual(reg.undefinedMetrics, {});
  });
});

describe('taskMetrics', () => {
  test('argmax of logits for classification, raw scores for regression', () => {
    const cls = taskMetrics({ problemType: 'classification', numLabels: 2, metrics: ['accuracy', 'mcc'] }, new Float32Array([2, 1, 0, 3, 1, 1]), new Int32Array([0, 1, 1]));
    assert.deepEqual(cls.values, { accuracy: 2 / 3, mcc: 0.5 });
    const reg = taskMetrics({ problemType: 'regression', numLabels: 1, metrics: ['spearman'] }, new Float32Array([0.1, 0.5, 0.3]), new Float32Array([1, 3, 2]));
    assert.deepEqual(reg.values, { spearman: 1 });
  });
});
