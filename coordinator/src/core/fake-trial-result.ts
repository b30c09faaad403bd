// A made-up TrialResult for tests and benchmarks of the coordinator, which never trains anything.
import type { TrialConfig, TrialSeeds } from '../../../trainer/src/config/trial-config.ts';
import type { TrialResult } from '../../../trainer/src/train/trial-result.ts';

export function fakeTrialResult(
  config: TrialConfig,
  seeds: TrialSeeds,
  options: { accuracy?: number; test?: boolean; degenerate?: boolean } = {},
): TrialResult {
  const accuracy = options.accuracy ?? 0.7;
  const metrics = { loss: 0.5, accuracy };
  return {
    config,
    seeds,
    backend: { name: 'cpu', package: '@tensorflow/tfjs-backend-cpu', device: 'cpu', threads: 1, chosen_by: 'auto' },
    task: {
      name: config.task.name ?? 'custom',
      problem_type: 'classification',
      metric: 'accuracy',
      selection_metric: 'accuracy',
      num_labels: 2,
      num_train: 100,
      num_validation: 50,
      num_test: options.test === false ? 0 : 50,
      majority_baseline: 0.5,
    },
    total_steps: 10,
    steps_completed: 10,
    evals: [{ step: 10, validation: metrics }],
    selected: { step: 10, validation: { loss: 0.4, accuracy: accuracy + 0.01 }, ...(options.test === false ? {} : { test: metrics }) },
    last: { step: 10, validation: metrics },
    degenerate: options.degenerate ?? false,
    ...(options.degenerate ? { degenerate_reason: 'validation accuracy at the majority baseline' } : {}),
    timings: { total_seconds: 1, train_seconds: 0.8, eval_seconds: 0.2, examples_per_second: 100 },
  };
}
