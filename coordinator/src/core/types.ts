// The shapes the coordinator core hands to its adapters (gRPC, NATS, metrics, `ballast run`).
// Trial records and results are the user-facing contract in ../results/experiment-results.ts.
import type { TrialConfig, TrialSeeds } from '../../../trainer/src/config/trial-config.ts';
import type { TrialProgress } from '../../../trainer/src/train/trial-result.ts';
import type { TrialRecord, TrialState } from '../results/experiment-results.ts';

export type ExperimentState = 'running' | 'succeeded' | 'cancelled';

export type TrialCounts = Record<TrialState, number> & { degenerate: number };

export interface ExperimentInfo {
  id: string;
  name: string;
  description?: string;
  state: ExperimentState;
  /** ISO 8601. */
  created_at: string;
  /** When the last trial became terminal, or when the experiment was cancelled. */
  finished_at?: string;
  cancel_reason?: string;
  /** Where the spec came from (a file name), if the submitter said. */
  source?: string;
  max_attempts: number;
  /** Cap on running trials of this experiment; absent means no cap. */
  parallelism?: number;
  /** Number of configurations (sweep points) and of trials. */
  configurations: number;
  trials: number;
  counts: TrialCounts;
}

/** A trial leased to one worker. The worker heartbeats with `leaseId` and completes or fails it. */
export interface Lease {
  leaseId: string;
  experimentId: string;
  trialId: string;
  /** 1 for the first lease of the trial, then +1 per lease. */
  attempt: number;
  workerId: string;
  config: TrialConfig;
  seeds: TrialSeeds;
  /** Epoch milliseconds (the core's clock); a heartbeat before then extends it. */
  deadline: number;
  /** The experiment's name, for the trainer's progress subjects. */
  experimentName?: string;
  /**
   * What `config` is made of: the configuration's config (one object shared by all its trials,
   * never mutated) and this trial's seed keys; lets a transport convert the shared part once.
   */
  configParts?: { shared: TrialConfig; seedOverrides: Readonly<Partial<Pick<TrialConfig, 'seed' | 'init_seed' | 'data_seed'>>> };
}

export interface HeartbeatReply {
  /** False when the lease is unknown or expired: the worker must stop and drop the trial. */
  ok: boolean;
  /** True when the worker should stop the trial (experiment cancelled, or lease lost). */
  cancel: boolean;
  /** The new deadline (epoch ms), when ok. */
  deadline?: number;
}

export interface CompleteReply {
  /** True when this call's result was recorded; false for a duplicate or a stale lease. */
  accepted: boolean;
  /** Why it was not accepted. */
  reason?: string;
}

export interface TrialFailure {
  message: string;
  /** A short machine tag, e.g. `out_of_memory`, `data_error`, `worker_shutdown`. */
  kind: string;
  /** True when another attempt (on another worker) can help. */
  retryable: boolean;
}

export interface TrialFilter {
  state?: TrialState | readonly TrialState[];
  configuration?: string;
}

/**
 * What subscribers receive: every committed state change, and live progress (not journaled).
 * A submission gives one `experiment` event and then one `trial` event per trial (previous_state
 * null); a trial change that ends an experiment is followed by its `experiment` event.
 */
export type CoreEvent =
  | { type: 'experiment'; experiment: ExperimentInfo }
  | { type: 'trial'; trial: TrialRecord; previous_state: TrialState | null }
  | {
      type: 'progress';
      experiment_id: string;
      trial_id: string;
      attempt: number;
      worker_id: string;
      progress: TrialProgress;
      /** Epoch ms. */
      at: number;
    };

export type CoreListener = (event: CoreEvent) => void;
