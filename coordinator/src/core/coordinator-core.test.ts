import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { CoordinatorCore, JOURNAL_FILE } from './coordinator-core.ts';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, UnavailableError } from './errors.ts';
import { fakeTrialResult } from './fake-trial-result.ts';
import type { CoreEvent, Lease } from './types.ts';

const base = { model: 'builtin:tiny', task: { name: 'rte' } };

let dir: string;
let now: number;
const clock = () => now;
const open = (leaseTtlMs = 1000) => CoordinatorCore.open({ stateDir: dir, leaseTtlMs, clock });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ballast-core-'));
  now = Date.parse('2026-01-01T00:00:00Z');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function complete(core: CoordinatorCore, lease: Lease, accuracy = 0.7, degenerate = false) {
  return core.completeTrial(lease.leaseId, fakeTrialResult(lease.config, lease.seeds, { accuracy, degenerate }));
}

describe('CoordinatorCore', () => {
  it('runs an experiment to the end and summarises it', async () => {
    const core = await open();
    const { experimentId, trials } = await core.submitExperiment({ name: 'Paper RTE', base, sweep: { optimizer: ['adamw', 'bertadam'] }, seeds: 3 }, 'paper.yaml');
    assert.equal(trials, 6);
    assert.match(experimentId, /^paper-rte-[0-9a-f]{8}$/);
    const values = [0.6, 0.5, 0.7, 0.5, 0.8, 0.53];
    for (let i = 0; i < 6; i++) {
      const lease = (await core.acquireTrial('w1'))!;
      assert.equal(lease.attempt, 1);
      assert.deepEqual(core.heartbeat(lease.leaseId, { kind: 'step', step: 1, total_steps: 10, loss: 1, lr: 1e-5, examples_per_second: 50 }), {
        ok: true,
        cancel: false,
        deadline: now + 1000,
      });
      assert.deepEqual(await complete(core, lease, values[i], lease.trialId === 'c1-s2'), { accepted: true });
    }
    assert.equal(await core.acquireTrial('w1'), null);
    const info = core.getExperiment(experimentId);
    assert.equal(info.state, 'succeeded');
    assert.equal(info.source, 'paper.yaml');
    assert.deepEqual(info.counts, { queued: 0, running: 0, succeeded: 6, failed: 0, cancelled: 0, degenerate: 1 });
    const results = core.results(experimentId);
    assert.equal(results.trials.length, 6);
    const [adamw, bertadam] = results.summary;
    assert.equal(adamw!.configuration, 'optimizer=adamw');
    assert.equal(adamw!.metric, 'accuracy');
    assert.equal(adamw!.split, 'test');
    assert.equal(adamw!.n, 3);
    assert.ok(Math.abs(adamw!.mean! - 0.7) < 1e-12);
    assert.ok(Math.abs(adamw!.std! - 0.1) < 1e-12);
    assert.equal(adamw!.median, 0.7);
    assert.equal(adamw!.min, 0.6);
    assert.equal(adamw!.max, 0.8);
    assert.equal(bertadam!.degenerate, 1);
    assert.equal(bertadam!.min, 0.5);
    const trial = results.trials.find((t) => t.id === 'c1-s2')!;
    assert.equal(trial.degenerate, true);
    assert.equal(trial.metrics!.accuracy, 0.5);
    await core.close();
  });

  it('hands trials out FIFO across experiments and respects parallelism', async () => {
    const core = await open();
    const a = await core.submitExperiment({ name: 'a', base, seeds: 3, parallelism: 2 });
    await core.submitExperiment({ name: 'b', base, seeds: 2 });
    const leases = [];
    for (let i = 0; i < 4; i++) leases.push((await core.acquireTrial(`w${i}`))!);
    assert.deepEqual(leases.map((l) => `${l.experimentId === a.experimentId ? 'a' : 'b'}/${l.trialId}`), ['a/c0-s1', 'a/c0-s2', 'b/c0-s1', 'b/c0-s2']);
    assert.equal(await core.acquireTrial('w9'), null, 'a is at its cap, b is empty');
    await complete(core, leases[0]!);
    const next = (await core.acquireTrial('w9'))!;
    assert.equal(next.trialId, 'c0-s3');
    assert.equal(core.getExperiment(a.experimentId).counts.running, 2);
    await core.close();
  });

  it('acquires concurrently without handing one trial out twice', async () => {
    const core = await open();
    await core.submitExperiment({ name: 'c', base, seeds: 50 });
    const leases = await Promise.all(Array.from({ length: 60 }, (_, i) => core.acquireTrial(`w${i}`)));
    const granted = leases.filter((l) => l !== null);
    assert.equal(granted.length, 50);
    assert.equal(new Set(granted.map((l) => l!.trialId)).size, 50);
    // 60 concurrent calls, a handful of fsyncs: group commit.
    assert.ok(core.journalStats().writes < 10, JSON.stringify(core.journalStats()));
    await core.close();
  });

  it('expires leases, retries, and fails after max_attempts with every reason', async () => {
    const core = await open();
    const { experimentId } = await core.submitExperiment({ name: 'r', base, max_attempts: 3 });
    const first = (await core.acquireTrial('w1'))!;
    now += 1001;
    assert.deepEqual(core.heartbeat(first.leaseId), { ok: false, cancel: true }, 'past its deadline');
    assert.equal(await core.expireLeases(), 1);
    assert.equal(core.getTrial(experimentId, 'c0-s0').state, 'queued');
    const second = (await core.acquireTrial('w2'))!;
    assert.equal(second.attempt, 2);
    assert.deepEqual(await core.failTrial(second.leaseId, { message: 'CUDA out of memory', kind: 'out_of_memory', retryable: true }), { accepted: true });
    const third = (await core.acquireTrial('w3'))!;
    assert.equal(third.attempt, 3);
    now += 500;
    assert.equal(core.heartbeat(third.leaseId).ok, true, 'heartbeats keep a lease alive');
    now += 900;
    assert.equal(await core.expireLeases(), 0);
    now += 101;
    assert.equal(await core.expireLeases(), 1);
    const trial = core.getTrial(experimentId, 'c0-s0');
    assert.equal(trial.state, 'failed');
    assert.equal(trial.attempts, 3);
    assert.deepEqual(trial.errors, [
      'attempt 1: lease expired: no heartbeat for 1000 ms (worker w1)',
      'attempt 2: out_of_memory: CUDA out of memory',
      'attempt 3: lease expired: no heartbeat for 1000 ms (worker w3)',
    ]);
    assert.equal(core.getExperiment(experimentId).state, 'succeeded', 'every trial is terminal');
    assert.equal(core.results(experimentId).summary[0]!.failed, 1);
    // Late reports from the dead leases change nothing.
    assert.equal((await core.failTrial(first.leaseId, { message: 'x', kind: 'x', retryable: true })).accepted, false);
    assert.equal((await complete(core, third)).accepted, false);
    await core.close();
  });

  it('fails a non-retryable error at once', async () => {
    const core = await open();
    const { experimentId } = await core.submitExperiment({ name: 'n', base });
    const lease = (await core.acquireTrial('w1'))!;
    await core.failTrial(lease.leaseId, { message: 'no such file train.tsv', kind: 'data_error', retryable: false });
    const trial = core.getTrial(experimentId, 'c0-s0');
    assert.equal(trial.state, 'failed');
    assert.deepEqual(trial.errors, ['attempt 1: data_error: no such file train.tsv (not retryable)']);
    await core.close();
  });

  it('counts a completion once, however often and however late it arrives', async () => {
    const core = await open();
    const { experimentId } = await core.submitExperiment({ name: 'i', base, seeds: 2 });
    const lease = (await core.acquireTrial('w1'))!;
    assert.equal((await complete(core, lease)).accepted, true);
    assert.equal((await complete(core, lease)).accepted, false);
    // A stale lease whose trial was re-queued: its result is taken once, and the new lease loses.
    const slow = (await core.acquireTrial('w2'))!;
    now += 1001;
    await core.expireLeases();
    const retry = (await core.acquireTrial('w3'))!;
    assert.equal(retry.trialId, slow.trialId);
    assert.equal((await complete(core, slow, 0.9)).accepted, true);
    assert.deepEqual(core.heartbeat(retry.leaseId), { ok: false, cancel: true });
    assert.equal((await complete(core, retry, 0.1)).accepted, false);
    const results = core.results(experimentId);
    assert.equal(results.summary[0]!.n, 2);
    assert.equal(results.trials.find((t) => t.id === slow.trialId)!.metrics!.accuracy, 0.9);
    assert.equal(core.getExperiment(experimentId).counts.succeeded, 2);
    await core.close();
  });

  it('cancels queued trials at once and running ones at their next heartbeat', async () => {
    const core = await open();
    const { experimentId } = await core.submitExperiment({ name: 'c', base, seeds: 4 });
    const done = (await core.acquireTrial('w1'))!;
    await complete(core, done);
    const running = (await core.acquireTrial('w1'))!;
    const finishing = (await core.acquireTrial('w2'))!;
    const { changed, experiment } = await core.cancelExperiment(experimentId, 'user asked');
    assert.equal(changed, true);
    assert.equal(experiment.state, 'cancelled');
    assert.deepEqual(experiment.counts, { queued: 0, running: 2, succeeded: 1, failed: 0, cancelled: 1, degenerate: 0 });
    assert.equal(await core.acquireTrial('w3'), null);
    assert.deepEqual(core.heartbeat(running.leaseId), { ok: true, cancel: true, deadline: now + 1000 });
    assert.equal((await core.releaseTrial(running.leaseId, 'cancelled')).accepted, true);
    assert.equal(core.getTrial(experimentId, running.trialId).state, 'cancelled');
    // A trial that finishes anyway keeps its result.
    assert.equal((await complete(core, finishing)).accepted, true);
    assert.equal(core.getTrial(experimentId, finishing.trialId).state, 'succeeded');
    assert.equal((await core.cancelExperiment(experimentId, 'again')).changed, false);
    await core.close();
  });

  it('cancels a running trial whose worker vanished when its lease expires', async () => {
    const core = await open();
    const { experimentId } = await core.submitExperiment({ name: 'v', base, seeds: 2 });
    const lease = (await core.acquireTrial('w1'))!;
    await core.cancelExperiment(experimentId, 'stop');
    now += 1001;
    assert.equal(await core.expireLeases(), 1);
    const trial = core.getTrial(experimentId, lease.trialId);
    assert.equal(trial.state, 'cancelled');
    assert.equal(trial.errors.length, 1);
    assert.equal(core.getExperiment(experimentId).counts.cancelled, 2);
    await core.close();
  });

  it('refuses every change after a journal write fails, until a restart replays the journal', async () => {
    const core = await open();
    const { experimentId } = await core.submitExperiment({ name: 'w', base, seeds: 2 });
    // Break the file under the writer, as a full or failing disk would.
    await (core as unknown as { writer: { handle: { close(): Promise<void> } } }).writer.handle.close();
    await assert.rejects(core.acquireTrial('w1'), UnavailableError);
    await assert.rejects(core.acquireTrial('w1'), UnavailableError);
    assert.throws(() => core.heartbeat('x'), UnavailableError);
    await assert.rejects(core.cancelExperiment(experimentId, 'x'), UnavailableError);
    assert.equal(core.getExperiment(experimentId).counts.running, 1, 'memory went ahead of the disk');
    await core.close().catch(() => {});
    const reopened = await open();
    assert.equal(reopened.getExperiment(experimentId).counts.queued, 2, 'the unwritten lease never happened');
    await reopened.close();
  });

  it('cancel after completion changes nothing', async () => {
    const core = await open();
    const { experimentId } = await core.submitExperiment({ name: 'd', base });
    await complete(core, (await core.acquireTrial('w'))!);
    const { changed, experiment } = await core.cancelExperiment(experimentId, 'late');
    assert.equal(changed, false);
    assert.equal(experiment.state, 'succeeded');
    await core.close();
  });

  it('releases a trial (SIGTERM) without using up an attempt', async () => {
    const core = await open();
    const { experimentId } = await core.submitExperiment({ name: 's', base, max_attempts: 1 });
    const lease = (await core.acquireTrial('w1'))!;
    await core.releaseTrial(lease.leaseId, 'worker shutting down');
    const again = (await core.acquireTrial('w2'))!;
    assert.equal(again.attempt, 2);
    await complete(core, again);
    const trial = core.getTrial(experimentId, 'c0-s0');
    assert.equal(trial.state, 'succeeded');
    assert.deepEqual(trial.errors, []);
    await core.close();
  });

  it('survives a restart with nothing lost and running leases kept', async () => {
    let core = await open();
    const { experimentId } = await core.submitExperiment({ name: 'p', base, seeds: 3 });
    const failed = (await core.acquireTrial('w1'))!;
    await core.failTrial(failed.leaseId, { message: 'boom', kind: 'crash', retryable: true });
    const done = (await core.acquireTrial('w1'))!;
    await complete(core, done, 0.75);
    const running = (await core.acquireTrial('w2'))!;
    const before = core.listTrials(experimentId);
    await core.close();

    now += 10_000; // far past the old deadline: a restart gives running leases a fresh TTL
    core = await open();
    assert.deepEqual(core.listTrials(experimentId), before);
    assert.equal(core.heartbeat(running.leaseId).ok, true);
    const retried = (await core.acquireTrial('w3'))!;
    assert.equal(retried.trialId, failed.trialId);
    assert.equal(retried.attempt, 2);
    assert.equal((await complete(core, done)).accepted, false, 'completion stays idempotent across restarts');
    await complete(core, running);
    await complete(core, retried);
    assert.equal(core.getExperiment(experimentId).state, 'succeeded');
    await core.close();
  });

  it('refuses a second coordinator on one state directory', async () => {
    const core = await open();
    // The lock names this process, so simulate another live one by rewriting it with our parent's pid.
    const lock = join(dir, 'coordinator.lock');
    const held = JSON.parse(readFileSync(lock, 'utf8'));
    const { writeFileSync } = await import('node:fs');
    writeFileSync(lock, JSON.stringify({ ...held, pid: process.ppid }));
    await assert.rejects(open(), /in use by another coordinator/);
    writeFileSync(lock, JSON.stringify(held));
    await core.close();
  });

  it('delivers committed changes and progress to subscribers', async () => {
    const core = await open();
    const events: CoreEvent[] = [];
    const unsubscribe = core.subscribe((event) => events.push(event));
    const { experimentId } = await core.submitExperiment({ name: 's', base });
    const lease = (await core.acquireTrial('w1'))!;
    core.heartbeat(lease.leaseId, { kind: 'eval', step: 5, total_steps: 10, validation: { loss: 1, accuracy: 0.6 } });
    await complete(core, lease);
    unsubscribe();
    const summary = events.map((e) => (e.type === 'trial' ? `trial ${e.previous_state}->${e.trial.state}` : e.type === 'experiment' ? `experiment ${e.experiment.state}` : `progress ${e.progress.step}`));
    assert.deepEqual(summary, ['experiment running', 'trial null->queued', 'trial queued->running', 'progress 5', 'trial running->succeeded', 'experiment succeeded']);
    const progress = events.find((e) => e.type === 'progress')!;
    assert.equal(progress.type === 'progress' && progress.experiment_id, experimentId);
    await core.close();
  });

  it('shows the latest progress of running trials', async () => {
    const core = await open();
    const { experimentId } = await core.submitExperiment({ name: 'q', base });
    const lease = (await core.acquireTrial('w1'))!;
    core.heartbeat(lease.leaseId, { kind: 'step', step: 3, total_steps: 10, loss: 0.5, lr: 1e-5, examples_per_second: 9 });
    const [trial] = core.listTrials(experimentId, { state: 'running' });
    assert.equal(trial!.worker_id, 'w1');
    assert.equal(trial!.progress?.step, 3);
    assert.deepEqual(core.listTrials(experimentId, { state: ['queued', 'succeeded'] }), []);
    await core.close();
  });

  it('submits idempotently under a given id', async () => {
    const core = await open();
    const spec = { name: 'run', base, seeds: 2 };
    const first = await core.submitExperiment(spec, 'run.yaml', { experimentId: 'run-out' });
    assert.deepEqual(await core.submitExperiment(structuredClone(spec), 'run.yaml', { experimentId: 'run-out' }), first);
    await assert.rejects(core.submitExperiment({ ...spec, seeds: 3 }, undefined, { experimentId: 'run-out' }), FailedPreconditionError);
    await assert.rejects(core.submitExperiment(spec, undefined, { experimentId: 'a.b' }), InvalidArgumentError);
    assert.equal(core.listExperiments().length, 1);
    await core.close();
  });

  it('reports bad requests with named errors', async () => {
    const core = await open();
    await assert.rejects(core.submitExperiment({ name: 'x', base, sweep: { optimizer: ['adamw', 'sgd'] } }), (error: unknown) => {
      assert.ok(error instanceof InvalidArgumentError);
      assert.equal(error.path, 'sweep.optimizer[1]');
      return true;
    });
    assert.throws(() => core.getExperiment('nope'), NotFoundError);
    await assert.rejects(core.acquireTrial(''), InvalidArgumentError);
    assert.deepEqual(core.heartbeat('no-such-lease'), { ok: false, cancel: true });
    assert.equal((await core.completeTrial('no-such-lease', {} as never)).accepted, false);
    // An open journal ends in the zeros laid ahead of its records.
    assert.equal(readFileSync(join(dir, JOURNAL_FILE), 'utf8').replace(/\0+$/, ''), '', 'nothing journaled');
    await core.close();
  });
});
