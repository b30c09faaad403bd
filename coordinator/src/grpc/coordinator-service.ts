// CoordinatorService over gRPC: a plain object type-checked against the generated descriptor, each
// handler converting the request, calling the core and converting the reply. No scheduling logic
// lives here; the one piece of policy is `toRpcError`, the single map from core errors to codes.
import type { Logger } from 'pino';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { CoordinatorService, LeaseSchema } from '../../../proto/gen/ballast/v1/coordinator_service_pb.ts';
import type { Lease as LeaseProto } from '../../../proto/gen/ballast/v1/coordinator_service_pb.ts';
import { TrialState as TrialStateProto } from '../../../proto/gen/ballast/v1/experiment_pb.ts';
import { ConfigError } from '../../../trainer/src/config/trial-config.ts';
import type { CoordinatorCore } from '../core/coordinator-core.ts';
import { CoordinatorError, InvalidArgumentError, toCoordinatorError } from '../core/errors.ts';
import type { CoreEvent, Lease } from '../core/types.ts';
import type { TrialState } from '../results/experiment-results.ts';
import type { HandlerContext, ServiceImpl } from './grpc-bridge.ts';
import {
  experimentToProto,
  summaryToProto,
  trialConfigToProto,
  trialConfigToProtoShared,
  trialProgressFromProto,
  trialProgressToProto,
  trialResultFromProto,
  trialSeedsToProto,
  trialStateFromProto,
  trialToProto,
} from './proto-convert.ts';
import { Code, RpcError } from './rpc-error.ts';

const DEFAULT_PAGE_SIZE = 500;
const MAX_PAGE_SIZE = 5000;

/** The part of the core the service calls (a fake can stand in for it in tests). */
export type CoordinatorCoreApi = Pick<
  CoordinatorCore,
  | 'submitExperiment'
  | 'getExperiment'
  | 'listExperiments'
  | 'listTrials'
  | 'results'
  | 'cancelExperiment'
  | 'acquireTrial'
  | 'heartbeat'
  | 'completeTrial'
  | 'failTrial'
  | 'releaseTrial'
  | 'subscribe'
>;

export interface CoordinatorServiceOptions {
  core: CoordinatorCoreApi;
  /** The core's lease time-to-live, told to trainers with every lease. */
  leaseTtlMs: number;
  log?: Logger;
  /** Longest AcquireTrial long poll the server grants (default 30 s). */
  maxAcquireWaitMs?: number;
}

/** The one map from errors to gRPC status codes. */
export function toRpcError(error: unknown): RpcError {
  if (error instanceof RpcError) return error;
  const coordinatorError = error instanceof ConfigError || error instanceof CoordinatorError ? toCoordinatorError(error) : undefined;
  if (coordinatorError) {
    switch (coordinatorError.code) {
      case 'invalid_argument':
        return new RpcError(Code.INVALID_ARGUMENT, coordinatorError.message, { cause: error });
      case 'not_found':
        return new RpcError(Code.NOT_FOUND, coordinatorError.message, { cause: error });
      case 'failed_precondition':
        return new RpcError(Code.FAILED_PRECONDITION, coordinatorError.message, { cause: error });
      case 'unavailable':
        return new RpcError(Code.UNAVAILABLE, coordinatorError.message, { cause: error });
      case 'internal':
        return new RpcError(Code.INTERNAL, coordinatorError.message, { cause: error });
      default: {
        const unreachable: never = coordinatorError.code;
        return new RpcError(Code.INTERNAL, `unknown error code ${String(unreachable)}`, { cause: error });
      }
    }
  }
  return RpcError.from(error);
}

function required(value: string, field: string): string {
  if (value.trim() === '') throw new InvalidArgumentError(field, 'required');
  return value;
}

/** Events of one experiment as a pull queue; progress (lossy by nature) is dropped past a backlog. */
class EventQueue {
  private readonly items: CoreEvent[] = [];
  private wake: (() => void) | undefined;
  dropped = 0;
  constructor(private readonly maxBacklog = 1000) {}
  push(event: CoreEvent): void {
    if (event.type === 'progress' && this.items.length >= this.maxBacklog) {
      this.dropped++;
      return;
    }
    this.items.push(event);
    this.wake?.();
  }
  /** The next event, or undefined when `signal` aborts first. */
  async next(signal: AbortSignal): Promise<CoreEvent | undefined> {
    while (this.items.length === 0) {
      if (signal.aborted) return undefined;
      await new Promise<void>((resolve) => {
        // One listener per wait, removed after: a long watch waits thousands of times.
        const done = () => {
          signal.removeEventListener('abort', done);
          resolve();
        };
        this.wake = done;
        signal.addEventListener('abort', done, { once: true });
      });
      this.wake = undefined;
    }
    return this.items.shift();
  }
}

/** Whether a change can make a trial available: one queued (new or again), a slot freed, a submission. */
function mayFreeWork(event: CoreEvent): boolean {
  if (event.type === 'experiment') return true;
  if (event.type === 'trial') return event.trial.state === 'queued' || event.previous_state === 'running';
  return false;
}

/**
 * Starts listening for a change that may free work; `wait` resolves on one (or timeout/abort).
 * Subscribing before the acquire attempt closes the gap in which a trial queued between a
 * failed attempt and the subscription would be missed until the long poll timed out.
 */
function changeWaiter(core: CoordinatorCoreApi): { wait(timeoutMs: number, signal: AbortSignal): Promise<void>; cancel(): void } {
  let changed = false;
  let wake: (() => void) | undefined;
  // Progress and trials starting cannot free work: waking every waiting trainer on those would
  // turn each state change into as many futile acquire attempts as there are idle trainers.
  const unsubscribe = core.subscribe((event) => {
    if (!mayFreeWork(event)) return;
    changed = true;
    wake?.();
  });
  return {
    wait(timeoutMs, signal) {
      if (changed || signal.aborted) return Promise.resolve(unsubscribe());
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          unsubscribe();
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        signal.addEventListener('abort', done, { once: true });
        wake = done;
      });
    },
    cancel: unsubscribe,
  };
}

export function createCoordinatorService(options: CoordinatorServiceOptions): ServiceImpl<typeof CoordinatorService.method> {
  const { core, leaseTtlMs, log } = options;
  const maxWaitMs = options.maxAcquireWaitMs ?? 30_000;

  const leaseToProto = (lease: Lease): LeaseProto =>
    create(LeaseSchema, {
      leaseId: lease.leaseId,
      trialId: lease.trialId,
      experimentId: lease.experimentId,
      experimentName: lease.experimentName ?? core.getExperiment(lease.experimentId).name,
      attempt: lease.attempt,
      config: lease.configParts ? trialConfigToProtoShared(lease.configParts.shared, lease.configParts.seedOverrides) : trialConfigToProto(lease.config),
      seeds: trialSeedsToProto(lease.seeds),
      deadline: timestampFromMs(lease.deadline),
      ttlMs: leaseTtlMs,
    });

  return {
    async submitExperiment(request) {
      if (request.spec === undefined) throw new InvalidArgumentError('spec', 'required');
      const { experimentId, trials } = await core.submitExperiment(
        request.spec,
        request.source || undefined,
        request.experimentId !== undefined ? { experimentId: request.experimentId } : {},
      );
      return { experimentId, trialCount: trials };
    },

    async getExperiment(request) {
      const id = required(request.experimentId, 'experiment_id');
      const experiment = core.getExperiment(id);
      return { experiment: experimentToProto(experiment), summary: core.results(id).summary.map(summaryToProto) };
    },

    async listExperiments() {
      return { experiments: core.listExperiments().reverse().map(experimentToProto) };
    },

    async listTrials(request) {
      const id = required(request.experimentId, 'experiment_id');
      const states = request.states.map((state, i): TrialState => {
        try {
          return trialStateFromProto(state);
        } catch {
          throw new InvalidArgumentError(`states[${i}]`, `not a trial state: ${TrialStateProto[state] ?? state}`);
        }
      });
      const pageSize = request.pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(request.pageSize, MAX_PAGE_SIZE);
      // The token is the offset into the (stable, expansion-ordered) list; opaque to clients.
      const offset = request.pageToken === '' ? 0 : Number(request.pageToken);
      if (!Number.isSafeInteger(offset) || offset < 0) throw new InvalidArgumentError('page_token', 'not a token from a previous page');
      const trials = core.listTrials(id, states.length > 0 ? { state: states } : {});
      const page = trials.slice(offset, offset + pageSize);
      const next = offset + page.length;
      return { trials: page.map(trialToProto), nextPageToken: next < trials.length ? String(next) : '' };
    },

    async cancelExperiment(request) {
      const id = required(request.experimentId, 'experiment_id');
      const { experiment } = await core.cancelExperiment(id, request.reason || 'cancelled by user');
      return { experiment: experimentToProto(experiment) };
    },

    async *watchExperiment(request, context: HandlerContext) {
      const id = required(request.experimentId, 'experiment_id');
      // Subscribe before the snapshot so that no change falls between the two; a change seen in
      // both is harmless (the watcher replaces a trial's state by the latest it got).
      const queue = new EventQueue();
      const unsubscribe = core.subscribe((event) => {
        const experimentId = event.type === 'experiment' ? event.experiment.id : event.type === 'trial' ? event.trial.experiment_id : event.experiment_id;
        if (experimentId === id) queue.push(event);
      });
      try {
        const experiment = core.getExperiment(id);
        yield { event: { case: 'experiment', value: experimentToProto(experiment) } };
        for (const trial of core.listTrials(id)) yield { event: { case: 'trial', value: trialToProto(trial) } };
        if (experiment.state !== 'running') return;
        for (;;) {
          const event = await queue.next(context.signal);
          if (event === undefined) return;
          switch (event.type) {
            case 'experiment':
              yield { event: { case: 'experiment', value: experimentToProto(event.experiment) } };
              if (event.experiment.state !== 'running') return;
              break;
            case 'trial':
              yield { event: { case: 'trial', value: trialToProto(event.trial) } };
              break;
            case 'progress':
              yield {
                event: {
                  case: 'progress',
                  value: { trialId: event.trial_id, attempt: event.attempt, workerId: event.worker_id, progress: trialProgressToProto(event.progress) },
                },
              };
              break;
            default: {
              const unreachable: never = event;
              throw new Error(`unknown core event ${JSON.stringify(unreachable)}`);
            }
          }
        }
      } finally {
        unsubscribe();
        if (queue.dropped > 0) log?.warn({ experimentId: id, dropped: queue.dropped }, 'slow watcher: progress events dropped');
      }
    },

    async acquireTrial(request, context) {
      const workerId = required(request.workerId, 'worker_id');
      const deadline = Date.now() + Math.min(request.waitMs, maxWaitMs);
      for (;;) {
        const waiter = request.waitMs > 0 ? changeWaiter(core) : undefined;
        const lease = await core.acquireTrial(workerId);
        if (lease) {
          waiter?.cancel();
          log?.debug({ trialId: lease.trialId, workerId, attempt: lease.attempt }, 'trial leased');
          return { lease: leaseToProto(lease) };
        }
        const left = deadline - Date.now();
        if (!waiter || left <= 0 || context.signal.aborted) {
          waiter?.cancel();
          return {};
        }
        await waiter.wait(left, context.signal);
      }
    },

    async heartbeat(request) {
      const leaseId = required(request.leaseId, 'lease_id');
      const reply = core.heartbeat(leaseId, trialProgressFromProto(request.progress));
      if (!reply.ok) return { cancel: true, leaseLost: true, cancelReason: 'the lease is unknown or expired' };
      return {
        cancel: reply.cancel,
        cancelReason: reply.cancel ? 'the experiment was cancelled' : '',
        ...(reply.deadline !== undefined ? { deadline: timestampFromMs(reply.deadline) } : {}),
      };
    },

    async completeTrial(request) {
      const leaseId = required(request.leaseId, 'lease_id');
      if (request.result === undefined) throw new InvalidArgumentError('result', 'required');
      const reply = await core.completeTrial(leaseId, trialResultFromProto(request.result));
      return { accepted: reply.accepted, reason: reply.reason ?? '' };
    },

    async failTrial(request) {
      const leaseId = required(request.leaseId, 'lease_id');
      const outcome = request.outcome;
      switch (outcome.case) {
        case 'failed': {
          const { message, kind, retryable } = outcome.value;
          const reply = await core.failTrial(leaseId, { message: required(message, 'failed.message'), kind: kind || 'error', retryable });
          return { accepted: reply.accepted, reason: reply.reason ?? '' };
        }
        case 'cancelled': {
          const reply = await core.releaseTrial(leaseId, outcome.value.reason || 'released by the worker');
          return { accepted: reply.accepted, reason: reply.reason ?? '' };
        }
        default:
          throw new InvalidArgumentError('outcome', 'give `failed` or `cancelled`');
      }
    },
  };
}
