// The coordinator's NATS wiring, shared by `ballast coordinator` and the embedded coordinator of
// `ballast run`: the core's committed changes go to `ballast.<experiment>[.<trial>].state`.
import { hostname } from 'node:os';
import { openNatsBus } from '../../../trainer/src/progress/nats-bus.ts';
import type { CoordinatorPluginFactory } from '../main.ts';
import { publishStateChanges } from './state-publisher.ts';

/** `program` names the connection on the server (`ballast-coordinator <host>`, `ballast-run <host>`). */
export function natsStatePlugin(url: string, program: string): CoordinatorPluginFactory {
  return async ({ core, log }) => {
    const bus = openNatsBus({ url, log: log.child({ component: 'nats' }), name: `${program} ${hostname()}` });
    const stop = publishStateChanges(core, bus);
    return {
      name: 'nats',
      async close() {
        stop();
        await bus.close(2000);
      },
    };
  };
}
