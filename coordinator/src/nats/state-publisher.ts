// The coordinator's state changes on NATS: a thin adapter from the core's change stream to the bus.
// Only committed changes are published (the core emits after the journal fsync), so a subscriber
// never sees a state the coordinator could forget. Live step progress is not republished here: the
// trainers publish it themselves on `ballast.<experiment>.<trial>.progress`, throttled.
//
// Payload schema (JSON, `v: 1`):
//   ballast.<experiment>.<trial>.state
//     { v: 1, kind: 'state', source: 'coordinator', time, experiment_id, trial_id, configuration,
//       state, previous_state, attempts, degenerate?, degenerate_reason?, metrics?, error? (last
//       failed attempt's reason) }
//   ballast.<experiment>.state
//     { v: 1, kind: 'experiment', source: 'coordinator', time, experiment_id, name, state,
//       trials, counts: { queued, running, succeeded, failed, cancelled, degenerate }, finished_at?,
//       cancel_reason? }
import type { CoreEvent } from '../core/types.ts';
import { experimentSubject, trialSubject } from '../../../trainer/src/progress/nats-bus.ts';
import type { NatsBus } from '../../../trainer/src/progress/nats-bus.ts';

export const STATE_SCHEMA_VERSION = 1;

/** What the publisher needs of the core: its change stream. */
export interface ChangeSource {
  subscribe(listener: (event: CoreEvent) => void): () => void;
}

/** Starts publishing; returns the function that stops it. */
export function publishStateChanges(core: ChangeSource, bus: NatsBus, now: () => number = Date.now): () => void {
  return core.subscribe((event) => {
    const message = stateMessage(event, new Date(now()).toISOString());
    if (message) bus.publish(message.subject, message.payload);
  });
}

export function stateMessage(event: CoreEvent, time: string): { subject: string; payload: Record<string, unknown> } | undefined {
  switch (event.type) {
    case 'trial': {
      const t = event.trial;
      return {
        subject: trialSubject(t.experiment_id, t.id, 'state'),
        payload: {
          v: STATE_SCHEMA_VERSION,
          kind: 'state',
          source: 'coordinator',
          time,
          experiment_id: t.experiment_id,
          trial_id: t.id,
          configuration: t.configuration,
          state: t.state,
          previous_state: event.previous_state,
          attempts: t.attempts,
          ...(t.degenerate !== undefined ? { degenerate: t.degenerate } : {}),
          ...(t.degenerate_reason !== undefined ? { degenerate_reason: t.degenerate_reason } : {}),
          ...(t.metrics !== undefined ? { metrics: t.metrics } : {}),
          ...(t.errors.length > 0 ? { error: t.errors.at(-1) } : {}),
        },
      };
    }
    case 'experiment': {
      const e = event.experiment;
      return {
        subject: experimentSubject(e.id, 'state'),
        payload: {
          v: STATE_SCHEMA_VERSION,
          kind: 'experiment',
          source: 'coordinator',
          time,
          experiment_id: e.id,
          name: e.name,
          state: e.state,
          trials: e.trials,
          counts: e.counts,
          ...(e.finished_at !== undefined ? { finished_at: e.finished_at } : {}),
          ...(e.cancel_reason !== undefined ? { cancel_reason: e.cancel_reason } : {}),
        },
      };
    }
    case 'progress':
      return undefined;
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}
