// Two-sample tests between configurations, each matching SciPy 1.10's defaults so that the
// fixtures in reference/ pin them: Welch's t-test (`ttest_ind(equal_var=False)`), Mann–Whitney U
// (`mannwhitneyu`, method 'auto', continuity correction) and the Wilcoxon signed-rank test
// (`wilcoxon`, zero_method 'wilcox', no continuity correction), plus Holm's step-down correction.
import { mean } from 'simple-statistics';
import { averageRanks, sampleVariance, tieGroups } from './descriptive.ts';
import { mannWhitneyPmf, normalSf, tSf, wilcoxonPmf } from './distributions.ts';

export interface WelchResult {
  t: number;
  df: number;
  /** H1: mean(a) ≠ mean(b). */
  p_two_sided: number;
  /** H1: mean(a) > mean(b). */
  p_greater: number;
}

/** Welch's unequal-variance t-test; null when undefined (n < 2 in a group, or both variances 0). */
export function welchTTest(a: readonly number[], b: readonly number[]): WelchResult | null {
  if (a.length < 2 || b.length < 2) return null;
  const va = sampleVariance(a) / a.length;
  const vb = sampleVariance(b) / b.length;
  const se2 = va + vb;
  if (!(se2 > 0)) return null;
  const t = (mean(a as number[]) - mean(b as number[])) / Math.sqrt(se2);
  const df = (se2 * se2) / ((va * va) / (a.length - 1) + (vb * vb) / (b.length - 1));
  return { t, df, p_two_sided: Math.min(1, 2 * tSf(Math.abs(t), df)), p_greater: tSf(t, df) };
}

export interface MannWhitneyResult {
  /** U of the first sample: the number of pairs (a_i, b_j) with a_i > b_j, ties counting ½. */
  u: number;
  p_two_sided: number;
  method: 'exact' | 'asymptotic';
}

export function mannWhitneyU(a: readonly number[], b: readonly number[]): MannWhitneyResult | null {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) return null;
  const all = [...a, ...b];
  const ranks = averageRanks(all);
  let r1 = 0;
  for (let i = 0; i < n1; i++) r1 += ranks[i] as number;
  const u1 = r1 - (n1 * (n1 + 1)) / 2;
  const u2 = n1 * n2 - u1;
  const u = Math.max(u1, u2);
  const ties = tieGroups(all);
  // SciPy's rule: exact when either sample is small and there are no ties.
  const method = (n1 <= 8 || n2 <= 8) && ties.length === 0 ? 'exact' : 'asymptotic';
  let p: number;
  if (method === 'exact') {
    const pmf = mannWhitneyPmf(n1, n2);
    let sf = 0;
    for (let k = Math.round(u); k < pmf.length; k++) sf += pmf[k] as number;
    p = 2 * sf;
  } else {
    const n = n1 + n2;
    const tieTerm = ties.reduce((s, t) => s + t ** 3 - t, 0);
    const s = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
    p = s > 0 ? 2 * normalSf((u - (n1 * n2) / 2 - 0.5) / s) : 1;
  }
  return { u: u1, p_two_sided: Math.min(1, Math.max(0, p)), method };
}

export interface WilcoxonResult {
  /** Pairs with a non-zero difference (zeros are dropped, SciPy's zero_method 'wilcox'). */
  n: number;
  /** min(R+, R−), SciPy's two-sided statistic. */
  statistic: number;
  p_two_sided: number;
  method: 'exact' | 'approx';
}

/**
 * Wilcoxon signed-rank test of paired differences a_i − b_i. Exact for up to 50 pairs without zeros
 * or tied |differences|; otherwise the normal approximation with the tie correction. (SciPy 1.10
 * still runs its exact test on tied ranks, truncating R+ to an integer; later SciPy releases and
 * this code switch to the approximation there, which is the correct treatment.)
 */
export function wilcoxonSignedRank(a: readonly number[], b: readonly number[]): WilcoxonResult | null {
  if (a.length !== b.length) throw new RangeError('paired samples must have the same length');
  const diffs = a.map((x, i) => x - (b[i] as number));
  const hasZero = diffs.some((d) => d === 0);
  const nonZero = diffs.filter((d) => d !== 0);
  if (nonZero.length === 0) return null;
  const abs = nonZero.map(Math.abs);
  const ties = tieGroups(abs);
  const exact = diffs.length <= 50 && !hasZero && ties.length === 0;
  const ranks = averageRanks(abs);
  let rPlus = 0;
  let rMinus = 0;
  nonZero.forEach((d, i) => {
    if (d > 0) rPlus += ranks[i] as number;
    else rMinus += ranks[i] as number;
  });
  const statistic = Math.min(rPlus, rMinus);
  const n = nonZero.length;
  let p: number;
  if (exact) {
    const pmf = wilcoxonPmf(n);
    const r = Math.round(rPlus);
    if (r === (pmf.length - 1) / 2) p = 1;
    else {
      let less = 0;
      let greater = 0;
      for (let k = 0; k <= r; k++) less += pmf[k] as number;
      for (let k = r; k < pmf.length; k++) greater += pmf[k] as number;
      p = 2 * Math.min(less, greater);
    }
  } else {
    const mn = (n * (n + 1)) / 4;
    let se = n * (n + 1) * (2 * n + 1);
    for (const t of ties) se -= 0.5 * t * (t * t - 1);
    se = Math.sqrt(se / 24);
    p = se > 0 ? 2 * normalSf(Math.abs((statistic - mn) / se)) : 1;
  }
  return { n, statistic, p_two_sided: Math.min(1, Math.max(0, p)), method: exact ? 'exact' : 'approx' };
}

/** Holm–Bonferroni adjusted p-values, in the input order; nulls pass through and are not counted. */
export function holm(pValues: ReadonlyArray<number | null>): Array<number | null> {
  const present = pValues.map((p, i) => [p, i] as const).filter((x): x is readonly [number, number] => x[0] !== null);
  present.sort((x, y) => x[0] - y[0]);
  const m = present.length;
  const out: Array<number | null> = pValues.map(() => null);
  let running = 0;
  present.forEach(([p, index], rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    out[index] = running;
  });
  return out;
}

