import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoordinatorCore } from '../core/coordinator-core.ts';
import { fakeTrialResult } from '../core/fake-trial-result.ts';
import type { NatsBus } from '../../../trainer/src/progress/nats-bus.ts';
import { publishStateChanges } from './state-publisher.ts';

test('committed trial and experiment changes go out on their subjects; progress does not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-statepub-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const core = await CoordinatorCore.open({ stateDir: dir });
  t.after(() => core.close());
  const sent: Array<{ subject: string; payload: any }> = [];
  const bus: NatsBus = {
    publish: (subject, payload) => (sent.push({ subject, payload }), true),
    stats: { published: 0, dropped: 0 },
    connected: true,
    ready: Promise.resolve(),
    close: async () => {},
  };
  const stop = publishStateChanges(core, bus, () => 0);
  const { experimentId } = await core.submitExperiment({ name: 'x', base: { model: 'builtin:quickstart-tiny', task: { name: 'synthetic' } }, seeds: 1 });
  const lease = (await core.acquireTrial('w1'))!;
  core.heartbeat(lease.leaseId, { kind: 'step', step: 1, total_steps: 2, loss: 1, lr: 0, examples_per_second: 1 });
  await core.completeTrial(lease.leaseId, fakeTrialResult(lease.config, lease.seeds));
  stop();

  const trialStates = sent.filter((m) => m.subject === `ballast.${experimentId}.${lease.trialId}.state`).map((m) => [m.payload.previous_state, m.payload.state]);
  assert.deepEqual(trialStates.at(-2), ['queued', 'running']);
  assert.deepEqual(trialStates.at(-1), ['running', 'succeeded']);
  const last = sent.filter((m) => m.subject.endsWith(`${lease.trialId}.state`)).at(-1)!.payload;
  assert.equal(last.v, 1);
  assert.equal(last.source, 'coordinator');
  assert.equal(last.attempts, 1);
  assert.equal(typeof last.metrics.accuracy, 'number');
  const experiment = sent.filter((m) => m.subject === `ballast.${experimentId}.state`).at(-1)!.payload;
  assert.equal(experiment.kind, 'experiment');
  assert.equal(experiment.state, 'succeeded');
  assert.equal(experiment.counts.succeeded, 1);
  assert.ok(!sent.some((m) => m.subject.endsWith('.progress')), 'progress comes from trainers, not the coordinator');
});
