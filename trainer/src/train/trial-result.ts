// What one trial produces. `result.json` is exactly a `TrialResult`; the gRPC CompleteTrial message
// mirrors it field for field, and the stability report reads it back.
import type { ResolvedTrialConfig, TrialConfig, TrialSeeds } from '../config/trial-config.ts';

/** Metrics of one evaluation. Absent keys do not apply to the task (no F1 for STS-B). */
export interface EvalMetrics {
  loss: number;
  accuracy?: number;
  f1?: number;
  mcc?: number;
  pearson?: number;
  spearman?: number;
}

export type MetricName = Exclude<keyof EvalMetrics, 'loss'>;

export interface EvalPoint {
  step: number;
  validation: EvalMetrics;
}

export interface SelectedModel {
  step: number;
  validation: EvalMetrics;
  /** Absent when the task has no test split. */
  test?: EvalMetrics;
}

export interface BackendInfo {
  /** tfjs backend name: `tensorflow` (tfjs-node / tfjs-node-gpu), `wasm`, `cpu`. */
  name: string;
  /** The npm package that provided it, e.g. `@tensorflow/tfjs-node-gpu`. */
  package: string;
  /** `gpu` or `cpu`. */
  device: 'gpu' | 'cpu';
  /** wasm: the thread-pool size; tfjs-node: intra-op threads if known. */
  threads: number;
  /** How it was chosen: `auto` or `BALLAST_BACKEND` / `--backend`. */
  chosen_by: 'auto' | 'override';
}

export interface TrialResult {
  /** The config as given (defaults applied), verbatim. */
  config: TrialConfig;
  seeds: TrialSeeds;
  backend: BackendInfo;
  task: {
    name: string;
    problem_type: 'classification' | 'regression';
    /** The metric the paper reports for this task (accuracy, f1, mcc or spearman). */
    metric: MetricName;
    /** The metric used to select the model on validation (accuracy, else mcc, else spearman). */
    selection_metric: MetricName;
    num_labels: number;
    num_train: number;
    num_validation: number;
    num_test: number;
    /** Validation score of always predicting the majority class (classification only). */
    majority_baseline?: number;
  };
  total_steps: number;
  steps_completed: number;
  evals: EvalPoint[];
  selected: SelectedModel;
  last: SelectedModel;
  degenerate: boolean;
  degenerate_reason?: string;
  /** Set when a NaN or infinite loss stopped the trial; such a trial is also degenerate. */
  diverged?: { step: number; loss: number };
  timings: {
    total_seconds: number;
    train_seconds: number;
    eval_seconds: number;
    examples_per_second: number;
  };
  /** Where the selected model was written (Hugging Face layout), if it was. */
  checkpoint_dir?: string;
  /** Where per-step metrics were written (`metrics.jsonl`), if they were. */
  metrics_path?: string;
}

/** Progress the training loop reports through `TrialContext.heartbeat`. */
export type TrialProgress =
  | { kind: 'step'; step: number; total_steps: number; loss: number; lr: number; examples_per_second: number }
  | { kind: 'eval'; step: number; total_steps: number; validation: EvalMetrics };

/** The outcome of running a trial: exactly one per lease (a proto `oneof` on the wire). */
export type TrialOutcome =
  | { status: 'completed'; result: TrialResult }
  | { status: 'failed'; error: { message: string; kind: string; retryable: boolean } }
  | { status: 'cancelled'; reason: string };

export type { ResolvedTrialConfig };
