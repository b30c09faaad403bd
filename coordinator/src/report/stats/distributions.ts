// Distribution functions. The continuous ones come from jstat (a well-kept library; its incomplete
// beta agrees with SciPy to ~3e-8 relative, see scipy-reference.test.ts). The exact null distributions
// of the rank statistics are counting problems, not special functions, and no maintained JS library
// ships them, so they are counted here with the textbook recurrences SciPy uses too.
import jstat from 'jstat';

// jstat is CommonJS: its namespace object arrives as the default export.
const { jStat } = jstat;

/** P(T ≤ t) for Student's t with `df` degrees of freedom (df may be fractional, as in Welch). */
export function tCdf(t: number, df: number): number {
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  return jStat.studentt.cdf(t, df);
}

/** P(T > t). Evaluated on the lower tail by symmetry so that small p-values keep their precision. */
export function tSf(t: number, df: number): number {
  return tCdf(-t, df);
}

/** P(Z > z) for the standard normal, via the lower tail for precision. */
export function normalSf(z: number): number {
  if (z === Infinity) return 0;
  if (z === -Infinity) return 1;
  return jStat.normal.cdf(-z, 0, 1);
}

/** P(F > f) for the F distribution with (d1, d2) degrees of freedom. */
export function fSf(f: number, d1: number, d2: number): number {
  if (!(f > 0)) return 1;
  return 1 - jStat.centralF.cdf(f, d1, d2);
}

/**
 * Null distribution of the Mann–Whitney U statistic for samples of sizes m and n without ties,
 * as probabilities over u = 0..m·n. The number of arrangements with U = u is the coefficient of q^u
 * in the Gaussian binomial [m+n choose m]_q = Π_{i=1..m} (1 − q^(n+i)) / (1 − q^i); each partial
 * product is itself a Gaussian binomial, so the intermediate counts stay exact integers.
 */
export function mannWhitneyPmf(m: number, n: number): number[] {
  const small = Math.min(m, n);
  const large = Math.max(m, n);
  const size = small * large + 1;
  const poly = new Array<number>(size).fill(0);
  poly[0] = 1;
  for (let i = 1; i <= small; i++) {
    const shift = large + i;
    for (let u = size - 1; u >= shift; u--) poly[u] = (poly[u] as number) - (poly[u - shift] as number); // × (1 − q^shift)
    for (let u = i; u < size; u++) poly[u] = (poly[u] as number) + (poly[u - i] as number); // ÷ (1 − q^i)
  }
  const total = poly.reduce((a, b) => a + b, 0);
  return poly.map((c) => c / total);
}

/** Null distribution of the Wilcoxon signed-rank statistic R+ for n non-zero, untied differences. */
export function wilcoxonPmf(n: number): number[] {
  const max = (n * (n + 1)) / 2;
  let counts = new Array<number>(max + 1).fill(0);
  counts[0] = 1;
  for (let rank = 1; rank <= n; rank++) {
    const next = counts.slice();
    for (let s = rank; s <= max; s++) next[s] = (next[s] as number) + (counts[s - rank] as number);
    counts = next;
  }
  const total = 2 ** n;
  return counts.map((c) => c / total);
}
