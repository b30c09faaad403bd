import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sampleRecord } from '../grpc/test-fixtures.ts';
import { resultsText, summaryTable, textTable } from './results-table.ts';

test('textTable pads columns and right-aligns numbers', () => {
  const table = textTable(['name', 'n'], [['a', '10'], ['longer', '2']]);
  assert.equal(table, ['name     n', '------  --', 'a       10', 'longer   2'].join('\n'));
});

test('the summary shows mean ± std, a dash for missing statistics, and sweep values only when not in the id', () => {
  const summary = [
    { configuration: 'optimizer=adamw', sweep_values: { optimizer: 'adamw' }, metric: 'accuracy', n: 3, mean: 0.7, std: 0.05, median: 0.71, min: 0.64, max: 0.75, degenerate: 1, failed: 0 },
    { configuration: 'optimizer=bertadam', sweep_values: { optimizer: 'bertadam' }, metric: 'accuracy', n: 0, mean: null, std: null, median: null, min: null, max: null, degenerate: 0, failed: 2 },
  ];
  const text = summaryTable(summary);
  assert.match(text, /optimizer=adamw\s+accuracy\s+3\s+0\.7000 ± 0\.0500\s+0\.7100\s+0\.6400\s+0\.7500\s+1\s+0/);
  assert.match(text, /optimizer=bertadam\s+accuracy\s+0\s+–/);
  assert.doesNotMatch(text, /sweep/);
  assert.match(summaryTable([{ ...summary[0]!, configuration: 'c1' }]), /sweep/);
});

test('resultsText lists every trial with its metric and the running ones with their step', () => {
  const running = { ...sampleRecord, id: 'c1-s4', state: 'running' as const, worker_id: 'pod-2/gpu0', progress: { kind: 'step' as const, step: 7, total_steps: 40, loss: 0.5, lr: 1e-5, examples_per_second: 10 } };
  const text = resultsText({
    experiment: { id: 'exp-1', name: 'demo', state: 'running', created_at: '2026-11-26T20:00:00.000Z' },
    trials: [sampleRecord, running],
    summary: [{ configuration: 'c1', sweep_values: {}, metric: 'accuracy', n: 1, mean: 0.6, std: null, median: 0.6, min: 0.6, max: 0.6, degenerate: 1, failed: 0 }],
  });
  assert.match(text, /c1-s3\s+c1\s+succeeded\s+2\s+3\s+0\.6000\s+yes \(loss diverged at step 12\)/);
  assert.match(text, /c1-s4 .* step 7\/40 on pod-2\/gpu0/);
});
