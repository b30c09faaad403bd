// The paper's metrics, computed in float64 as scikit-learn and SciPy compute them, with one
// deliberate difference: where those return NaN (a correlation of constant predictions, which a
// degenerate run produces all the time), we return 0 and say why in `undefinedReason`. A NaN must
// never reach a results table or a mean over seeds; 0 is also what such a model is worth, and
// what sklearn itself returns for the same case of MCC and F1.
//
// - accuracy: fraction of exact matches.
// - f1: binary F1 of class 1 (sklearn `f1_score`, average='binary'); 0 when there are no
//   positives at all, neither predicted nor true (sklearn's zero_division=0 result).
// - mcc: Matthews correlation, multiclass form (sklearn `matthews_corrcoef`); 0 when either the
//   predictions or the labels are a single class (sklearn returns 0.0 there too).
// - pearson: SciPy `pearsonr`; 0 (flagged) when either side is constant or fewer than 2 points.
// - spearman: SciPy `spearmanr`: Pearson of the ranks, ties getting their average rank.
import type { MetricName } from '../train/trial-result.ts';

export interface MetricValue {
  value: number;
  /** Set when the metric is mathematically undefined for these inputs and `value` is our convention. */
  undefinedReason?: string;
}

function checkLengths(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new RangeError(`predictions (${a.length}) and labels (${b.length}) differ in length`);
}

const EMPTY = 'no examples';

export function accuracy(predictions: ArrayLike<number>, labels: ArrayLike<number>): MetricValue {
  checkLengths(predictions, labels);
  if (labels.length === 0) return { value: 0, undefinedReason: EMPTY };
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (predictions[i] === labels[i]) correct++;
  return { value: correct / labels.length };
}

/** Binary F1 with class 1 positive. */
export function f1(predictions: ArrayLike<number>, labels: ArrayLike<number>): MetricValue {
  checkLengths(predictions, labels);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = predictions[i] === 1;
    const t = labels[i] === 1;
    if (p && t) tp++;
    else if (p) fp++;
    else if (t) fn++;
  }
  const denominator = 2 * tp + fp + fn;
  if (denominator === 0) return { value: 0, undefinedReason: 'no positive predictions or labels' };
  return { value: (2 * tp) / denominator };
}

/** Matthews correlation coefficient over any number of classes. */
export function mcc(predictions: ArrayLike<number>, labels: ArrayLike<number>): MetricValue {
  checkLengths(predictions, labels);
  const n = labels.length;
  if (n === 0) return { value: 0, undefinedReason: EMPTY };
  const truePerClass = new Map<number, number>();
  const predPerClass = new Map<number, number>();
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const t = labels[i] as number;
    const p = predictions[i] as number;
    truePerClass.set(t, (truePerClass.get(t) ?? 0) + 1);
    predPerClass.set(p, (predPerClass.get(p) ?? 0) + 1);
    if (t === p) correct++;
  }
  let tp = 0; // Σ_k t_k·p_k
  for (const [k, t] of truePerClass) tp += t * (predPerClass.get(k) ?? 0);
  let tt = 0;
  for (const t of truePerClass.values()) tt += t * t;
  let pp = 0;
  for (const p of predPerClass.values()) pp += p * p;
  const covYtYp = correct * n - tp;
  const covYpYp = n * n - pp;
  const covYtYt = n * n - tt;
  if (covYpYp === 0 || covYtYt === 0) {
    return { value: 0, undefinedReason: covYpYp === 0 ? 'predictions are a single class' : 'labels are a single class' };
  }
  return { value: clampUnit(covYtYp / Math.sqrt(covYtYt * covYpYp)) };
}

export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): MetricValue {
  checkLengths(x, y);
  const n = x.length;
  if (n < 2) return { value: 0, undefinedReason: n === 0 ? EMPTY : 'fewer than two points' };
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i] as number;
    my += y[i] as number;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (x[i] as number) - mx;
    const dy = (y[i] as number) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (!Number.isFinite(sxy + sxx + syy)) return { value: 0, undefinedReason: 'non-finite values' };
  if (sxx === 0 || syy === 0) return { value: 0, undefinedReason: sxx === 0 ? 'predictions are constant' : 'labels are constant' };
  return { value: clampUnit(sxy / Math.sqrt(sxx * syy)) };
}

export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): MetricValue {
  checkLengths(x, y);
  return pearson(averageRanks(x), averageRanks(y));
}

/** 1-based ranks, tied values sharing the mean of their ranks (SciPy `rankdata(method='average')`). */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (values[a] as number) - (values[b] as number));
  const ranks = new Float64Array(n);
  let start = 0;
  while (start < n) {
    let end = start + 1;
    while (end < n && values[order[end] as number] === values[order[start] as number]) end++;
    const rank = (start + 1 + end) / 2; // mean of ranks start+1 … end
    for (let k = start; k < end; k++) ranks[order[k] as number] = rank;
    start = end;
  }
  return ranks;
}

/** Index of the largest logit per row (the first on ties, as torch/numpy argmax). */
export function argmax(logits: ArrayLike<number>, numLabels: number): Int32Array {
  const rows = Math.floor(logits.length / numLabels);
  if (rows * numLabels !== logits.length) throw new RangeError(`${logits.length} logits is not a multiple of ${numLabels} labels`);
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    let bestValue = logits[r * numLabels] as number;
    for (let k = 1; k < numLabels; k++) {
      const v = logits[r * numLabels + k] as number;
      if (v > bestValue) {
        best = k;
        bestValue = v;
      }
    }
    out[r] = best;
  }
  return out;
}

export type MetricValues = Partial<Record<MetricName, number>>;

export interface MetricReport {
  values: MetricValues;
  /** Metrics whose value is a convention (see the file comment), with the reason. */
  undefinedMetrics: Partial<Record<MetricName, string>>;
}

const METRICS: Record<MetricName, (p: ArrayLike<number>, l: ArrayLike<number>) => MetricValue> = {
  accuracy,
  f1,
  mcc,
  pearson,
  spearman,
};

/**
 * The named metrics of predictions against labels: class ids for classification, scores for
 * regression (the task spec says which metrics apply).
 */
export function computeMetrics(names: readonly MetricName[], predictions: ArrayLike<number>, labels: ArrayLike<number>): MetricReport {
  const report: MetricReport = { values: {}, undefinedMetrics: {} };
  for (const name of names) {
    const result = METRICS[name](predictions, labels);
    report.values[name] = result.value;
    if (result.undefinedReason !== undefined) report.undefinedMetrics[name] = result.undefinedReason;
  }
  return report;
}

/** The most frequent class id (the smallest on ties). */
export function majorityClass(labels: ArrayLike<number>): number {
  if (labels.length === 0) throw new RangeError('no labels to take a majority of');
  const counts = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) counts.set(labels[i] as number, (counts.get(labels[i] as number) ?? 0) + 1);
  let best = Number.POSITIVE_INFINITY;
  let bestCount = -1;
  for (const [label, count] of counts) {
    if (count > bestCount || (count === bestCount && label < best)) {
      best = label;
      bestCount = count;
    }
  }
  return best;
}

/**
 * The score, under `metric`, of always predicting the training set's majority class on the
 * evaluation labels: the bar a classifier must clear not to be degenerate (for accuracy it is
 * that class's share of the evaluation set; for MCC it is always 0).
 */
export function majorityBaseline(metric: MetricName, trainLabels: ArrayLike<number>, evalLabels: ArrayLike<number>): MetricValue {
  const majority = majorityClass(trainLabels);
  return METRICS[metric](new Int32Array(evalLabels.length).fill(majority), evalLabels);
}

function clampUnit(v: number): number {
  return Math.max(-1, Math.min(1, v));
}

export interface TaskMetricSpec {
  problemType: 'classification' | 'regression';
  numLabels: number;
  metrics: readonly MetricName[];
}

/**
 * A task's metrics from the model's raw outputs: logits [n, numLabels] (row-major) for
 * classification, scores [n] for regression.
 */
export function taskMetrics(task: TaskMetricSpec, outputs: ArrayLike<number>, labels: ArrayLike<number>): MetricReport {
  const predictions = task.problemType === 'classification' ? argmax(outputs, task.numLabels) : outputs;
  return computeMetrics(task.metrics, predictions, labels);
}
