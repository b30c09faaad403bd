import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, TaskConfigSchema } from '../config/trial-config.ts';
import { loadTask } from './load-task.ts';
import { devHalves, downsample } from './splits.ts';
import type { Example } from './task-data.ts';

const examples = (labels: number[]): Example[] => labels.map((label, i) => ({ textA: `t${i}`, label, line: i + 2 }));
const count = (xs: Example[], label: number) => xs.filter((e) => e.label === label).length;
const lines = (xs: Example[]) => xs.map((e) => e.line);

describe('dev_halves', () => {
  test('each label value is split in half; the halves partition the dev set in file order', () => {
    const dev = examples([...new Array(11).fill(0), ...new Array(7).fill(1), ...new Array(4).fill(2)]);
    const { validation, test: testHalf } = devHalves(dev, 'classification', 0);
    // Odd classes give their extra example alternately: class 0 to validation, class 1 to test.
    assert.deepEqual([count(validation, 0), count(validation, 1), count(validation, 2)], [6, 3, 2]);
    assert.deepEqual([count(testHalf, 0), count(testHalf, 1), count(testHalf, 2)], [5, 4, 2]);
    assert.deepEqual([...lines(validation), ...lines(testHalf)].sort((a, b) => a - b), lines(dev));
    assert.deepEqual(lines(validation), [...lines(validation)].sort((a, b) => a - b));
  });

  test('deterministic in split_seed; another seed gives another split', () => {
    const dev = examples(Array.from({ length: 40 }, (_, i) => i % 2));
    assert.deepEqual(devHalves(dev, 'classification', 7), devHalves(dev, 'classification', 7));
    assert.notDeepEqual(lines(devHalves(dev, 'classification', 7).validation), lines(devHalves(dev, 'classification', 8).validation));
  });

  test('regression: one of each adjacent pair of sorted scores on each side', () => {
    const scores = [4.2, 0.1, 3.3, 2.5, 5.0, 0.0, 1.7, 2.5, 3.9];
    const dev = examples(scores);
    const { validation, test: testHalf } = devHalves(dev, 'regression', 3);
    assert.equal(validation.length, 5);
    assert.equal(testHalf.length, 4);
    const sorted = [...scores].sort((a, b) => a - b);
    const valScores = validation.map((e) => e.label);
    for (let i = 0; i + 1 < sorted.length; i += 2) {
      const inVal = [sorted[i], sorted[i + 1]].filter((s) => valScores.includes(s as number)).length;
      assert.ok(inVal >= 1, `pair ${sorted[i]}, ${sorted[i + 1]}`);
    }
    assert.ok(valScores.includes(5.0)); // the odd one out goes to validation
  });
});

describe('downsample', () => {
  test('n class-balanced training examples plus n disjoint balanced validation examples', () => {
    const train = examples(Array.from({ length: 100 }, (_, i) => (i < 70 ? 0 : 1)));
    const out = downsample(train, 20, 'classification', 1, 2);
    assert.equal(out.train.length, 20);
    assert.equal(out.validation.length, 20);
    assert.deepEqual([count(out.train, 0), count(out.train, 1)], [10, 10]);
    assert.deepEqual([count(out.validation, 0), count(out.validation, 1)], [10, 10]);
    const overlap = lines(out.train).filter((l) => lines(out.validation).includes(l));
    assert.deepEqual(overlap, []);
    assert.deepEqual(downsample(train, 20, 'classification', 1, 2), out);
  });

  test('n not divisible by the classes: the first classes get one more', () => {
    const train = examples(Array.from({ length: 90 }, (_, i) => i % 3));
    const out = downsample(train, 10, 'classification', 0, 3);
    assert.deepEqual([count(out.train, 0), count(out.train, 1), count(out.train, 2)], [4, 3, 3]);
  });

  test('a class too small is a ConfigError on task.downsample', () => {
    const train = examples([...new Array(50).fill(0), ...new Array(5).fill(1)]);
    assert.throws(() => downsample(train, 20, 'classification', 0, 2), (e: unknown) => e instanceof ConfigError && e.path === 'task.downsample' && /label 1, but the training data has 5/.test(e.message));
    // A label with no examples at all is caught too.
    assert.throws(() => downsample(examples(new Array(40).fill(0)), 4, 'classification', 0, 2), /label 1, but the training data has 0/);
  });

  test('regression: one example per score stratum for train, then for validation', () => {
    const train = examples(Array.from({ length: 60 }, (_, i) => (i * 37) % 60 / 12));
    const out = downsample(train, 6, 'regression', 2, 1);
    assert.equal(out.train.length, 6);
    assert.equal(out.validation.length, 6);
    // Each sixth of the sorted scores (10 examples, 0.833 wide) holds exactly one training example.
    const strata = out.train.map((e) => Math.floor(e.label / (60 / 6 / 12)));
    assert.deepEqual([...strata].sort(), [0, 1, 2, 3, 4, 5]);
    assert.throws(() => downsample(examples([1, 2, 3]), 2, 'regression', 0, 1), /needs 4 examples/);
  });
});

const SHARED = fileURLToPath(new URL('../../../../shared/data/', import.meta.url));
const noRte = existsSync(join(SHARED, 'glue/RTE')) ? false : 'the real RTE files are absent (../shared/data)';

describe('protocols on the real RTE files', { skip: noRte }, () => {
  test('dev_halves: 277 dev rows -> 139 validation + 138 test, per label (146/131)', () => {
    const data = loadTask(TaskConfigSchema.parse({ name: 'rte', split: 'dev_halves', split_seed: 0 }), { root: SHARED });
    assert.equal(data.train.examples.length, 2490);
    assert.ok(data.test);
    assert.deepEqual([count(data.validation.examples, 0), count(data.validation.examples, 1)], [73, 66]);
    assert.deepEqual([count(data.test.examples, 0), count(data.test.examples, 1)], [73, 65]);
  });

  test('downsample 1000: 500+500 train, 1000 held-out validation, the dev set as test', () => {
    const data = loadTask(TaskConfigSchema.parse({ name: 'rte', downsample: 1000 }), { root: SHARED });
    assert.deepEqual([count(data.train.examples, 0), count(data.train.examples, 1)], [500, 500]);
    assert.equal(data.validation.examples.length, 1000);
    assert.equal(data.test?.examples.length, 277);
  });
});
