// What the training loop sees of the world (the shape of Temporal's activity context): the trial,
// a signal to stop at the next step boundary, a heartbeat for progress, and a logger. The trainer
// agent gives one backed by the coordinator lease; `ballast train` and tests give a local one.
import type { Logger } from 'pino';
import type { TrialProgress } from './trial-result.ts';

export interface TrialContext {
  readonly trialId: string;
  /** Aborted when the trial must stop (cancel, lease lost, SIGTERM). Checked once per step. */
  readonly signal: AbortSignal;
  /** Reports progress; cheap and non-blocking (the caller throttles what goes on the wire). */
  heartbeat(progress: TrialProgress): void;
  readonly log: Logger;
}

/** Thrown by the training loop when it stopped because `signal` was aborted. */
export class TrialCancelledError extends Error {
  override readonly name = 'TrialCancelledError';
  constructor(
    readonly step: number,
    reason?: unknown,
  ) {
    super(`trial cancelled at step ${step}${reason ? `: ${String(reason instanceof Error ? reason.message : reason)}` : ''}`);
  }
}
