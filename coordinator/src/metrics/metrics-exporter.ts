// `--metrics-listen` for the coordinator: a registry with the coordinator's metrics and the default
// process metrics, the two hooks main.ts passes to the gRPC server and the journal, and a plugin
// that follows the core and serves `/metrics` once the core is open.
import { Registry, collectDefaultMetrics } from 'prom-client';
import { UsageError } from '../../../cli/main.ts';
import type { CoordinatorPluginFactory } from '../main.ts';
import type { CallObserver } from '../grpc/grpc-bridge.ts';
import type { JournalWriteObserver } from '../state/journal.ts';
import { serveMetrics } from '../../../trainer/src/metrics/metrics-server.ts';
import { createCoordinatorMetrics } from './coordinator-metrics.ts';

export interface CoordinatorExporter {
  readonly registry: Registry;
  readonly callObserver: CallObserver;
  readonly journalObserver: JournalWriteObserver;
  readonly plugin: CoordinatorPluginFactory;
}

export function coordinatorExporter(listen: string): CoordinatorExporter {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = createCoordinatorMetrics(registry);
  return {
    registry,
    callObserver: metrics.callObserver,
    journalObserver: metrics.journalObserver,
    plugin: async ({ core, log }) => {
      const detach = metrics.attach(core);
      let server;
      try {
        server = await serveMetrics(registry, listen);
      } catch (error) {
        detach();
        // A taken or unavailable port is the user's to fix: a plain message and exit 2, no stack.
        throw new UsageError(`--metrics-listen ${listen}: ${(error as Error).message}`, { cause: error });
      }
      log.info({ address: server.address }, 'metrics listening');
      const running = server;
      return {
        name: 'metrics',
        async close() {
          detach();
          await running.close();
        },
      };
    },
  };
}
