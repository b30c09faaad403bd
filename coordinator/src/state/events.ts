// The journal's records: every state change of the coordinator, one JSON object per line, versioned.
// Progress heartbeats are deliberately absent: they change nothing durable and would be most of the
// file (1,000 trainers × one beat every few seconds); they live in memory only.
import type { TrialConfig, TrialSeeds } from '../../../trainer/src/config/trial-config.ts';
import type { TrialResult } from '../../../trainer/src/train/trial-result.ts';
import type { TrialFailure } from '../core/types.ts';

export const JOURNAL_VERSION = 1;

// An experiment is stored expanded, so that replay never depends on how today's code expands
// specs, but compactly: each configuration's full config once, and per trial only the seed keys it
// sets (a 20 × 5,000 sweep is then about 10 MB, not 70 MB).

/** One configuration (sweep point): its full trial config before seeds are assigned. */
export interface SubmittedConfiguration {
  label: string;
  sweep_values: Record<string, unknown>;
  config: TrialConfig;
}

export type SeedOverrides = Partial<Pick<TrialConfig, 'seed' | 'init_seed' | 'data_seed'>>;

export interface SubmittedTrial {
  id: string;
  /** Index into `configurations`. */
  configuration: number;
  /** The seed keys this trial sets on its configuration's config. */
  seed_overrides: SeedOverrides;
  /** Resolved seeds (what the trial runs with). */
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
  configurations: SubmittedConfiguration[];
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
