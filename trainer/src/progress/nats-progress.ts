// A trainer's progress on NATS, throttled per trial. The training loop calls `progress()` at every
// step and evaluation; this keeps at most one `progress` message per `minIntervalMs` (default
// 500 ms, i.e. about 2 per second) with a trailing send so the latest step always goes out, and
// sends `eval` and `state` at once (after any pending progress, so order is kept).
//
// Payload schema (JSON, version `v: 1`), on `ballast.<experiment>.<trial>.<kind>`:
//   common:   { v: 1, kind, experiment_id, trial_id, worker_id, attempt, time (ISO 8601) }
//   progress: + { step, total_steps, loss, lr, examples_per_second }
//   eval:     + { step, total_steps, validation: { loss, accuracy?, f1?, mcc?, pearson?, spearman? } }
//   state:    + { state: 'running' | 'succeeded' | 'failed' | 'cancelled' | 'released', source: 'trainer',
//                 error?: { kind, message, retryable }, metrics?: { <name>: number }, degenerate?: boolean }
// The coordinator publishes its own authoritative `state` messages on the same subject with
// `source: 'coordinator'` (coordinator/src/nats/state-publisher.ts).
import type { TrialProgress } from '../train/trial-result.ts';
import { trialSubject } from './nats-bus.ts';
import type { NatsBus } from './nats-bus.ts';

export const PROGRESS_SCHEMA_VERSION = 1;

export interface TrialMeta {
  experimentId: string;
  trialId: string;
  workerId: string;
  attempt: number;
}

export type TrainerTrialState = 'running' | 'succeeded' | 'failed' | 'cancelled' | 'released';

export interface TrialStateDetails {
  error?: { kind: string; message: string; retryable: boolean };
  metrics?: Record<string, number>;
  degenerate?: boolean;
}

export interface TrialProgressPublisher {
  progress(progress: TrialProgress): void;
  state(state: TrainerTrialState, details?: TrialStateDetails): void;
  /** Sends any pending progress and stops the trailing timer. */
  close(): void;
}

export interface ProgressPublisher {
  forTrial(meta: TrialMeta): TrialProgressPublisher;
  /** Messages dropped because NATS was unreachable (0 without NATS). */
  dropped(): number;
  close(): Promise<void>;
}

/** Used when no `--nats` is given: progress goes only to the coordinator heartbeat. */
export const noProgressPublisher: ProgressPublisher = {
  forTrial: () => ({ progress() {}, state() {}, close() {} }),
  dropped: () => 0,
  close: async () => {},
};

export function natsProgressPublisher(bus: NatsBus, options: { minIntervalMs?: number; now?: () => number } = {}): ProgressPublisher {
  const minIntervalMs = options.minIntervalMs ?? 500;
  const now = options.now ?? Date.now;
  return {
    forTrial(meta) {
      const base = () => ({
        v: PROGRESS_SCHEMA_VERSION,
        experiment_id: meta.experimentId,
        trial_id: meta.trialId,
        worker_id: meta.workerId,
        attempt: meta.attempt,
        time: new Date(now()).toISOString(),
      });
      let lastSent = -Infinity;
      let pending: Extract<TrialProgress, { kind: 'step' }> | undefined;
      let timer: NodeJS.Timeout | undefined;

      const sendStep = (p: Extract<TrialProgress, { kind: 'step' }>) => {
        lastSent = now();
        bus.publish(trialSubject(meta.experimentId, meta.trialId, 'progress'), {
          ...base(),
          kind: 'progress',
          step: p.step,
          total_steps: p.total_steps,
          loss: p.loss,
          lr: p.lr,
          examples_per_second: p.examples_per_second,
        });
      };
      const flush = () => {
        if (timer) clearTimeout(timer);
        timer = undefined;
        if (pending) {
          const p = pending;
          pending = undefined;
          sendStep(p);
        }
      };

      return {
        progress(p) {
          if (p.kind === 'eval') {
            flush();
            bus.publish(trialSubject(meta.experimentId, meta.trialId, 'eval'), {
              ...base(),
              kind: 'eval',
              step: p.step,
              total_steps: p.total_steps,
              validation: p.validation,
            });
            return;
          }
          const wait = lastSent + minIntervalMs - now();
          if (wait <= 0 && !timer) {
            sendStep(p);
            return;
          }
          pending = p;
          // A trailing send, so a trial that pauses (evaluation, the end) still shows its last step.
          timer ??= setTimeout(flush, Math.max(wait, 0)).unref();
        },
        state(state, details = {}) {
          flush();
          bus.publish(trialSubject(meta.experimentId, meta.trialId, 'state'), {
            ...base(),
            kind: 'state',
            state,
            source: 'trainer',
            ...details,
          });
        },
        close: flush,
      };
    },
    dropped: () => bus.stats.dropped,
    close: () => bus.close(),
  };
}
