// Expected best-of-k performance: how good the best of k trained models is expected to be.
// Two estimates, as in the issue: the paper's bootstrap (select on validation, score on test) and
// Dodge et al. (2019)'s closed form on validation scores.
import { mean, sampleStandardDeviation } from 'simple-statistics';
import { Rng } from '../../../../trainer/src/util/rng.ts';

export interface ExpectedMaxPoint {
  k: number;
  mean: number;
  /** Standard deviation of the best-of-k score across draws (null for the closed form at N = 1). */
  std: number | null;
}

/**
 * Dodge et al. 2019, "Show Your Work", eq. 1: with v(1) ≤ … ≤ v(N) the sorted validation scores,
 * E[max of k draws with replacement] = Σ_i v(i)·((i/N)^k − ((i−1)/N)^k); the std uses E[max²] the
 * same way. Returns k = 1..kMax (default N).
 */
export function expectedMaxClosedForm(values: readonly number[], kMax = values.length): ExpectedMaxPoint[] {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const out: ExpectedMaxPoint[] = [];
  for (let k = 1; k <= kMax && n > 0; k++) {
    let m1 = 0;
    let m2 = 0;
    for (let i = 1; i <= n; i++) {
      const w = (i / n) ** k - ((i - 1) / n) ** k;
      const v = sorted[i - 1] as number;
      m1 += v * w;
      m2 += v * v * w;
    }
    out.push({ k, mean: m1, std: Math.sqrt(Math.max(0, m2 - m1 * m1)) });
  }
  return out;
}

export interface ScoredTrial {
  validation: number;
  /** The score recorded for the selected model: its test score (validation when there is no test set). */
  test: number;
}

/**
 * The paper's bootstrap (Zhang et al. 2021, Figure 4): draw k trained models with replacement, keep
 * the one best on validation (the first drawn among equals), record its test score; repeat
 * `repetitions` times. Seeded: the same inputs and seed give the same numbers.
 */
export function expectedMaxBootstrap(
  trials: readonly ScoredTrial[],
  options: { repetitions: number; seed: number; kMax?: number },
): ExpectedMaxPoint[] {
  const n = trials.length;
  const kMax = options.kMax ?? n;
  const rng = new Rng(options.seed);
  const out: ExpectedMaxPoint[] = [];
  const scores = new Array<number>(options.repetitions);
  for (let k = 1; k <= kMax && n > 0; k++) {
    for (let r = 0; r < options.repetitions; r++) {
      let best = trials[rng.nextInt(n)] as ScoredTrial;
      for (let j = 1; j < k; j++) {
        const candidate = trials[rng.nextInt(n)] as ScoredTrial;
        if (candidate.validation > best.validation) best = candidate;
      }
      scores[r] = best.test;
    }
    out.push({ k, mean: mean(scores), std: options.repetitions >= 2 ? sampleStandardDeviation(scores) : null });
  }
  return out;
}
