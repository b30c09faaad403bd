// Percentile bootstrap interval of a difference of means between two independent samples.
import { Rng } from '../../../../trainer/src/util/rng.ts';
import { quantileSorted } from './descriptive.ts';

export interface Interval {
  low: number;
  high: number;
  level: number;
}

/** Resamples each group with replacement; the interval of mean(a*) − mean(b*). Null if a group is empty. */
export function bootstrapMeanDifference(
  a: readonly number[],
  b: readonly number[],
  options: { repetitions: number; seed: number; level?: number },
): Interval | null {
  if (a.length === 0 || b.length === 0) return null;
  const level = options.level ?? 0.95;
  const rng = new Rng(options.seed);
  const diffs = new Array<number>(options.repetitions);
  for (let r = 0; r < options.repetitions; r++) {
    let sa = 0;
    for (let i = 0; i < a.length; i++) sa += a[rng.nextInt(a.length)] as number;
    let sb = 0;
    for (let i = 0; i < b.length; i++) sb += b[rng.nextInt(b.length)] as number;
    diffs[r] = sa / a.length - sb / b.length;
  }
  diffs.sort((x, y) => x - y);
  const alpha = (1 - level) / 2;
  return { low: quantileSorted(diffs, alpha), high: quantileSorted(diffs, 1 - alpha), level };
}

