// `ballast run SPEC --out DIR`: an experiment start to finish on this machine, nothing else to
// install or start. See local/local-run.ts for how; this file is flags, signals and output.
import { availableParallelism } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Command } from 'commander';
import { pino } from 'pino';
import { UsageError } from '../../../cli/main.ts';
import { localRun, RunDirError } from '../local/local-run.ts';
import { TrainersGoneError } from '../local/trainer-pool.ts';
import { natsStatePlugin } from '../nats/nats-plugin.ts';
import { expandExperiment, parseExperimentSpec } from '../spec/experiment-spec.ts';
import { resultsText } from './results-table.ts';
import { readSpecFile } from './submit-command.ts';

interface RunFlags {
  out?: string;
  workers?: string;
  nats?: string;
  dataRoot?: string;
  backend?: string;
  leaseTtl: string;
  report: boolean;
  logLevel: string;
}

export function register(program: Command): void {
  program
    .command('run')
    .summary('run an experiment on this machine (embedded coordinator and trainers)')
    .description(
      'Run every trial of an experiment spec on this machine: a coordinator on loopback with its journal under --out, ' +
        '--workers trainer processes, live progress, then the summary table, <out>/results.json and <out>/report/. ' +
        'Ctrl-C stops cleanly (trainers hand back their trials); the same command again resumes.',
    )
    .argument('<spec>', 'experiment spec (YAML or JSON)')
    .option('--out <dir>', 'run directory: state, trial outputs, logs, results.json (default: runs/<spec name>)')
    .option('--workers <n>', 'trainer processes (default: one per core, at most one per trial)')
    .option('--nats <url>', 'also publish progress and state to NATS (default: $BALLAST_NATS_URL)')
    .option('--data-root <dir>', 'root of models/ and glue/ (default: $BALLAST_DATA_ROOT, else the working directory)')
    .option('--backend <name>', 'tfjs backend of the trainers: tensorflow, wasm or cpu (default: the fastest available)')
    .option('--lease-ttl <seconds>', 'a trial whose trainer stops heartbeating this long is run again', '10')
    .option('--no-report', 'skip the stability report at the end')
    .option('--log-level <level>', 'level of the logs under <out>/logs', process.env.BALLAST_LOG_LEVEL ?? 'info')
    .action(async (specPath: string, flags: RunFlags) => {
      process.exitCode = await run(specPath, flags);
    });
}

async function run(specPath: string, flags: RunFlags): Promise<number> {
  const spec = await readSpecFile(specPath);
  const outDir = resolve(flags.out ?? join('runs', basename(specPath).replace(/\.(ya?ml|json)$/i, '')));
  const trials = expandExperiment(parseExperimentSpec(spec, specPath)).length;
  let workers = Math.max(1, Math.min(availableParallelism(), trials));
  if (flags.workers !== undefined) {
    workers = Number(flags.workers);
    if (!Number.isInteger(workers) || workers < 1 || workers > 256) throw new UsageError(`--workers must be an integer in [1, 256], got '${flags.workers}'`);
  }
  const ttl = Number(flags.leaseTtl);
  if (!(ttl > 0 && ttl <= 3600)) throw new UsageError(`--lease-ttl must be a number of seconds in (0, 3600], got '${flags.leaseTtl}'`);
  mkdirSync(join(outDir, 'logs'), { recursive: true });
  // The terminal shows progress; the structured logs of the coordinator go to a file.
  const log = pino({ level: flags.logLevel, base: { component: 'coordinator' } }, pino.destination({ dest: join(outDir, 'logs', 'coordinator.log'), sync: true, mkdir: true }));
  const natsUrl = flags.nats ?? process.env.BALLAST_NATS_URL;

  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130); // a second Ctrl-C: do not wait
    process.stderr.write(`\nballast: ${signal}: stopping; trainers hand back their trials (again to quit at once)\n`);
    controller.abort(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.stderr.write(`ballast run: ${trials} trials on ${workers} trainer(s); state, logs and results in ${outDir}\n`);
  const t0 = performance.now();
  let outcome;
  try {
    outcome = await localRun({
      spec,
      specPath,
      outDir,
      workers,
      log,
      out: process.stderr,
      leaseTtlMs: Math.round(ttl * 1000),
      signal: controller.signal,
      natsPlugin: (url: string) => natsStatePlugin(url, 'ballast-run'),
      ...(natsUrl ? { nats: natsUrl } : {}),
      ...(flags.dataRoot ? { dataRoot: resolve(flags.dataRoot) } : {}),
      ...(flags.backend ? { backend: flags.backend } : {}),
    });
  } catch (error) {
    if (error instanceof RunDirError) throw new UsageError(error.message);
    if (error instanceof TrainersGoneError) {
      process.stderr.write(`ballast: ${error.message}; the run is saved, fix the cause and run the same command again\n`);
      return 1;
    }
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const seconds = (performance.now() - t0) / 1000;
  if (outcome.state === 'running') {
    const c = outcome.results.trials.filter((t) => t.state === 'succeeded').length;
    process.stderr.write(`ballast: interrupted after ${seconds.toFixed(0)} s with ${c}/${outcome.results.trials.length} trials done; run the same command again to resume\n`);
    return 130;
  }
  process.stdout.write(resultsText(outcome.results, { trials: false }));
  process.stdout.write(`\n${outcome.results.trials.length} trials, ${outcome.state}, in ${seconds.toFixed(1)} s; results: ${outcome.resultsPath}\n`);
  if (flags.report) {
    try {
      const { writeReport } = await import('../report/write-report.ts');
      const written = await writeReport(outcome.results, join(outDir, 'report'), { baseDir: outDir });
      process.stdout.write(`report: ${written.html}\n`);
    } catch (error) {
      process.stderr.write(`ballast: the report could not be written (${(error as Error).message}); try: ballast report ${outDir}\n`);
    }
  }
  const failed = outcome.results.trials.some((t) => t.state === 'failed');
  return outcome.state === 'succeeded' && !failed ? 0 : 1;
}
