// The coordinator's Prometheus metrics. Nearly everything is derived from the core's change stream
// (`core.subscribe`), so the core imports no Prometheus code; two small hooks cover what the stream
// cannot see: finished gRPC calls (`callObserver`, for lease latency) and the journal's group
// commits (`journalObserver`, for write latency). The registry is passed in: one per program.
//
// Cardinality: experiment and configuration labels only (no trial ids), a few hundred series per
// experiment (the metric histogram's buckets are most of them). A finished experiment's series are
// dropped `retainFinishedMs` (default a day) after it ended: Prometheus keeps their history, and a
// coordinator that runs for months does not export every sweep it ever ran.
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { CoordinatorCore } from '../core/coordinator-core.ts';
import type { CoreEvent } from '../core/types.ts';
import type { CallObserver } from '../grpc/grpc-bridge.ts';
import { codeName } from '../grpc/rpc-error.ts';
import type { TrialRecord, TrialState } from '../results/experiment-results.ts';
import type { JournalWriteObserver } from '../state/journal.ts';

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

const OUTCOMES: readonly AttemptOutcome[] = ['completed', 'failed', 'expired', 'released'];

/**
 * A metric's series by label values, looked up once: prom-client hashes a label object (sorted
 * keys, joined values) on every update, several times per lease call. `forget` drops an
 * experiment's series from the cache when they are removed from the metric.
 */
function seriesOf<C>(metric: { labels(...values: string[]): C }) {
  const cache = new Map<string, C>();
  return {
    get(...values: string[]): C {
      const key = values.join('\u0000');
      let series = cache.get(key);
      if (series === undefined) cache.set(key, (series = metric.labels(...values)));
      return series;
    },
    forget(experiment: string): void {
      for (const key of cache.keys()) if (key.startsWith(`${experiment}\u0000`) || key === experiment) cache.delete(key);
    },
  };
}
const RETRY_CAUSES = ['lease_expired', 'failed'] as const;

export function createCoordinatorMetrics(registry: Registry, options: { now?: () => number; retainFinishedMs?: number } = {}): CoordinatorMetrics {
  const now = options.now ?? Date.now;
  const retainFinishedMs = options.retainFinishedMs ?? 24 * 3600 * 1000;
  /** Label values in use per experiment, so that its series can be removed; and the removed ones. */
  const seen = new Map<string, { configurations: Set<string>; metrics: Set<string> }>();
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
  const trials = new Gauge({
    name: 'ballast_coordinator_trials',
    help: 'Trials by state, per experiment and configuration.',
    labelNames: ['experiment', 'configuration', 'state'] as const,
    registers,
  });
  const degenerate = new Gauge({
    name: 'ballast_coordinator_degenerate_trials',
    help: 'Succeeded trials flagged degenerate, per experiment and configuration.',
    labelNames: ['experiment', 'configuration'] as const,
    registers,
  });
  const trialMetric = new Histogram({
    name: 'ballast_coordinator_trial_metric',
    help: "Distribution over seeds of succeeded trials' headline metrics (test split, else validation), per configuration.",
    labelNames: ['experiment', 'configuration', 'metric'] as const,
    // Accuracy and F1 live in [0, 1], MCC and Spearman in [-1, 1]: 0.05 steps over [-1, 1].
    buckets: Array.from({ length: 41 }, (_, i) => Math.round((-1 + i * 0.05) * 100) / 100),
    registers,
  });
  const grants = new Counter({
    name: 'ballast_coordinator_lease_grants_total',
    help: 'Leases granted (a trial handed to a trainer), per experiment.',
    labelNames: ['experiment'] as const,
    registers,
  });
  const expiries = new Counter({
    name: 'ballast_coordinator_lease_expiries_total',
    help: 'Leases that expired because their heartbeats stopped, per experiment.',
    labelNames: ['experiment'] as const,
    registers,
  });
  const retries = new Counter({
    name: 'ballast_coordinator_trial_retries_total',
    help: 'Trials queued again after a failed or expired attempt, per experiment and cause.',
    labelNames: ['experiment', 'cause'] as const,
    registers,
  });
  const attemptDuration = new Histogram({
    name: 'ballast_coordinator_trial_duration_seconds',
    help: 'Wall time of one trial attempt, from its lease to its end, by how it ended.',
    labelNames: ['experiment', 'outcome'] as const,
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800],
    registers,
  });
  const leaseLatency = new Histogram({
    name: 'ballast_coordinator_lease_latency_seconds',
    help: 'Server-side duration of the lease rpcs (AcquireTrial includes its long-poll wait when no trial is queued).',
    labelNames: ['rpc'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const rpcs = new Counter({
    name: 'ballast_coordinator_rpc_requests_total',
    help: 'Finished gRPC calls by rpc and status code.',
    labelNames: ['rpc', 'code'] as const,
    registers,
  });
  const journalWrite = new Histogram({
    name: 'ballast_coordinator_journal_write_seconds',
    help: 'Duration of one journal group commit: write and fsync of every event gathered meanwhile.',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers,
  });
  const journalEvents = new Counter({ name: 'ballast_coordinator_journal_events_total', help: 'Events appended to the journal.', registers });
  const journalBytes = new Counter({ name: 'ballast_coordinator_journal_bytes_total', help: 'Bytes appended to the journal.', registers });

  const trialSeries = seriesOf(trials);
  const degenerateSeries = seriesOf(degenerate);
  const metricSeries = seriesOf(trialMetric);
  const grantSeries = seriesOf(grants);
  const durationSeries = seriesOf(attemptDuration);
  const rpcSeries = seriesOf(rpcs);
  const latencySeries = seriesOf(leaseLatency);

  function drop(experiment: string): void {
    const labels = seen.get(experiment);
    if (dropped.has(experiment) || !labels) return;
    dropped.add(experiment);
    seen.delete(experiment);
    for (const series of [trialSeries, degenerateSeries, metricSeries, grantSeries, durationSeries]) series.forget(experiment);
    for (const configuration of labels.configurations) {
      for (const state of TRIAL_STATES) trials.remove({ experiment, configuration, state });
      degenerate.remove({ experiment, configuration });
    }
    for (const key of labels.metrics) {
      const [configuration, metric] = key.split('\u0000') as [string, string];
      trialMetric.remove({ experiment, configuration, metric });
    }
    grants.remove({ experiment });
    expiries.remove({ experiment });
    for (const cause of RETRY_CAUSES) retries.remove({ experiment, cause });
    for (const outcome of OUTCOMES) attemptDuration.remove({ experiment, outcome });
  }

  const stateSeries = (experiment: string, configuration: string) => {
    let labels = seen.get(experiment);
    if (!labels) seen.set(experiment, (labels = { configurations: new Set(), metrics: new Set() }));
    if (labels.configurations.has(configuration)) return;
    labels.configurations.add(configuration);
    // All five states exist from the start, so a panel shows 0 rather than no data.
    for (const state of TRIAL_STATES) trials.inc({ experiment, configuration, state }, 0);
    degenerate.inc({ experiment, configuration }, 0);
    grants.inc({ experiment }, 0);
    expiries.inc({ experiment }, 0);
    for (const cause of RETRY_CAUSES) retries.inc({ experiment, cause }, 0);
  };
  const finished = (trial: TrialRecord) => {
    const { experiment_id: experiment, configuration } = trial;
    if (trial.degenerate) degenerateSeries.get(experiment, configuration).inc();
    for (const [metric, value] of Object.entries(trial.metrics ?? {})) {
      if (metric === 'loss' || !Number.isFinite(value)) continue;
      metricSeries.get(experiment, configuration, metric).observe(value);
      seen.get(experiment)?.metrics.add(`${configuration}\u0000${metric}`);
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
    else trialSeries.get(experiment, configuration, previous).dec();
    trialSeries.get(experiment, configuration, trial.state).inc();
    if (trial.state === 'succeeded') finished(trial);
    if (previous === 'queued' && trial.state === 'running') grantSeries.get(experiment).inc();
    if (previous === 'running') {
      const outcome = attemptOutcome(trial);
      const started = trial.started_at !== undefined ? Date.parse(trial.started_at) : NaN;
      if (Number.isFinite(started)) durationSeries.get(experiment, outcome).observe(Math.max(0, now() - started) / 1000);
      if (outcome === 'expired') expiries.inc({ experiment });
      if (trial.state === 'queued' && (outcome === 'expired' || outcome === 'failed')) retries.inc({ experiment, cause: outcome === 'expired' ? 'lease_expired' : 'failed' });
    }
  };

  return {
    registry,
    callObserver: {
      onCallEnd(rpc, code, durationMs) {
        rpcSeries.get(rpc, codeName(code)).inc();
        if (LEASE_RPCS.has(rpc)) latencySeries.get(rpc).observe(durationMs / 1000);
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
          trials.inc({ experiment: trial.experiment_id, configuration: trial.configuration, state: trial.state });
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
