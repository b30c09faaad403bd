import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTrialConfig, resolveTrialConfig } from '../../../trainer/src/config/trial-config.ts';
import { fakeTrialResult } from '../core/fake-trial-result.ts';
import { summarizeConfigurations } from './configuration-summary.ts';
import type { TrialRecord, TrialState } from './experiment-results.ts';

const config = parseTrialConfig({ model: 'm', task: { name: 'rte' } });
const seeds = resolveTrialConfig(config).seeds;

function trial(configuration: string, state: TrialState, accuracy?: number, options: { test?: boolean; degenerate?: boolean } = {}): TrialRecord {
  const result = accuracy === undefined ? undefined : fakeTrialResult(config, seeds, { accuracy, ...options });
  return {
    id: `${configuration}-${Math.random()}`,
    experiment_id: 'e',
    configuration,
    sweep_values: { configuration },
    state,
    attempts: 1,
    config,
    seeds,
    errors: [],
    ...(result ? { result, degenerate: result.degenerate } : {}),
  };
}

describe('summarizeConfigurations', () => {
  it('summarises the paper metric per configuration, in configuration order, degenerate runs included', () => {
    const summary = summarizeConfigurations(
      ['a', 'b', 'c'],
      [trial('b', 'succeeded', 0.6), trial('a', 'succeeded', 0.5, { degenerate: true }), trial('a', 'succeeded', 0.9), trial('a', 'failed'), trial('a', 'queued')],
    );
    assert.deepEqual(
      summary.map((s) => [s.configuration, s.metric, s.split, s.n, s.mean, s.median, s.min, s.max, s.degenerate, s.failed]),
      [
        ['a', 'accuracy', 'test', 2, 0.7, 0.7, 0.5, 0.9, 1, 1],
        ['b', 'accuracy', 'test', 1, 0.6, 0.6, 0.6, 0.6, 0, 0],
        ['c', 'accuracy', undefined, 0, null, null, null, null, 0, 0],
      ],
    );
    assert.ok(Math.abs(summary[0]!.std! - Math.sqrt(0.08)) < 1e-12, 'sample standard deviation');
    assert.equal(summary[1]!.std, null, 'no spread from one run');
  });

  it('falls back to validation when the task has no test split', () => {
    const [s] = summarizeConfigurations(['a'], [trial('a', 'succeeded', 0.8, { test: false })]);
    assert.equal(s!.split, 'validation');
    assert.ok(Math.abs(s!.mean! - 0.81) < 1e-12, 'the selected model validation score');
  });
});
