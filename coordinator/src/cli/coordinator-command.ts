// `ballast coordinator`: the coordinator server. Parses flags, reads credentials, builds the
// optional adapters (NATS state publisher, metrics) and hands everything to main.ts.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { UsageError } from '../../../cli/main.ts';
import { DEFAULT_PORT } from '../client/coordinator-client.ts';
import { parseHostPort } from '../../../trainer/src/util/host-port.ts';
import { checkListenPolicy, ListenError } from '../grpc/grpc-server.ts';
import { natsStatePlugin } from '../nats/nats-plugin.ts';
import { coordinatorExporter } from '../metrics/metrics-exporter.ts';
import { runCoordinatorUntilSignal } from '../main.ts';
import type { CoordinatorPluginFactory } from '../main.ts';
import { readTokenFile } from './client-flags.ts';
import { bufferedLogDestination } from './log-destination.ts';

interface CoordinatorFlags {
  listen: string;
  stateDir: string;
  nats?: string;
  metricsListen?: string;
  leaseTtl: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tokenFile?: string;
  insecure?: boolean;
  logLevel: string;
}

async function readPem(flag: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new UsageError(`${flag} ${path}: ${(error as Error).message}`);
  }
}

export function register(program: Command): void {
  program
    .command('coordinator')
    .summary('run the coordinator server (gRPC)')
    .description(
      'Run the coordinator: experiments, trials and leases over gRPC, with state journaled under --state-dir. ' +
        'On a non-loopback --listen address it refuses to start without TLS (--tls-cert/--tls-key) or a ' +
        'token (--token-file) unless --insecure is given. Health checks (grpc.health.v1) need no token, ' +
        'so that Kubernetes gRPC probes, which cannot send metadata, work.',
    )
    .option('--listen <host:port>', 'gRPC address', `127.0.0.1:${DEFAULT_PORT}`)
    .requiredOption('--state-dir <dir>', 'where the journal lives (one coordinator per directory)')
    .option('--nats <url>', 'publish state changes to NATS (default: $BALLAST_NATS_URL)')
    .option('--metrics-listen <host:port>', 'serve Prometheus metrics over HTTP')
    .option('--lease-ttl <seconds>', 'a trial whose heartbeats stop this long is queued again', '30')
    .option('--tls-cert <file>', 'PEM server certificate chain (turns TLS on)')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--tls-ca <file>', 'PEM CA bundle: require client certificates signed by it (mutual TLS)')
    .option('--token-file <file>', 'require "authorization: Bearer <token>" on every call (health checks exempt)')
    .option('--insecure', 'allow a non-loopback --listen address without TLS or token (trusted networks only)')
    .option('--log-level <level>', 'pino log level', process.env.BALLAST_LOG_LEVEL ?? 'info')
    .action(async (flags: CoordinatorFlags) => {
      const ttlSeconds = Number(flags.leaseTtl);
      if (!(ttlSeconds > 0 && ttlSeconds <= 24 * 3600)) throw new UsageError(`--lease-ttl must be a number of seconds in (0, 86400], got '${flags.leaseTtl}'`);
      if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
      if (flags.tlsCa !== undefined && flags.tlsCert === undefined) throw new UsageError('--tls-ca (mutual TLS) needs --tls-cert and --tls-key');
      try {
        parseHostPort(flags.listen, '--listen');
        if (flags.metricsListen !== undefined) parseHostPort(flags.metricsListen, '--metrics-listen');
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
      const tls =
        flags.tlsCert !== undefined && flags.tlsKey !== undefined
          ? {
              cert: await readPem('--tls-cert', flags.tlsCert),
              key: await readPem('--tls-key', flags.tlsKey),
              ...(flags.tlsCa !== undefined ? { ca: await readPem('--tls-ca', flags.tlsCa) } : {}),
            }
          : undefined;
      const token = flags.tokenFile !== undefined ? await readTokenFile(flags.tokenFile) : undefined;
      try {
        checkListenPolicy({ listen: flags.listen, ...(tls ? { tls } : {}), ...(token !== undefined ? { token } : {}), ...(flags.insecure ? { insecure: true } : {}) });
      } catch (error) {
        if (error instanceof ListenError) throw new UsageError(error.message);
        throw error;
      }
      const log: Logger = pino({ level: flags.logLevel, base: { component: 'coordinator' } }, bufferedLogDestination());
      const plugins: CoordinatorPluginFactory[] = [];
      const natsUrl = flags.nats ?? process.env.BALLAST_NATS_URL;
      if (natsUrl) plugins.push(natsStatePlugin(natsUrl, 'ballast-coordinator'));
      const metrics = flags.metricsListen !== undefined ? coordinatorExporter(flags.metricsListen) : undefined;
      if (metrics) plugins.push(metrics.plugin);
      await runCoordinatorUntilSignal({
        listen: flags.listen,
        stateDir: flags.stateDir,
        leaseTtlMs: Math.round(ttlSeconds * 1000),
        log,
        plugins,
        ...(metrics ? { callObserver: metrics.callObserver, journalObserver: metrics.journalObserver } : {}),
        ...(tls ? { tls } : {}),
        ...(token !== undefined ? { token } : {}),
        ...(flags.insecure ? { insecure: true } : {}),
      });
    });
}
