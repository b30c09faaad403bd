// `ballast train TRIAL.yaml --out DIR`: one trial on this machine, no coordinator. The same
// runTrial the trainer pods run, with a local context: Ctrl-C stops at the next update boundary,
// progress goes to a bar on a terminal and to plain periodic lines otherwise (CI logs, `| tee`).
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { SingleBar } from 'cli-progress';
import { Option, type Command } from 'commander';
import { pino } from 'pino';
import { UsageError } from '../../../cli/main.ts';
import { DataError } from '../data/data-error.ts';
import { CheckpointError } from '../model/checkpoint-error.ts';
import { localTrialContext } from '../train/local-context.ts';
import { TrialCancelledError } from '../train/trial-context.ts';
import type { EvalMetrics, TrialProgress, TrialResult } from '../train/trial-result.ts';
import { readTrialFile } from './read-trial-file.ts';

interface TrainFlags {
  out: string;
  backend?: string;
  dataRoot?: string;
  overwrite?: boolean;
  json?: boolean;
  logLevel: string;
}

export function register(program: Command): void {
  program
    .command('train')
    .description('fine-tune one trial (YAML or JSON trial file) and write metrics, result and the selected checkpoint')
    .argument('<trial>', 'trial file (YAML or JSON)')
    .requiredOption('--out <dir>', 'output directory: metrics.jsonl, result.json, checkpoint/')
    .option('--backend <name>', 'tfjs backend: tensorflow-gpu, tensorflow, wasm or cpu (default: BALLAST_BACKEND, else the fastest available)')
    .option('--data-root <dir>', 'root for relative model and data paths (default: BALLAST_DATA_ROOT, else the working directory)')
    .option('--overwrite', 'replace the results of an earlier run in --out')
    .option('--json', 'print result.json to stdout when done')
    .addOption(new Option('--log-level <level>', 'structured (JSON) log level on stderr').choices(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('warn'))
    .action(async (trialPath: string, flags: TrainFlags) => {
      process.exitCode = await train(trialPath, flags);
    });
}

async function train(trialPath: string, flags: TrainFlags): Promise<number> {
  const config = readTrialFile(trialPath);
  const outDir = resolve(flags.out);
  for (const name of ['result.json', 'metrics.jsonl']) {
    if (existsSync(join(outDir, name)) && !flags.overwrite) {
      throw new UsageError(`${join(outDir, name)} exists: an earlier run is there (pass --overwrite to replace it, or choose another --out)`);
    }
  }
  const log = pino({ level: flags.logLevel, base: { trialId: basename(outDir) } }, pino.destination(2));
  // tfjs, the model and the backends load here, not when `ballast` starts: every other subcommand
  // shares this process's start-up.
  const [{ initBackend }, { runTrial }] = await Promise.all([import('../backend/select-backend.ts'), import('../train/run-trial.ts')]);
  const backend = await initBackend({ override: flags.backend, log });
  const progress = process.stderr.isTTY ? new BarProgress() : new LineProgress();

  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts > 1) process.exit(130); // a second Ctrl-C: the user does not want to wait for the step
    progress.note(`${signal}: stopping after the current update (again to quit at once)`);
    controller.abort(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const ctx = localTrialContext({ trialId: basename(outDir), signal: controller.signal, log, onProgress: (p) => progress.update(p) });
    const result = await runTrial(config, ctx, { outDir, dataRoot: flags.dataRoot, backend });
    progress.stop();
    process.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : summary(result));
    return 0;
  } catch (error) {
    progress.stop();
    if (error instanceof TrialCancelledError) {
      process.stderr.write(`ballast: ${error.message}; metrics so far are in ${join(outDir, 'metrics.jsonl')}\n`);
      return 130;
    }
    // Bad checkpoints and data files are the user's to fix: one line, no stack.
    if (error instanceof CheckpointError || error instanceof DataError) throw new UsageError(error.message);
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function summary(r: TrialResult): string {
  const m = r.task.metric;
  const lines = [
    `task ${r.task.name}: ${r.task.num_train} train / ${r.task.num_validation} validation / ${r.task.num_test} test, ${r.steps_completed}/${r.total_steps} updates on ${r.backend.name} (${r.timings.examples_per_second.toFixed(1)} examples/s)`,
    `selected step ${r.selected.step}: validation ${fmtMetrics(r.selected.validation)}${r.selected.test ? `; test ${fmtMetrics(r.selected.test)}` : ''}`,
    `last step ${r.last.step}: validation ${fmtMetrics(r.last.validation)}${r.last.test ? `; test ${fmtMetrics(r.last.test)}` : ''}`,
    r.degenerate ? `DEGENERATE: ${r.degenerate_reason}` : `not degenerate (${m} beats the majority baseline)`,
    `wrote ${r.metrics_path}, ${r.checkpoint_dir}, ${join(r.checkpoint_dir ? join(r.checkpoint_dir, '..') : '.', 'result.json')}`,
  ];
  return `${lines.join('\n')}\n`;
}

function fmtMetrics(m: EvalMetrics): string {
  return Object.entries(m)
    .map(([k, v]) => `${k} ${typeof v === 'number' ? v.toFixed(4) : String(v)}`)
    .join(', ');
}

interface Progress {
  update(p: TrialProgress): void;
  note(message: string): void;
  stop(): void;
}

/** A bar on a terminal, redrawn at most 10 times a second by cli-progress. */
class BarProgress implements Progress {
  private bar: SingleBar | undefined;
  private validation = '';

  update(p: TrialProgress): void {
    if (p.kind === 'eval') {
      // The bar stays on one line: the first metric after the loss is the task's headline one.
      const [name, value] = Object.entries(p.validation).find(([k]) => k !== 'loss') ?? ['loss', p.validation.loss];
      this.validation = `${name} ${value.toFixed(4)}`;
      this.bar?.update({ validation: this.validation });
      return;
    }
    if (!this.bar) {
      this.bar = new SingleBar({
        format: 'train |{bar}| {value}/{total} | loss {loss} | lr {lr} | {eps} ex/s | ETA {eta_formatted} | val {validation}',
        hideCursor: true,
        etaBuffer: 50,
        stream: process.stderr,
      });
      this.bar.start(p.total_steps, 0, { loss: '-', lr: '-', eps: '-', validation: '-' });
    }
    this.bar.update(p.step, { loss: p.loss.toFixed(4), lr: p.lr.toExponential(2), eps: p.examples_per_second.toFixed(1), validation: this.validation || '-' });
  }

  note(message: string): void {
    process.stderr.write(`\n${message}\n`);
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

/** Plain lines for logs: every 10% of the updates or 30 seconds, whichever comes first, and every evaluation. */
class LineProgress implements Progress {
  private lastAt = 0;
  private lastStep = 0;

  update(p: TrialProgress): void {
    if (p.kind === 'eval') {
      process.stderr.write(`eval step ${p.step}/${p.total_steps}: ${fmtMetrics(p.validation)}\n`);
      return;
    }
    const now = Date.now();
    const tenth = Math.max(1, Math.ceil(p.total_steps / 10));
    if (p.step === 1 || p.step === p.total_steps || p.step - this.lastStep >= tenth || now - this.lastAt >= 30_000) {
      process.stderr.write(`step ${p.step}/${p.total_steps} loss ${p.loss.toFixed(4)} lr ${p.lr.toExponential(2)} ${p.examples_per_second.toFixed(1)} ex/s\n`);
      this.lastAt = now;
      this.lastStep = p.step;
    }
  }

  note(message: string): void {
    process.stderr.write(`${message}\n`);
  }

  stop(): void {}
}
