// The journal's records: every state change of the coordinator, one JSON object per line, versioned.
// Progress heartbeats are deliberately absent: they change nothing durable and would be most of the
// file (1,000 trainers × one beat every few seconds); they live in memory only.
import type { TrialConfig, TrialSeeds } from '../../../trainer/src/config/trial-config.ts';
import type { TrialResult } from '../../../trainer/src/train/trial-result.ts';
import type { TrialFailure } from '../core/types.ts';

export const JOURNAL_VERSION = 1;

/** A trial as submitted; stored whole so replay never depends on how today's code expands specs. */
export interface SubmittedTrial {
  id: string;
  configuration: string;
  sweep_values: Record<string, unknown>;
  config: TrialConfig;
  seeds: TrialSeeds;
}

interface Base {
  v: typeof JOURNAL_VERSION;
  /** ISO 8601, from the core's clock. */
  at: string;
  experiment_id: string;
}

export interface ExperimentSubmitted extends Base {
  type: 'experiment_submitted';
  name: string;
  description?: string;
  source?: string;
  /** The spec as the user wrote it (for display and resubmission). */
  spec: unknown;
  max_attempts: number;
  parallelism?: number;
  /** Configuration labels in order. */
  configurations: string[];
  /** In queue order. */
  trials: SubmittedTrial[];
}

export interface TrialLeased extends Base {
  type: 'trial_leased';
  trial_id: string;
  lease_id: string;
  worker_id: string;
  attempt: number;
}

export interface TrialCompleted extends Base {
  type: 'trial_completed';
  trial_id: string;
  lease_id: string;
  result: TrialResult;
}

export interface TrialFailed extends Base {
  type: 'trial_failed';
  trial_id: string;
  lease_id: string;
  error: TrialFailure;
}

/** The lease's deadline passed without a heartbeat: counts as a retryable failed attempt. */
export interface LeaseExpired extends Base {
  type: 'lease_expired';
  trial_id: string;
  lease_id: string;
  /** Why, for the trial's error list (e.g. `no heartbeat for 30000 ms (worker w1)`). */
  reason: string;
}

/** The worker handed the trial back (SIGTERM, cancel): not a failure, no attempt is used up. */
export interface TrialReleased extends Base {
  type: 'trial_released';
  trial_id: string;
  lease_id: string;
  reason: string;
}

export interface ExperimentCancelled extends Base {
  type: 'experiment_cancelled';
  reason: string;
}

export type JournalEvent =
  | ExperimentSubmitted
  | TrialLeased
  | TrialCompleted
  | TrialFailed
  | LeaseExpired
  | TrialReleased
  | ExperimentCancelled;

export type JournalEventType = JournalEvent['type'];
