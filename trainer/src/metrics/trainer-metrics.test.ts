// The trainer's metrics: the instrumented trial context counts steps and examples, times steps,
// exposes the running trial's loss, learning rate and evaluations under its trial_id and removes
// them when the trial ends; scrape-time sources (tfjs memory, NATS counters) are read on each
// scrape; the HTTP server serves /metrics and /healthz.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { TrialConfig } from '../config/trial-config.ts';
import type { TrialContext } from '../train/trial-context.ts';
import type { TrialResult } from '../train/trial-result.ts';
import { serveMetrics } from './metrics-server.ts';
import { createTrainerMetrics } from './trainer-metrics.ts';

const backend = { name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', device: 'cpu' as const, threads: 2, chosen_by: 'auto' as const };

async function scrape(registry: Registry): Promise<Map<string, number>> {
  const lines = (await registry.metrics()).split('\n').filter((l) => l && !l.startsWith('#'));
  return new Map(lines.map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))]));
}

function context(trialId: string, seen: unknown[]): TrialContext {
  return { trialId, signal: new AbortController().signal, log: pino({ enabled: false }), heartbeat: (p) => seen.push(p) };
}

describe('trainer metrics', () => {
  it('count steps and examples, show the running trial, and forget it when it ends', async () => {
    const registry = new Registry();
    let memory = { numTensors: 10, numBytes: 4096 };
    const nats = { published: 0, dropped: 0 };
    const metrics = createTrainerMetrics(registry, { backend, memory: () => memory, nats: () => nats });
    const seen: unknown[] = [];
    let during: Map<string, number> | undefined;
    const run = metrics.instrument(async (_config, ctx) => {
      for (let step = 1; step <= 3; step++) ctx.heartbeat({ kind: 'step', step, total_steps: 4, loss: 1 / step, lr: 1e-5 * step, examples_per_second: 100 });
      ctx.heartbeat({ kind: 'eval', step: 3, total_steps: 4, validation: { loss: 0.4, accuracy: 0.75 } });
      ctx.heartbeat({ kind: 'step', step: 4, total_steps: 4, loss: Number.NaN, lr: 0, examples_per_second: 100 });
      nats.published = 5;
      nats.dropped = 2;
      memory = { numTensors: 12, numBytes: 8192 };
      during = await scrape(registry);
      return {} as TrialResult;
    });
    await run({ batch_size: 16 } as TrialConfig, context('c0-s1', seen), { outDir: '/tmp/x' });
    assert.equal(seen.length, 5, 'every report still reaches the real context');
    assert.ok(during);
    assert.equal(during.get('ballast_trainer_steps_total'), 4);
    assert.equal(during.get('ballast_trainer_examples_total'), 64);
    assert.equal(during.get('ballast_trainer_step_duration_seconds_count'), 4);
    assert.equal(during.get('ballast_trainer_loss{trial_id="c0-s1"}'), 1 / 3, 'a NaN loss does not overwrite the last finite one');
    assert.equal(during.get('ballast_trainer_learning_rate{trial_id="c0-s1"}'), 0);
    assert.equal(during.get('ballast_trainer_trial_progress_ratio{trial_id="c0-s1"}'), 1);
    assert.equal(during.get('ballast_trainer_eval_metric{trial_id="c0-s1",metric="accuracy"}'), 0.75);
    assert.equal(during.get('ballast_trainer_running_trials'), 1);
    assert.equal(during.get('ballast_trainer_tfjs_tensors'), 12);
    assert.equal(during.get('ballast_trainer_tfjs_bytes'), 8192);
    assert.equal(during.get('ballast_nats_published_messages_total'), 5);
    assert.equal(during.get('ballast_nats_dropped_messages_total'), 2);
    assert.equal(
      during.get('ballast_trainer_backend_info{backend="wasm",package="@tensorflow/tfjs-backend-wasm",device="cpu",threads="2",chosen_by="auto"}'),
      1,
    );

    metrics.trialFinished('completed', 1500);
    metrics.idleGap(12);
    metrics.rpcFailed('heartbeat');
    const after = await scrape(registry);
    const trialSeries = [...after.keys()].filter((k) => k.includes('trial_id='));
    assert.deepEqual(trialSeries, [], 'per-trial series are gone once the trial ended');
    assert.equal(after.get('ballast_trainer_running_trials'), 0);
    assert.equal(after.get('ballast_trainer_trials_total{status="completed"}'), 1);
    assert.equal(after.get('ballast_trainer_trials_total{status="failed"}'), 0);
    assert.equal(after.get('ballast_trainer_trial_duration_seconds_sum{status="completed"}'), 1.5);
    assert.equal(after.get('ballast_trainer_idle_gap_seconds_bucket{le="0.025"}'), 1);
    assert.equal(after.get('ballast_trainer_coordinator_rpc_failures_total{rpc="heartbeat"}'), 1);
  });

  it('a trial that throws is forgotten too', async () => {
    const registry = new Registry();
    const metrics = createTrainerMetrics(registry, { backend, memory: () => ({ numTensors: 0, numBytes: 0 }) });
    const run = metrics.instrument(async (_config, ctx) => {
      ctx.heartbeat({ kind: 'step', step: 1, total_steps: 9, loss: 2, lr: 1, examples_per_second: 1 });
      throw new Error('boom');
    });
    await assert.rejects(run({ batch_size: 2 } as TrialConfig, context('t', []), { outDir: '/tmp/x' }), /boom/);
    const m = await scrape(registry);
    assert.equal([...m.keys()].filter((k) => k.includes('trial_id=')).length, 0);
    assert.equal(m.get('ballast_trainer_running_trials'), 0);
    assert.equal([...m.keys()].some((k) => k.startsWith('ballast_nats_')), false, 'no NATS series without NATS');
  });

  it('serves /metrics and /healthz over HTTP', async () => {
    const registry = new Registry();
    createTrainerMetrics(registry, { backend, memory: () => ({ numTensors: 3, numBytes: 30 }) });
    const server = await serveMetrics(registry, '127.0.0.1:0');
    try {
      const metrics = await fetch(`http://${server.address}/metrics`);
      assert.equal(metrics.status, 200);
      assert.match(metrics.headers.get('content-type') ?? '', /text\/plain/);
      assert.match(await metrics.text(), /^ballast_trainer_tfjs_tensors 3$/m);
      assert.equal((await fetch(`http://${server.address}/healthz`)).status, 200);
      assert.equal((await fetch(`http://${server.address}/nope`)).status, 404);
      assert.equal((await fetch(`http://${server.address}/metrics`, { method: 'POST' })).status, 405);
    } finally {
      await server.close();
    }
    await assert.rejects(serveMetrics(registry, 'nonsense'), /--metrics-listen must be HOST:PORT/);
  });
});
