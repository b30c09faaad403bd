// Variance by factor (Dodge et al. 2020, "Fine-Tuning Pretrained Language Models: Weight
// Initializations, Data Orders, and Early Stopping"): when trials cross every init seed with every
// data seed, a two-way ANOVA splits the spread of scores into init, data and the rest.
import { fSf } from './distributions.ts';

export interface AnovaTerm {
  source: 'init' | 'data' | 'interaction' | 'residual';
  sum_sq: number;
  df: number;
  mean_sq: number | null;
  /** sum_sq / total sum of squares. */
  share: number | null;
  f: number | null;
  p: number | null;
}

export interface TwoWayAnova {
  levels: { init: number; data: number; replicates: number };
  /** With one trial per cell, the interaction cannot be separated from noise: it is the residual. */
  residual_includes_interaction: boolean;
  terms: AnovaTerm[];
  total_sum_sq: number;
}

export interface FactorialObservation {
  init: number;
  data: number;
  value: number;
}

/** Why a set of observations is not a balanced init × data factorial, or null when it is. */
export function factorialProblem(observations: readonly FactorialObservation[]): string | null {
  const inits = new Set(observations.map((o) => o.init));
  const datas = new Set(observations.map((o) => o.data));
  if (inits.size < 2 || datas.size < 2) return `needs ≥ 2 init seeds and ≥ 2 data seeds (have ${inits.size} × ${datas.size})`;
  const cells = new Map<string, number>();
  for (const o of observations) cells.set(`${o.init}/${o.data}`, (cells.get(`${o.init}/${o.data}`) ?? 0) + 1);
  if (cells.size !== inits.size * datas.size) return `not every init seed is paired with every data seed (${cells.size} of ${inits.size * datas.size} combinations)`;
  const counts = new Set(cells.values());
  if (counts.size !== 1) return 'unbalanced: combinations have different numbers of trials';
  return null;
}

export function twoWayAnova(observations: readonly FactorialObservation[]): TwoWayAnova {
  const problem = factorialProblem(observations);
  if (problem) throw new RangeError(problem);
  const inits = [...new Set(observations.map((o) => o.init))];
  const datas = [...new Set(observations.map((o) => o.data))];
  const a = inits.length;
  const b = datas.length;
  const n = observations.length;
  const r = n / (a * b);
  const grand = observations.reduce((s, o) => s + o.value, 0) / n;
  const groupMean = (key: (o: FactorialObservation) => string) => {
    const sums = new Map<string, [number, number]>();
    for (const o of observations) {
      const entry = sums.get(key(o)) ?? [0, 0];
      entry[0] += o.value;
      entry[1] += 1;
      sums.set(key(o), entry);
    }
    return new Map([...sums].map(([k, [s, c]]) => [k, s / c]));
  };
  const initMeans = groupMean((o) => String(o.init));
  const dataMeans = groupMean((o) => String(o.data));
  const cellMeans = groupMean((o) => `${o.init}/${o.data}`);
  let ssInit = 0;
  for (const m of initMeans.values()) ssInit += b * r * (m - grand) ** 2;
  let ssData = 0;
  for (const m of dataMeans.values()) ssData += a * r * (m - grand) ** 2;
  let ssTotal = 0;
  for (const o of observations) ssTotal += (o.value - grand) ** 2;
  let ssCells = 0;
  for (const m of cellMeans.values()) ssCells += r * (m - grand) ** 2;
  const ssInteraction = ssCells - ssInit - ssData;
  const ssWithin = ssTotal - ssCells;

  const replicated = r > 1;
  const residual = replicated
    ? { ss: Math.max(0, ssWithin), df: a * b * (r - 1) }
    : { ss: Math.max(0, ssInteraction), df: (a - 1) * (b - 1) };
  const msResidual = residual.df > 0 ? residual.ss / residual.df : null;
  const term = (source: AnovaTerm['source'], ss: number, df: number, tested: boolean): AnovaTerm => {
    const ms = df > 0 ? ss / df : null;
    const f = tested && ms !== null && msResidual !== null && msResidual > 0 ? ms / msResidual : null;
    return { source, sum_sq: ss, df, mean_sq: ms, share: ssTotal > 0 ? ss / ssTotal : null, f, p: f === null ? null : fSf(f, df, residual.df) };
  };
  const terms = [term('init', ssInit, a - 1, true), term('data', ssData, b - 1, true)];
  if (replicated) terms.push(term('interaction', Math.max(0, ssInteraction), (a - 1) * (b - 1), true));
  terms.push(term('residual', residual.ss, residual.df, false));
  return { levels: { init: a, data: b, replicates: r }, residual_includes_interaction: !replicated, terms, total_sum_sq: ssTotal };
}
