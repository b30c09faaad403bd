// A typed client of the coordinator, speaking Ballast's TypeScript contracts (trial config, result,
// trial records, experiment results) rather than wire messages. Used by the CLI and the trainer
// agent. Every call takes an optional AbortSignal and timeout; failures are RpcError (with a
// gRPC code and `retryable`).
import { CoordinatorService } from '../../../proto/gen/ballast/v1/coordinator_service_pb.ts';
import { createClient } from '../grpc/grpc-bridge.ts';
import type { CallOptions, ClientTransportOptions, ServiceClient } from '../grpc/grpc-bridge.ts';
import { checkHealth } from '../grpc/grpc-server.ts';
import {
  experimentFromProto,
  leaseFromProto,
  summaryFromProto,
  trialFailureToProto,
  trialFromProto,
  trialProgressFromProto,
  trialProgressToProto,
  trialResultToProto,
  trialStateToProto,
} from '../grpc/proto-convert.ts';
import type { LeaseGrant } from '../grpc/proto-convert.ts';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import type { ExperimentInfo, TrialFailure } from '../core/types.ts';
import type { ConfigurationSummary, ExperimentResults, TrialRecord, TrialState } from '../results/experiment-results.ts';
import type { TrialOutcome, TrialProgress, TrialResult } from '../../../trainer/src/train/trial-result.ts';
import { Code, RpcError } from '../grpc/rpc-error.ts';

export type { CallOptions, LeaseGrant };
export { Code, RpcError };

/** The coordinator's default port (`ballast coordinator --listen` and every client flag). */
export const DEFAULT_PORT = 7070;
export const DEFAULT_COORDINATOR = `127.0.0.1:${DEFAULT_PORT}`;

export interface CoordinatorClientOptions extends ClientTransportOptions {
  /** `HOST:PORT` of the coordinator. */
  address: string;
  /** Timeout of unary calls without their own (default 30 s). Watch streams have none. */
  defaultTimeoutMs?: number;
}

/** One event of a watched experiment. */
export type WatchEvent =
  | { type: 'experiment'; experiment: ExperimentInfo }
  | { type: 'trial'; trial: TrialRecord }
  | { type: 'progress'; trialId: string; attempt: number; workerId: string; progress: TrialProgress };

export interface HeartbeatAnswer {
  /** Stop the trial at the next step boundary (cancelled, or the lease was lost). */
  cancel: boolean;
  cancelReason: string;
  /** The lease is gone: a report of it will not count. */
  leaseLost: boolean;
  /** The new deadline, while the lease is held. */
  deadline?: Date;
}

export interface ReportAnswer {
  /** False when the lease had already ended: nothing was recorded (and nothing counted twice). */
  accepted: boolean;
  reason: string;
}

export class CoordinatorClient {
  private readonly rpc: ServiceClient<typeof CoordinatorService.method>;
  private readonly defaultTimeoutMs: number;

  constructor(private readonly options: CoordinatorClientOptions) {
    this.rpc = createClient(CoordinatorService, options.address, options);
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? 30_000;
  }

  get address(): string {
    return this.options.address;
  }

  private call(options: CallOptions | undefined, extraMs = 0): CallOptions {
    return { timeoutMs: (options?.timeoutMs ?? this.defaultTimeoutMs) + extraMs, ...(options?.signal ? { signal: options.signal } : {}) };
  }

  /** Resolves once the coordinator answers health checks with SERVING; polls until `timeoutMs`. */
  async waitUntilServing(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const until = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < until) {
      signal?.throwIfAborted();
      try {
        const status = await checkHealth(this.options.address, this.options, Math.min(1000, Math.max(1, until - Date.now())));
        if (status === 'SERVING') return;
        last = new Error(`health: ${status}`);
      } catch (error) {
        last = error;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new RpcError(Code.UNAVAILABLE, `coordinator at ${this.options.address} not serving after ${timeoutMs} ms: ${last instanceof Error ? last.message : String(last)}`);
  }

  // ---- users ----

  /** Submits a spec (the object from its YAML/JSON file); the coordinator validates it. */
  async submitExperiment(
    spec: Record<string, unknown>,
    submit: { source?: string; experimentId?: string } = {},
    options?: CallOptions,
  ): Promise<{ experimentId: string; trialCount: number }> {
    const reply = await this.rpc.submitExperiment(
      { spec: JSON.parse(JSON.stringify(spec)), source: submit.source ?? '', ...(submit.experimentId !== undefined ? { experimentId: submit.experimentId } : {}) },
      this.call(options),
    );
    return { experimentId: reply.experimentId, trialCount: reply.trialCount };
  }

  async getExperiment(experimentId: string, options?: CallOptions): Promise<{ experiment: ExperimentInfo; summary: ConfigurationSummary[] }> {
    const reply = await this.rpc.getExperiment({ experimentId }, this.call(options));
    if (!reply.experiment) throw new RpcError(Code.INTERNAL, 'GetExperiment answered without an experiment');
    return { experiment: experimentFromProto(reply.experiment), summary: reply.summary.map(summaryFromProto) };
  }

  /** Newest first. */
  async listExperiments(options?: CallOptions): Promise<ExperimentInfo[]> {
    return (await this.rpc.listExperiments({}, this.call(options))).experiments.map(experimentFromProto);
  }

  /** Every trial (in expansion order), fetched page by page. */
  async listTrials(experimentId: string, states: TrialState[] = [], options?: CallOptions & { pageSize?: number }): Promise<TrialRecord[]> {
    const trials: TrialRecord[] = [];
    let pageToken = '';
    do {
      const reply = await this.rpc.listTrials(
        { experimentId, states: states.map(trialStateToProto), pageSize: options?.pageSize ?? 0, pageToken },
        this.call(options),
      );
      for (const trial of reply.trials) trials.push(trialFromProto(trial));
      pageToken = reply.nextPageToken;
    } while (pageToken !== '');
    return trials;
  }

  /** Every trial and the per-configuration summary: the `status --json` / `results --json` shape. */
  async results(experimentId: string, options?: CallOptions): Promise<ExperimentResults> {
    const [{ experiment, summary }, trials] = await Promise.all([this.getExperiment(experimentId, options), this.listTrials(experimentId, [], options)]);
    return { experiment: { id: experiment.id, name: experiment.name, state: experiment.state, created_at: experiment.created_at }, trials, summary };
  }

  async cancelExperiment(experimentId: string, reason = '', options?: CallOptions): Promise<ExperimentInfo> {
    const reply = await this.rpc.cancelExperiment({ experimentId, reason }, this.call(options));
    if (!reply.experiment) throw new RpcError(Code.INTERNAL, 'CancelExperiment answered without an experiment');
    return experimentFromProto(reply.experiment);
  }

  /** A snapshot (the experiment, then every trial), then changes until the experiment ends. */
  async *watchExperiment(experimentId: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<WatchEvent> {
    for await (const message of this.rpc.watchExperiment({ experimentId }, options.signal ? { signal: options.signal } : {})) {
      const event = message.event;
      switch (event.case) {
        case 'experiment':
          yield { type: 'experiment', experiment: experimentFromProto(event.value) };
          break;
        case 'trial':
          yield { type: 'trial', trial: trialFromProto(event.value) };
          break;
        case 'progress': {
          const progress = trialProgressFromProto(event.value.progress);
          if (progress) yield { type: 'progress', trialId: event.value.trialId, attempt: event.value.attempt, workerId: event.value.workerId, progress };
          break;
        }
        default:
          break; // an event kind from a newer server: skip it
      }
    }
  }

  // ---- trainers ----

  /** The next trial to run, or null. `waitMs` > 0 long-polls that long for one to be queued. */
  async acquireTrial(workerId: string, acquire: { waitMs?: number } = {}, options?: CallOptions): Promise<LeaseGrant | null> {
    const waitMs = acquire.waitMs ?? 0;
    const reply = await this.rpc.acquireTrial({ workerId, waitMs }, this.call(options, waitMs));
    return reply.lease ? leaseFromProto(reply.lease) : null;
  }

  async heartbeat(leaseId: string, progress?: TrialProgress, options?: CallOptions): Promise<HeartbeatAnswer> {
    const reply = await this.rpc.heartbeat({ leaseId, ...(progress ? { progress: trialProgressToProto(progress) } : {}) }, this.call(options));
    return {
      cancel: reply.cancel,
      cancelReason: reply.cancelReason,
      leaseLost: reply.leaseLost,
      ...(reply.deadline ? { deadline: timestampDate(reply.deadline) } : {}),
    };
  }

  async completeTrial(leaseId: string, result: TrialResult, options?: CallOptions): Promise<ReportAnswer> {
    const reply = await this.rpc.completeTrial({ leaseId, result: trialResultToProto(result) }, this.call(options));
    return { accepted: reply.accepted, reason: reply.reason };
  }

  /** A failed attempt: retried while attempts remain if `retryable`, the trial fails otherwise. */
  async failTrial(leaseId: string, failure: TrialFailure, options?: CallOptions): Promise<ReportAnswer> {
    const reply = await this.rpc.failTrial({ leaseId, outcome: { case: 'failed', value: trialFailureToProto(failure) } }, this.call(options));
    return { accepted: reply.accepted, reason: reply.reason };
  }

  /** Hands the trial back without failing it (stopped on cancel or SIGTERM). */
  async releaseTrial(leaseId: string, reason: string, options?: CallOptions): Promise<ReportAnswer> {
    const reply = await this.rpc.failTrial({ leaseId, outcome: { case: 'cancelled', value: { reason } } }, this.call(options));
    return { accepted: reply.accepted, reason: reply.reason };
  }

  /** Reports a lease's one terminal outcome with the matching call. */
  reportOutcome(leaseId: string, outcome: TrialOutcome, options?: CallOptions): Promise<ReportAnswer> {
    switch (outcome.status) {
      case 'completed':
        return this.completeTrial(leaseId, outcome.result, options);
      case 'failed':
        return this.failTrial(leaseId, outcome.error, options);
      case 'cancelled':
        return this.releaseTrial(leaseId, outcome.reason, options);
      default: {
        const unreachable: never = outcome;
        throw new Error(`unknown outcome ${JSON.stringify(unreachable)}`);
      }
    }
  }

  close(): void {
    this.rpc.close();
  }
}
