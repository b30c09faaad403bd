// The coordinator process: open the core over its state directory, serve it over gRPC, expire
// stale leases on a timer, run the optional adapters (NATS state publisher, Prometheus metrics),
// and shut down in order. Every dependency comes in as a parameter; `ballast coordinator` and the
// embedded coordinator of `ballast run` both start here.
import type { Logger } from 'pino';
import { CoordinatorCore } from './core/coordinator-core.ts';
import { serveCoordinator } from './grpc/coordinator-server.ts';
import type { CallObserver } from './grpc/grpc-bridge.ts';
import type { ServerTlsOptions } from './grpc/grpc-server.ts';
import type { JournalWriteObserver } from './state/journal.ts';

/** An adapter running beside the server (NATS publisher, metrics exporter): stopped on shutdown. */
export interface CoordinatorPlugin {
  readonly name: string;
  close(): Promise<void>;
}

/** Starts an adapter once the core is open. It may subscribe to the core's change stream. */
export type CoordinatorPluginFactory = (context: { core: CoordinatorCore; log: Logger }) => Promise<CoordinatorPlugin>;

export interface CoordinatorMainOptions {
  /** `HOST:PORT` to serve gRPC on (port 0: any free port). */
  listen: string;
  stateDir: string;
  /** Lease time-to-live: a trial whose heartbeats stop for this long is queued again. */
  leaseTtlMs: number;
  tls?: ServerTlsOptions;
  token?: string;
  insecure?: boolean;
  log: Logger;
  /**
   * Wiring point for metrics: sees every finished gRPC call (rpc, status code, duration), e.g. a
   * prom-client histogram of lease latency. The metrics exporter itself is a plugin.
   */
  callObserver?: CallObserver;
  /** Wiring point for metrics: sees every journal group commit (journal write latency). */
  journalObserver?: JournalWriteObserver;
  /** Wiring point for adapters: the NATS state publisher, the Prometheus exporter, ... */
  plugins?: CoordinatorPluginFactory[];
  /** How often stale leases are looked for (default: a tenth of the TTL, within 100 ms..5 s). */
  expiryIntervalMs?: number;
  /** Injectable clock of the core (tests). */
  clock?: () => number;
}

export interface RunningCoordinator {
  readonly core: CoordinatorCore;
  /** `host:port` clients dial. */
  readonly address: string;
  readonly port: number;
  /** Stops accepting calls, lets in-flight ones finish (up to `graceMs`), stops adapters, closes the core. */
  stop(graceMs?: number): Promise<void>;
}

export async function startCoordinator(options: CoordinatorMainOptions): Promise<RunningCoordinator> {
  const { log } = options;
  const core = await CoordinatorCore.open({
    stateDir: options.stateDir,
    leaseTtlMs: options.leaseTtlMs,
    log,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.journalObserver ? { journalObserver: options.journalObserver } : {}),
  });
  const plugins: CoordinatorPlugin[] = [];
  let server: Awaited<ReturnType<typeof serveCoordinator>> | undefined;
  try {
    for (const factory of options.plugins ?? []) plugins.push(await factory({ core, log }));
    server = await serveCoordinator({
      core,
      leaseTtlMs: options.leaseTtlMs,
      listen: options.listen,
      log,
      ...(options.tls ? { tls: options.tls } : {}),
      ...(options.token !== undefined ? { token: options.token } : {}),
      ...(options.insecure ? { insecure: true } : {}),
      ...(options.callObserver ? { observer: options.callObserver } : {}),
    });
  } catch (error) {
    await Promise.allSettled(plugins.map((plugin) => plugin.close()));
    await core.close();
    throw error;
  }

  // Expiry runs often enough that a dead trainer's trial is requeued within about 1.1 TTL.
  const intervalMs = options.expiryIntervalMs ?? Math.min(5000, Math.max(100, Math.round(options.leaseTtlMs / 10)));
  let expiring: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    expiring = core.expireLeases().then(
      (expired) => {
        if (expired > 0) log.info({ expired }, 'leases expired');
      },
      (error: unknown) => log.error({ err: error }, 'lease expiry failed'),
    );
  }, intervalMs);

  let stopping: Promise<void> | undefined;
  const running = server;
  return {
    core,
    address: running.address,
    port: running.port,
    stop(graceMs = 5000) {
      stopping ??= (async () => {
        clearInterval(timer);
        await running.shutdown(graceMs);
        await expiring;
        await Promise.allSettled(plugins.map((plugin) => plugin.close().catch((error: unknown) => log.warn({ err: error, plugin: plugin.name }, 'plugin close failed'))));
        await core.close();
        log.info('coordinator stopped');
      })();
      return stopping;
    },
  };
}

/** Runs until SIGTERM or SIGINT, then stops gracefully (a second signal exits at once). */
export async function runCoordinatorUntilSignal(options: CoordinatorMainOptions, graceMs = 10_000): Promise<void> {
  const coordinator = await startCoordinator(options);
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      options.log.info({ signal }, 'shutting down');
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      resolve();
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  await coordinator.stop(graceMs);
}
