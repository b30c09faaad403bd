import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { CoordinatorCore } from '../../../coordinator/src/core/coordinator-core.ts';
import { fakeTrialResult } from '../../../coordinator/src/core/fake-trial-result.ts';
import { RpcError, Code } from '../../../coordinator/src/grpc/rpc-error.ts';
import { parseTrialConfig, resolveTrialConfig } from '../config/trial-config.ts';
import type { TrialConfig } from '../config/trial-config.ts';
import { DataError } from '../data/data-error.ts';
import { TrialCancelledError } from '../train/trial-context.ts';
import type { TrialOutcome, TrialProgress } from '../train/trial-result.ts';
import { coreLink } from './core-link.ts';
import type { CoordinatorLink, HeartbeatAnswer, LeaseGrant } from './coordinator-link.ts';
import { TrainerAgent } from './trainer-agent.ts';
import type { RunTrialFn } from './trainer-agent.ts';

const log = pino({ level: 'silent' });
const base = { model: 'builtin:quickstart-tiny', task: { name: 'synthetic' }, max_steps: 5 };

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-agent-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A training loop stand-in: `steps` steps of `stepMs`, checking the signal once per step as the real one does. */
function fakeTraining(options: { steps?: number; stepMs?: number; fail?: (config: TrialConfig) => Error | undefined } = {}): RunTrialFn & { started: string[] } {
  const started: string[] = [];
  const fn = async (config: TrialConfig, ctx: Parameters<RunTrialFn>[1]) => {
    started.push(ctx.trialId);
    const steps = options.steps ?? 5;
    for (let step = 1; step <= steps; step++) {
      if (ctx.signal.aborted) throw new TrialCancelledError(step - 1, ctx.signal.reason);
      await new Promise((r) => setTimeout(r, options.stepMs ?? 2));
      const failure = options.fail?.(config);
      if (failure) throw failure;
      ctx.heartbeat({ kind: 'step', step, total_steps: steps, loss: 1 / step, lr: 1e-5, examples_per_second: 100 });
    }
    ctx.heartbeat({ kind: 'eval', step: steps, total_steps: steps, validation: { loss: 0.5, accuracy: 0.7 } });
    return fakeTrialResult(config, resolveTrialConfig(config).seeds);
  };
  return Object.assign(fn, { started });
}

/** A scripted coordinator: a queue of leases, every call recorded. */
class FakeLink implements CoordinatorLink {
  readonly reports: Array<{ leaseId: string; outcome: TrialOutcome }> = [];
  readonly heartbeats: Array<{ leaseId: string; progress?: TrialProgress }> = [];
  readonly acquires: number[] = [];
  heartbeatAnswer: (leaseId: string) => HeartbeatAnswer = () => ({ cancel: false, cancelReason: '', leaseLost: false });
  failReports = 0;
  private next = 0;

  constructor(private readonly queue: LeaseGrant[]) {}

  static lease(trialId: string, overrides: Partial<TrialConfig> = {}): LeaseGrant {
    const config = parseTrialConfig({ ...base, ...overrides });
    return {
      leaseId: `lease-${trialId}`,
      trialId,
      experimentId: 'exp',
      experimentName: 'exp',
      attempt: 1,
      config,
      seeds: resolveTrialConfig(config).seeds,
      deadline: new Date(Date.now() + 30_000),
      ttlMs: 300,
    };
  }

  async acquireTrial(): Promise<LeaseGrant | null> {
    this.acquires.push(Date.now());
    return this.queue[this.next++] ?? null;
  }
  async heartbeat(leaseId: string, progress?: TrialProgress): Promise<HeartbeatAnswer> {
    this.heartbeats.push({ leaseId, ...(progress ? { progress } : {}) });
    return this.heartbeatAnswer(leaseId);
  }
  async reportOutcome(leaseId: string, outcome: TrialOutcome) {
    if (this.failReports > 0) {
      this.failReports--;
      throw new RpcError(Code.UNAVAILABLE, 'coordinator restarting');
    }
    this.reports.push({ leaseId, outcome });
    return { accepted: true, reason: '' };
  }
}

test('two agents run a 6-trial sweep on the real core: each trial once, prefetched, files in place', async (t) => {
  const dir = tempDir(t);
  const core = await CoordinatorCore.open({ stateDir: join(dir, 'state') });
  t.after(() => core.close());
  const { experimentId, trials } = await core.submitExperiment({ name: 'sweep', base, sweep: { optimizer: ['adamw', 'bertadam'] }, seeds: 3 });
  assert.equal(trials, 6);
  const link = coreLink(core, 30_000);
  const training = fakeTraining({ steps: 4 });
  const agents = ['w1', 'w2'].map((workerId) => new TrainerAgent({ link, runTrial: training, workerId, outDir: join(dir, 'out'), log, exitWhenIdle: true }));
  await Promise.all(agents.map((a) => a.run()));

  const results = core.results(experimentId);
  assert.deepEqual(results.trials.map((tr) => [tr.state, tr.attempts]), Array(6).fill(['succeeded', 1]));
  assert.equal(training.started.length, 6);
  assert.equal(agents.reduce((n, a) => n + a.stats.completed, 0), 6);
  assert.ok(agents.some((a) => a.stats.prefetched > 0), 'the next lease is fetched during the final evaluation');
  for (const trial of results.trials) {
    const resultFile = join(dir, 'out', experimentId, trial.id, 'result.json');
    assert.ok(existsSync(resultFile), resultFile);
    assert.equal(JSON.parse(readFileSync(resultFile, 'utf8')).config.optimizer, trial.config.optimizer);
  }
});

test('a heartbeat answer that says cancel stops the trial at a step boundary, reported once as cancelled', async (t) => {
  const link = new FakeLink([FakeLink.lease('t1')]);
  let beats = 0;
  link.heartbeatAnswer = () => ({ cancel: ++beats >= 2, cancelReason: 'experiment cancelled', leaseLost: false });
  const training = fakeTraining({ steps: 1000, stepMs: 5 });
  const agent = new TrainerAgent({ link, runTrial: training, workerId: 'w', outDir: tempDir(t), log, exitWhenIdle: true, heartbeatIntervalMs: 50 });
  await agent.run();
  assert.equal(link.reports.length, 1);
  assert.deepEqual(link.reports[0]!.outcome, { status: 'cancelled', reason: 'experiment cancelled' });
  assert.ok(link.heartbeats.some((h) => h.progress?.kind === 'step'), 'heartbeats carry the latest progress');
});

test('a lost lease stops the trial; heartbeats come a few times per TTL, not every step', async (t) => {
  const link = new FakeLink([FakeLink.lease('t1')]);
  link.heartbeatAnswer = () => ({ cancel: true, cancelReason: 'lease expired', leaseLost: true });
  const agent = new TrainerAgent({ link, runTrial: fakeTraining({ steps: 1000, stepMs: 2 }), workerId: 'w', outDir: tempDir(t), log, exitWhenIdle: true });
  await agent.run();
  // TTL 300 ms: a heartbeat every 100 ms, not one per 2 ms step; the first answer stops the trial.
  assert.ok(link.heartbeats.length >= 1 && link.heartbeats.length <= 2, `${link.heartbeats.length} heartbeats`);
  assert.equal(link.reports.length, 1);
  assert.equal(link.reports[0]!.outcome.status, 'cancelled');
  assert.match((link.reports[0]!.outcome as { reason: string }).reason, /lease lost/);
});

test('data errors fail without retry, other errors fail retryable', async (t) => {
  const link = new FakeLink([FakeLink.lease('bad-data', { seed: 1 }), FakeLink.lease('flaky', { seed: 2 })]);
  const training = fakeTraining({
    fail: (config) => (config.seed === 1 ? new DataError('train.tsv', 7, 'label "x" is not one of 0, 1') : new Error('WebGL context lost')),
  });
  const agent = new TrainerAgent({ link, runTrial: training, workerId: 'w', outDir: tempDir(t), log, exitWhenIdle: true });
  await agent.run();
  assert.deepEqual(
    link.reports.map((r) => (r.outcome.status === 'failed' ? [r.leaseId, r.outcome.error.kind, r.outcome.error.retryable] : r.outcome.status)),
    [
      ['lease-bad-data', 'data_error', false],
      ['lease-flaky', 'internal', true],
    ],
  );
  assert.match((link.reports[0]!.outcome as { error: { message: string } }).error.message, /train\.tsv:7/);
});

test('stop() (SIGTERM) hands back the running trial and a prefetched one, then run() resolves', async (t) => {
  const link = new FakeLink([FakeLink.lease('t1'), FakeLink.lease('t2'), FakeLink.lease('t3')]);
  // One step only: the prefetch fires after it, while the trial "evaluates" for a long time.
  const runTrial: RunTrialFn = async (config, ctx) => {
    ctx.heartbeat({ kind: 'step', step: 1, total_steps: 1, loss: 1, lr: 0, examples_per_second: 1 });
    while (!ctx.signal.aborted) await new Promise((r) => setTimeout(r, 5));
    throw new TrialCancelledError(1, ctx.signal.reason);
  };
  const agent = new TrainerAgent({ link, runTrial, workerId: 'w', outDir: tempDir(t), log });
  const running = agent.run();
  await new Promise((r) => setTimeout(r, 100));
  const t0 = Date.now();
  agent.stop('SIGTERM');
  await running;
  assert.ok(Date.now() - t0 < 1000, 'stops promptly');
  assert.deepEqual(
    link.reports.map((r) => [r.leaseId, r.outcome.status]),
    [
      ['lease-t1', 'cancelled'],
      ['lease-t2', 'cancelled'],
    ],
  );
  assert.match((link.reports[0]!.outcome as { reason: string }).reason, /^preempted: SIGTERM/);
  assert.equal(link.acquires.length, 2, 't3 was never taken');
});

test('a report that meets a restarting coordinator is retried until it lands, once', async (t) => {
  const link = new FakeLink([FakeLink.lease('t1')]);
  link.failReports = 2;
  const agent = new TrainerAgent({ link, runTrial: fakeTraining(), workerId: 'w', outDir: tempDir(t), log, exitWhenIdle: true });
  await agent.run();
  assert.deepEqual(link.reports.map((r) => r.outcome.status), ['completed']);
});
