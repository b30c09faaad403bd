// The coordinator's metrics against a real core: every lease outcome (completion, failure and
// retry, expiry, release, cancel) shows in the counters and gauges, a restarted coordinator's
// metrics start from the replayed state, and the journal and call hooks feed their histograms.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { CoordinatorCore } from '../core/coordinator-core.ts';
import { fakeTrialResult } from '../core/fake-trial-result.ts';
import { Code } from '../grpc/rpc-error.ts';
import { createCoordinatorMetrics } from './coordinator-metrics.ts';

const spec = { name: 'm', base: { model: 'builtin:tiny', task: { name: 'rte' } }, sweep: { optimizer: ['adamw', 'bertadam'] }, seeds: 2, max_attempts: 2 };

let dir: string;
let now: number;
const clock = () => now;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ballast-metrics-'));
  now = Date.parse('2026-01-01T00:00:00Z');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** `name{labels} value` lines of the exposition, for exact lookups. */
async function scrape(registry: Registry): Promise<Map<string, number>> {
  const lines = (await registry.metrics()).split('\n').filter((l) => l && !l.startsWith('#'));
  return new Map(lines.map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))]));
}

describe('coordinator metrics', () => {
  it('follow trials through completion, failure + retry, expiry, release and cancel', async () => {
    const registry = new Registry();
    const metrics = createCoordinatorMetrics(registry, { now: clock });
    const core = await CoordinatorCore.open({ stateDir: dir, leaseTtlMs: 1000, clock, journalObserver: metrics.journalObserver });
    const detach = metrics.attach(core);
    const { experimentId: e } = await core.submitExperiment(spec);
    const trials = (state: string, configuration: string) => `ballast_coordinator_trials{experiment="${e}",configuration="${configuration}",state="${state}"}`;
    let m = await scrape(registry);
    assert.equal(m.get(trials('queued', 'optimizer=adamw')), 2);
    assert.equal(m.get(`ballast_coordinator_lease_expiries_total{experiment="${e}"}`), 0, 'zero series exist from the start');

    // 1: completes (degenerate) after 30 s.
    const a = (await core.acquireTrial('w1'))!;
    now += 30_000;
    await core.completeTrial(a.leaseId, fakeTrialResult(a.config, a.seeds, { accuracy: 0.5, degenerate: true }));
    // 2: fails (retryable) and is queued again.
    const b = (await core.acquireTrial('w1'))!;
    await core.failTrial(b.leaseId, { message: 'oom', kind: 'out_of_memory', retryable: true });
    // 3: its lease expires.
    await core.acquireTrial('w2');
    now += 5000;
    assert.equal(await core.expireLeases(), 1);
    // 4: handed back (SIGTERM).
    const d = (await core.acquireTrial('w3'))!;
    await core.releaseTrial(d.leaseId, 'SIGTERM');
    m = await scrape(registry);
    assert.equal(m.get(`ballast_coordinator_lease_grants_total{experiment="${e}"}`), 4);
    assert.equal(m.get(`ballast_coordinator_lease_expiries_total{experiment="${e}"}`), 1);
    assert.equal(m.get(`ballast_coordinator_trial_retries_total{experiment="${e}",cause="failed"}`), 1);
    assert.equal(m.get(`ballast_coordinator_trial_retries_total{experiment="${e}",cause="lease_expired"}`), 1);
    for (const outcome of ['completed', 'failed', 'expired', 'released']) {
      assert.equal(m.get(`ballast_coordinator_trial_duration_seconds_count{experiment="${e}",outcome="${outcome}"}`), 1, outcome);
    }
    assert.equal(m.get(`ballast_coordinator_trial_duration_seconds_sum{experiment="${e}",outcome="completed"}`), 30);
    const configA = a.config.optimizer === 'adamw' ? 'optimizer=adamw' : 'optimizer=bertadam';
    assert.equal(m.get(trials('succeeded', configA)), 1);
    assert.equal(m.get(`ballast_coordinator_degenerate_trials{experiment="${e}",configuration="${configA}"}`), 1);
    assert.equal(m.get(`ballast_coordinator_trial_metric_count{experiment="${e}",configuration="${configA}",metric="accuracy"}`), 1);
    assert.equal(m.get(`ballast_coordinator_trial_metric_bucket{le="0.5",experiment="${e}",configuration="${configA}",metric="accuracy"}`), 1);
    assert.equal(m.get(`ballast_coordinator_trial_metric_bucket{le="0.45",experiment="${e}",configuration="${configA}",metric="accuracy"}`), 0);
    const total = (state: string) => ['optimizer=adamw', 'optimizer=bertadam'].reduce((sum, cfg) => sum + (m.get(trials(state, cfg)) ?? 0), 0);
    assert.deepEqual([total('queued'), total('running'), total('succeeded')], [3, 0, 1]);
    assert.equal(m.get('ballast_coordinator_experiments{state="running"}'), 1);
    assert.ok((m.get('ballast_coordinator_journal_write_seconds_count') ?? 0) >= 1);
    assert.ok((m.get('ballast_coordinator_journal_events_total') ?? 0) >= 9);

    await core.cancelExperiment(e, 'enough');
    m = await scrape(registry);
    assert.equal(total('cancelled'), 3);
    assert.equal(m.get('ballast_coordinator_experiments{state="cancelled"}'), 1);
    detach();
    await core.close();

    // A restarted coordinator starts from the replayed state.
    const registry2 = new Registry();
    const metrics2 = createCoordinatorMetrics(registry2, { now: clock });
    const core2 = await CoordinatorCore.open({ stateDir: dir, leaseTtlMs: 1000, clock });
    metrics2.attach(core2);
    const m2 = await scrape(registry2);
    assert.equal(m2.get(trials('succeeded', configA)), 1);
    assert.equal(m2.get(`ballast_coordinator_degenerate_trials{experiment="${e}",configuration="${configA}"}`), 1);
    assert.equal((m2.get(trials('cancelled', 'optimizer=adamw')) ?? 0) + (m2.get(trials('cancelled', 'optimizer=bertadam')) ?? 0), 3);
    await core2.close();
  });

  it("drop a finished experiment's series a day after it ended, and ignore its late trial changes", async () => {
    const registry = new Registry();
    const metrics = createCoordinatorMetrics(registry, { now: clock });
    const core = await CoordinatorCore.open({ stateDir: dir, leaseTtlMs: 60_000, clock });
    metrics.attach(core);
    const { experimentId: old } = await core.submitExperiment(spec);
    const lease = (await core.acquireTrial('w1'))!;
    await core.cancelExperiment(old, 'stop');
    const { experimentId: current } = await core.submitExperiment({ ...spec, name: 'current' });
    const series = async (experiment: string) => [...(await scrape(registry)).keys()].filter((k) => k.includes(`experiment="${experiment}"`));
    now += 23 * 3600 * 1000;
    assert.ok((await series(old)).length >= 16, 'kept for a day');
    now += 2 * 3600 * 1000;
    assert.deepEqual(await series(old), [], 'dropped after a day');
    assert.ok((await series(current)).length >= 16, 'a running experiment keeps its series');
    // The cancelled experiment's running trial is handed back after the drop: no series come back.
    await core.releaseTrial(lease.leaseId, 'stopped on cancel');
    assert.deepEqual(await series(old), []);
    const m = await scrape(registry);
    assert.equal(m.get('ballast_coordinator_experiments{state="cancelled"}'), 1, 'still counted by state');
    await core.close();
  });

  it('lease rpcs feed the latency histogram; every rpc is counted by status', async () => {
    const registry = new Registry();
    const { callObserver } = createCoordinatorMetrics(registry);
    callObserver.onCallEnd('Heartbeat', Code.OK, 2);
    callObserver.onCallEnd('Heartbeat', Code.OK, 40);
    callObserver.onCallEnd('ListExperiments', Code.UNAUTHENTICATED, 1);
    const m = await scrape(registry);
    assert.equal(m.get('ballast_coordinator_lease_latency_seconds_count{rpc="Heartbeat"}'), 2);
    assert.equal(m.get('ballast_coordinator_lease_latency_seconds_bucket{le="0.0025",rpc="Heartbeat"}'), 1);
    assert.equal(m.get('ballast_coordinator_lease_latency_seconds_count{rpc="ListExperiments"}'), undefined);
    assert.equal(m.get('ballast_coordinator_rpc_requests_total{rpc="ListExperiments",code="UNAUTHENTICATED"}'), 1);
  });
});
