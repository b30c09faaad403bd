// The shape of `report.json`: every number the HTML and Markdown show, and more. `null` marks a
// statistic that does not apply (one trial has no std, a task without a test set has no test
// scores); the writers print those as "—" with a footnote. No NaN or Infinity ever appears.
import type { ExperimentResults } from '../results/experiment-results.ts';
import type { AnovaTerm, TwoWayAnova } from './stats/anova.ts';
import type { Distribution } from './stats/descriptive.ts';

export const REPORT_FORMAT_VERSION = 1;

export type Split = 'test' | 'validation';

export interface TrialCounts {
  total: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  /** Queued or running when the results were taken: the report covers a sweep in progress. */
  pending: number;
}

export interface CurvePoint {
  step: number;
  mean: number;
  min: number;
  max: number;
  /** Trials contributing to this point. */
  n: number;
}

export interface TrialScore {
  trial_id: string;
  state: string;
  seed: number;
  init_seed: number;
  data_seed: number;
  /** The task metric of the selected model; null when the trial has no finite score. */
  validation: number | null;
  test: number | null;
  degenerate: boolean;
  degenerate_reason: string | null;
  diverged_step: number | null;
  seconds: number | null;
  /** The last error of a failed trial. */
  error: string | null;
}

export interface ExpectedMaxRow {
  k: number;
  /** The paper's bootstrap: best of k on validation, its score on `scored_on`. */
  bootstrap_mean: number;
  bootstrap_std: number | null;
  /** Dodge et al. 2019 closed form on validation scores. */
  dodge_validation_mean: number;
  dodge_validation_std: number | null;
}

export interface ConfigurationReport {
  configuration: string;
  /** The configuration as a Table 1 column: its sweep values without the task. */
  column: string;
  sweep_values: Record<string, unknown>;
  trials: TrialCounts;
  /** Succeeded trials with a finite validation score: the sample every statistic uses. */
  scored: number;
  degenerate: { count: number; rate: number | null; reasons: Array<{ reason: string; count: number }> };
  diverged: number;
  mean_trial_seconds: number | null;
  validation: Distribution;
  /** Null when the configuration has no test set. */
  test: Distribution | null;
  majority_baseline: number | null;
  expected_max: { scored_on: Split; repetitions: number; rows: ExpectedMaxRow[] };
  variance_by_factor: { split: Split; anova: TwoWayAnova | null; reason: string | null };
  training_loss: { points: CurvePoint[]; trials_with_metrics: number; trials_expected: number; note: string | null };
  validation_curve: CurvePoint[];
  trial_scores: TrialScore[];
}

export interface PValue {
  p: number;
  /** Holm-adjusted across the task's pairs of configurations. */
  p_holm: number;
}

export interface Comparison {
  /** The configuration with the higher mean on `split`. */
  a: string;
  b: string;
  split: Split;
  n_a: number;
  n_b: number;
  mean_a: number;
  mean_b: number;
  /** mean(a) − mean(b) with a 95% percentile-bootstrap interval. */
  mean_difference: number;
  ci95: { low: number; high: number } | null;
  welch: { t: number; df: number; two_sided: PValue; one_sided: PValue } | null;
  mann_whitney: { u: number; method: string; two_sided: PValue } | null;
  /** Paired test over trials that share their seeds; null when fewer than 2 pairs share them. */
  wilcoxon: { pairs: number; statistic: number; method: string; two_sided: PValue } | null;
  notes: string[];
}

export interface TaskReport {
  task: string;
  problem_type: 'classification' | 'regression' | null;
  /** The paper's metric for the task (accuracy, f1, mcc, spearman). */
  metric: string | null;
  configurations: ConfigurationReport[];
  comparisons: Comparison[];
  notes: string[];
}

export interface Table1Cell {
  configuration: string;
  split: Split;
  n: number;
  mean: number | null;
  std: number | null;
  /** One-tailed Welch p of "this column beats the baseline column"; null for the baseline itself. */
  p_vs_baseline: number | null;
  mark: string;
}

export interface Table1 {
  columns: string[];
  baseline: string | null;
  rows: Array<{ task: string; metric: string | null; cells: Array<Table1Cell | null> }>;
}

export interface StabilityReport {
  format_version: typeof REPORT_FORMAT_VERSION;
  generated_at: string;
  experiment: ExperimentResults['experiment'];
  settings: {
    seed: number;
    bootstrap_repetitions: number;
    ci_repetitions: number;
    ci_level: number;
    /** Significance marks: one-tailed Welch p below these levels. */
    mark_levels: Array<{ mark: string; p: number }>;
  };
  trials: TrialCounts;
  tasks: TaskReport[];
  table1: Table1;
  notes: string[];
}

export type { AnovaTerm, Distribution, TwoWayAnova };
