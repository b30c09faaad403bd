// Which evaluation's weights a trial keeps, and whether the trial counts as degenerate: the paper's
// rules, as pure functions of the evaluation history so they can be tested without a model.
import type { EvalMetrics, EvalPoint, MetricName } from './trial-result.ts';

/** Steps (1-based update counts) after which validation is evaluated: evenly, and always at the end. */
export function evalSteps(totalSteps: number, numEvals: number): number[] {
  // The paper's code evaluates every `t_total // num_loggings` updates and once more at the end;
  // that is these steps when T is a multiple of num_evals. Otherwise it gives extra evaluations
  // (13 for T = 25), while here it is always num_evals (fewer only if T < num_evals).
  const steps = new Set<number>();
  for (let i = 1; i <= numEvals && totalSteps > 0; i++) steps.add(Math.max(1, Math.round((i * totalSteps) / numEvals)));
  steps.add(totalSteps); // with max_steps 0 this is the initial model, at step 0
  return [...steps].sort((a, b) => a - b);
}

/** A validation score for selection: NaN (a correlation of constant predictions) ranks lowest. */
function score(metrics: EvalMetrics, metric: MetricName): number {
  const v = metrics[metric];
  return v === undefined || Number.isNaN(v) ? -Infinity : v;
}

/** True when `candidate` should replace `best`: strictly better, so the earliest of equals is kept (as the paper's code). */
export function isImprovement(candidate: EvalMetrics, best: EvalMetrics | undefined, metric: MetricName): boolean {
  if (best === undefined) return true;
  return score(candidate, metric) > score(best, metric);
}

/** The selected evaluation of a history (the first best); undefined for an empty history. */
export function selectEval(evals: readonly EvalPoint[], metric: MetricName): EvalPoint | undefined {
  let best: EvalPoint | undefined;
  for (const e of evals) if (isImprovement(e.validation, best?.validation, metric)) best = e;
  return best;
}

/**
 * Why a selected model is degenerate, or undefined if it is not. Classification: no better on
 * validation than always predicting the majority class (in the selection metric). Regression: its
 * correlation is ≤ 0 (or undefined, as for constant predictions).
 */
export function degenerateReason(
  selected: EvalMetrics,
  metric: MetricName,
  problemType: 'classification' | 'regression',
  majorityBaseline: number | undefined,
): string | undefined {
  const value = selected[metric];
  if (value === undefined || Number.isNaN(value)) return `validation ${metric} is undefined (constant predictions)`;
  if (problemType === 'regression') {
    return value <= 0 ? `validation ${metric} ${fmt(value)} ≤ 0` : undefined;
  }
  if (majorityBaseline === undefined) throw new Error('degenerateReason: classification needs the majority baseline');
  // A hair of tolerance: the majority baseline reached by a model that predicts one class is the
  // same count divided the same way, but may come through a different summation order.
  return value <= majorityBaseline + 1e-12
    ? `validation ${metric} ${fmt(value)} is no better than the majority-class baseline ${fmt(majorityBaseline)}`
    : undefined;
}

function fmt(x: number): string {
  return Number(x.toPrecision(4)).toString();
}
