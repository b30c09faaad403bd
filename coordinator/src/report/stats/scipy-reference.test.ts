// The report's statistics against SciPy/NumPy (reference/scipy_fixtures.py wrote the fixtures).
// Each check records its largest absolute difference; the last test prints them for the record.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { describe as describeSample } from './descriptive.ts';
import { fSf, normalSf, tCdf } from './distributions.ts';
import { expectedMaxBootstrap, expectedMaxClosedForm } from './expected-max.ts';
import { holm, mannWhitneyU, welchTTest, wilcoxonSignedRank } from './hypothesis-tests.ts';
import { twoWayAnova } from './anova.ts';
import { bootstrapMeanDifference } from './bootstrap.ts';

const fixtures = JSON.parse(readFileSync(new URL('../reference/scipy-fixtures.json', import.meta.url), 'utf8'));
const samples: Record<string, number[]> = fixtures.samples;
const maxDiff = new Map<string, number>();

function close(group: string, actual: number | null | undefined, expected: number | null | undefined, tol: number, what: string): void {
  if (expected === null || expected === undefined) {
    assert.equal(actual ?? null, null, `${what}: expected no value`);
    return;
  }
  assert.equal(typeof actual, 'number', `${what}: got ${actual}`);
  const diff = Math.abs((actual as number) - expected);
  maxDiff.set(group, Math.max(maxDiff.get(group) ?? 0, diff));
  assert.ok(diff <= tol * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs SciPy ${expected} (|Δ| ${diff})`);
}

// Probabilities are compared relatively: jstat's continued fractions agree with SciPy's Cephes to
// about 3e-8 relative, so 1e-6 still catches any wrong formula or tail while allowing that.
function closeP(group: string, actual: number | null | undefined, expected: number, what: string): void {
  assert.equal(typeof actual, 'number', `${what}: got ${actual}`);
  const diff = Math.abs((actual as number) - expected);
  maxDiff.set(group, Math.max(maxDiff.get(group) ?? 0, diff));
  assert.ok(diff <= 1e-6 * Math.abs(expected) + 1e-15, `${what}: ${actual} vs SciPy ${expected} (|Δ| ${diff})`);
}

test('descriptive statistics match numpy (mean, std ddof=1, median, percentiles, min, max)', () => {
  for (const [name, expected] of Object.entries<Record<string, number | null>>(fixtures.describe)) {
    const d = describeSample(samples[name] as number[]);
    assert.equal(d.n, expected.n);
    for (const key of ['mean', 'std', 'median', 'q1', 'q3', 'min', 'max'] as const) {
      close('describe', d[key], expected[key], 1e-12, `${name}.${key}`);
    }
  }
});

test('jstat distribution functions match scipy.stats (t cdf, normal sf, F sf)', () => {
  for (const { t, df, cdf } of fixtures.t_cdf) closeP('t_cdf', tCdf(t, df), cdf, `t.cdf(${t}, ${df})`);
  for (const { z, sf } of fixtures.normal_sf) closeP('normal_sf', normalSf(z), sf, `norm.sf(${z})`);
  for (const { f, d1, d2, sf } of fixtures.f_sf) closeP('f_sf', fSf(f, d1, d2), sf, `f.sf(${f}, ${d1}, ${d2})`);
});

test("Welch's t-test matches ttest_ind(equal_var=False), two-sided and one-sided", () => {
  for (const e of fixtures.welch) {
    const r = welchTTest(samples[e.a] as number[], samples[e.b] as number[]);
    assert.ok(r);
    close('welch', r.t, e.t, 1e-10, `${e.a}/${e.b} t`);
    close('welch', r.df, e.df, 1e-10, `${e.a}/${e.b} df`);
    closeP('welch', r.p_two_sided, e.p_two_sided, `${e.a}/${e.b} p two-sided`);
    closeP('welch', r.p_greater, e.p_greater, `${e.a}/${e.b} p greater`);
  }
});

test('Mann–Whitney U matches mannwhitneyu (exact and asymptotic with tie correction)', () => {
  const methods = new Set<string>();
  for (const e of fixtures.mann_whitney) {
    const r = mannWhitneyU(samples[e.a] as number[], samples[e.b] as number[]);
    assert.ok(r);
    methods.add(r.method);
    close('mann_whitney', r.u, e.u, 1e-12, `${e.a}/${e.b} U`);
    closeP('mann_whitney', r.p_two_sided, e.p_two_sided, `${e.a}/${e.b} p`);
  }
  assert.deepEqual([...methods].sort(), ['asymptotic', 'exact'], 'fixtures exercise both methods');
});

test('Wilcoxon signed-rank matches wilcoxon (exact, and tie-corrected normal approximation)', () => {
  for (const e of fixtures.wilcoxon) {
    const r = wilcoxonSignedRank(e.a, e.b);
    assert.ok(r);
    assert.equal(r.method, e.method);
    close('wilcoxon', r.statistic, e.statistic, 1e-12, `${e.method} statistic`);
    closeP('wilcoxon', r.p_two_sided, e.p_two_sided, `${e.method} p`);
  }
});

test('Holm correction matches the step-down reference', () => {
  const adjusted = holm(fixtures.holm.p);
  fixtures.holm.adjusted.forEach((p: number, i: number) => close('holm', adjusted[i], p, 1e-15, `holm[${i}]`));
  assert.deepEqual(holm([0.02, null, 0.01]), [0.02, null, 0.02]);
});

test("Dodge et al.'s expected max matches the numpy reference, and the bootstrap converges to it", () => {
  for (const [name, expected] of Object.entries<Array<{ k: number; mean: number; std: number }>>(fixtures.dodge)) {
    const got = expectedMaxClosedForm(samples[name] as number[]);
    assert.equal(got.length, expected.length);
    expected.forEach((e, i) => {
      close('dodge', got[i]?.mean, e.mean, 1e-12, `${name} k=${e.k} mean`);
      close('dodge', got[i]?.std, e.std, 1e-9, `${name} k=${e.k} std`);
    });
  }
  // With validation = test, best-of-k on validation is the max of k draws: the bootstrap must agree
  // with the closed form within its Monte Carlo error (4 standard errors).
  const values = samples.bertadam as number[];
  const closed = expectedMaxClosedForm(values);
  const boot = expectedMaxBootstrap(values.map((v) => ({ validation: v, test: v })), { repetitions: 4000, seed: 7 });
  closed.forEach((c, i) => {
    const b = boot[i];
    assert.ok(b);
    const se = (c.std ?? 0) / Math.sqrt(4000);
    assert.ok(Math.abs(b.mean - c.mean) <= 4 * se + 1e-12, `k=${c.k}: bootstrap ${b.mean} vs closed form ${c.mean} (se ${se})`);
  });
});

test('two-way ANOVA (init × data) matches the reference sums of squares and scipy.stats.f p-values', () => {
  for (const fixture of fixtures.anova) {
    const obs = fixture.observations.map(([init, data, value]: number[]) => ({ init, data, value }));
    const got = twoWayAnova(obs);
    close('anova', got.total_sum_sq, fixture.total_sum_sq, 1e-12, 'total SS');
    for (const e of fixture.terms) {
      const term = got.terms.find((t) => t.source === e.source);
      assert.ok(term, `term ${e.source}`);
      assert.equal(term.df, e.df);
      close('anova', term.sum_sq, e.sum_sq, 1e-12, `${e.source} SS`);
      close('anova', term.share, e.share, 1e-9, `${e.source} share`);
      if (e.f !== undefined) {
        close('anova', term.f, e.f, 1e-7 * Math.abs(e.f), `${e.source} F`);
        closeP('anova', term.p, e.p, `${e.source} p`);
      }
    }
  }
});

test("the seeded bootstrap interval agrees with SciPy's percentile bootstrap within Monte Carlo error", () => {
  const { a, b, low, high } = fixtures.bootstrap_ci;
  const ci = bootstrapMeanDifference(samples[a] as number[], samples[b] as number[], { repetitions: 20000, seed: 1 });
  assert.ok(ci);
  const width = high - low;
  // Tail quantiles from 20k resamples wobble by about 1–2% of the width; 5% is a real check.
  assert.ok(Math.abs(ci.low - low) < 0.05 * width, `low ${ci.low} vs ${low}`);
  assert.ok(Math.abs(ci.high - high) < 0.05 * width, `high ${ci.high} vs ${high}`);
  maxDiff.set('bootstrap_ci (Monte Carlo)', Math.max(Math.abs(ci.low - low), Math.abs(ci.high - high)));
  const again = bootstrapMeanDifference(samples[a] as number[], samples[b] as number[], { repetitions: 20000, seed: 1 });
  assert.deepEqual(again, ci, 'same seed, same interval');
});

after(() => {
  const lines = [...maxDiff].map(([group, d]) => `  ${group}: max |Δ| = ${d.toExponential(2)}`);
  console.log(`report statistics vs SciPy ${fixtures.scipy_version}:\n${lines.join('\n')}`);
});
