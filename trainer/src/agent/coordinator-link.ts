// What the trainer agent needs of a coordinator: the worker half of CoordinatorService. The gRPC
// CoordinatorClient satisfies it as it is; tests give a fake or the in-process core (core-link.ts),
// so the agent's loop runs without a server.
import type { CallOptions, HeartbeatAnswer, LeaseGrant, ReportAnswer } from '../../../coordinator/src/client/coordinator-client.ts';
import type { TrialOutcome, TrialProgress } from '../train/trial-result.ts';

export type { CallOptions, HeartbeatAnswer, LeaseGrant, ReportAnswer };

export interface CoordinatorLink {
  /** The next trial, or null; `waitMs` > 0 long-polls for one. */
  acquireTrial(workerId: string, acquire?: { waitMs?: number }, options?: CallOptions): Promise<LeaseGrant | null>;
  /** Extends the lease with the latest progress; the answer may say stop. */
  heartbeat(leaseId: string, progress?: TrialProgress, options?: CallOptions): Promise<HeartbeatAnswer>;
  /** The lease's one terminal report: CompleteTrial, FailTrial, or a release (cancelled). */
  reportOutcome(leaseId: string, outcome: TrialOutcome, options?: CallOptions): Promise<ReportAnswer>;
}

/** Whether a failed call can succeed if made again (network, coordinator restarting). */
export function isTransient(error: unknown): boolean {
  const retryable = (error as { retryable?: unknown } | null)?.retryable;
  if (typeof retryable === 'boolean') return retryable;
  // Socket-level failures from anything that is not an RpcError.
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(code);
}
