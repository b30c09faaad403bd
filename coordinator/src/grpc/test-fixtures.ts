// Contract objects for the gRPC tests: a full trial result (every optional key set, a NaN loss as
// a diverged run reports it) and the trial record around it.
import { parseTrialConfig, resolveTrialConfig } from '../../../trainer/src/config/trial-config.ts';
import type { TrialResult } from '../../../trainer/src/train/trial-result.ts';
import type { TrialRecord } from '../results/experiment-results.ts';

export const sampleConfig = parseTrialConfig({
  model: 'builtin:bert-tiny',
  task: { format: 'csv', train: 'train.csv', validation: 'dev.csv', text_column: 'text', label_column: 'label', labels: ['no', 'yes'] },
  optimizer: 'bertadam',
  reinit_layers: 2,
  max_steps: 40,
  dropout: 0.1,
  seed: 3,
});

export const sampleSeeds = resolveTrialConfig(sampleConfig).seeds;

export const sampleResult: TrialResult = {
  config: sampleConfig,
  seeds: sampleSeeds,
  backend: { name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', device: 'cpu', threads: 1, chosen_by: 'auto' },
  task: {
    name: 'custom',
    problem_type: 'classification',
    metric: 'accuracy',
    selection_metric: 'accuracy',
    num_labels: 2,
    num_train: 100,
    num_validation: 20,
    num_test: 20,
    majority_baseline: 0.55,
  },
  total_steps: 40,
  steps_completed: 12,
  evals: [
    { step: 4, validation: { loss: 0.69, accuracy: 0.55, f1: 0.4 } },
    { step: 8, validation: { loss: Number.NaN, accuracy: 0.5 } },
  ],
  selected: { step: 4, validation: { loss: 0.69, accuracy: 0.55 }, test: { loss: 0.7, accuracy: 0.6, mcc: 0 } },
  last: { step: 12, validation: { loss: Number.POSITIVE_INFINITY, accuracy: 0.5 } },
  degenerate: true,
  degenerate_reason: 'loss diverged at step 12',
  diverged: { step: 12, loss: Number.NaN },
  timings: { total_seconds: 3.5, train_seconds: 3, eval_seconds: 0.5, examples_per_second: 120.5 },
  checkpoint_dir: '/tmp/out/c1-s3/model',
  metrics_path: '/tmp/out/c1-s3/metrics.jsonl',
};

export const sampleRecord: TrialRecord = {
  id: 'c1-s3',
  experiment_id: 'exp-1',
  configuration: 'c1',
  sweep_values: { optimizer: 'bertadam', reinit_layers: 2 },
  state: 'succeeded',
  attempts: 2,
  config: sampleConfig,
  seeds: sampleSeeds,
  metrics: { loss: 0.7, accuracy: 0.6, mcc: 0 },
  degenerate: true,
  degenerate_reason: 'loss diverged at step 12',
  errors: ['lease expired (worker w1)'],
  result: sampleResult,
  started_at: '2026-11-26T20:51:00.250Z',
  finished_at: '2026-11-26T20:52:10.000Z',
};
