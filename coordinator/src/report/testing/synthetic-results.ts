// Synthetic ExperimentResults for the report's tests (and anyone who wants a report without a
// sweep): seeded scores per configuration, degenerate runs at a chosen rate, optional factorial
// seeds, failed trials, tasks without a test set, and metrics.jsonl files for the loss curves.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExperimentResults, TrialRecord } from '../../results/experiment-results.ts';
import { parseTrialConfig, type TaskName } from '../../../../trainer/src/config/trial-config.ts';
import type { EvalMetrics, MetricName, TrialResult } from '../../../../trainer/src/train/trial-result.ts';
import { Rng } from '../../../../trainer/src/util/rng.ts';

export interface SyntheticTask {
  name: TaskName;
  /** Default by task: accuracy (rte), f1 (mrpc), mcc (cola), spearman (sts-b). */
  metric?: MetricName;
  hasTest?: boolean;
}

export interface SyntheticConfiguration {
  label: string;
  sweep_values?: Record<string, unknown>;
  /** Mean and spread of non-degenerate scores. */
  mean: number;
  std: number;
  /** Probability that a trial is degenerate (scores at the majority baseline). */
  degenerateRate?: number;
}

export interface SyntheticOptions {
  id?: string;
  tasks?: SyntheticTask[];
  configurations: SyntheticConfiguration[];
  /** Seeds 1..n per configuration (ignored when `factorial` is given). */
  seeds?: number;
  /** Every init seed crossed with every data seed (Dodge et al. 2020's design). */
  factorial?: { init: number[]; data: number[] };
  /** Trials (by id, e.g. `rte/bertadam-s3`) that failed instead of succeeding. */
  failed?: string[];
  /** When given, write metrics.jsonl per trial under this directory (relative paths in results). */
  metricsDir?: string;
  totalSteps?: number;
  seed?: number;
}

const DEFAULT_METRIC: Record<string, MetricName> = { rte: 'accuracy', mrpc: 'f1', cola: 'mcc', 'sts-b': 'spearman' };

function metrics(metric: MetricName, value: number, loss: number): EvalMetrics {
  const m: EvalMetrics = { loss, [metric]: value };
  if (metric === 'f1') m.accuracy = value - 0.05;
  if (metric === 'spearman') m.pearson = value + 0.002;
  return m;
}

export async function syntheticResults(options: SyntheticOptions): Promise<ExperimentResults> {
  const tasks = options.tasks ?? [{ name: 'rte' }];
  const totalSteps = options.totalSteps ?? 200;
  const rng = new Rng(options.seed ?? 1);
  const id = options.id ?? 'exp-synthetic';
  const trials: TrialRecord[] = [];
  const pendingFiles: LossFileSpec[] = [];
  const seedPairs = options.factorial
    ? options.factorial.init.flatMap((init) => (options.factorial as { data: number[] }).data.map((data) => ({ init, data })))
    : Array.from({ length: options.seeds ?? 20 }, (_, i) => ({ init: 1000 + i, data: 2000 + i }));
  for (const task of tasks) {
    const metric = task.metric ?? DEFAULT_METRIC[task.name] ?? 'accuracy';
    const regression = task.name === 'sts-b';
    const majority = regression ? undefined : 0.527;
    const degenerateScore = regression ? 0.05 : (majority as number);
    for (const conf of options.configurations) {
      const initEffect = new Map(seedPairs.map((p) => [p.init, rng.normal() * conf.std * 0.8]));
      const dataEffect = new Map(seedPairs.map((p) => [p.data, rng.normal() * conf.std * 0.5]));
      seedPairs.forEach((pair, index) => {
        const seed = index + 1;
        const trialId = `${task.name}/${conf.label}-s${seed}`;
        const config = parseTrialConfig({
          model: 'builtin:tiny',
          task: { name: task.name },
          seed,
          init_seed: pair.init,
          data_seed: pair.data,
          ...(conf.sweep_values ?? {}),
        });
        const seeds = { seed, init_seed: pair.init, data_seed: pair.data, dropout_seed: seed };
        const sweepValues = { ...(tasks.length > 1 ? { task: task.name } : {}), ...(conf.sweep_values ?? {}) };
        const base: TrialRecord = {
          id: trialId,
          experiment_id: id,
          configuration: tasks.length > 1 ? `${task.name}/${conf.label}` : conf.label,
          sweep_values: sweepValues,
          state: 'succeeded',
          attempts: 1,
          config,
          seeds,
          errors: [],
        };
        if (options.failed?.includes(trialId)) {
          trials.push({ ...base, state: 'failed', attempts: 3, errors: ['trainer lost', 'trainer lost', 'out of memory'] });
          return;
        }
        const degenerate = rng.nextFloat() < (conf.degenerateRate ?? 0);
        const noise = (initEffect.get(pair.init) as number) + (dataEffect.get(pair.data) as number) + rng.normal() * conf.std * 0.3;
        const val = degenerate ? degenerateScore : Math.min(0.99, conf.mean + noise);
        const test = degenerate ? degenerateScore : Math.min(0.99, conf.mean + noise + rng.normal() * conf.std * 0.4);
        const evals = Array.from({ length: 10 }, (_, e) => {
          const step = Math.round(((e + 1) * totalSteps) / 10);
          const progress = (e + 1) / 10;
          const score = degenerate ? degenerateScore : degenerateScore + (val - degenerateScore) * Math.min(1, progress * 1.4) + rng.normal() * 0.005;
          return { step, validation: metrics(metric, score, 0.7 - 0.3 * progress) };
        });
        const selected = { step: totalSteps, validation: metrics(metric, val, 0.45), ...(task.hasTest === false ? {} : { test: metrics(metric, test, 0.46) }) };
        const metricsPath = options.metricsDir ? join('trials', trialId.replace('/', '_'), 'metrics.jsonl') : undefined;
        const result: TrialResult = {
          config,
          seeds,
          backend: { name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', device: 'cpu', threads: 1, chosen_by: 'auto' },
          task: {
            name: task.name,
            problem_type: regression ? 'regression' : 'classification',
            metric,
            selection_metric: metric,
            num_labels: regression ? 1 : 2,
            num_train: 1000,
            num_validation: 138,
            num_test: task.hasTest === false ? 0 : 139,
            ...(majority === undefined ? {} : { majority_baseline: majority }),
          },
          total_steps: totalSteps,
          steps_completed: totalSteps,
          evals,
          selected,
          last: selected,
          degenerate,
          ...(degenerate ? { degenerate_reason: regression ? 'constant predictions' : 'predicts the majority class only' } : {}),
          timings: { total_seconds: 60 + rng.nextFloat() * 20, train_seconds: 55, eval_seconds: 5, examples_per_second: 100 },
          ...(metricsPath ? { metrics_path: metricsPath } : {}),
        };
        trials.push({ ...base, result, metrics: selected.test ? { [metric]: test } : { [metric]: val }, degenerate, ...(result.degenerate_reason ? { degenerate_reason: result.degenerate_reason } : {}) });
        if (options.metricsDir && metricsPath) pendingFiles.push({ path: join(options.metricsDir, metricsPath), degenerate, seed: seed * 7919 + trials.length, totalSteps });
      });
    }
  }
  for (const file of pendingFiles) await writeLossFile(file);
  return {
    experiment: { id, name: 'synthetic', state: 'succeeded', created_at: '2026-11-26T00:00:00.000Z' },
    trials,
    summary: [],
  };
}

interface LossFileSpec {
  path: string;
  degenerate: boolean;
  seed: number;
  totalSteps: number;
}

async function writeLossFile(file: LossFileSpec): Promise<void> {
  const rng = new Rng(file.seed);
  const lines: string[] = [];
  for (let step = 1; step <= file.totalSteps; step++) {
    const floor = file.degenerate ? 0.69 : 0.25;
    const loss = floor + (0.72 - floor) * Math.exp(-step / (file.totalSteps / 4)) + rng.normal() * 0.03;
    lines.push(JSON.stringify({ step, loss, lr: 2e-5 * Math.min(1, step / 20) }));
  }
  await mkdir(join(file.path, '..'), { recursive: true });
  await writeFile(file.path, `${lines.join('\n')}\n`);
}
