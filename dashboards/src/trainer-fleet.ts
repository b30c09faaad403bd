// Dashboard 2, the trainer fleet: is every device busy and healthy? Throughput and step time per
// pod, the running trials' loss and learning rate, memory (process, tfjs tensors), the backend each
// pod runs on, the idle gap between trials, and GPU utilisation and memory from dcgm-exporter.
import { dashboard, labelVariable, row, stat, table, timeseries } from './dashboard-model.ts';
import type { Dashboard } from './dashboard-model.ts';

const POD = 'job="ballast-trainer", pod=~"$pod"';

/** The DCGM exporter's metrics: present only on GPU clusters that run it (the only panels without data elsewhere). */
export const DCGM_METRICS = ['DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_FB_USED'] as const;

export function trainerFleet(): Dashboard {
  return dashboard({
    uid: 'ballast-trainer-fleet',
    title: 'Ballast / Trainer fleet',
    description: 'Per trainer pod: examples per second, step time, loss and learning rate of the running trial, memory, backend, idle gap, and GPU from dcgm-exporter.',
    variables: [labelVariable('pod', 'Trainer pod', 'ballast_trainer_backend_info', 'pod')],
    panels: [
      row('Throughput'),
      stat({ title: 'Trainers', w: 4, h: 5, queries: [{ expr: `count(ballast_trainer_backend_info{${POD}})` }] }),
      stat({ title: 'Busy trainers', w: 4, h: 5, queries: [{ expr: `sum(ballast_trainer_running_trials{${POD}})` }] }),
      stat({ title: 'Examples/s (fleet)', w: 4, h: 5, decimals: 1, queries: [{ expr: `sum(rate(ballast_trainer_examples_total{${POD}}[$__rate_interval]))` }] }),
      stat({ title: 'Updates/s (fleet)', w: 4, h: 5, decimals: 2, queries: [{ expr: `sum(rate(ballast_trainer_steps_total{${POD}}[$__rate_interval]))` }] }),
      stat({ title: 'Trials finished (1h)', w: 4, h: 5, queries: [{ expr: `sum(increase(ballast_trainer_trials_total{${POD}}[1h]))` }] }),
      stat({
        title: 'Coordinator call failures (1h)',
        w: 4,
        h: 5,
        queries: [{ expr: `sum(increase(ballast_trainer_coordinator_rpc_failures_total{${POD}}[1h]))` }],
      }),
      timeseries({ title: 'Examples/s per pod', w: 12, h: 8, queries: [{ expr: `sum by (pod) (rate(ballast_trainer_examples_total{${POD}}[$__rate_interval]))`, legend: '{{pod}}' }] }),
      timeseries({
        title: 'Step time quantiles',
        w: 12,
        h: 8,
        unit: 's',
        queries: [0.5, 0.9, 0.99].map((q) => ({
          expr: `histogram_quantile(${q}, sum by (le) (rate(ballast_trainer_step_duration_seconds_bucket{${POD}}[$__rate_interval])))`,
          legend: `p${Math.round(q * 100)}`,
        })),
      }),
      row('Training'),
      timeseries({ title: 'Loss (running trials)', w: 8, h: 8, queries: [{ expr: `ballast_trainer_loss{${POD}}`, legend: '{{pod}} {{trial_id}}' }] }),
      timeseries({ title: 'Learning rate (running trials)', w: 8, h: 8, queries: [{ expr: `ballast_trainer_learning_rate{${POD}}`, legend: '{{pod}} {{trial_id}}' }] }),
      timeseries({
        title: 'Last validation evaluation',
        w: 8,
        h: 8,
        queries: [{ expr: `ballast_trainer_eval_metric{${POD}, metric!="loss"}`, legend: '{{pod}} {{trial_id}} {{metric}}' }],
      }),
      timeseries({ title: 'Trial progress', w: 12, h: 7, unit: 'percentunit', min: 0, max: 1, queries: [{ expr: `ballast_trainer_trial_progress_ratio{${POD}}`, legend: '{{pod}} {{trial_id}}' }] }),
      timeseries({
        title: 'Idle gap between trials (p50, p99)',
        description: "From one trial's end to the next trial's first update: time the device waited on the control plane.",
        w: 12,
        h: 7,
        unit: 's',
        queries: [0.5, 0.99].map((q) => ({
          expr: `histogram_quantile(${q}, sum by (le) (rate(ballast_trainer_idle_gap_seconds_bucket{${POD}}[5m])))`,
          legend: `p${Math.round(q * 100)}`,
        })),
      }),
      row('Memory and devices'),
      timeseries({
        title: 'Process memory',
        w: 8,
        h: 8,
        unit: 'bytes',
        queries: [
          { expr: `process_resident_memory_bytes{${POD}}`, legend: '{{pod}} rss' },
          { expr: `nodejs_heap_size_used_bytes{${POD}}`, legend: '{{pod}} js heap' },
        ],
      }),
      timeseries({
        title: 'tfjs tensors',
        description: 'Live tensors and their bytes: steady growth across trials is a leak.',
        w: 8,
        h: 8,
        queries: [
          { expr: `ballast_trainer_tfjs_tensors{${POD}}`, legend: '{{pod}} tensors' },
          { expr: `ballast_trainer_tfjs_bytes{${POD}} / 1048576`, legend: '{{pod}} MiB' },
        ],
      }),
      table({
        title: 'Backend per pod',
        w: 8,
        h: 8,
        queries: [{ expr: `ballast_trainer_backend_info{${POD}}` }],
        options: { showHeader: true },
      }),
      timeseries({
        title: 'GPU utilisation (dcgm-exporter)',
        description: 'DCGM_FI_DEV_GPU_UTIL from NVIDIA dcgm-exporter, mapped to pods by its Kubernetes pod mapping (exported_pod). Empty on clusters without it.',
        w: 8,
        h: 8,
        unit: 'percent',
        min: 0,
        max: 100,
        queries: [{ expr: 'DCGM_FI_DEV_GPU_UTIL{exported_pod=~"$pod"}', legend: '{{exported_pod}} gpu {{gpu}}' }],
      }),
      timeseries({
        title: 'GPU memory used (dcgm-exporter)',
        w: 8,
        h: 8,
        unit: 'decmbytes',
        queries: [{ expr: 'DCGM_FI_DEV_FB_USED{exported_pod=~"$pod"}', legend: '{{exported_pod}} gpu {{gpu}}' }],
      }),
      timeseries({
        title: 'NATS progress messages',
        description: 'Published and dropped progress messages per second (drops: NATS unreachable; training goes on).',
        w: 8,
        h: 8,
        queries: [
          { expr: `sum by (pod) (rate(ballast_nats_published_messages_total{${POD}}[$__rate_interval]))`, legend: '{{pod}} published' },
          { expr: `sum by (pod) (rate(ballast_nats_dropped_messages_total{${POD}}[$__rate_interval]))`, legend: '{{pod}} dropped' },
        ],
      }),
    ],
  });
}
