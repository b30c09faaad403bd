// What `ballast watch` (and `submit --wait`) shows while an experiment runs: on a terminal, one
// progress bar for the experiment and one per running trial (cli-progress); otherwise plain
// timestamped lines, with step progress at most every `lineIntervalMs` per trial so that logs
// stay readable. The view only consumes WatchEvents; following the stream is follow-experiment.ts.
import cliProgress from 'cli-progress';
import type { WatchEvent } from '../client/coordinator-client.ts';
import type { ExperimentInfo } from '../core/types.ts';
import type { TrialProgress } from '../../../trainer/src/train/trial-result.ts';
import type { TrialRecord } from '../results/experiment-results.ts';

export interface WatchViewOptions {
  /** Where lines or bars go. */
  out: NodeJS.WritableStream & { isTTY?: boolean };
  /** Bars when true (default: `out.isTTY`). */
  bars?: boolean;
  /** Line mode: minimum time between two step lines of one trial (default 10 s). */
  lineIntervalMs?: number;
  now?: () => number;
}

const fmt = (x: number, digits = 4) => (Number.isFinite(x) ? Number(x.toPrecision(digits)).toString() : String(x));

function metricsText(metrics: Record<string, number> | undefined): string {
  return Object.entries(metrics ?? {})
    .filter(([key]) => key !== 'loss')
    .map(([key, value]) => `${key}=${fmt(value)}`)
    .join(' ');
}

function progressText(p: TrialProgress): string {
  if (p.kind === 'step') return `step ${p.step}/${p.total_steps} loss ${fmt(p.loss)} lr ${p.lr.toExponential(2)} ${fmt(p.examples_per_second, 3)} ex/s`;
  return `eval @${p.step}/${p.total_steps}: ${metricsText(p.validation as unknown as Record<string, number>)} loss=${fmt(p.validation.loss)}`;
}

export function countsText(info: ExperimentInfo): string {
  const c = info.counts;
  const parts = [`${c.succeeded} succeeded`, `${c.failed} failed`, `${c.running} running`, `${c.queued} queued`];
  if (c.cancelled > 0) parts.push(`${c.cancelled} cancelled`);
  if (c.degenerate > 0) parts.push(`${c.degenerate} degenerate`);
  return `${info.trials} trials: ${parts.join(', ')}`;
}

export class WatchView {
  private experiment: ExperimentInfo | undefined;
  private readonly trials = new Map<string, TrialRecord>();
  private snapshotLeft = 0;
  private expectSnapshot = true;
  private readonly lastLine = new Map<string, number>();
  private readonly bars: cliProgress.MultiBar | undefined;
  private overall: cliProgress.SingleBar | undefined;
  private readonly trialBars = new Map<string, cliProgress.SingleBar>();
  private readonly now: () => number;
  private readonly lineIntervalMs: number;

  constructor(private readonly options: WatchViewOptions) {
    this.now = options.now ?? Date.now;
    this.lineIntervalMs = options.lineIntervalMs ?? 10_000;
    if (options.bars ?? options.out.isTTY === true) {
      this.bars = new cliProgress.MultiBar(
        {
          stream: options.out as NodeJS.WriteStream,
          format: '{label} |{bar}| {value}/{total} {detail}',
          hideCursor: true,
          clearOnComplete: false,
          autopadding: true,
          forceRedraw: true,
        },
        cliProgress.Presets.shades_classic,
      );
    }
  }

  /** The experiment as last seen (undefined before the first event). */
  get info(): ExperimentInfo | undefined {
    return this.experiment;
  }

  private line(text: string): void {
    const stamp = new Date(this.now()).toISOString().slice(11, 19);
    if (this.bars) this.bars.log(`${text}\n`);
    else this.options.out.write(`${stamp} ${text}\n`);
  }

  handle(event: WatchEvent): void {
    switch (event.type) {
      case 'experiment':
        return this.onExperiment(event.experiment);
      case 'trial':
        return this.onTrial(event.trial);
      case 'progress':
        return this.onProgress(event.trialId, event.attempt, event.progress);
      default: {
        const unreachable: never = event;
        throw new Error(`unknown watch event ${JSON.stringify(unreachable)}`);
      }
    }
  }

  /** The stream is being reopened: its first events are a snapshot again. */
  reconnecting(): void {
    this.expectSnapshot = true;
  }

  private onExperiment(info: ExperimentInfo): void {
    const first = this.experiment === undefined;
    this.experiment = info;
    if (this.expectSnapshot) {
      // A stream's first message: a snapshot of every trial follows.
      this.expectSnapshot = false;
      this.snapshotLeft = info.trials;
      if (first) this.line(`experiment ${info.id} (${info.name}) ${info.state}: ${countsText(info)}`);
    }
    const done = info.counts.succeeded + info.counts.failed + info.counts.cancelled;
    if (this.bars) {
      this.overall ??= this.bars.create(info.trials, done, { label: info.name, detail: '' });
      this.overall.setTotal(info.trials);
      this.overall.update(done, { label: info.name, detail: `${info.counts.running} running, ${info.counts.failed} failed, ${info.counts.degenerate} degenerate` });
    }
    if (info.state !== 'running' && !first) this.line(`experiment ${info.id} ${info.state}: ${countsText(info)}`);
  }

  private onTrial(trial: TrialRecord): void {
    const previous = this.trials.get(trial.id);
    this.trials.set(trial.id, trial);
    const inSnapshot = this.snapshotLeft > 0;
    if (inSnapshot) this.snapshotLeft--;
    if (trial.state === 'running') this.ensureBar(trial);
    else this.dropBar(trial.id);
    if (previous?.state === trial.state && previous.attempts === trial.attempts) return;
    // The first snapshot is summarised by the experiment line (say only what runs or failed); a
    // reconnection's snapshot reports what changed while the stream was down.
    if (inSnapshot && !previous && trial.state !== 'running' && trial.state !== 'failed') return;
    switch (trial.state) {
      case 'running':
        this.line(`${trial.id} running (attempt ${trial.attempts}${trial.worker_id ? ` on ${trial.worker_id}` : ''})`);
        break;
      case 'queued':
        if (previous) this.line(`${trial.id} queued again${trial.errors.length ? `: ${trial.errors.at(-1)}` : ''}`);
        break;
      case 'succeeded':
        this.line(`${trial.id} succeeded ${metricsText(trial.metrics)}${trial.degenerate ? ` [degenerate: ${trial.degenerate_reason ?? 'yes'}]` : ''}`);
        break;
      case 'failed':
        this.line(`${trial.id} FAILED after ${trial.attempts} attempt(s): ${trial.errors.at(-1) ?? 'unknown reason'}`);
        break;
      case 'cancelled':
        this.line(`${trial.id} cancelled`);
        break;
    }
  }

  private ensureBar(trial: TrialRecord): void {
    if (!this.bars || this.trialBars.has(trial.id)) return;
    const total = trial.progress?.total_steps ?? 1;
    this.trialBars.set(trial.id, this.bars.create(total, trial.progress?.step ?? 0, { label: trial.id, detail: trial.progress ? progressText(trial.progress) : 'starting' }));
  }

  private dropBar(trialId: string): void {
    const bar = this.trialBars.get(trialId);
    if (bar && this.bars) {
      this.bars.remove(bar);
      this.trialBars.delete(trialId);
    }
  }

  private onProgress(trialId: string, attempt: number, progress: TrialProgress): void {
    const bar = this.trialBars.get(trialId);
    if (bar) {
      bar.setTotal(progress.total_steps);
      bar.update(progress.step, { label: trialId, detail: progressText(progress) });
      if (progress.kind === 'eval') this.line(`${trialId} ${progressText(progress)}`);
      return;
    }
    if (this.bars) return;
    const now = this.now();
    if (progress.kind === 'step' && now - (this.lastLine.get(trialId) ?? -Infinity) < this.lineIntervalMs) return;
    this.lastLine.set(trialId, now);
    this.line(`${trialId}${attempt > 1 ? ` (attempt ${attempt})` : ''} ${progressText(progress)}`);
  }

  close(): void {
    this.bars?.stop();
  }
}
