// `ballast trainer --coordinator HOST:PORT`: the trainer pod's process. Initialises the backend
// once, connects to the coordinator (and NATS, if given), and runs the agent's loop until SIGTERM
// or SIGINT, which hand the running trial back at its next step and exit within the grace period.
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { pino } from 'pino';
import { UsageError } from '../../../cli/main.ts';
import { CoordinatorClient, RpcError } from '../../../coordinator/src/client/coordinator-client.ts';
import { addClientOptions, clientOptions, describeRpcError } from '../../../coordinator/src/cli/client-flags.ts';
import type { ClientFlags } from '../../../coordinator/src/cli/client-flags.ts';
import { initBackend } from '../backend/select-backend.ts';
import { dataRoot } from '../config/data-paths.ts';
import { DataCache } from '../data/data-cache.ts';
import { TrainerAgent } from '../agent/trainer-agent.ts';
import type { RunTrialFn } from '../agent/trainer-agent.ts';
import { startTrainerExporter } from '../metrics/metrics-exporter.ts';
import { openNatsBus } from '../progress/nats-bus.ts';
import { natsProgressPublisher, noProgressPublisher } from '../progress/nats-progress.ts';
import { runTrial } from '../train/run-trial.ts';

interface TrainerFlags extends ClientFlags {
  nats?: string;
  metricsListen?: string;
  outDir: string;
  dataRoot?: string;
  backend?: string;
  workerId?: string;
  gracePeriod: string;
  heartbeatInterval: string;
  progressInterval: string;
  exitWhenIdle?: boolean;
  prefetch: boolean;
  parentPid?: string;
  logLevel: string;
}

function positiveSeconds(flag: string, value: string): number {
  const n = Number(value);
  if (!(n > 0 && n <= 24 * 3600)) throw new UsageError(`${flag} must be a number of seconds in (0, 86400], got '${value}'`);
  return n;
}

export function register(program: Command): void {
  addClientOptions(
    program
      .command('trainer')
      .summary('run a trainer: lease trials from the coordinator and train them')
      .description(
        'Run a trainer (one per GPU): acquire a trial from the coordinator, train it, report the result, and repeat. ' +
          'Each trial writes metrics.jsonl, result.json and checkpoint/ under <out-dir>/<experiment>/<trial>/. ' +
          'SIGTERM or SIGINT stops at the next update and hands the trial back for another trainer.',
      )
      .option('--nats <url>', 'publish progress to NATS (default: $BALLAST_NATS_URL)')
      .option('--metrics-listen <host:port>', 'serve Prometheus metrics over HTTP')
      .option('--out-dir <dir>', 'where trial outputs go', process.env.BALLAST_OUT_DIR ?? 'ballast-trials')
      .option('--data-root <dir>', 'root of models/ and glue/ (default: $BALLAST_DATA_ROOT, else the working directory)')
      .option('--backend <name>', 'tfjs backend: tensorflow, wasm or cpu (default: $BALLAST_BACKEND, else the fastest available)')
      .option('--worker-id <id>', 'name of this trainer in leases and logs (default: <hostname>-<pid>)')
      .option('--grace-period <seconds>', 'on SIGTERM, exit within this long even if the trial has not stopped', '25')
      .option('--heartbeat-interval <seconds>', 'longest time between heartbeats (shorter when the lease TTL asks)', '5')
      .option('--progress-interval <seconds>', 'shortest time between two NATS progress messages of a trial', '0.5')
      .option('--exit-when-idle', 'exit once the coordinator has no trial to give (batch jobs)')
      .option('--parent-pid <pid>', 'stop (handing the trial back) when this process is gone; `ballast run` passes its own pid so that no trainer outlives it')
      .option('--no-prefetch', 'do not ask for the next trial during the final evaluation (to measure what prefetching saves)')
      .option('--log-level <level>', 'pino log level', process.env.BALLAST_LOG_LEVEL ?? 'info'),
  ).action(async (flags: TrainerFlags) => {
    process.exitCode = await runTrainer(flags);
  });
}

async function runTrainer(flags: TrainerFlags): Promise<number> {
  const graceMs = positiveSeconds('--grace-period', flags.gracePeriod) * 1000;
  const heartbeatIntervalMs = positiveSeconds('--heartbeat-interval', flags.heartbeatInterval) * 1000;
  const progressIntervalMs = Number(flags.progressInterval) * 1000;
  if (!(progressIntervalMs >= 0)) throw new UsageError(`--progress-interval must be a number of seconds, got '${flags.progressInterval}'`);
  const workerId = flags.workerId ?? `${hostname()}-${process.pid}`;
  const log = pino({ level: flags.logLevel, base: { component: 'trainer' } }, pino.destination(2)); // the agent adds workerId
  const options = await clientOptions(flags);
  const root = dataRoot(flags.dataRoot);
  const backend = await initBackend({ override: flags.backend, log });

  const natsUrl = flags.nats ?? process.env.BALLAST_NATS_URL;
  const bus = natsUrl ? openNatsBus({ url: natsUrl, log: log.child({ component: 'nats' }), name: `ballast-trainer ${workerId}` }) : undefined;
  const progress = bus ? natsProgressPublisher(bus, { minIntervalMs: progressIntervalMs }) : noProgressPublisher;
  let exporter: Awaited<ReturnType<typeof startTrainerExporter>> | undefined;
  if (flags.metricsListen !== undefined) {
    try {
      exporter = await startTrainerExporter({ listen: flags.metricsListen, backend, ...(bus ? { nats: () => bus.stats } : {}) });
    } catch (error) {
      await progress.close();
      throw new UsageError((error as Error).message);
    }
    log.info({ address: exporter.server.address }, 'metrics listening');
  }
  const metrics = exporter?.metrics;
  const dataCache = new DataCache();
  const train: RunTrialFn = (config, ctx, { outDir }) => runTrial(config, ctx, { outDir, dataRoot: root, backend, dataCache });

  const client = new CoordinatorClient(options);
  const agent = new TrainerAgent({
    link: client,
    runTrial: metrics ? metrics.instrument(train) : train,
    workerId,
    outDir: resolve(flags.outDir),
    log,
    progress,
    ...(metrics ? { metrics } : {}),
    heartbeatIntervalMs,
    ...(flags.exitWhenIdle ? { exitWhenIdle: true } : {}),
    prefetch: flags.prefetch,
  });

  const onSignal = (signal: NodeJS.Signals) => {
    if (agent.isStopping) return;
    agent.stop(signal);
    // The pod is killed at the end of its grace period anyway; leave a little before that so the
    // hand-back report goes out. A trial that never reaches its next step is expired by the
    // coordinator instead (its lease TTL), so nothing is lost either way.
    setTimeout(() => {
      log.error({ graceMs }, 'the trial did not stop within the grace period; exiting');
      process.exit(1);
    }, Math.max(0, graceMs - 1000)).unref();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // A parent killed with SIGKILL cannot stop its children; they notice it is gone instead.
  const parentPid = flags.parentPid !== undefined ? Number(flags.parentPid) : undefined;
  if (parentPid !== undefined && !(Number.isInteger(parentPid) && parentPid > 0)) throw new UsageError(`--parent-pid must be a process id, got '${flags.parentPid}'`);
  const parentWatch: NodeJS.Timeout | undefined =
    parentPid === undefined
      ? undefined
      : setInterval(() => {
          try {
            process.kill(parentPid, 0);
          } catch {
            clearInterval(parentWatch);
            log.warn({ parentPid }, 'the parent process is gone; stopping');
            onSignal('SIGTERM');
          }
        }, 1000).unref();
  log.info({ workerId, coordinator: options.address, nats: natsUrl ?? null, backend: backend.name, dataRoot: root }, 'trainer starting');
  try {
    await agent.run();
    return 0;
  } catch (error) {
    // A call the coordinator refused for good (bad token, TLS): say so plainly, no stack.
    if (error instanceof RpcError) throw describeRpcError(error, options.address);
    throw error;
  } finally {
    if (parentWatch) clearInterval(parentWatch);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    client.close();
    await progress.close();
    await exporter?.close();
  }
}
