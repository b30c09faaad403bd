import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { ExperimentInfo } from '../core/types.ts';
import type { TrialRecord } from '../results/experiment-results.ts';
import { sampleRecord } from '../grpc/test-fixtures.ts';
import { WatchView } from './watch-view.ts';

const info = (state: ExperimentInfo['state'], counts: Partial<ExperimentInfo['counts']>): ExperimentInfo => ({
  id: 'exp-1',
  name: 'demo',
  state,
  created_at: '2026-11-26T20:00:00.000Z',
  max_attempts: 3,
  configurations: 1,
  trials: 2,
  counts: { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0, degenerate: 0, ...counts },
});
const trial = (id: string, state: TrialRecord['state'], extra: Partial<TrialRecord> = {}): TrialRecord => ({
  ...sampleRecord,
  id,
  state,
  attempts: state === 'queued' ? 0 : 1,
  metrics: undefined,
  result: undefined,
  degenerate: undefined,
  degenerate_reason: undefined,
  errors: [],
  ...extra,
});
const step = (n: number) => ({ kind: 'step' as const, step: n, total_steps: 10, loss: 0.5, lr: 1e-5, examples_per_second: 50 });

function collect(stream: PassThrough): () => string {
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return () => text;
}

test('lines: the snapshot is summarised, changes and throttled progress are printed', () => {
  const out = new PassThrough();
  const text = collect(out);
  let now = 0;
  const view = new WatchView({ out, bars: false, lineIntervalMs: 10_000, now: () => now });
  view.handle({ type: 'experiment', experiment: info('running', { queued: 1, running: 1 }) });
  view.handle({ type: 'trial', trial: trial('c1-s1', 'queued') });
  view.handle({ type: 'trial', trial: trial('c1-s2', 'running', { worker_id: 'w1' }) });
  view.handle({ type: 'progress', trialId: 'c1-s2', attempt: 1, workerId: 'w1', progress: step(1) });
  now = 1000;
  view.handle({ type: 'progress', trialId: 'c1-s2', attempt: 1, workerId: 'w1', progress: step(2) }); // throttled
  view.handle({ type: 'progress', trialId: 'c1-s2', attempt: 1, workerId: 'w1', progress: { kind: 'eval', step: 2, total_steps: 10, validation: { loss: 0.4, accuracy: 0.75 } } });
  view.handle({ type: 'trial', trial: trial('c1-s2', 'succeeded', { metrics: { accuracy: 0.8 }, degenerate: true, degenerate_reason: 'majority class' }) });
  view.handle({ type: 'trial', trial: trial('c1-s1', 'failed', { attempts: 3, errors: ['a', 'b', 'out of memory'] }) });
  view.handle({ type: 'experiment', experiment: info('succeeded', { succeeded: 1, failed: 1, degenerate: 1 }) });
  view.close();
  const lines = text().trim().split('\n');
  assert.match(lines[0]!, /experiment exp-1 \(demo\) running: 2 trials: 0 succeeded, 0 failed, 1 running, 1 queued/);
  assert.match(lines[1]!, /c1-s2 running \(attempt 1 on w1\)/);
  assert.match(lines[2]!, /c1-s2 step 1\/10 loss 0\.5/);
  assert.match(lines[3]!, /c1-s2 eval @2\/10: accuracy=0\.75/);
  assert.match(lines[4]!, /c1-s2 succeeded accuracy=0\.8 \[degenerate: majority class\]/);
  assert.match(lines[5]!, /c1-s1 FAILED after 3 attempt\(s\): out of memory/);
  assert.match(lines[6]!, /experiment exp-1 succeeded: 2 trials: 1 succeeded, 1 failed, 0 running, 0 queued, 1 degenerate/);
  assert.equal(lines.length, 7);
  assert.equal(view.info?.state, 'succeeded');
});

test('lines: a reconnection snapshot says what changed meanwhile, and nothing else', () => {
  const out = new PassThrough();
  const text = collect(out);
  const view = new WatchView({ out, bars: false });
  view.handle({ type: 'experiment', experiment: info('running', { queued: 2 }) });
  view.handle({ type: 'trial', trial: trial('c1-s1', 'queued') });
  view.handle({ type: 'trial', trial: trial('c1-s2', 'queued') });
  view.reconnecting();
  view.handle({ type: 'experiment', experiment: info('running', { queued: 1, succeeded: 1 }) });
  view.handle({ type: 'trial', trial: trial('c1-s1', 'succeeded', { metrics: { accuracy: 0.9 } }) });
  view.handle({ type: 'trial', trial: trial('c1-s2', 'queued') });
  view.close();
  const lines = text().trim().split('\n');
  assert.equal(lines.length, 2, text());
  assert.match(lines[1]!, /c1-s1 succeeded accuracy=0\.9/);
});

test('bars: renders running trials to a terminal stream without throwing', () => {
  const out = new PassThrough() as PassThrough & { isTTY?: boolean; columns?: number; cursorTo?: unknown };
  const text = collect(out);
  const view = new WatchView({ out, bars: true });
  view.handle({ type: 'experiment', experiment: info('running', { running: 1, queued: 1 }) });
  view.handle({ type: 'trial', trial: trial('c1-s1', 'running') });
  view.handle({ type: 'progress', trialId: 'c1-s1', attempt: 1, workerId: 'w1', progress: step(5) });
  view.handle({ type: 'trial', trial: trial('c1-s1', 'succeeded', { metrics: { accuracy: 0.8 } }) });
  view.handle({ type: 'experiment', experiment: info('succeeded', { succeeded: 2 }) });
  view.close();
  assert.match(text(), /demo/);
});
