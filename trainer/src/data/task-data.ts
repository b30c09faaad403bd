// What the data layer hands to the training loop: examples in three splits plus what the task is
// (labels, problem type, metrics). Examples keep the line they came from, for error messages and
// for anyone auditing a split.
import type { MetricName } from '../train/trial-result.ts';

export type ProblemType = 'classification' | 'regression';

export interface Example {
  textA: string;
  /** The second sentence of a pair task (RTE, MRPC, STS-B, …). */
  textB?: string;
  /** Class id (index into `TaskSpec.labels`) or, for regression, the score. */
  label: number;
  /** 1-based line of the source file (0 for generated examples). */
  line: number;
}

export interface TaskSpec {
  /** Preset name (`rte`, …, `synthetic`) or `custom`. */
  name: string;
  problemType: ProblemType;
  /** Label values in id order (classification); undefined for regression. */
  labels: readonly string[] | undefined;
  /** Outputs of the head: the number of labels, or 1 for regression. */
  numLabels: number;
  /** Every metric evaluated for this task (as Hugging Face's GLUE metrics compute them). */
  metrics: readonly MetricName[];
  /** The metric the paper reports for this task. */
  metric: MetricName;
  /** The validation metric that selects the model: accuracy, else MCC, else Spearman (the paper's precedence). */
  selectionMetric: MetricName;
}

export interface Split {
  examples: Example[];
  /** Where the examples came from (a file, `<file> (dev half)`, `generated`, …), for reports. */
  source: string;
}

export interface TaskData {
  spec: TaskSpec;
  train: Split;
  validation: Split;
  /** Absent when the task has no labelled test data (GLUE presets with `split: standard`). */
  test: Split | undefined;
}

/** The paper's precedence for model selection: accuracy, else MCC, else Spearman. */
export function selectionMetricOf(metrics: readonly MetricName[]): MetricName {
  for (const m of ['accuracy', 'mcc', 'spearman'] as const) if (metrics.includes(m)) return m;
  const first = metrics[0];
  if (first === undefined) throw new Error('a task needs at least one metric');
  return first;
}
