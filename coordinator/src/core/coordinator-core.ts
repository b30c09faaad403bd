// The coordinator's core: experiments, trials and leases, over a durable journal. No transport code
// here: the gRPC server, the NATS publisher, the metrics and `ballast run` are adapters that call
// these methods and subscribe to the change stream.
//
// One class of about 450 lines on purpose: it is the single writer, and every mutating method
// follows the same discipline (validate, `commit` = apply + append + fsync, then notify); split
// across files, that discipline would be harder to see and to keep.
//
// Reads may see a change a few hundred microseconds before its fsync completes (apply is
// synchronous so that concurrent acquires never hand one trial out twice); callers of a mutating
// method only hear back after the fsync, and a failed write stops the core (see `commit`).
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import type { TrialProgress, TrialResult } from '../../../trainer/src/train/trial-result.ts';
import type { ExperimentResults, TrialRecord, TrialState } from '../results/experiment-results.ts';
import { summarizeConfigurations } from '../results/configuration-summary.ts';
import { SAFE_ID, expandExperiment, newExperimentId, parseExperimentSpec, planConfigurations } from '../spec/experiment-spec.ts';
import {
  applyEvent,
  emptyState,
  experimentInfo,
  nextQueuedTrial,
  trialConfig,
  trialRecord,
  type CoordinatorState,
  type Effect,
  type ExperimentEntry,
  type TrialEntry,
} from '../state/coordinator-state.ts';
import type { JournalEvent } from '../state/events.ts';
import { JournalCorruptError, JournalWriter, readJournal } from '../state/journal.ts';
import type { JournalWriteObserver } from '../state/journal.ts';
import { lockStateDir } from '../state/state-dir-lock.ts';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, UnavailableError, toCoordinatorError } from './errors.ts';
import type {
  CompleteReply,
  CoreListener,
  ExperimentInfo,
  HeartbeatReply,
  Lease,
  TrialFailure,
  TrialFilter,
} from './types.ts';

export interface CoordinatorCoreOptions {
  /** Directory of the journal (created if missing). One coordinator per directory (a lock file). */
  stateDir: string;
  /** How long a lease lives without a heartbeat (default 30 s). */
  leaseTtlMs?: number;
  /** Epoch ms; injectable for tests. */
  clock?: () => number;
  log?: Logger;
  /** Sees every journal group commit (metrics). */
  journalObserver?: JournalWriteObserver;
}

/** A lease's life in memory: its deadline and latest progress are never journaled. */
interface LiveLease {
  experiment_id: string;
  trial_id: string;
  deadline: number;
  progress?: TrialProgress;
}

export interface SubmitOptions {
  /**
   * Submit under this id, idempotently: if it exists with the same spec, nothing happens and its
   * id is returned (a retried request, or `ballast run` resuming); with another spec it is an error.
   */
  experimentId?: string;
}

export const JOURNAL_FILE = 'journal.jsonl';
const TERMINAL: ReadonlySet<TrialState> = new Set(['succeeded', 'failed', 'cancelled']);

export class CoordinatorCore {
  private readonly live = new Map<string, LiveLease>();
  private readonly listeners = new Set<CoreListener>();
  private closed = false;

  private constructor(
    private readonly state: CoordinatorState,
    private readonly writer: JournalWriter,
    private readonly releaseLock: () => void,
    private readonly leaseTtlMs: number,
    private readonly clock: () => number,
    private readonly log: Logger,
  ) {}

  /** Opens the state directory and replays its journal (cutting a torn last record, with a warning). */
  static async open(options: CoordinatorCoreOptions): Promise<CoordinatorCore> {
    const log = options.log ?? pino({ enabled: false });
    const clock = options.clock ?? Date.now;
    const leaseTtlMs = options.leaseTtlMs ?? 30_000;
    mkdirSync(options.stateDir, { recursive: true });
    const release = lockStateDir(options.stateDir, (message) => log.warn(message));
    try {
      const file = join(options.stateDir, JOURNAL_FILE);
      const t0 = performance.now();
      const { records, torn } = readJournal(file);
      if (torn) {
        log.warn({ file, line: torn.line, bytes: torn.bytes, reason: torn.reason }, 'journal: cut a torn last record (a crash during a write)');
      }
      const state = emptyState();
      for (const { line, event } of records) {
        try {
          applyEvent(state, event, false);
        } catch (error) {
          throw new JournalCorruptError(file, line, `cannot apply ${event.type}: ${(error as Error).message}`, { cause: error });
        }
      }
      const writer = await JournalWriter.open(file, options.journalObserver);
      const core = new CoordinatorCore(state, writer, release, leaseTtlMs, clock, log);
      // Heartbeat times are not journaled, so every lease that was running gets a full TTL from now:
      // a trainer that survived the coordinator's restart carries on; a dead one expires as usual.
      const deadline = clock() + leaseTtlMs;
      let running = 0;
      for (const experiment of state.experiments.values()) {
        if (experiment.counts.running === 0) continue;
        for (const trial of experiment.trials.values()) {
          if (trial.state === 'running' && trial.lease_id !== undefined) {
            core.live.set(trial.lease_id, { experiment_id: experiment.id, trial_id: trial.id, deadline });
            running++;
          }
        }
      }
      log.info(
        { file, events: records.length, experiments: state.experiments.size, runningTrials: running, durationMs: Math.round(performance.now() - t0) },
        'journal replayed',
      );
      return core;
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Validates and expands a spec (an object from YAML/JSON) and queues its trials. InvalidArgumentError names the field. */
  async submitExperiment(spec: unknown, source?: string, options: SubmitOptions = {}): Promise<{ experimentId: string; trials: number }> {
    this.ensureWritable();
    let parsed;
    try {
      parsed = parseExperimentSpec(spec, source);
    } catch (error) {
      throw toCoordinatorError(error);
    }
    let experimentId = options.experimentId;
    if (experimentId !== undefined) {
      if (!SAFE_ID.test(experimentId)) throw new InvalidArgumentError('experiment_id', 'use 1 to 128 of [A-Za-z0-9_-]');
      const existing = this.state.experiments.get(experimentId);
      if (existing) {
        if (JSON.stringify(existing.spec) !== JSON.stringify(spec)) {
          throw new FailedPreconditionError(`experiment ${experimentId} exists with a different spec`);
        }
        return { experimentId, trials: existing.trials.size };
      }
    } else {
      do experimentId = newExperimentId(parsed.name);
      while (this.state.experiments.has(experimentId));
    }
    const configurations = planConfigurations(parsed).map(({ label, sweep_values, config }) => ({ label, sweep_values, config }));
    const plans = expandExperiment(parsed);
    await this.commit({
      v: 1,
      type: 'experiment_submitted',
      at: this.now(),
      experiment_id: experimentId,
      name: parsed.name,
      ...(parsed.description !== undefined ? { description: parsed.description } : {}),
      ...(source !== undefined ? { source } : {}),
      spec,
      max_attempts: parsed.max_attempts,
      ...(parsed.parallelism !== undefined ? { parallelism: parsed.parallelism } : {}),
      configurations,
      trials: plans.map((p) => ({ id: p.id, configuration: p.config_index, seed_overrides: p.seed_overrides, seeds: p.seeds })),
    });
    this.log.info({ experimentId, name: parsed.name, trials: plans.length, configurations: configurations.length }, 'experiment submitted');
    return { experimentId, trials: plans.length };
  }

  getExperiment(experimentId: string): ExperimentInfo {
    return experimentInfo(this.experiment(experimentId));
  }

  /** The spec as submitted. */
  getExperimentSpec(experimentId: string): unknown {
    return this.experiment(experimentId).spec;
  }

  /** In submission order. */
  listExperiments(): ExperimentInfo[] {
    return [...this.state.experiments.values()].map(experimentInfo);
  }

  /** In queue order (seed-major). Running trials carry their worker and latest progress. */
  listTrials(experimentId: string, filter: TrialFilter = {}): TrialRecord[] {
    const experiment = this.experiment(experimentId);
    const states = filter.state === undefined ? undefined : new Set(typeof filter.state === 'string' ? [filter.state] : filter.state);
    const records: TrialRecord[] = [];
    for (const trial of experiment.trials.values()) {
      if (states && !states.has(trial.state)) continue;
      if (filter.configuration !== undefined && experiment.configurations[trial.configuration]!.label !== filter.configuration) continue;
      records.push(this.record(experiment, trial));
    }
    return records;
  }

  getTrial(experimentId: string, trialId: string): TrialRecord {
    const experiment = this.experiment(experimentId);
    const trial = experiment.trials.get(trialId);
    if (!trial) throw new NotFoundError(`no trial ${trialId} in experiment ${experimentId}`);
    return this.record(experiment, trial);
  }

  /** Every trial and, per configuration, n, mean, std, median, min, max of the paper metric. */
  results(experimentId: string): ExperimentResults {
    const experiment = this.experiment(experimentId);
    const trials = this.listTrials(experimentId);
    return {
      experiment: { id: experiment.id, name: experiment.name, state: experiment.state, created_at: experiment.created_at },
      trials,
      summary: summarizeConfigurations(
        experiment.configurations.map((c) => c.label),
        trials,
      ),
    };
  }

  /**
   * Cancels queued trials at once and flags running ones (their next heartbeat says cancel).
   * Idempotent; on a finished experiment it changes nothing (`changed: false`).
   */
  async cancelExperiment(experimentId: string, reason: string): Promise<{ experiment: ExperimentInfo; changed: boolean }> {
    this.ensureWritable();
    const experiment = this.experiment(experimentId);
    if (experiment.state !== 'running') return { experiment: experimentInfo(experiment), changed: false };
    await this.commit({ v: 1, type: 'experiment_cancelled', at: this.now(), experiment_id: experimentId, reason: reason || 'cancelled' });
    this.log.info({ experimentId, reason, running: experiment.counts.running }, 'experiment cancelled');
    return { experiment: experimentInfo(experiment), changed: true };
  }

  /** The next queued trial (FIFO across experiments, within each experiment's parallelism), or null. */
  async acquireTrial(workerId: string): Promise<Lease | null> {
    this.ensureWritable();
    if (typeof workerId !== 'string' || workerId.length === 0 || workerId.length > 256) {
      throw new InvalidArgumentError('worker_id', 'give a non-empty worker id (at most 256 characters)');
    }
    for (const id of this.state.running) {
      const experiment = this.state.experiments.get(id)!;
      if (experiment.counts.queued === 0) continue;
      if (experiment.parallelism !== undefined && experiment.counts.running >= experiment.parallelism) continue;
      const trial = nextQueuedTrial(experiment);
      if (!trial) continue;
      const leaseId = randomUUID();
      const attempt = trial.attempts + 1;
      // commit() applies synchronously, so a concurrent acquire already sees this trial as running.
      await this.commit({ v: 1, type: 'trial_leased', at: this.now(), experiment_id: id, trial_id: trial.id, lease_id: leaseId, worker_id: workerId, attempt });
      const live = this.live.get(leaseId);
      this.log.info({ experimentId: id, trialId: trial.id, workerId, attempt, leaseId }, 'trial leased');
      return {
        leaseId,
        experimentId: id,
        trialId: trial.id,
        attempt,
        workerId,
        config: trialConfig(experiment, trial),
        seeds: trial.seeds,
        // The trial may already have ended while the lease was being fsynced (cancel + release).
        deadline: live?.deadline ?? this.clock(),
        experimentName: experiment.name,
        configParts: { shared: experiment.configurations[trial.configuration]!.config, seedOverrides: trial.seed_overrides },
      };
    }
    return null;
  }

  /** Extends the lease and records progress (in memory only). Unknown or expired lease: ok false. */
  heartbeat(leaseId: string, progress?: TrialProgress): HeartbeatReply {
    this.ensureWritable();
    const live = this.live.get(leaseId);
    const now = this.clock();
    // Past its deadline the lease is as good as expired (the timer may not have run yet): the
    // worker must stop, since the trial is about to be queued for someone else.
    if (!live || now > live.deadline) return { ok: false, cancel: true };
    if (progress !== undefined) {
      if (typeof progress !== 'object' || progress === null || (progress.kind !== 'step' && progress.kind !== 'eval')) {
        throw new InvalidArgumentError('progress.kind', 'expected `step` or `eval`');
      }
    }
    live.deadline = now + this.leaseTtlMs;
    const experiment = this.state.experiments.get(live.experiment_id)!;
    if (progress !== undefined) {
      live.progress = progress;
      const trial = experiment.trials.get(live.trial_id)!;
      this.emit({
        type: 'progress',
        experiment_id: live.experiment_id,
        trial_id: live.trial_id,
        attempt: trial.attempts,
        worker_id: trial.worker_id ?? '',
        progress,
        at: now,
      });
    }
    return { ok: true, cancel: experiment.state === 'cancelled', deadline: live.deadline };
  }

  /**
   * Records the result once. A stale lease's result is still taken while the trial has none (same
   * config, same seeds: the same numbers); a repeated or late one after that is not accepted.
   */
  async completeTrial(leaseId: string, result: TrialResult): Promise<CompleteReply> {
    this.ensureWritable();
    const ref = this.state.leases.get(leaseId);
    if (!ref) return { accepted: false, reason: `unknown lease ${leaseId}` };
    const experiment = this.experiment(ref.experiment_id);
    const trial = experiment.trials.get(ref.trial_id)!;
    if (TERMINAL.has(trial.state)) {
      const reason = trial.state === 'succeeded' ? 'the trial already has a result' : `the trial is already ${trial.state}`;
      this.log.info({ experimentId: experiment.id, trialId: trial.id, leaseId, attempt: ref.attempt, workerId: ref.worker_id, reason }, 'completion not accepted');
      return { accepted: false, reason };
    }
    if (typeof result !== 'object' || result === null || typeof result.selected !== 'object' || result.selected === null) {
      throw new InvalidArgumentError('result.selected', 'a result needs the selected model and its metrics');
    }
    if (typeof result.selected.validation !== 'object' || result.selected.validation === null) {
      throw new InvalidArgumentError('result.selected.validation', 'missing');
    }
    await this.commit({ v: 1, type: 'trial_completed', at: this.now(), experiment_id: experiment.id, trial_id: trial.id, lease_id: leaseId, result });
    this.log.info(
      { experimentId: experiment.id, trialId: trial.id, workerId: ref.worker_id, attempt: ref.attempt, degenerate: result.degenerate, stale: trial.lease_id !== leaseId },
      'trial completed',
    );
    return { accepted: true };
  }

  /** A failed attempt: retryable ones are queued again until max_attempts, others fail at once. */
  async failTrial(leaseId: string, error: TrialFailure): Promise<CompleteReply> {
    this.ensureWritable();
    if (typeof error !== 'object' || error === null) throw new InvalidArgumentError('error', 'missing');
    if (typeof error.message !== 'string') throw new InvalidArgumentError('error.message', 'expected a string');
    if (typeof error.kind !== 'string' || error.kind === '') throw new InvalidArgumentError('error.kind', 'expected a non-empty string');
    if (typeof error.retryable !== 'boolean') throw new InvalidArgumentError('error.retryable', 'expected a boolean');
    const current = this.currentLease(leaseId);
    if (typeof current === 'string') return { accepted: false, reason: current };
    const [experiment, trial] = current;
    await this.commit({
      v: 1,
      type: 'trial_failed',
      at: this.now(),
      experiment_id: experiment.id,
      trial_id: trial.id,
      lease_id: leaseId,
      error: { message: error.message, kind: error.kind, retryable: error.retryable },
    });
    this.log.warn(
      { experimentId: experiment.id, trialId: trial.id, workerId: trial.worker_id, attempt: trial.attempts, kind: error.kind, retryable: error.retryable, state: trial.state, err: error.message },
      'trial attempt failed',
    );
    return { accepted: true };
  }

  /** The worker gives the trial back without failing it (SIGTERM, or stopped on cancel). */
  async releaseTrial(leaseId: string, reason: string): Promise<CompleteReply> {
    this.ensureWritable();
    const current = this.currentLease(leaseId);
    if (typeof current === 'string') return { accepted: false, reason: current };
    const [experiment, trial] = current;
    await this.commit({ v: 1, type: 'trial_released', at: this.now(), experiment_id: experiment.id, trial_id: trial.id, lease_id: leaseId, reason: reason || 'released' });
    this.log.info({ experimentId: experiment.id, trialId: trial.id, workerId: trial.worker_id, attempt: trial.attempts, reason, state: trial.state }, 'trial released');
    return { accepted: true };
  }

  /** Expires leases past their deadline (call it on a timer). Returns how many expired. */
  async expireLeases(): Promise<number> {
    if (this.closed || this.writer.broken) return 0;
    const now = this.clock();
    const commits: Array<Promise<Effect[]>> = [];
    for (const [leaseId, live] of this.live) {
      if (live.deadline >= now) continue;
      const ref = this.state.leases.get(leaseId)!;
      const reason = `no heartbeat for ${this.leaseTtlMs} ms (worker ${ref.worker_id})`;
      commits.push(
        this.commit({ v: 1, type: 'lease_expired', at: this.now(), experiment_id: live.experiment_id, trial_id: live.trial_id, lease_id: leaseId, reason }),
      );
      this.log.warn({ experimentId: live.experiment_id, trialId: live.trial_id, workerId: ref.worker_id, attempt: ref.attempt, leaseId }, 'lease expired');
    }
    await Promise.all(commits);
    return commits.length;
  }

  /** Every committed change (after its fsync) and every progress update. Returns unsubscribe. */
  subscribe(listener: CoreListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Journal write statistics (group commit): writes, events, bytes, total fsync ms. */
  journalStats(): Readonly<JournalWriter['stats']> {
    return { ...this.writer.stats };
  }

  /** Flushes the journal and releases the state directory. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.writer.close();
    } finally {
      this.releaseLock();
      this.listeners.clear();
    }
  }

  private now(): string {
    return new Date(this.clock()).toISOString();
  }

  private ensureWritable(): void {
    if (this.closed) throw new UnavailableError('the coordinator is shutting down');
    const broken = this.writer.broken;
    if (broken) throw new UnavailableError('the journal cannot be written; restart the coordinator', { cause: broken });
  }

  private experiment(experimentId: string): ExperimentEntry {
    const experiment = this.state.experiments.get(experimentId);
    if (!experiment) throw new NotFoundError(`no experiment ${experimentId}`);
    return experiment;
  }

  /** The trial a lease currently holds, or why the lease no longer holds one. */
  private currentLease(leaseId: string): [ExperimentEntry, TrialEntry] | string {
    const ref = this.state.leases.get(leaseId);
    if (!ref) return `unknown lease ${leaseId}`;
    const experiment = this.state.experiments.get(ref.experiment_id)!;
    const trial = experiment.trials.get(ref.trial_id)!;
    if (trial.state !== 'running' || trial.lease_id !== leaseId) {
      return `lease ${leaseId} no longer holds trial ${trial.id} (it is ${trial.state}${trial.state === 'running' ? ' under a newer lease' : ''})`;
    }
    return [experiment, trial];
  }

  private record(experiment: ExperimentEntry, trial: TrialEntry): TrialRecord {
    const record = trialRecord(experiment, trial);
    if (trial.state === 'running' && trial.lease_id !== undefined) {
      const progress = this.live.get(trial.lease_id)?.progress;
      if (progress !== undefined) record.progress = progress;
    }
    return record;
  }

  /**
   * The single writer's step: apply (synchronously, so the next caller sees the change), append,
   * and acknowledge after the fsync. If the write fails, memory is ahead of the disk: the writer
   * stays broken and every later change is refused until a restart replays the journal.
   */
  private async commit(event: JournalEvent): Promise<Effect[]> {
    const effects = applyEvent(this.state, event);
    for (const effect of effects) {
      if (effect.type === 'lease') {
        this.live.set(effect.lease_id, { experiment_id: effect.ref.experiment_id, trial_id: effect.ref.trial_id, deadline: this.clock() + this.leaseTtlMs });
      } else if (effect.type === 'trial' && effect.ended_lease !== undefined) {
        this.live.delete(effect.ended_lease);
      }
    }
    try {
      await this.writer.append(event);
    } catch (error) {
      this.log.error({ err: error }, 'journal write failed: refusing further changes until restart');
      throw new UnavailableError('the journal cannot be written; restart the coordinator', { cause: error });
    }
    for (const effect of effects) {
      if (effect.type === 'trial') this.emit({ type: 'trial', trial: effect.trial, previous_state: effect.previous_state });
      else if (effect.type === 'experiment') this.emit(effect);
    }
    return effects;
  }

  private emit(event: Parameters<CoreListener>[0]): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.log.error({ err: error }, 'a state listener threw');
      }
    }
  }
}
