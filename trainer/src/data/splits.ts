// The paper's data protocols. Every random choice comes from `Rng.derive(split_seed, <protocol>)`,
// so a split is a pure function of the data and the split seed: every trial of an experiment (and
// every retry of a trial) sees exactly the same examples in validation and test.
//
// Stratification: classification stratifies by label value. Regression (STS-B) has no label
// values, so it stratifies by score: the examples are sorted by score and cut into consecutive
// strata (pairs for dev halves, N equal strata for downsampling), and each stratum contributes
// equally to each side. Both halves then cover the whole score range with the same distribution.
//
// Outputs keep the file order of the examples; shuffling for training happens in batches.ts.
import { ConfigError } from '../config/trial-config.ts';
import { Rng } from '../util/rng.ts';
import type { Example, ProblemType } from './task-data.ts';

export interface DevHalves {
  validation: Example[];
  test: Example[];
}

/**
 * The original dev set split in half per label value into validation and test. A class with an
 * odd count gives its extra example alternately to validation and test (in label order), so the
 * halves differ by at most one example overall.
 */
export function devHalves(dev: readonly Example[], problemType: ProblemType, splitSeed: number): DevHalves {
  const rng = Rng.derive(splitSeed, 'dev_halves');
  const toValidation = new Uint8Array(dev.length);
  if (problemType === 'classification') {
    let extraToValidation = true;
    for (const members of byClass(dev)) {
      rng.shuffle(members);
      let half = Math.floor(members.length / 2);
      if (members.length % 2 === 1) {
        if (extraToValidation) half += 1;
        extraToValidation = !extraToValidation;
      }
      for (let i = 0; i < half; i++) toValidation[members[i] as number] = 1;
    }
  } else {
    const sorted = byScore(dev);
    for (let i = 0; i < sorted.length; i += 2) {
      const a = sorted[i] as number;
      const b = sorted[i + 1];
      if (b === undefined) toValidation[a] = 1;
      else toValidation[rng.nextInt(2) === 0 ? a : b] = 1;
    }
  }
  const validation: Example[] = [];
  const test: Example[] = [];
  dev.forEach((example, i) => (toValidation[i] ? validation : test).push(example));
  return { validation, test };
}

export interface Downsampled {
  train: Example[];
  validation: Example[];
}

/**
 * The paper's downsampled setting: `n` class-balanced training examples and `n` more, disjoint,
 * class-balanced validation examples, both drawn from the training file (the original dev set
 * then serves as test). With k classes each class gets floor(n/k), the first n mod k classes (in
 * label order) one more. A class too small for its share is a ConfigError on `task.downsample`.
 */
export function downsample(train: readonly Example[], n: number, problemType: ProblemType, splitSeed: number, numLabels: number): Downsampled {
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError('task.downsample', `must be a positive integer, got ${n}`);
  const rng = Rng.derive(splitSeed, 'downsample');
  const role = new Uint8Array(train.length); // 0 unused, 1 train, 2 validation
  if (problemType === 'classification') {
    const classes = byClass(train, numLabels);
    classes.forEach((members, label) => {
      const quota = Math.floor(n / numLabels) + (label < n % numLabels ? 1 : 0);
      if (members.length < 2 * quota) {
        throw new ConfigError('task.downsample', `${n} needs ${quota} training and ${quota} validation examples of label ${label}, but the training data has ${members.length}`);
      }
      rng.shuffle(members);
      for (let i = 0; i < quota; i++) role[members[i] as number] = 1;
      for (let i = quota; i < 2 * quota; i++) role[members[i] as number] = 2;
    });
  } else {
    if (train.length < 2 * n) {
      throw new ConfigError('task.downsample', `${n} needs ${2 * n} examples (training plus validation), but the training data has ${train.length}`);
    }
    const pickStrata = (pool: number[], value: 1 | 2) => {
      for (let s = 0; s < n; s++) {
        const lo = Math.floor((s * pool.length) / n);
        const hi = Math.floor(((s + 1) * pool.length) / n);
        role[pool[lo + rng.nextInt(hi - lo)] as number] = value;
      }
    };
    pickStrata(byScore(train), 1);
    pickStrata(byScore(train).filter((i) => role[i] === 0), 2);
  }
  const out: Downsampled = { train: [], validation: [] };
  train.forEach((example, i) => {
    if (role[i] === 1) out.train.push(example);
    else if (role[i] === 2) out.validation.push(example);
  });
  return out;
}

/** Example indices per class id, each list in file order. */
function byClass(examples: readonly Example[], numLabels?: number): number[][] {
  const classes: number[][] = [];
  for (let c = 0; c < (numLabels ?? 0); c++) classes.push([]);
  examples.forEach((example, i) => {
    while (classes.length <= example.label) classes.push([]);
    (classes[example.label] as number[]).push(i);
  });
  return classes;
}

/** Example indices sorted by score; ties keep file order so the result is fully determined. */
function byScore(examples: readonly Example[]): number[] {
  return examples.map((_, i) => i).sort((a, b) => (examples[a] as Example).label - (examples[b] as Example).label || a - b);
}
