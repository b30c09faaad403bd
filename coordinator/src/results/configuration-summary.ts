// Per configuration: the distribution over seeds of the task's paper metric (test split, or
// validation when the task has none). Degenerate runs stay in the numbers: their share is the
// instability the paper measures, and dropping them would flatter unstable recipes.
import { max, mean, median, min, sampleStandardDeviation } from 'simple-statistics';
import type { ConfigurationSummary, TrialRecord } from './experiment-results.ts';

export function summarizeConfigurations(configurations: readonly string[], trials: readonly TrialRecord[]): ConfigurationSummary[] {
  const byConfiguration = new Map<string, TrialRecord[]>(configurations.map((c) => [c, []]));
  for (const trial of trials) {
    const group = byConfiguration.get(trial.configuration);
    if (group) group.push(trial);
    else byConfiguration.set(trial.configuration, [trial]);
  }
  const metric = trials.find((t) => t.result)?.result?.task.metric ?? '';
  return [...byConfiguration.entries()].map(([configuration, group]) => {
    const values: number[] = [];
    let split: 'test' | 'validation' | undefined;
    for (const trial of group) {
      if (trial.state !== 'succeeded' || !trial.result) continue;
      const selected = trial.result.selected;
      const name = trial.result.task.metric;
      const value = selected.test ? selected.test[name] : selected.validation[name];
      split ??= selected.test ? 'test' : 'validation';
      if (typeof value === 'number' && Number.isFinite(value)) values.push(value);
    }
    const n = values.length;
    return {
      configuration,
      sweep_values: group[0]?.sweep_values ?? {},
      // A sweep over tasks gives each configuration its own metric.
      metric: group.find((t) => t.result)?.result?.task.metric ?? metric,
      ...(split !== undefined ? { split } : {}),
      n,
      mean: n > 0 ? mean(values) : null,
      std: n > 1 ? sampleStandardDeviation(values) : null,
      median: n > 0 ? median(values) : null,
      min: n > 0 ? min(values) : null,
      max: n > 0 ? max(values) : null,
      degenerate: group.filter((t) => t.state === 'succeeded' && t.degenerate === true).length,
      failed: group.filter((t) => t.state === 'failed').length,
    };
  });
}
