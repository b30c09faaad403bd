// The control plane end to end, with real processes on loopback: `ballast coordinator`, `ballast
// trainer` ×2 (wasm, a tiny builtin model, ~30 updates per trial), a real nats-server, and the
// failures the issue names: a trainer killed with SIGKILL mid-trial, the coordinator killed with
// SIGKILL mid-sweep and restarted, NATS stopped mid-sweep, and SIGTERM handing a trial back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { CoordinatorClient } from '../coordinator/src/client/coordinator-client.ts';
import type { ExperimentResults } from '../coordinator/src/results/experiment-results.ts';
import { freePort } from './helpers/free-port.ts';
import { natsServerSkipReason, startNatsServer } from './helpers/nats-server.ts';
import type { NatsServer } from './helpers/nats-server.ts';
import { startCoordinatorProcess, startTrainerProcess, stopAll, waitForExperiment } from './helpers/ballast-process.ts';
import type { BallastProcess, CoordinatorProcess } from './helpers/ballast-process.ts';

const SWEEP_TIMEOUT_MS = 120_000;

function spec(name: string, maxSteps: number, seeds = 3) {
  return {
    name,
    base: { model: 'builtin:quickstart-tiny', task: { name: 'synthetic' }, max_seq_length: 32, batch_size: 16, learning_rate: 1e-3, max_steps: maxSteps, num_evals: 1 },
    sweep: { optimizer: ['adamw', 'bertadam'] },
    seeds,
  };
}

interface Cluster {
  dir: string;
  coordinator: CoordinatorProcess;
  trainers: BallastProcess[];
  client: CoordinatorClient;
}

async function startCluster(t: { after(fn: () => unknown): void }, options: { nats?: string; trainers?: number } = {}): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-it-'));
  // Trainers start first, as pods may: they retry until the coordinator answers (and it saves
  // their start-up time from every test).
  const port = await freePort();
  const trainers = Array.from({ length: options.trainers ?? 2 }, (_, i) =>
    startTrainerProcess({ coordinator: `127.0.0.1:${port}`, workerId: `t${i + 1}`, outDir: join(dir, 'trials'), ...(options.nats ? { nats: options.nats } : {}) }),
  );
  const coordinator = await startCoordinatorProcess({ stateDir: join(dir, 'state'), port, leaseTtlSeconds: 4, ...(options.nats ? { nats: options.nats } : {}) });
  const client = new CoordinatorClient({ address: coordinator.address });
  const cluster = { dir, coordinator, trainers, client };
  t.after(async () => {
    cluster.client.close();
    await stopAll([...cluster.trainers, cluster.coordinator]);
    rmSync(dir, { recursive: true, force: true });
  });
  return cluster;
}

/** Every trial succeeded and was counted once: one result each, n = seeds per configuration. */
function assertCountedOnce(results: ExperimentResults, seeds = 3): void {
  assert.equal(results.experiment.state, 'succeeded', JSON.stringify(results.trials.map((t) => [t.id, t.state, t.errors])));
  assert.equal(results.trials.length, 2 * seeds);
  assert.deepEqual(new Set(results.trials.map((t) => t.id)).size, 2 * seeds);
  for (const trial of results.trials) {
    assert.equal(trial.state, 'succeeded', `${trial.id}: ${trial.errors.join('; ')}`);
    assert.ok(trial.result, `${trial.id} has its result`);
  }
  assert.deepEqual(results.summary.map((s) => s.n), [seeds, seeds]);
}

/**
 * Resolves with the id of the first trial seen running with at least `step` updates done. Progress
 * arrives with heartbeats (every second here), so the tests that wait for it give their trials
 * a few seconds of training (100-200 steps; 40 took well under a second with the fused kernels).
 */
async function trialRunningPastStep(client: CoordinatorClient, experimentId: string, step: number): Promise<{ trialId: string; workerId: string }> {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    for (const trial of await client.listTrials(experimentId, ['running'])) {
      if (trial.progress && trial.progress.step >= step && trial.worker_id) return { trialId: trial.id, workerId: trial.worker_id };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no trial reached step ${step}`);
}

const natsSkip = natsServerSkipReason();

test('a sweep of 6 trials on 2 trainers completes, each trial once, progress and state on NATS', { skip: natsSkip }, async (t) => {
  const nats: NatsServer = await startNatsServer();
  t.after(() => nats.dispose());
  const cluster = await startCluster(t, { nats: nats.url });
  const sub = await connect({ servers: nats.url });
  t.after(() => sub.close());
  const messages: Array<{ subject: string; payload: Record<string, unknown> }> = [];
  sub.subscribe('ballast.>', {
    callback: (_error, msg) => {
      messages.push({ subject: msg.subject, payload: msg.json<Record<string, unknown>>() });
    },
  });
  await sub.flush();
  // Progress is best-effort: what a trainer publishes before its bus connects is dropped (and counted).
  await Promise.all(cluster.trainers.map((tr) => tr.waitForLog((l) => l.msg === 'nats: connected', 30_000)));

  const { experimentId } = await cluster.client.submitExperiment(spec('it-sweep', 20));
  const results = await waitForExperiment(cluster.client, experimentId, SWEEP_TIMEOUT_MS);
  assertCountedOnce(results);
  assert.ok(results.trials.every((trial) => trial.attempts === 1));
  for (const trial of results.trials) {
    assert.ok(existsSync(join(cluster.dir, 'trials', experimentId, trial.id, 'result.json')), `${trial.id}: result.json under <out-dir>/<experiment>/<trial>/`);
    assert.ok(existsSync(join(cluster.dir, 'trials', experimentId, trial.id, 'metrics.jsonl')));
  }

  await new Promise((resolve) => setTimeout(resolve, 300));
  for (const trial of results.trials) {
    const of = (kind: string) => messages.filter((m) => m.subject === `ballast.${experimentId}.${trial.id}.${kind}`);
    assert.ok(of('progress').length >= 1, `${trial.id}: progress on NATS`);
    assert.ok(of('progress').length <= 20, `${trial.id}: progress is throttled (${of('progress').length} messages for 20 steps)`);
    assert.ok(of('eval').length >= 1, `${trial.id}: eval on NATS`);
    const states = of('state').map((m) => `${String(m.payload.source)}:${String(m.payload.state)}`);
    assert.ok(states.includes('trainer:running') && states.includes('trainer:succeeded'), `${trial.id}: trainer states ${states.join(',')}`);
    assert.ok(states.includes('coordinator:succeeded'), `${trial.id}: coordinator states ${states.join(',')}`);
  }
  assert.ok(messages.some((m) => m.subject === `ballast.${experimentId}.state` && m.payload.state === 'succeeded'), 'experiment-level state');
});

test('kill -9 of a trainer mid-trial: its trial runs again and every trial is counted once', async (t) => {
  const cluster = await startCluster(t);
  const { experimentId } = await cluster.client.submitExperiment(spec('it-kill-trainer', 200, 2));
  const victim = await trialRunningPastStep(cluster.client, experimentId, 5);
  const index = cluster.trainers.findIndex((_, i) => `t${i + 1}` === victim.workerId);
  assert.ok(index >= 0, `worker ${victim.workerId}`);
  cluster.trainers[index]!.kill('SIGKILL');
  await cluster.trainers[index]!.exited;

  const results = await waitForExperiment(cluster.client, experimentId, SWEEP_TIMEOUT_MS);
  assertCountedOnce(results, 2);
  const killed = results.trials.find((trial) => trial.id === victim.trialId)!;
  assert.ok(killed.attempts >= 2, `the killed trial ran again (attempts ${killed.attempts})`);
  assert.match(killed.errors.join('\n'), /no heartbeat|expired/);
});

test('kill -9 of the coordinator mid-sweep and a restart: the sweep completes with nothing lost', async (t) => {
  const cluster = await startCluster(t);
  const { experimentId } = await cluster.client.submitExperiment(spec('it-kill-coordinator', 150, 2));
  // Wait until one trial is done and others run, so that both finished and in-flight work are at stake.
  const until = Date.now() + 90_000;
  let before: ExperimentResults | undefined;
  while (Date.now() < until) {
    before = await cluster.client.results(experimentId);
    if (before.trials.some((tr) => tr.state === 'succeeded') && before.trials.some((tr) => tr.state === 'running')) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const doneBefore = before!.trials.filter((tr) => tr.state === 'succeeded').map((tr) => [tr.id, tr.metrics]);
  assert.ok(doneBefore.length >= 1);
  cluster.coordinator.kill('SIGKILL');
  await cluster.coordinator.exited;
  await new Promise((resolve) => setTimeout(resolve, 1000)); // trainers meet a dead coordinator
  const port = Number(cluster.coordinator.address.split(':')[1]);
  cluster.coordinator = await startCoordinatorProcess({ stateDir: join(cluster.dir, 'state'), port, leaseTtlSeconds: 4 });
  // The coordinator writes its log in chunks (flushed every 100 ms), so the line may follow readiness.
  await cluster.coordinator.waitForLog((l) => l.msg === 'journal replayed', 5_000);

  const results = await waitForExperiment(cluster.client, experimentId, SWEEP_TIMEOUT_MS);
  assertCountedOnce(results, 2);
  // What was done before the crash is still there, unchanged.
  for (const [id, metrics] of doneBefore) {
    assert.deepEqual(results.trials.find((tr) => tr.id === id)!.metrics, metrics);
  }
  const experiments = await cluster.client.listExperiments();
  assert.equal(experiments.length, 1);
});

test('NATS stopped mid-sweep: the sweep still completes and the trainers count the drops', { skip: natsSkip }, async (t) => {
  const nats = await startNatsServer();
  t.after(() => nats.dispose());
  const cluster = await startCluster(t, { nats: nats.url });
  await Promise.all(cluster.trainers.map((tr) => tr.waitForLog((l) => l.msg === 'nats: connected', 30_000)));
  const { experimentId } = await cluster.client.submitExperiment(spec('it-nats-down', 100, 2));
  await trialRunningPastStep(cluster.client, experimentId, 3);
  await nats.stop();

  const results = await waitForExperiment(cluster.client, experimentId, SWEEP_TIMEOUT_MS);
  assertCountedOnce(results, 2);
  // The trainers say how much they dropped when they stop.
  await stopAll(cluster.trainers);
  const dropped = cluster.trainers.map((tr) => Number(tr.logs.find((l) => l.msg === 'trainer agent stopped')?.natsDropped ?? -1));
  assert.ok(dropped.every((n) => n >= 0), `every trainer reported its drops: ${dropped}`);
  assert.ok(dropped.reduce((a, b) => a + b, 0) > 0, `drops were counted: ${dropped}`);
});

test('SIGTERM hands the running trial back at once (no lease expiry) and the trainer exits', async (t) => {
  const cluster = await startCluster(t);
  const { experimentId } = await cluster.client.submitExperiment(spec('it-sigterm', 200, 2));
  const victim = await trialRunningPastStep(cluster.client, experimentId, 5);
  const index = cluster.trainers.findIndex((_, i) => `t${i + 1}` === victim.workerId);
  const trainer = cluster.trainers[index]!;
  const t0 = Date.now();
  trainer.kill('SIGTERM');
  const { code } = await trainer.exited;
  assert.equal(code, 0);
  assert.ok(Date.now() - t0 < 10_000, 'exits well within the grace period');
  const handedBack = trainer.logs.find((l) => l.msg === 'reported' && l.trialId === victim.trialId);
  assert.equal(handedBack?.status, 'cancelled');
  assert.equal(handedBack?.accepted, true);
  // Queued again right away, with the reason, not after a lease TTL.
  const trial = (await cluster.client.listTrials(experimentId)).find((tr) => tr.id === victim.trialId)!;
  assert.notEqual(trial.state, 'failed');

  const results = await waitForExperiment(cluster.client, experimentId, SWEEP_TIMEOUT_MS);
  assertCountedOnce(results, 2);
  const logsOfRest = cluster.trainers.filter((_, i) => i !== index).flatMap((tr) => tr.logs);
  assert.ok(logsOfRest.some((l) => l.msg === 'trial finished' && l.trialId === victim.trialId && l.status === 'completed'), 'the other trainer ran it');
});
