// Turns an experiment's results into the stability report's numbers (report.json). Reads the
// trials' metrics.jsonl files for the training-loss curves; everything else comes from results.json.
import { basename } from 'node:path';
import type { ExperimentResults, TrialRecord } from '../results/experiment-results.ts';
import type { MetricName } from '../../../trainer/src/train/trial-result.ts';
import { aggregateSeries, locateMetricsFile, readLossFile, type Series } from './curves.ts';
import {
  REPORT_FORMAT_VERSION,
  type ConfigurationReport,
  type Split,
  type StabilityReport,
  type Table1,
  type TaskReport,
  type TrialCounts,
  type TrialScore,
} from './report-model.ts';
import { factorialProblem, twoWayAnova } from './stats/anova.ts';
import { describe } from './stats/descriptive.ts';
import { expectedMaxBootstrap, expectedMaxClosedForm } from './stats/expected-max.ts';
import { welchTTest } from './stats/hypothesis-tests.ts';
import { compareConfigurations, derivedSeed, splitScores } from './comparisons.ts';

export interface ReportOptions {
  /** Seed of every bootstrap; the same seed gives the same report. Default 0. */
  seed?: number;
  /** Repetitions of the expected best-of-k bootstrap (the paper's 1,000). */
  bootstrapRepetitions?: number;
  /** Resamples of the difference-of-means interval. Default 10,000. */
  ciRepetitions?: number;
  /** The Table 1 column the significance marks compare against; default the first column. */
  baseline?: string;
  /** Directory that relative metrics_path values are relative to (the results file's). */
  baseDir?: string;
  /** Clock for `generated_at` (tests pin it). */
  now?: () => Date;
}

export const MARK_LEVELS = [
  { mark: '***', p: 0.001 },
  { mark: '**', p: 0.01 },
  { mark: '*', p: 0.05 },
];

interface ConfigGroup {
  task: string;
  configuration: string;
  column: string;
  trials: TrialRecord[];
}

export function taskOf(trial: TrialRecord): string {
  const task = trial.result?.task.name ?? trial.config?.task?.name;
  if (task) return task;
  const train = trial.config?.task?.train;
  return train ? basename(train).replace(/\.[^.]+$/, '') : 'task';
}

function formatSweepValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function columnOf(trial: TrialRecord, singleTask: boolean): string {
  const entries = Object.entries(trial.sweep_values ?? {}).filter(([key]) => key !== 'task' && !key.startsWith('task.'));
  if (entries.length > 0) return entries.map(([k, v]) => `${k}=${formatSweepValue(v)}`).join(', ');
  return singleTask ? trial.configuration : 'base';
}

function counts(trials: readonly TrialRecord[]): TrialCounts {
  const c: TrialCounts = { total: trials.length, succeeded: 0, failed: 0, cancelled: 0, pending: 0 };
  for (const t of trials) {
    if (t.state === 'succeeded') c.succeeded++;
    else if (t.state === 'failed') c.failed++;
    else if (t.state === 'cancelled') c.cancelled++;
    else c.pending++;
  }
  return c;
}

function finite(x: number | undefined): number | null {
  return typeof x === 'number' && Number.isFinite(x) ? x : null;
}

function trialScore(trial: TrialRecord, metric: MetricName | null): TrialScore {
  const r = trial.result;
  const seeds = trial.seeds ?? r?.seeds;
  return {
    trial_id: trial.id,
    state: trial.state,
    seed: seeds?.seed ?? trial.config?.seed ?? 0,
    init_seed: seeds?.init_seed ?? 0,
    data_seed: seeds?.data_seed ?? 0,
    validation: r && metric ? finite(r.selected.validation[metric]) : null,
    test: r && metric && r.selected.test ? finite(r.selected.test[metric]) : null,
    degenerate: r?.degenerate ?? trial.degenerate ?? false,
    degenerate_reason: r?.degenerate_reason ?? trial.degenerate_reason ?? null,
    diverged_step: r?.diverged?.step ?? null,
    seconds: finite(r?.timings.total_seconds),
    error: trial.errors.length > 0 ? (trial.errors[trial.errors.length - 1] as string) : null,
  };
}

async function trainingLoss(trials: readonly TrialRecord[], baseDir: string | undefined, notes: string[]) {
  const withResult = trials.filter((t) => t.result);
  const series: Series[] = [];
  let missing = 0;
  for (const t of withResult) {
    const path = t.result?.metrics_path;
    const file = path ? await locateMetricsFile(path, baseDir) : null;
    if (!file) {
      missing++;
      continue;
    }
    try {
      const loaded = await readLossFile(file);
      if (loaded.problems.length > 0) notes.push(`${loaded.problems.length} unreadable line(s) skipped, first: ${loaded.problems[0]}`);
      if (loaded.series.size > 0) series.push(loaded.series);
      else missing++;
    } catch (error) {
      missing++;
      notes.push(`could not read ${file}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const note =
    withResult.length === 0
      ? 'no completed trials'
      : missing === withResult.length
        ? `no per-step metrics (metrics.jsonl) found for any of the ${withResult.length} completed trials`
        : missing > 0
          ? `metrics.jsonl missing for ${missing} of ${withResult.length} completed trials; the curve covers the rest`
          : null;
  return { points: aggregateSeries(series), trials_with_metrics: series.length, trials_expected: withResult.length, note };
}

function validationCurve(trials: readonly TrialRecord[], metric: MetricName | null) {
  if (!metric) return [];
  const series: Series[] = trials
    .filter((t) => t.result)
    .map((t) => new Map((t.result?.evals ?? []).flatMap((e) => (Number.isFinite(e.validation[metric]) ? [[e.step, e.validation[metric] as number] as const] : []))));
  return aggregateSeries(series);
}

async function analyzeConfiguration(group: ConfigGroup, metric: MetricName | null, options: Required<Pick<ReportOptions, 'seed' | 'bootstrapRepetitions'>> & ReportOptions): Promise<ConfigurationReport> {
  const scores = group.trials.map((t) => trialScore(t, metric));
  const scored = scores.filter((s) => s.state === 'succeeded' && s.validation !== null);
  const hasTest = scored.some((s) => s.test !== null);
  const testScores = scored.filter((s) => s.test !== null);
  const degenerate = scores.filter((s) => s.state === 'succeeded' && s.degenerate);
  const reasons = new Map<string, number>();
  for (const d of degenerate) reasons.set(d.degenerate_reason ?? 'unspecified', (reasons.get(d.degenerate_reason ?? 'unspecified') ?? 0) + 1);
  const succeeded = scores.filter((s) => s.state === 'succeeded');
  const seconds = succeeded.flatMap((s) => (s.seconds === null ? [] : [s.seconds]));
  const selectOn: Split = hasTest ? 'test' : 'validation';
  // The paper's bootstrap needs both scores of a trial; without a test set it scores on validation.
  const paired = (hasTest ? testScores : scored).map((s) => ({ validation: s.validation as number, test: (hasTest ? s.test : s.validation) as number }));
  const bootstrap = expectedMaxBootstrap(paired, { repetitions: options.bootstrapRepetitions, seed: derivedSeed(options.seed, `expected-max/${group.task}/${group.configuration}`) });
  const dodge = expectedMaxClosedForm(scored.map((s) => s.validation as number), bootstrap.length);
  const factorSplit: Split = hasTest ? 'test' : 'validation';
  const observations = (hasTest ? testScores : scored).map((s) => ({ init: s.init_seed, data: s.data_seed, value: (hasTest ? s.test : s.validation) as number }));
  const problem = factorialProblem(observations);
  const notes: string[] = [];
  const loss = await trainingLoss(group.trials, options.baseDir, notes);
  if (notes.length > 0) loss.note = [loss.note, ...notes].filter(Boolean).join('; ');
  const majority = group.trials.map((t) => t.result?.task.majority_baseline).find((m) => typeof m === 'number');
  return {
    configuration: group.configuration,
    column: group.column,
    sweep_values: group.trials[0]?.sweep_values ?? {},
    trials: counts(group.trials),
    scored: scored.length,
    degenerate: {
      count: degenerate.length,
      rate: succeeded.length > 0 ? degenerate.length / succeeded.length : null,
      reasons: [...reasons].map(([reason, count]) => ({ reason, count })).sort((x, y) => y.count - x.count),
    },
    diverged: scores.filter((s) => s.diverged_step !== null).length,
    mean_trial_seconds: seconds.length > 0 ? seconds.reduce((a, b) => a + b, 0) / seconds.length : null,
    validation: describe(scored.map((s) => s.validation as number)),
    test: hasTest ? describe(testScores.map((s) => s.test as number)) : null,
    majority_baseline: majority ?? null,
    expected_max: {
      scored_on: selectOn,
      repetitions: options.bootstrapRepetitions,
      rows: bootstrap.map((b, i) => ({
        k: b.k,
        bootstrap_mean: b.mean,
        bootstrap_std: b.std,
        dodge_validation_mean: (dodge[i] as { mean: number }).mean,
        dodge_validation_std: dodge[i]?.std ?? null,
      })),
    },
    variance_by_factor: { split: factorSplit, anova: problem ? null : twoWayAnova(observations), reason: problem },
    training_loss: loss,
    validation_curve: validationCurve(group.trials, metric),
    trial_scores: scores,
  };
}

export function markFor(p: number | null): string {
  if (p === null) return '';
  return MARK_LEVELS.find((level) => p < level.p)?.mark ?? '';
}

function buildTable1(tasks: TaskReport[], baselineOption: string | undefined): Table1 {
  const columns: string[] = [];
  for (const t of tasks) for (const c of t.configurations) if (!columns.includes(c.column)) columns.push(c.column);
  if (baselineOption !== undefined && !columns.includes(baselineOption)) {
    throw new RangeError(`baseline '${baselineOption}' is not a configuration column (have: ${columns.join('; ')})`);
  }
  const baseline = baselineOption ?? columns[0] ?? null;
  const rows = tasks.map((task) => {
    const base = task.configurations.find((c) => c.column === baseline);
    return {
      task: task.task,
      metric: task.metric,
      cells: columns.map((column) => {
        const c = task.configurations.find((x) => x.column === column);
        if (!c) return null;
        const split: Split = c.test ? 'test' : 'validation';
        const dist = c.test ?? c.validation;
        let p: number | null = null;
        if (base && base !== c) {
          const bothSplit: Split = c.test && base.test ? 'test' : 'validation';
          p = welchTTest([...splitScores(c, bothSplit).values()], [...splitScores(base, bothSplit).values()])?.p_greater ?? null;
        }
        return { configuration: c.configuration, split, n: dist.n, mean: dist.mean, std: dist.std, p_vs_baseline: p, mark: markFor(p) };
      }),
    };
  });
  return { columns, baseline, rows };
}

/** Computes the whole report. Deterministic for the same results, files and options (bar `generated_at`). */
export async function buildReport(results: ExperimentResults, options: ReportOptions = {}): Promise<StabilityReport> {
  const seed = options.seed ?? 0;
  const bootstrapRepetitions = options.bootstrapRepetitions ?? 1000;
  const ciRepetitions = options.ciRepetitions ?? 10000;
  const taskNames = [...new Set(results.trials.map(taskOf))];
  const groups = new Map<string, ConfigGroup>();
  for (const trial of results.trials) {
    const task = taskOf(trial);
    const key = `${task}\u0000${trial.configuration}`;
    const group = groups.get(key) ?? { task, configuration: trial.configuration, column: columnOf(trial, taskNames.length === 1), trials: [] };
    group.trials.push(trial);
    groups.set(key, group);
  }
  const tasks: TaskReport[] = [];
  for (const task of taskNames) {
    const taskGroups = [...groups.values()].filter((g) => g.task === task);
    const anyResult = taskGroups.flatMap((g) => g.trials).find((t) => t.result)?.result;
    const metric = anyResult?.task.metric ?? null;
    const notes: string[] = [];
    if (!anyResult) notes.push('no trial of this task completed: nothing to summarise');
    const unscored = taskGroups.flatMap((g) => g.trials).filter((t) => t.state === 'succeeded' && metric && !Number.isFinite(t.result?.selected.validation[metric]));
    if (unscored.length > 0) {
      notes.push(`${unscored.length} succeeded trial(s) have no finite validation ${metric} and are left out of the statistics: ${unscored.slice(0, 5).map((t) => t.id).join(', ')}${unscored.length > 5 ? ', …' : ''}`);
    }
    const configurations: ConfigurationReport[] = [];
    for (const g of taskGroups) configurations.push(await analyzeConfiguration(g, metric, { ...options, seed, bootstrapRepetitions }));
    const columns = new Set(configurations.map((c) => c.column));
    if (columns.size < configurations.length) {
      // Two configurations of one task share a column label: fall back to the configuration labels.
      for (const c of configurations) c.column = c.configuration;
    }
    tasks.push({
      task,
      problem_type: anyResult?.task.problem_type ?? null,
      metric,
      configurations,
      comparisons: compareConfigurations(task, configurations, { seed, ciRepetitions }),
      notes,
    });
  }
  const c = counts(results.trials);
  const notes: string[] = [];
  if (c.pending > 0) notes.push(`${c.pending} of ${c.total} trials were still queued or running: the report covers the ${c.succeeded} that succeeded`);
  if (c.failed > 0) notes.push(`${c.failed} trial(s) failed and are left out of every statistic (their errors are listed per configuration)`);
  return {
    format_version: REPORT_FORMAT_VERSION,
    generated_at: (options.now?.() ?? new Date()).toISOString(),
    experiment: results.experiment,
    settings: { seed, bootstrap_repetitions: bootstrapRepetitions, ci_repetitions: ciRepetitions, ci_level: 0.95, mark_levels: MARK_LEVELS },
    trials: c,
    tasks,
    table1: buildTable1(tasks, options.baseline),
    notes,
  };
}
