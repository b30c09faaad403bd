// The coordinator's state and the one function that changes it: `applyEvent(state, event)`. Start-up
// folds it over the journal; at run time the core applies an event, appends it, and acknowledges the
// caller after the fsync. The state is mutated in place rather than copied: a copy-on-write state
// would cost O(trials) per lease operation, and lease throughput is the point. `applyEvent` is
// still all-or-nothing: it checks every precondition before touching anything, so an invalid event
// throws and leaves the state as it was.
import type { TrialConfig, TrialSeeds } from '../../../trainer/src/config/trial-config.ts';
import type { TrialResult } from '../../../trainer/src/train/trial-result.ts';
import type { TrialRecord, TrialState } from '../results/experiment-results.ts';
import type { ExperimentInfo, ExperimentState, TrialCounts } from '../core/types.ts';
import type { JournalEvent, SeedOverrides, SubmittedConfiguration } from './events.ts';
import { TrialQueue } from './trial-queue.ts';

export interface TrialEntry {
  id: string;
  /** Index into the experiment's configurations; the trial's config is that plus `seed_overrides`. */
  configuration: number;
  seed_overrides: SeedOverrides;
  seeds: TrialSeeds;
  state: TrialState;
  /** Which queue entry is this trial's live one (see TrialQueue). */
  queue_seq: number;
  /** Leases granted so far; the current lease's attempt number. */
  attempts: number;
  /** One line per failed attempt, oldest first. */
  errors: string[];
  result?: TrialResult;
  /** The current lease while running (and the last one after). */
  lease_id?: string;
  worker_id?: string;
  started_at?: string;
  finished_at?: string;
}

export interface ExperimentEntry {
  id: string;
  name: string;
  description?: string;
  source?: string;
  spec: unknown;
  created_at: string;
  finished_at?: string;
  state: ExperimentState;
  cancel_reason?: string;
  max_attempts: number;
  parallelism?: number;
  configurations: SubmittedConfiguration[];
  /** In queue order (seed-major). */
  trials: Map<string, TrialEntry>;
  /** Queued trial ids, oldest first. */
  queue: TrialQueue;
  counts: TrialCounts;
}

export interface LeaseRef {
  experiment_id: string;
  trial_id: string;
  attempt: number;
  worker_id: string;
}

export interface CoordinatorState {
  /** In submission order. */
  experiments: Map<string, ExperimentEntry>;
  /** Running experiments in submission order: where `acquire` looks, FIFO. */
  running: Set<string>;
  /** Every lease ever granted, so that a stale one is recognised as such (not as unknown). */
  leases: Map<string, LeaseRef>;
}

/** What an event changed, with trial records snapshotted at apply time (for subscribers). */
export type Effect =
  | { type: 'trial'; experiment_id: string; trial: TrialRecord; previous_state: TrialState | null; ended_lease?: string }
  | { type: 'experiment'; experiment: ExperimentInfo }
  | { type: 'lease'; lease_id: string; ref: LeaseRef };

/** The event does not fit the state (a bug in the caller, or a corrupt journal). */
export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';
}

/** The oldest queued trial of an experiment (FIFO; retries go to the back). */
export function nextQueuedTrial(experiment: ExperimentEntry): TrialEntry | undefined {
  const id = experiment.queue.peek((id, seq) => {
    const trial = experiment.trials.get(id);
    return trial !== undefined && trial.state === 'queued' && trial.queue_seq === seq;
  });
  return id === undefined ? undefined : experiment.trials.get(id);
}

export function emptyState(): CoordinatorState {
  return { experiments: new Map(), running: new Set(), leases: new Map() };
}

function emptyCounts(): TrialCounts {
  return { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0, degenerate: 0 };
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvalidEventError(message);
}

function experimentOf(state: CoordinatorState, id: string): ExperimentEntry {
  const experiment = state.experiments.get(id);
  check(experiment, `unknown experiment ${id}`);
  return experiment;
}

function trialOf(experiment: ExperimentEntry, id: string): TrialEntry {
  const trial = experiment.trials.get(id);
  check(trial, `unknown trial ${experiment.id}/${id}`);
  return trial;
}

/** The trial under its current lease; throws if `leaseId` is not it. */
function leasedTrial(state: CoordinatorState, event: { experiment_id: string; trial_id: string; lease_id: string }): [ExperimentEntry, TrialEntry] {
  const experiment = experimentOf(state, event.experiment_id);
  const trial = trialOf(experiment, event.trial_id);
  check(trial.state === 'running' && trial.lease_id === event.lease_id, `lease ${event.lease_id} is not the current lease of ${experiment.id}/${trial.id}`);
  return [experiment, trial];
}

/**
 * Applies one event to the state (in place) and says what changed (unless `collect` is false).
 * Throws InvalidEventError, with the state untouched, when the event does not fit.
 */
export function applyEvent(state: CoordinatorState, event: JournalEvent, collect = true): Effect[] {
  check(event.v === 1, `unsupported event version ${String((event as { v?: unknown }).v)}`);
  // Replay skips the effects: nobody listens yet, and snapshotting records was half its time.
  const effects: Effect[] | undefined = collect ? [] : undefined;
  switch (event.type) {
    case 'experiment_submitted': {
      check(!state.experiments.has(event.experiment_id), `experiment ${event.experiment_id} exists`);
      check(Array.isArray(event.trials) && event.trials.length > 0, 'an experiment needs trials');
      const ids = new Set(event.trials.map((t) => t.id));
      check(ids.size === event.trials.length, 'duplicate trial ids');
      for (const t of event.trials) check(event.configurations[t.configuration], `trial ${t.id}: no configuration ${t.configuration}`);
      const experiment: ExperimentEntry = {
        id: event.experiment_id,
        name: event.name,
        ...(event.description !== undefined ? { description: event.description } : {}),
        ...(event.source !== undefined ? { source: event.source } : {}),
        spec: event.spec,
        created_at: event.at,
        state: 'running',
        max_attempts: event.max_attempts,
        ...(event.parallelism !== undefined ? { parallelism: event.parallelism } : {}),
        configurations: event.configurations,
        trials: new Map(),
        queue: new TrialQueue(),
        counts: emptyCounts(),
      };
      for (const t of event.trials) {
        const queue_seq = experiment.queue.push(t.id);
        experiment.trials.set(t.id, { id: t.id, configuration: t.configuration, seed_overrides: t.seed_overrides, seeds: t.seeds, state: 'queued', queue_seq, attempts: 0, errors: [] });
      }
      experiment.counts.queued = event.trials.length;
      state.experiments.set(experiment.id, experiment);
      state.running.add(experiment.id);
      effects?.push({ type: 'experiment', experiment: experimentInfo(experiment) });
      for (const trial of experiment.trials.values()) effects?.push(trialEffect(experiment, trial, null));
      return effects ?? [];
    }
    case 'trial_leased': {
      const experiment = experimentOf(state, event.experiment_id);
      const trial = trialOf(experiment, event.trial_id);
      check(experiment.state === 'running', `experiment ${experiment.id} is ${experiment.state}`);
      check(trial.state === 'queued', `trial ${experiment.id}/${trial.id} is ${trial.state}, not queued`);
      check(event.attempt === trial.attempts + 1, `attempt ${event.attempt} after ${trial.attempts}`);
      check(!state.leases.has(event.lease_id), `lease ${event.lease_id} exists`);
      const ref: LeaseRef = { experiment_id: experiment.id, trial_id: trial.id, attempt: event.attempt, worker_id: event.worker_id };
      state.leases.set(event.lease_id, ref);
      experiment.queue.shiftIf(trial.id);
      trial.attempts = event.attempt;
      trial.lease_id = event.lease_id;
      trial.worker_id = event.worker_id;
      trial.started_at = event.at;
      effects?.push({ type: 'lease', lease_id: event.lease_id, ref });
      transition(state, experiment, trial, 'running', event.at, effects);
      return effects ?? [];
    }
    case 'trial_completed': {
      // A completion from a stale lease is still a valid result of this trial (same config, same
      // seeds), so it is taken if the trial has none yet: it ends the current attempt, if any.
      const ref = state.leases.get(event.lease_id);
      check(ref && ref.experiment_id === event.experiment_id && ref.trial_id === event.trial_id, `unknown lease ${event.lease_id}`);
      const experiment = experimentOf(state, event.experiment_id);
      const trial = trialOf(experiment, event.trial_id);
      check(trial.state === 'queued' || trial.state === 'running', `trial ${experiment.id}/${trial.id} is already ${trial.state}`);
      check(event.result && typeof event.result === 'object' && event.result.selected, 'a result needs `selected`');
      trial.result = event.result;
      if (event.result.degenerate) experiment.counts.degenerate++;
      transition(state, experiment, trial, 'succeeded', event.at, effects);
      return effects ?? [];
    }
    case 'trial_failed':
    case 'lease_expired': {
      const [experiment, trial] = leasedTrial(state, event);
      const what =
        event.type === 'trial_failed'
          ? `${event.error.kind}: ${event.error.message}${event.error.retryable ? '' : ' (not retryable)'}`
          : `lease expired: ${event.reason}`;
      trial.errors = [...trial.errors, `attempt ${trial.attempts}: ${what}`];
      const retryable = event.type === 'lease_expired' || event.error.retryable;
      const next: TrialState =
        experiment.state === 'cancelled' ? 'cancelled' : retryable && trial.errors.length < experiment.max_attempts ? 'queued' : 'failed';
      transition(state, experiment, trial, next, event.at, effects);
      return effects ?? [];
    }
    case 'trial_released': {
      const [experiment, trial] = leasedTrial(state, event);
      transition(state, experiment, trial, experiment.state === 'cancelled' ? 'cancelled' : 'queued', event.at, effects);
      return effects ?? [];
    }
    case 'experiment_cancelled': {
      const experiment = experimentOf(state, event.experiment_id);
      check(experiment.state === 'running', `experiment ${experiment.id} is already ${experiment.state}`);
      experiment.state = 'cancelled';
      experiment.cancel_reason = event.reason;
      experiment.finished_at = event.at;
      state.running.delete(experiment.id);
      for (const trial of experiment.trials.values()) if (trial.state === 'queued') transition(state, experiment, trial, 'cancelled', event.at, effects);
      experiment.queue.clear();
      effects?.push({ type: 'experiment', experiment: experimentInfo(experiment) });
      return effects ?? [];
    }
    default: {
      const _: never = event;
      throw new InvalidEventError(`unknown event type ${JSON.stringify((_ as { type?: unknown }).type)}`);
    }
  }
}

function transition(state: CoordinatorState, experiment: ExperimentEntry, trial: TrialEntry, next: TrialState, at: string, effects: Effect[] | undefined): void {
  const previous = trial.state;
  const endedLease = previous === 'running' ? trial.lease_id : undefined;
  experiment.counts[previous]--;
  experiment.counts[next]++;
  trial.state = next;
  if (next === 'queued') trial.queue_seq = experiment.queue.push(trial.id);
  if (next !== 'queued' && next !== 'running') trial.finished_at = at;
  effects?.push(trialEffect(experiment, trial, previous, endedLease));
  if (experiment.state === 'running' && experiment.counts.queued === 0 && experiment.counts.running === 0) {
    experiment.state = 'succeeded';
    experiment.finished_at = at;
    state.running.delete(experiment.id);
    effects?.push({ type: 'experiment', experiment: experimentInfo(experiment) });
  }
}

function trialEffect(experiment: ExperimentEntry, trial: TrialEntry, previous: TrialState | null, endedLease?: string): Effect {
  return {
    type: 'trial',
    experiment_id: experiment.id,
    trial: trialRecord(experiment, trial),
    previous_state: previous,
    ...(endedLease !== undefined ? { ended_lease: endedLease } : {}),
  };
}

/** The numbers people look at: the selected model's test metrics, or validation without a test split. */
export function headlineMetrics(result: TrialResult): Record<string, number> {
  const metrics: Record<string, number> = {};
  for (const [key, value] of Object.entries(result.selected.test ?? result.selected.validation)) {
    if (typeof value === 'number') metrics[key] = value;
  }
  return metrics;
}

/** The trial's full config: built on demand, so 100,000 trials do not hold 100,000 configs. */
export function trialConfig(experiment: ExperimentEntry, trial: TrialEntry): TrialConfig {
  const config = experiment.configurations[trial.configuration]!.config;
  const overrides = trial.seed_overrides;
  return overrides.seed === undefined && overrides.init_seed === undefined && overrides.data_seed === undefined ? config : { ...config, ...overrides };
}

export function trialRecord(experiment: ExperimentEntry, trial: TrialEntry): TrialRecord {
  const configuration = experiment.configurations[trial.configuration]!;
  const record: TrialRecord = {
    id: trial.id,
    experiment_id: experiment.id,
    configuration: configuration.label,
    sweep_values: configuration.sweep_values,
    state: trial.state,
    attempts: trial.attempts,
    config: trialConfig(experiment, trial),
    seeds: trial.seeds,
    errors: trial.errors,
  };
  if (trial.result) {
    record.metrics = headlineMetrics(trial.result);
    record.degenerate = trial.result.degenerate;
    if (trial.result.degenerate_reason !== undefined) record.degenerate_reason = trial.result.degenerate_reason;
    record.result = trial.result;
  }
  if (trial.state === 'running' && trial.worker_id !== undefined) record.worker_id = trial.worker_id;
  if (trial.started_at !== undefined) record.started_at = trial.started_at;
  if (trial.finished_at !== undefined) record.finished_at = trial.finished_at;
  return record;
}

export function experimentInfo(experiment: ExperimentEntry): ExperimentInfo {
  return {
    id: experiment.id,
    name: experiment.name,
    ...(experiment.description !== undefined ? { description: experiment.description } : {}),
    state: experiment.state,
    created_at: experiment.created_at,
    ...(experiment.finished_at !== undefined ? { finished_at: experiment.finished_at } : {}),
    ...(experiment.cancel_reason !== undefined ? { cancel_reason: experiment.cancel_reason } : {}),
    ...(experiment.source !== undefined ? { source: experiment.source } : {}),
    max_attempts: experiment.max_attempts,
    ...(experiment.parallelism !== undefined ? { parallelism: experiment.parallelism } : {}),
    configurations: experiment.configurations.length,
    trials: experiment.trials.size,
    counts: { ...experiment.counts },
  };
}
