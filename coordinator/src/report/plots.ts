// The report's figures as Vega-Lite specs, one set per task, built from report.json's numbers.
// Rendering to SVG happens in render-svg.ts; keeping specs as plain data makes them testable.
import type { TopLevelSpec } from 'vega-lite';
import type { ConfigurationReport, TaskReport } from './report-model.ts';

export interface PlotSpec {
  /** Stable id, e.g. `rte-distribution`; the HTML uses it as the figure's anchor. */
  id: string;
  title: string;
  caption: string;
  /** Data rows drawn; 0 means the figure is replaced by a note saying why. */
  points: number;
  /** Why there is nothing to draw (when points is 0). */
  empty_reason: string | null;
  spec: TopLevelSpec;
}

const WIDTH = 460;
const HEIGHT = 260;
const CONFIG = {
  font: 'Helvetica, Arial, sans-serif',
  axis: { labelFontSize: 11, titleFontSize: 12, grid: true, gridColor: '#eee' },
  legend: { labelFontSize: 11, titleFontSize: 11, labelLimit: 420 },
  title: { fontSize: 13, anchor: 'start' as const },
  view: { stroke: '#ddd' },
};

function base(title: string): Pick<TopLevelSpec, '$schema' | 'config' | 'title' | 'background'> {
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: CONFIG, title, background: 'white' };
}

function colorScale(task: TaskReport) {
  return { domain: task.configurations.map((c) => c.column) };
}

function metricLabel(task: TaskReport, split: string): string {
  return `${task.metric ?? 'score'} (${split})`;
}

/** Figure 2 of the paper: the distribution of test scores over seeds, box and jittered points. */
export function distributionPlot(task: TaskReport): PlotSpec {
  const split = task.configurations.every((c) => c.test) ? 'test' : 'validation';
  const rows = task.configurations.flatMap((c) =>
    c.trial_scores.flatMap((s, i) => {
      const v = split === 'test' ? s.test : s.validation;
      if (s.state !== 'succeeded' || v === null) return [];
      // A deterministic jitter (golden-ratio sequence) so repeated reports draw identical points.
      const jitter = ((i * 0.618033988749895) % 1) - 0.5;
      return [{ configuration: c.column, score: v, run: s.degenerate ? 'degenerate' : 'ok', trial: s.trial_id, jitter }];
    }),
  );
  const x = { field: 'configuration', type: 'nominal' as const, title: null, sort: task.configurations.map((c) => c.column), axis: { labelAngle: 0, labelLimit: 240 } };
  const y = { field: 'score', type: 'quantitative' as const, title: metricLabel(task, split), scale: { zero: false } };
  return {
    id: `${task.task}-distribution`,
    title: `${task.task}: ${split} ${task.metric ?? 'score'} over seeds`,
    caption: `Each point is one trial (red: degenerate). Boxes span the quartiles, whiskers the range (as the paper's Figure 2).`,
    points: rows.length,
    empty_reason: rows.length === 0 ? 'no trial has a score' : null,
    spec: {
      ...base(`${task.task}: ${split} ${task.metric ?? 'score'} per configuration`),
      width: Math.max(WIDTH, 150 * task.configurations.length),
      height: HEIGHT,
      data: { values: rows },
      layer: [
        { mark: { type: 'boxplot', extent: 'min-max', opacity: 0.35, size: 44, median: { color: '#333' } }, encoding: { x, y, color: { value: '#4c78a8' } } },
        {
          mark: { type: 'point', filled: true, size: 38, opacity: 0.85 },
          encoding: {
            x,
            xOffset: { field: 'jitter', type: 'quantitative', scale: { domain: [-1.6, 1.6] } },
            y,
            color: { field: 'run', type: 'nominal', title: 'run', scale: { domain: ['ok', 'degenerate'], range: ['#1f3b73', '#d62728'] } },
            tooltip: [{ field: 'trial' }, { field: 'score', format: '.4f' }],
          },
        },
      ],
    } as TopLevelSpec,
  };
}

function bandPlot(task: TaskReport, id: string, title: string, caption: string, yTitle: string, select: (c: ConfigurationReport) => Array<{ step: number; mean: number; min: number; max: number }>, emptyReason: string): PlotSpec {
  const rows = task.configurations.flatMap((c) => select(c).map((p) => ({ configuration: c.column, ...p })));
  const color = { field: 'configuration', type: 'nominal' as const, title: 'configuration', scale: colorScale(task) };
  return {
    id,
    title,
    caption,
    points: rows.length,
    empty_reason: rows.length === 0 ? emptyReason : null,
    spec: {
      ...base(title),
      width: WIDTH,
      height: HEIGHT,
      data: { values: rows },
      encoding: { x: { field: 'step', type: 'quantitative', title: 'step' } },
      layer: [
        { mark: { type: 'area', opacity: 0.18 }, encoding: { y: { field: 'min', type: 'quantitative', title: yTitle, scale: { zero: false } }, y2: { field: 'max' }, color } },
        { mark: { type: 'line', strokeWidth: 2 }, encoding: { y: { field: 'mean', type: 'quantitative' }, color } },
      ],
    } as TopLevelSpec,
  };
}

/** Figure 3: training loss over steps, mean line and min–max band over the trials. */
export function trainingLossPlot(task: TaskReport): PlotSpec {
  const notes = task.configurations.flatMap((c) => (c.training_loss.note ? [`${c.column}: ${c.training_loss.note}`] : []));
  const drawn = task.configurations.some((c) => c.training_loss.points.length > 0);
  return bandPlot(
    task,
    `${task.task}-training-loss`,
    `${task.task}: training loss`,
    // When nothing is drawn the notes are the figure's whole content; when some is, they qualify it.
    `Mean over trials (line) and range (band) of the per-step training loss from each trial's metrics.jsonl (the paper's Figure 3).${drawn && notes.length ? ` Note: ${notes.join('; ')}.` : ''}`,
    'training loss',
    (c) => c.training_loss.points,
    notes.length ? notes.join('; ') : 'no per-step metrics recorded',
  );
}

/** Validation score at each evaluation, mean and range over trials. */
export function validationCurvePlot(task: TaskReport): PlotSpec {
  return bandPlot(
    task,
    `${task.task}-validation-curves`,
    `${task.task}: validation ${task.metric ?? 'score'} during training`,
    'Mean over trials (line) and range (band) of the validation metric at each evaluation.',
    `${task.metric ?? 'score'} (validation)`,
    (c) => c.validation_curve,
    'no evaluations recorded',
  );
}

/** Figure 4: expected best-of-k, the paper's bootstrap and Dodge et al.'s closed form side by side. */
export function expectedMaxPlot(task: TaskReport): PlotSpec {
  const rows = task.configurations.flatMap((c) =>
    c.expected_max.rows.flatMap((r) => [
      { configuration: c.column, k: r.k, panel: `bootstrap: best on validation, scored on ${c.expected_max.scored_on}`, mean: r.bootstrap_mean, lo: r.bootstrap_mean - (r.bootstrap_std ?? 0), hi: r.bootstrap_mean + (r.bootstrap_std ?? 0) },
      { configuration: c.column, k: r.k, panel: 'closed form (Dodge et al. 2019): validation', mean: r.dodge_validation_mean, lo: r.dodge_validation_mean - (r.dodge_validation_std ?? 0), hi: r.dodge_validation_mean + (r.dodge_validation_std ?? 0) },
    ]),
  );
  const color = { field: 'configuration', type: 'nominal' as const, title: 'configuration', scale: colorScale(task) };
  return {
    id: `${task.task}-expected-max`,
    title: `${task.task}: expected best-of-k`,
    caption: 'Expected score of the best of k trials (line) ± one standard deviation (band), k = 1..N (the paper\'s Figure 4).',
    points: rows.length,
    empty_reason: rows.length === 0 ? 'no trial has a score' : null,
    spec: {
      ...base(`${task.task}: expected best-of-k`),
      data: { values: rows },
      facet: { column: { field: 'panel', type: 'nominal', title: null, header: { labelFontSize: 12 } } },
      spec: {
        width: 330,
        height: HEIGHT,
        encoding: { x: { field: 'k', type: 'quantitative', title: 'k (trials)', axis: { tickMinStep: 1 } } },
        layer: [
          { mark: { type: 'area', opacity: 0.15 }, encoding: { y: { field: 'lo', type: 'quantitative', title: `expected ${task.metric ?? 'score'}`, scale: { zero: false } }, y2: { field: 'hi' }, color } },
          { mark: { type: 'line', point: true, strokeWidth: 2 }, encoding: { y: { field: 'mean', type: 'quantitative' }, color } },
        ],
      },
      resolve: { scale: { y: 'independent' } },
    } as TopLevelSpec,
  };
}

export function taskPlots(task: TaskReport): PlotSpec[] {
  return [distributionPlot(task), trainingLossPlot(task), expectedMaxPlot(task), validationCurvePlot(task)];
}
