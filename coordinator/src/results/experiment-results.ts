// The results of an experiment as users and the report see them: `ballast status --json`,
// `ballast results --json`, `DIR/results.json` of `ballast run`, and the input of `ballast report`.
import type { TrialConfig, TrialSeeds } from '../../../trainer/src/config/trial-config.ts';
import type { TrialProgress, TrialResult } from '../../../trainer/src/train/trial-result.ts';

export type TrialState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface TrialRecord {
  /** Stable within the experiment, e.g. `c1-s3`: configuration 1, seed label 3. */
  id: string;
  experiment_id: string;
  /** The configuration (sweep point) this trial belongs to. */
  configuration: string;
  /** The sweep values that define the configuration, e.g. `{optimizer: 'bertadam'}`. */
  sweep_values: Record<string, unknown>;
  state: TrialState;
  attempts: number;
  config: TrialConfig;
  seeds: TrialSeeds;
  /** Shortcut to `result.selected.test` (or validation when no test split): the numbers people look at. */
  metrics?: Record<string, number>;
  degenerate?: boolean;
  degenerate_reason?: string;
  /** The reason of every failed attempt, oldest first. */
  errors: string[];
  /** Present once the trial succeeded. */
  result?: TrialResult;
  /** While running: the worker holding the lease and its latest progress (kept in memory only). */
  worker_id?: string;
  progress?: TrialProgress;
  /** ISO 8601: when the current (or last) attempt started, and when the trial became terminal. */
  started_at?: string;
  finished_at?: string;
}

export interface ConfigurationSummary {
  configuration: string;
  sweep_values: Record<string, unknown>;
  /** The test metric summarised (the task's paper metric). */
  metric: string;
  /** Which split `metric` was read from: `test`, or `validation` when the task has no test split. */
  split?: 'test' | 'validation';
  n: number;
  mean: number | null;
  std: number | null;
  median: number | null;
  min: number | null;
  max: number | null;
  degenerate: number;
  failed: number;
}

export interface ExperimentResults {
  experiment: { id: string; name: string; state: string; created_at: string };
  trials: TrialRecord[];
  summary: ConfigurationSummary[];
}
