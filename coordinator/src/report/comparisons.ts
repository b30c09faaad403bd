// Comparisons between the configurations of one task: difference of means with a bootstrap
// interval, Welch's t-test, Mann–Whitney U, the paired Wilcoxon test when trials share their seeds,
// and Holm's correction across the task's pairs (per test).
import type { Comparison, ConfigurationReport, Split } from './report-model.ts';
import { bootstrapMeanDifference } from './stats/bootstrap.ts';
import { holm, mannWhitneyU, welchTTest, wilcoxonSignedRank } from './stats/hypothesis-tests.ts';
import { Rng } from '../../../trainer/src/util/rng.ts';

/** A seed of its own for each statistic, so adding a configuration never moves another's numbers. */
export function derivedSeed(seed: number, label: string): number {
  return Rng.derive(seed, label).nextUint32();
}

/** Scores on `split` of the scored trials, keyed by their seeds (so pairs can be matched). */
export function splitScores(c: ConfigurationReport, split: Split): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of c.trial_scores) {
    const v = split === 'test' ? s.test : s.validation;
    if (s.state === 'succeeded' && s.validation !== null && v !== null) out.set(`${s.seed}/${s.init_seed}/${s.data_seed}`, v);
  }
  return out;
}

export function compareConfigurations(task: string, configs: ConfigurationReport[], options: { seed: number; ciRepetitions: number }): Comparison[] {
  const raw: Array<Omit<Comparison, 'welch' | 'mann_whitney' | 'wilcoxon'> & {
    welch: { t: number; df: number; p2: number; p1: number } | null;
    mw: { u: number; method: string; p: number } | null;
    wx: { pairs: number; statistic: number; method: string; p: number } | null;
  }> = [];
  for (let i = 0; i < configs.length; i++) {
    for (let j = i + 1; j < configs.length; j++) {
      const ci = configs[i] as ConfigurationReport;
      const cj = configs[j] as ConfigurationReport;
      const split: Split = ci.test && cj.test ? 'test' : 'validation';
      const si = splitScores(ci, split);
      const sj = splitScores(cj, split);
      const notes: string[] = [];
      if (split === 'validation' && (ci.test || cj.test)) notes.push('compared on validation: one of the two has no test set');
      if (si.size === 0 || sj.size === 0) continue;
      const vi = [...si.values()];
      const vj = [...sj.values()];
      const mi = vi.reduce((a, b) => a + b, 0) / vi.length;
      const mj = vj.reduce((a, b) => a + b, 0) / vj.length;
      const [a, b, va, vb, sa, sb] = mi >= mj ? [ci, cj, vi, vj, si, sj] : [cj, ci, vj, vi, sj, si];
      const welch = welchTTest(va, vb);
      if (!welch) notes.push("Welch's t-test needs ≥ 2 trials per side and some spread");
      const mw = mannWhitneyU(va, vb);
      const shared = [...sa.keys()].filter((k) => sb.has(k));
      const wx = shared.length >= 2 ? wilcoxonSignedRank(shared.map((k) => sa.get(k) as number), shared.map((k) => sb.get(k) as number)) : null;
      if (shared.length >= 2 && !wx) notes.push('paired test does not apply: every paired difference is zero');
      const ci95 = bootstrapMeanDifference(va, vb, { repetitions: options.ciRepetitions, seed: derivedSeed(options.seed, `ci/${task}/${a.configuration}/${b.configuration}`) });
      raw.push({
        a: a.configuration,
        b: b.configuration,
        split,
        n_a: va.length,
        n_b: vb.length,
        mean_a: Math.max(mi, mj),
        mean_b: Math.min(mi, mj),
        mean_difference: Math.abs(mi - mj),
        ci95: ci95 ? { low: ci95.low, high: ci95.high } : null,
        welch: welch ? { t: welch.t, df: welch.df, p2: welch.p_two_sided, p1: welch.p_greater } : null,
        mw: mw ? { u: mw.u, method: mw.method, p: mw.p_two_sided } : null,
        wx: wx ? { pairs: shared.length, statistic: wx.statistic, method: wx.method, p: wx.p_two_sided } : null,
        notes,
      });
    }
  }
  const h2 = holm(raw.map((r) => r.welch?.p2 ?? null));
  const h1 = holm(raw.map((r) => r.welch?.p1 ?? null));
  const hm = holm(raw.map((r) => r.mw?.p ?? null));
  const hw = holm(raw.map((r) => r.wx?.p ?? null));
  return raw.map(({ welch, mw, wx, ...rest }, i) => ({
    ...rest,
    welch: welch ? { t: welch.t, df: welch.df, two_sided: { p: welch.p2, p_holm: h2[i] as number }, one_sided: { p: welch.p1, p_holm: h1[i] as number } } : null,
    mann_whitney: mw ? { u: mw.u, method: mw.method, two_sided: { p: mw.p, p_holm: hm[i] as number } } : null,
    wilcoxon: wx ? { pairs: wx.pairs, statistic: wx.statistic, method: wx.method, two_sided: { p: wx.p, p_holm: hw[i] as number } } : null,
  }));
}
