// The coordinator's core: experiments, trials and leases, over a durable journal. No transport code
// here: the gRPC server, the NATS publisher, the metrics and `ballast run` are adapters that call
// these methods and subscribe to the change stream.
import type { Logger } from 'pino';
import type { TrialProgress, TrialResult } from '../../../trainer/src/train/trial-result.ts';
import type { ExperimentResults, TrialRecord } from '../results/experiment-results.ts';
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
}

export class CoordinatorCore {
  private constructor() {}

  /** Opens the state directory and replays its journal (cutting a torn last record, with a warning). */
  static async open(options: CoordinatorCoreOptions): Promise<CoordinatorCore> {
    void options;
    throw new Error('not implemented');
  }

  /** Validates and expands a spec (an object from YAML/JSON) and queues its trials. InvalidArgumentError names the field. */
  async submitExperiment(spec: unknown, source?: string): Promise<{ experimentId: string; trials: number }> {
    void spec, source;
    throw new Error('not implemented');
  }

  getExperiment(experimentId: string): ExperimentInfo {
    void experimentId;
    throw new Error('not implemented');
  }

  /** In submission order. */
  listExperiments(): ExperimentInfo[] {
    throw new Error('not implemented');
  }

  /** In queue order (seed-major). */
  listTrials(experimentId: string, filter?: TrialFilter): TrialRecord[] {
    void experimentId, filter;
    throw new Error('not implemented');
  }

  getTrial(experimentId: string, trialId: string): TrialRecord {
    void experimentId, trialId;
    throw new Error('not implemented');
  }

  /** Every trial and, per configuration, n, mean, std, median, min, max of the paper metric. */
  results(experimentId: string): ExperimentResults {
    void experimentId;
    throw new Error('not implemented');
  }

  /**
   * Cancels queued trials at once and flags running ones (their next heartbeat says cancel).
   * Idempotent; on a finished experiment it changes nothing (`changed: false`).
   */
  async cancelExperiment(experimentId: string, reason: string): Promise<{ experiment: ExperimentInfo; changed: boolean }> {
    void experimentId, reason;
    throw new Error('not implemented');
  }

  /** The next queued trial (FIFO across experiments, within each experiment's parallelism), or null. */
  async acquireTrial(workerId: string): Promise<Lease | null> {
    void workerId;
    throw new Error('not implemented');
  }

  /** Extends the lease and records progress (in memory only). Unknown or expired lease: ok false. */
  heartbeat(leaseId: string, progress?: TrialProgress): HeartbeatReply {
    void leaseId, progress;
    throw new Error('not implemented');
  }

  /** Records the result once; a repeated or stale completion is not accepted (and harmless). */
  async completeTrial(leaseId: string, result: TrialResult): Promise<CompleteReply> {
    void leaseId, result;
    throw new Error('not implemented');
  }

  /** A failed attempt: retryable ones are queued again until max_attempts, others fail at once. */
  async failTrial(leaseId: string, error: TrialFailure): Promise<CompleteReply> {
    void leaseId, error;
    throw new Error('not implemented');
  }

  /** The worker gives the trial back without failing it (SIGTERM, or stopped on cancel). */
  async releaseTrial(leaseId: string, reason: string): Promise<CompleteReply> {
    void leaseId, reason;
    throw new Error('not implemented');
  }

  /** Expires leases past their deadline (call it on a timer). Returns how many expired. */
  async expireLeases(): Promise<number> {
    throw new Error('not implemented');
  }

  /** Every committed change (after its fsync) and every progress update. Returns unsubscribe. */
  subscribe(listener: CoreListener): () => void {
    void listener;
    throw new Error('not implemented');
  }

  /** Flushes the journal and releases the state directory. */
  async close(): Promise<void> {
    throw new Error('not implemented');
  }
}
