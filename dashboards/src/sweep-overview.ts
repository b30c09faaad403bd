// Dashboard 1, the sweep overview: where an experiment stands (trial states, throughput, ETA) and
// what it is finding (the metric's distribution over seeds and the degenerate rate, per configuration).
import { bargauge, dashboard, heatmap, labelVariable, row, singleVariable, stat, table, timeseries } from './dashboard-model.ts';
import type { Dashboard } from './dashboard-model.ts';

const EXP = 'experiment=~"$experiment"';
const remaining = `sum(ballast_coordinator_trials{${EXP}, state=~"queued|running"})`;
// Trials leaving the running state for good or for a retry, per second, over a window long enough
// to smooth the arrival of whole trials.
const finishing = `sum(rate(ballast_coordinator_trial_duration_seconds_count{${EXP}, outcome=~"completed|failed"}[15m]))`;

export function sweepOverview(): Dashboard {
  return dashboard({
    uid: 'ballast-sweep-overview',
    title: 'Ballast / Sweep overview',
    description: 'Trial states, throughput and ETA of experiments, and per configuration the distribution of the metric over seeds and the degenerate-run rate.',
    variables: [
      labelVariable('experiment', 'Experiment', 'ballast_coordinator_trials', 'experiment'),
      singleVariable('metric', 'Metric', 'ballast_coordinator_trial_metric_count', 'metric'),
    ],
    panels: [
      row('Progress'),
      stat({ title: 'Trials done', w: 4, h: 5, unit: 'percentunit', min: 0, max: 1, queries: [{ expr: `sum(ballast_coordinator_trials{${EXP}, state=~"succeeded|failed|cancelled"}) / sum(ballast_coordinator_trials{${EXP}})` }] }),
      stat({ title: 'Queued + running', w: 4, h: 5, queries: [{ expr: remaining }] }),
      stat({
        title: 'ETA',
        description: 'Queued and running trials over the rate at which trials finished in the last 15 minutes.',
        w: 4,
        h: 5,
        unit: 's',
        queries: [{ expr: `${remaining} / ${finishing}` }],
      }),
      stat({ title: 'Failed trials', w: 4, h: 5, queries: [{ expr: `sum(ballast_coordinator_trials{${EXP}, state="failed"})` }], fieldDefaults: { color: { mode: 'thresholds' }, thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }, { color: 'red', value: 1 }] } } }),
      stat({ title: 'Retries (1h)', w: 4, h: 5, queries: [{ expr: `sum(increase(ballast_coordinator_trial_retries_total{${EXP}}[1h]))` }] }),
      stat({ title: 'Experiments running', w: 4, h: 5, queries: [{ expr: 'sum(ballast_coordinator_experiments{state="running"})' }] }),
      timeseries({
        title: 'Trial states',
        w: 12,
        h: 8,
        stacked: true,
        queries: [{ expr: `sum by (state) (ballast_coordinator_trials{${EXP}})`, legend: '{{state}}' }],
      }),
      timeseries({
        title: 'Throughput',
        description: 'Trial attempts ending per hour, by how they ended; and training examples per second over the whole fleet.',
        w: 12,
        h: 8,
        queries: [
          { expr: `sum by (outcome) (rate(ballast_coordinator_trial_duration_seconds_count{${EXP}}[$__rate_interval])) * 3600`, legend: 'attempts/h {{outcome}}' },
          { expr: 'sum(rate(ballast_trainer_examples_total[$__rate_interval]))', legend: 'examples/s (fleet)' },
        ],
      }),
      timeseries({ title: 'Trials by state and configuration', w: 24, h: 8, queries: [{ expr: `sum by (configuration, state) (ballast_coordinator_trials{${EXP}, state=~"running|succeeded|failed"})`, legend: '{{configuration}} {{state}}' }] }),
      row('Stability per configuration'),
      bargauge({
        title: 'Median $metric over seeds',
        description: 'Median of the headline metric (test split, else validation) over the succeeded trials of each configuration, to the 0.05 bucket.',
        w: 8,
        h: 8,
        decimals: 3,
        queries: [{ expr: `histogram_quantile(0.5, sum by (configuration, le) (ballast_coordinator_trial_metric_bucket{${EXP}, metric="$metric"}))`, legend: '{{configuration}}' }],
      }),
      bargauge({
        title: 'Mean $metric over seeds',
        w: 8,
        h: 8,
        decimals: 3,
        queries: [{ expr: `sum by (configuration) (ballast_coordinator_trial_metric_sum{${EXP}, metric="$metric"}) / sum by (configuration) (ballast_coordinator_trial_metric_count{${EXP}, metric="$metric"})`, legend: '{{configuration}}' }],
      }),
      bargauge({
        title: 'Degenerate rate',
        description: 'Degenerate trials over succeeded trials, per configuration (the paper: the share of seeds that fail to train).',
        w: 8,
        h: 8,
        unit: 'percentunit',
        min: 0,
        max: 1,
        queries: [
          {
            expr: `sum by (configuration) (ballast_coordinator_degenerate_trials{${EXP}}) / clamp_min(sum by (configuration) (ballast_coordinator_trials{${EXP}, state="succeeded"}), 1)`,
            legend: '{{configuration}}',
          },
        ],
      }),
      heatmap({
        title: 'Distribution of $metric over seeds',
        description: 'Succeeded trials per 0.05-wide bucket of the metric, all selected configurations together.',
        w: 12,
        h: 9,
        queries: [{ expr: `sum by (le) (ballast_coordinator_trial_metric_bucket{${EXP}, metric="$metric"})`, legend: '{{le}}' }],
      }),
      timeseries({
        title: 'Quantiles of $metric per configuration (p10, p50, p90)',
        w: 12,
        h: 9,
        decimals: 3,
        queries: [0.1, 0.5, 0.9].map((q) => ({
          expr: `histogram_quantile(${q}, sum by (configuration, le) (ballast_coordinator_trial_metric_bucket{${EXP}, metric="$metric"}))`,
          legend: `{{configuration}} p${Math.round(q * 100)}`,
        })),
      }),
      table({
        title: 'Per configuration',
        w: 24,
        h: 8,
        queries: [
          { expr: `sum by (configuration) (ballast_coordinator_trials{${EXP}, state="succeeded"})`, legend: 'succeeded' },
          { expr: `sum by (configuration) (ballast_coordinator_degenerate_trials{${EXP}})`, legend: 'degenerate' },
          { expr: `sum by (configuration) (ballast_coordinator_trials{${EXP}, state="failed"})`, legend: 'failed' },
        ],
        options: { showHeader: true },
      }),
    ],
  });
}
