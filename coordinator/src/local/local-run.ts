// `ballast run`: the whole system on one machine. A coordinator in this process on a loopback
// port, its journal under `<out>/state`; N `ballast trainer` child processes; live progress from
// the core's change stream; at the end `<out>/results.json`, the summary table and the report.
//
// Resuming: `<out>/run.json` records the experiment id before it is submitted, and submission
// under an existing id with the same spec is a no-op in the core, so running the same command
// again replays the journal and carries on; the experiment is never submitted twice.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Logger } from 'pino';
import { CoordinatorError } from '../core/errors.ts';
import type { CoreEvent, ExperimentInfo } from '../core/types.ts';
import type { WatchEvent } from '../client/coordinator-client.ts';
import { startCoordinator } from '../main.ts';
import type { CoordinatorPluginFactory, RunningCoordinator } from '../main.ts';
import type { ExperimentResults } from '../results/experiment-results.ts';
import { newExperimentId } from '../spec/experiment-spec.ts';
import { WatchView } from '../cli/watch-view.ts';
import { TrainerPool, TrainersGoneError } from './trainer-pool.ts';
import { writeFileAtomic } from '../../../trainer/src/util/write-file-atomic.ts';

export const RUN_RECORD = 'run.json';
export const RUN_RECORD_VERSION = 1;

export interface RunRecord {
  v: number;
  experiment_id: string;
  spec: string;
  created_at: string;
}

export interface LocalRunOptions {
  spec: Record<string, unknown>;
  /** Where the spec came from (recorded with the experiment). */
  specPath: string;
  outDir: string;
  workers: number;
  log: Logger;
  /** Progress goes here (bars when it is a TTY). */
  out: NodeJS.WritableStream & { isTTY?: boolean };
  nats?: string;
  /** NATS state publisher, when `nats` is given (passed in so this module stays transport-free). */
  natsPlugin?: (url: string) => CoordinatorPluginFactory;
  dataRoot?: string;
  backend?: string;
  /** Default 10 s: a dead local trainer's trial is queued again quickly. */
  leaseTtlMs?: number;
  /** Ctrl-C. */
  signal?: AbortSignal;
  /** Extra `ballast trainer` flags (tests). */
  trainerArgs?: string[];
  /** Told the trainer pool once it runs (tests kill trainers through it). */
  onTrainers?: (pool: TrainerPool) => void;
}

export interface LocalRunOutcome {
  experimentId: string;
  /** The experiment's state at the end; `running` when interrupted. */
  state: ExperimentInfo['state'];
  results: ExperimentResults;
  resultsPath: string;
  /** True when this run found the experiment already submitted (a resume). */
  resumed: boolean;
}

/** Thrown for a run directory that cannot be used (another experiment's, a damaged record). */
export class RunDirError extends Error {
  override readonly name = 'RunDirError';
}

export function readRunRecord(outDir: string): RunRecord | undefined {
  const path = join(outDir, RUN_RECORD);
  if (!existsSync(path)) return undefined;
  let record: Partial<RunRecord>;
  try {
    record = JSON.parse(readFileSync(path, 'utf8')) as Partial<RunRecord>;
  } catch (error) {
    throw new RunDirError(`${path}: not valid JSON (${(error as Error).message}); it records which experiment this directory holds`);
  }
  if (record.v !== RUN_RECORD_VERSION || typeof record.experiment_id !== 'string') {
    throw new RunDirError(`${path}: expected {"v": ${RUN_RECORD_VERSION}, "experiment_id": ...}`);
  }
  return record as RunRecord;
}


function toWatchEvent(event: CoreEvent): WatchEvent {
  switch (event.type) {
    case 'experiment':
      return { type: 'experiment', experiment: event.experiment };
    case 'trial':
      return { type: 'trial', trial: event.trial };
    case 'progress':
      return { type: 'progress', trialId: event.trial_id, attempt: event.attempt, workerId: event.worker_id, progress: event.progress };
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

function experimentOf(event: CoreEvent): string {
  return event.type === 'experiment' ? event.experiment.id : event.type === 'trial' ? event.trial.experiment_id : event.experiment_id;
}

/** Shows the experiment's progress until it ends (resolves with its final info) or `signal` aborts. */
function follow(coordinator: RunningCoordinator, experimentId: string, view: WatchView, signal?: AbortSignal, failed?: Promise<never>): Promise<ExperimentInfo | undefined> {
  const { core } = coordinator;
  return new Promise<ExperimentInfo | undefined>((resolve, reject) => {
    let unsubscribe = () => {};
    const finish = (info: ExperimentInfo | undefined) => {
      unsubscribe();
      signal?.removeEventListener('abort', onAbort);
      resolve(info);
    };
    const onAbort = () => finish(undefined);
    // Subscribe and take the snapshot in one synchronous block: no change can fall between them.
    unsubscribe = core.subscribe((event) => {
      if (experimentOf(event) !== experimentId) return;
      view.handle(toWatchEvent(event));
      if (event.type === 'experiment' && event.experiment.state !== 'running') finish(event.experiment);
    });
    const info = core.getExperiment(experimentId);
    view.handle({ type: 'experiment', experiment: info });
    for (const trial of core.listTrials(experimentId)) view.handle({ type: 'trial', trial });
    if (info.state !== 'running') return finish(info);
    if (signal?.aborted) return finish(undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    failed?.catch((error: unknown) => {
      unsubscribe();
      reject(error);
    });
  });
}

export async function localRun(options: LocalRunOptions): Promise<LocalRunOutcome> {
  const { log } = options;
  const outDir = options.outDir;
  mkdirSync(outDir, { recursive: true });
  const stateDir = join(outDir, 'state');
  const logDir = join(outDir, 'logs');
  const record = readRunRecord(outDir);
  const natsUrl = options.nats;

  const coordinator = await startCoordinator({
    listen: '127.0.0.1:0',
    stateDir,
    leaseTtlMs: options.leaseTtlMs ?? 10_000,
    log,
    plugins: natsUrl && options.natsPlugin ? [options.natsPlugin(natsUrl)] : [],
  });
  let pool: TrainerPool | undefined;
  try {
    const experimentId = record?.experiment_id ?? newExperimentId(String(options.spec.name ?? 'experiment'));
    if (!record) {
      // Recorded before the submission: a crash in between still resumes under the same id.
      writeFileAtomic(join(outDir, RUN_RECORD), `${JSON.stringify({ v: RUN_RECORD_VERSION, experiment_id: experimentId, spec: basename(options.specPath), created_at: new Date().toISOString() } satisfies RunRecord, null, 2)}\n`);
    }
    const resumed = coordinator.core.listExperiments().some((e) => e.id === experimentId);
    try {
      await coordinator.core.submitExperiment(options.spec, basename(options.specPath), { experimentId });
    } catch (error) {
      if (error instanceof CoordinatorError && error.code === 'failed_precondition') {
        throw new RunDirError(`${outDir} holds experiment ${experimentId} of a different spec; give another --out, or run that spec again to resume it`);
      }
      throw error;
    }
    const before = coordinator.core.getExperiment(experimentId);
    options.out.write(`experiment ${experimentId} on the embedded coordinator ${coordinator.address} (ballast status ${experimentId} --coordinator ${coordinator.address})\n`);
    if (resumed) {
      const c = before.counts;
      options.out.write(`resuming ${experimentId}: ${c.succeeded + c.failed + c.cancelled}/${before.trials} trials done${c.running > 0 ? `, ${c.running} were running (queued again once their leases expire)` : ''}\n`);
    }

    let info: ExperimentInfo | undefined = before;
    if (before.state === 'running') {
      let giveUp: (error: Error) => void = () => {};
      const failed = new Promise<never>((_resolve, reject) => {
        giveUp = reject;
      });
      pool = new TrainerPool({
        count: options.workers,
        coordinator: coordinator.address,
        outDir: join(outDir, 'trials'),
        logDir,
        log,
        ...(natsUrl ? { nats: natsUrl } : {}),
        ...(options.dataRoot ? { dataRoot: options.dataRoot } : {}),
        ...(options.backend ? { backend: options.backend } : {}),
        ...(options.trainerArgs ? { extraArgs: options.trainerArgs } : {}),
        onAllGone: (reason) => giveUp(new TrainersGoneError(reason)),
      });
      pool.start();
      options.onTrainers?.(pool);
      const view = new WatchView({ out: options.out });
      try {
        info = await follow(coordinator, experimentId, view, options.signal, failed);
      } finally {
        view.close();
      }
    }

    const results = coordinator.core.results(experimentId);
    const resultsPath = join(outDir, 'results.json');
    writeFileAtomic(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
    return { experimentId, state: info?.state ?? 'running', results, resultsPath, resumed };
  } finally {
    // Trainers first (they hand their trials back to the coordinator), then the coordinator.
    await pool?.stop(30_000);
    await coordinator.stop(5000);
  }
}
