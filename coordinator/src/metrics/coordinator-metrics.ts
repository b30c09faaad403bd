// The coordinator's Prometheus metrics. Nearly everything is derived from the core's change stream
// (`core.subscribe`), so the core imports no Prometheus code; two small hooks cover what the stream
// cannot see: finished gRPC calls (`callObserver`, for lease latency) and the journal's group
// commits (`journalObserver`, for write latency). The registry is passed in: one per program.
//
// Cardinality: experiment and configuration labels only (no trial ids), a few hundred series per
// experiment (the metric histogram's buckets are most of them). A finished experiment's series are
// dropped `retainFinishedMs` (default a day) after it ended: Prometheus keeps their history, and a
// coordinator that runs for months does not export every sweep it ever ran.
import { Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { CoordinatorCore } from '../core/coordinator-core.ts';
import type { CoreEvent } from '../core/types.ts';
import type { CallObserver } from '../grpc/grpc-bridge.ts';
import { codeName } from '../grpc/rpc-error.ts';
import type { TrialRecord, TrialState } from '../results/experiment-results.ts';
import type { JournalWriteObserver } from '../state/journal.ts';
import { PlainMetric } from './plain-metric.ts';

const TRIAL_STATES: readonly TrialState[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];
const EXPERIMENT_STATES = ['running', 'succeeded', 'cancelled'] as const;
/** The rpcs a trainer's lease lives on; their latency is what the fleet waits for. */
const LEASE_RPCS = new Set(['AcquireTrial', 'Heartbeat', 'CompleteTrial', 'FailTrial']);

/** How one attempt (a lease) ended, read from the trial record after the change. */
export type AttemptOutcome = 'completed' | 'failed' | 'expired' | 'released';

/**
 * The core writes one error line per failed attempt, `attempt N: <kind>: <message>` or
 * `attempt N: lease expired: <reason>` (coordinator-state.ts), and does not bump `attempts` on a
 * failure; so an error line for the record's current attempt means that attempt failed.
 */
export function attemptOutcome(trial: TrialRecord): AttemptOutcome {
  if (trial.state === 'succeeded') return 'completed';
  const last = trial.errors[trial.errors.length - 1];
  const prefix = `attempt ${trial.attempts}: `;
  if (last === undefined || !last.startsWith(prefix)) return 'released';
  return last.startsWith(`${prefix}lease expired:`) ? 'expired' : 'failed';
}

export interface CoordinatorMetrics {
  readonly registry: Registry;
  /** For the gRPC server: lease latency and call counts. */
  readonly callObserver: CallObserver;
  /** For the journal writer: the duration of each group commit (write + fsync). */
  readonly journalObserver: JournalWriteObserver;
  /** Starts following the core (a snapshot of its state, then its change stream); returns stop. */
  attach(core: CoordinatorCore): () => void;
}

const RETRY_CAUSES = ['lease_expired', 'failed'] as const;

export function createCoordinatorMetrics(registry: Registry, options: { now?: () => number; retainFinishedMs?: number } = {}): CoordinatorMetrics {
  const now = options.now ?? Date.now;
  const retainFinishedMs = options.retainFinishedMs ?? 24 * 3600 * 1000;
  /** Configurations whose series exist, per experiment; and the experiments whose series were removed. */
  const seen = new Map<string, Set<string>>();
  const dropped = new Set<string>();
  const registers = [registry];
  let followed: CoordinatorCore | undefined;
  // First in the registry: its collect() drops expired experiments' series before the others are read.
  new Gauge({
    name: 'ballast_coordinator_experiments',
    help: 'Experiments by state.',
    labelNames: ['state'] as const,
    registers,
    collect() {
      const counts = Object.fromEntries(EXPERIMENT_STATES.map((s) => [s, 0])) as Record<string, number>;
      for (const experiment of followed?.listExperiments() ?? []) {
        counts[experiment.state] = (counts[experiment.state] ?? 0) + 1;
        const finished = experiment.finished_at !== undefined ? Date.parse(experiment.finished_at) : NaN;
        if (experiment.state !== 'running' && now() - finished > retainFinishedMs) drop(experiment.id);
      }
      for (const state of EXPERIMENT_STATES) this.set({ state }, counts[state] ?? 0);
    },
  });
  // The series updated on every lease call or trial change are PlainMetrics (see plain-metric.ts).
  const trials = new PlainMetric('ballast_coordinator_trials', 'Trials by state, per experiment and configuration.', 'gauge', ['experiment', 'configuration', 'state'], registers);
  const degenerate = new PlainMetric(
    'ballast_coordinator_degenerate_trials',
    'Succeeded trials flagged degenerate, per experiment and configuration.',
    'gauge',
    ['experiment', 'configuration'],
    registers,
  );
  const trialMetric = new PlainMetric(
    'ballast_coordinator_trial_metric',
    "Distribution over seeds of succeeded trials' headline metrics (test split, else validation), per configuration.",
    'histogram',
    ['experiment', 'configuration', 'metric'],
    registers,
    // Accuracy and F1 live in [0, 1], MCC and Spearman in [-1, 1]: 0.05 steps over [-1, 1].
    Array.from({ length: 41 }, (_, i) => Math.round((-1 + i * 0.05) * 100) / 100),
  );
  const grants = new PlainMetric('ballast_coordinator_lease_grants_total', 'Leases granted (a trial handed to a trainer), per experiment.', 'counter', ['experiment'], registers);
  const expiries = new PlainMetric(
    'ballast_coordinator_lease_expiries_total',
    'Leases that expired because their heartbeats stopped, per experiment.',
    'counter',
    ['experiment'],
    registers,
  );
  const retries = new PlainMetric(
    'ballast_coordinator_trial_retries_total',
    'Trials queued again after a failed or expired attempt, per experiment and cause.',
    'counter',
    ['experiment', 'cause'],
    registers,
  );
  const attemptDuration = new PlainMetric(
    'ballast_coordinator_trial_duration_seconds',
    'Wall time of one trial attempt, from its lease to its end, by how it ended.',
    'histogram',
    ['experiment', 'outcome'],
    registers,
    [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800],
  );
  const leaseLatency = new PlainMetric(
    'ballast_coordinator_lease_latency_seconds',
    'Server-side duration of the lease rpcs (AcquireTrial includes its long-poll wait when no trial is queued).',
    'histogram',
    ['rpc'],
    registers,
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  );
  const rpcs = new PlainMetric('ballast_coordinator_rpc_requests_total', 'Finished gRPC calls by rpc and status code.', 'counter', ['rpc', 'code'], registers);
  const journalWrite = new PlainMetric(
    'ballast_coordinator_journal_write_seconds',
    'Duration of one journal group commit: write and fsync of every event gathered meanwhile.',
    'histogram',
    [],
    registers,
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  ).series();
  const journalEvents = new PlainMetric('ballast_coordinator_journal_events_total', 'Events appended to the journal.', 'counter', [], registers).series();
  const journalBytes = new PlainMetric('ballast_coordinator_journal_bytes_total', 'Bytes appended to the journal.', 'counter', [], registers).series();

  function drop(experiment: string): void {
    if (dropped.has(experiment) || !seen.has(experiment)) return;
    dropped.add(experiment);
    seen.delete(experiment);
    for (const metric of [trials, degenerate, trialMetric, grants, expiries, retries, attemptDuration]) metric.remove(experiment);
  }

  const stateSeries = (experiment: string, configuration: string) => {
    let configurations = seen.get(experiment);
    if (!configurations) seen.set(experiment, (configurations = new Set()));
    if (configurations.has(configuration)) return;
    configurations.add(configuration);
    // Every series at 0 from the start, so a panel shows 0 rather than no data.
    for (const state of TRIAL_STATES) trials.series(experiment, configuration, state);
    degenerate.series(experiment, configuration);
    grants.series(experiment);
    expiries.series(experiment);
    for (const cause of RETRY_CAUSES) retries.series(experiment, cause);
  };
  const finished = (trial: TrialRecord) => {
    const { experiment_id: experiment, configuration } = trial;
    if (trial.degenerate) degenerate.series(experiment, configuration).inc();
    for (const metric in trial.metrics) {
      const value = trial.metrics[metric]!;
      if (metric !== 'loss' && Number.isFinite(value)) trialMetric.series(experiment, configuration, metric).observe(value);
    }
  };

  const onEvent = (event: CoreEvent) => {
    if (event.type !== 'trial') return;
    const { trial, previous_state: previous } = event;
    const experiment = trial.experiment_id;
    const configuration = trial.configuration;
    // A cancelled experiment's last running trials may end after its series were dropped.
    if (dropped.has(experiment)) return;
    if (previous === null) stateSeries(experiment, configuration);
    else trials.series(experiment, configuration, previous).dec();
    trials.series(experiment, configuration, trial.state).inc();
    if (trial.state === 'succeeded') finished(trial);
    if (previous === 'queued' && trial.state === 'running') grants.series(experiment).inc();
    if (previous === 'running') {
      const outcome = attemptOutcome(trial);
      const started = trial.started_at !== undefined ? Date.parse(trial.started_at) : NaN;
      if (Number.isFinite(started)) attemptDuration.series(experiment, outcome).observe(Math.max(0, now() - started) / 1000);
      if (outcome === 'expired') expiries.series(experiment).inc();
      if (trial.state === 'queued' && (outcome === 'expired' || outcome === 'failed')) retries.series(experiment, outcome === 'expired' ? 'lease_expired' : 'failed').inc();
    }
  };

  return {
    registry,
    callObserver: {
      onCallEnd(rpc, code, durationMs) {
        rpcs.series(rpc, codeName(code)).inc();
        if (LEASE_RPCS.has(rpc)) leaseLatency.series(rpc).observe(durationMs / 1000);
      },
    },
    journalObserver: {
      onWrite({ events, bytes, durationMs }) {
        journalWrite.observe(durationMs / 1000);
        journalEvents.inc(events);
        journalBytes.inc(bytes);
      },
    },
    attach(core) {
      followed = core;
      // The replayed state first (nothing can change between this and subscribe: both are synchronous).
      for (const experiment of core.listExperiments()) {
        for (const trial of core.listTrials(experiment.id)) {
          stateSeries(trial.experiment_id, trial.configuration);
          trials.series(trial.experiment_id, trial.configuration, trial.state).inc();
          if (trial.state === 'succeeded') finished(trial);
        }
      }
      const unsubscribe = core.subscribe(onEvent);
      return () => {
        unsubscribe();
        followed = undefined;
      };
    },
  };
}
