// Summary statistics of one sample. Conventions follow NumPy/SciPy so the report's numbers can be
// checked against them: sample standard deviation (ddof = 1) and linearly interpolated quantiles
// (NumPy's default, Hyndman & Fan type 7).
import { mean, sampleStandardDeviation } from 'simple-statistics';

export interface Distribution {
  n: number;
  mean: number | null;
  /** Sample standard deviation; null with fewer than 2 values. */
  std: number | null;
  median: number | null;
  q1: number | null;
  q3: number | null;
  iqr: number | null;
  min: number | null;
  max: number | null;
}

/** The q-quantile (0 ≤ q ≤ 1) of ascending `sorted`, NumPy's linear interpolation. */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of an empty sample');
  const position = (sorted.length - 1) * q;
  const lo = Math.floor(position);
  const hi = Math.min(lo + 1, sorted.length - 1);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (position - lo);
}

export function describe(values: readonly number[]): Distribution {
  const n = values.length;
  if (n === 0) return { n, mean: null, std: null, median: null, q1: null, q3: null, iqr: null, min: null, max: null };
  const sorted = [...values].sort((a, b) => a - b);
  const q1 = quantileSorted(sorted, 0.25);
  const q3 = quantileSorted(sorted, 0.75);
  return {
    n,
    mean: mean(sorted as number[]),
    std: n >= 2 ? sampleStandardDeviation(sorted as number[]) : null,
    median: quantileSorted(sorted, 0.5),
    q1,
    q3,
    iqr: q3 - q1,
    min: sorted[0] as number,
    max: sorted[n - 1] as number,
  };
}

/** Sample variance (ddof = 1). */
export function sampleVariance(values: readonly number[]): number {
  const m = mean(values as number[]);
  let ss = 0;
  for (const v of values) ss += (v - m) ** 2;
  return ss / (values.length - 1);
}

/** Ranks from 1, ties get the average of their ranks (SciPy's `rankdata(method='average')`). */
export function averageRanks(values: readonly number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(values.length);
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && (order[end + 1] as readonly [number, number])[0] === (order[start] as readonly [number, number])[0]) end++;
    const rank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) ranks[(order[k] as readonly [number, number])[1]] = rank;
    start = end + 1;
  }
  return ranks;
}

/** Sizes of the groups of tied values (only groups of 2 or more). */
export function tieGroups(values: readonly number[]): number[] {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.values()].filter((c) => c > 1);
}
