// A real coordinator (core over a temp state dir) served on 127.0.0.1:0 and driven through the
// client: the whole user and trainer surface, and the errors that must name their field.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoordinatorCore } from '../core/coordinator-core.ts';
import { CoordinatorClient } from '../client/coordinator-client.ts';
import type { WatchEvent } from '../client/coordinator-client.ts';
import { serveCoordinator } from './coordinator-server.ts';
import type { RunningGrpcServer } from './grpc-server.ts';
import { checkHealth } from './grpc-server.ts';
import { Code, RpcError } from './rpc-error.ts';
import { sampleResult } from './test-fixtures.ts';

const spec = {
  name: 'grpc-test',
  base: { model: 'builtin:bert-tiny', task: { name: 'synthetic' }, max_steps: 10 },
  sweep: { optimizer: ['adamw', 'bertadam'] },
  seeds: 2,
  max_attempts: 2,
};

async function rejectsWith(promise: Promise<unknown>, code: Code, pattern?: RegExp): Promise<RpcError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof RpcError, `expected an RpcError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.details, pattern);
    return error;
  }
  assert.fail('the call succeeded');
}

describe('coordinator over gRPC', () => {
  let dir: string;
  let core: CoordinatorCore;
  let server: RunningGrpcServer;
  let client: CoordinatorClient;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ballast-grpc-'));
    core = await CoordinatorCore.open({ stateDir: dir, leaseTtlMs: 5000 });
    server = await serveCoordinator({ core, leaseTtlMs: 5000, listen: '127.0.0.1:0' });
    client = new CoordinatorClient({ address: server.address, defaultTimeoutMs: 5000 });
  });

  after(async () => {
    client.close();
    await server.shutdown(1000);
    await core.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('health answers SERVING, overall and for the service', async () => {
    assert.equal(await checkHealth(server.address), 'SERVING');
    assert.equal(await checkHealth(server.address, {}, 2000, 'ballast.v1.CoordinatorService'), 'SERVING');
  });

  test('submit, get, list, acquire, heartbeat, complete, fail, release, cancel, watch', async () => {
    const { experimentId, trialCount } = await client.submitExperiment(spec, { source: 'inline' });
    assert.equal(trialCount, 4);
    const { experiment, summary } = await client.getExperiment(experimentId);
    assert.equal(experiment.name, 'grpc-test');
    assert.equal(experiment.state, 'running');
    assert.equal(experiment.counts.queued, 4);
    assert.equal(summary.length, 2);
    assert.ok((await client.listExperiments()).some((e) => e.id === experimentId));
    const trials = await client.listTrials(experimentId);
    assert.equal(trials.length, 4);
    assert.deepEqual((await client.listTrials(experimentId, [], { pageSize: 3 })).map((t) => t.id), trials.map((t) => t.id), 'pages add up to the list');
    assert.deepEqual(new Set(trials.map((t) => t.config.optimizer)), new Set(['adamw', 'bertadam']));

    // Watch from the start in the background; it must end by itself when the experiment does.
    const events: WatchEvent[] = [];
    const watching = (async () => {
      for await (const event of client.watchExperiment(experimentId)) events.push(event);
    })();

    const lease = await client.acquireTrial('w1');
    assert.ok(lease);
    assert.equal(lease.experimentId, experimentId);
    assert.equal(lease.experimentName, 'grpc-test');
    assert.equal(lease.attempt, 1);
    assert.equal(lease.ttlMs, 5000);
    assert.ok(lease.deadline.getTime() > Date.now());
    const beat = await client.heartbeat(lease.leaseId, { kind: 'step', step: 1, total_steps: 10, loss: 0.7, lr: 1e-5, examples_per_second: 50 });
    assert.equal(beat.cancel, false);
    assert.ok(beat.deadline);

    const result = { ...sampleResult, config: lease.config, seeds: lease.seeds };
    assert.deepEqual(await client.completeTrial(lease.leaseId, result), { accepted: true, reason: '' });
    const again = await client.completeTrial(lease.leaseId, result);
    assert.equal(again.accepted, false, 'a repeated completion is not counted twice');
    const lost = await client.heartbeat(lease.leaseId);
    assert.equal(lost.leaseLost, true);
    assert.equal(lost.cancel, true);

    const second = await client.acquireTrial('w2');
    assert.ok(second);
    assert.equal((await client.failTrial(second.leaseId, { message: 'device lost', kind: 'device', retryable: true })).accepted, true);
    const third = await client.acquireTrial('w2');
    assert.ok(third);
    assert.equal((await client.releaseTrial(third.leaseId, 'worker shutting down')).accepted, true);

    const succeeded = await client.listTrials(experimentId, ['succeeded']);
    assert.equal(succeeded.length, 1);
    assert.equal(succeeded[0]?.id, lease.trialId);
    assert.deepEqual(succeeded[0]?.result?.selected, sampleResult.selected);

    const running = await client.acquireTrial('w3');
    assert.ok(running);
    const cancelled = await client.cancelExperiment(experimentId, 'enough');
    assert.equal(cancelled.state, 'cancelled');
    const told = await client.heartbeat(running.leaseId);
    assert.equal(told.cancel, true);

    await watching;
    assert.equal(events[0]?.type, 'experiment');
    assert.equal(events.filter((e) => e.type === 'trial').length >= 4, true, 'the snapshot lists every trial');
    assert.ok(events.some((e) => e.type === 'progress' && e.progress.kind === 'step' && e.trialId === lease.trialId));
    const last = events.at(-1);
    assert.ok(last?.type === 'experiment' && last.experiment.state === 'cancelled', 'the stream ends with the final experiment state');

    const results = await client.results(experimentId);
    assert.equal(results.trials.length, 4);
    assert.equal(results.experiment.state, 'cancelled');
  });

  test('acquire long-polls until a trial is queued', async () => {
    const started = Date.now();
    const idle = await client.acquireTrial('w-idle', { waitMs: 200 });
    assert.equal(idle, null);
    assert.ok(Date.now() - started >= 150, 'waited for work');
    const waiting = client.acquireTrial('w-poll', { waitMs: 5000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await client.submitExperiment({ ...spec, name: 'poll', sweep: undefined, seeds: 1 });
    const lease = await waiting;
    assert.ok(lease, 'the submission woke the waiting trainer');
    assert.ok(Date.now() - started < 4000);
  });

  test('malformed specs and requests get INVALID_ARGUMENT naming the field', async () => {
    await rejectsWith(client.submitExperiment({ ...spec, sweep: { optimizer: ['adamw', 'sgd'] } }), Code.INVALID_ARGUMENT, /sweep\.optimizer\[1\]/);
    await rejectsWith(client.submitExperiment({ ...spec, base: { ...spec.base, task: { name: 'synthetic', bogus: 1 } } }), Code.INVALID_ARGUMENT, /base\.task\.bogus/);
    await rejectsWith(client.submitExperiment({ ...spec, name: undefined }), Code.INVALID_ARGUMENT, /name/);
    await rejectsWith(client.getExperiment(''), Code.INVALID_ARGUMENT, /experiment_id/);
    await rejectsWith(client.acquireTrial(''), Code.INVALID_ARGUMENT, /worker_id/);
    await rejectsWith(client.heartbeat(''), Code.INVALID_ARGUMENT, /lease_id/);
    await rejectsWith(client.failTrial('x', { message: '', kind: 'k', retryable: false }), Code.INVALID_ARGUMENT, /failed\.message/);
  });

  test('unknown ids get NOT_FOUND', async () => {
    await rejectsWith(client.getExperiment('no-such-experiment'), Code.NOT_FOUND);
    await rejectsWith(client.cancelExperiment('no-such-experiment'), Code.NOT_FOUND);
    await rejectsWith(client.listTrials('no-such-experiment'), Code.NOT_FOUND);
    await rejectsWith(
      (async () => {
        for await (const _ of client.watchExperiment('no-such-experiment')) assert.fail('no events for an unknown experiment');
      })(),
      Code.NOT_FOUND,
      /no-such-experiment/,
    );
  });

  test('shutdown ends watch streams with UNAVAILABLE at once, not after the grace period', async () => {
    const otherDir = mkdtempSync(join(tmpdir(), 'ballast-grpc-shutdown-'));
    const otherCore = await CoordinatorCore.open({ stateDir: otherDir });
    const other = await serveCoordinator({ core: otherCore, leaseTtlMs: 5000, listen: '127.0.0.1:0' });
    const watcher = new CoordinatorClient({ address: other.address });
    try {
      const { experimentId } = await watcher.submitExperiment(spec);
      const events: string[] = [];
      const watching = (async () => {
        for await (const event of watcher.watchExperiment(experimentId)) events.push(event.type);
      })().then(
        () => assert.fail('the stream ended without a status'),
        (error: unknown) => error,
      );
      const waiting = watcher.acquireTrial('idle', { waitMs: 20_000 }).catch((error: unknown) => error);
      while (events.length < 5) await new Promise((resolve) => setTimeout(resolve, 20));
      const started = Date.now();
      await other.shutdown(10_000);
      assert.ok(Date.now() - started < 5000, `shutdown took ${Date.now() - started} ms`);
      const error = await watching;
      assert.ok(error instanceof RpcError && error.code === Code.UNAVAILABLE, String(error));
      assert.match(error.details, /shutting down/);
      await waiting;
    } finally {
      watcher.close();
      await otherCore.close();
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  test('a client call can be aborted and times out', async () => {
    const abort = new AbortController();
    const pending = client.acquireTrial('w-abort', { waitMs: 10_000 }, { signal: abort.signal });
    setTimeout(() => abort.abort(), 50);
    await rejectsWith(pending, Code.CANCELLED);
    await rejectsWith(client.acquireTrial('w-timeout', { waitMs: 10_000 }, { timeoutMs: -9_900 }), Code.DEADLINE_EXCEEDED);
  });
});
