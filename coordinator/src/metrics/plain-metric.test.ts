// A PlainMetric must expose exactly what prom-client's own metric of the same kind exposes after
// the same updates: dashboards, alerts and the bench's scrape read these lines.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { PlainMetric } from './plain-metric.ts';

const buckets = [0.001, 0.01, 0.1, 1];

async function both(build: (registry: Registry, plain: boolean) => void) {
  const reference = new Registry();
  const plain = new Registry();
  build(reference, false);
  build(plain, true);
  return { reference: await reference.metrics(), plain: await plain.metrics(), json: { reference: await reference.getMetricsAsJSON(), plain: await plain.getMetricsAsJSON() } };
}

describe('PlainMetric', () => {
  it('exposes counters, gauges and histograms as prom-client does, text and JSON', async () => {
    const { reference, plain, json } = await both((registry, isPlain) => {
      const registers = [registry];
      if (isPlain) {
        const counter = new PlainMetric('c_total', 'a counter', 'counter', ['rpc', 'code'], registers);
        counter.series('Heartbeat', 'OK').inc();
        counter.series('Heartbeat', 'OK').inc(2);
        counter.series('Acquire', 'UNAVAILABLE').inc();
        const gauge = new PlainMetric('g', 'a gauge', 'gauge', ['experiment', 'configuration', 'state'], registers);
        gauge.series('e1', 'c1', 'queued').inc(5);
        gauge.series('e1', 'c1', 'queued').dec();
        gauge.series('e1', 'c1', 'running');
        gauge.series('e2', 'c1', 'queued').set(7);
        const histogram = new PlainMetric('h_seconds', 'a histogram', 'histogram', ['rpc'], registers, buckets);
        for (const v of [0.0005, 0.001, 0.002, 0.5, 3]) histogram.series('Heartbeat').observe(v);
        histogram.series('Acquire');
        const unlabelled = new PlainMetric('u_seconds', 'no labels', 'histogram', [], registers, buckets);
        unlabelled.series().observe(0.05);
      } else {
        const counter = new Counter({ name: 'c_total', help: 'a counter', labelNames: ['rpc', 'code'], registers });
        counter.inc({ rpc: 'Heartbeat', code: 'OK' });
        counter.inc({ rpc: 'Heartbeat', code: 'OK' }, 2);
        counter.inc({ rpc: 'Acquire', code: 'UNAVAILABLE' });
        const gauge = new Gauge({ name: 'g', help: 'a gauge', labelNames: ['experiment', 'configuration', 'state'], registers });
        gauge.inc({ experiment: 'e1', configuration: 'c1', state: 'queued' }, 5);
        gauge.dec({ experiment: 'e1', configuration: 'c1', state: 'queued' });
        gauge.inc({ experiment: 'e1', configuration: 'c1', state: 'running' }, 0);
        gauge.set({ experiment: 'e2', configuration: 'c1', state: 'queued' }, 7);
        const histogram = new Histogram({ name: 'h_seconds', help: 'a histogram', labelNames: ['rpc'], buckets, registers });
        for (const v of [0.0005, 0.001, 0.002, 0.5, 3]) histogram.observe({ rpc: 'Heartbeat' }, v);
        histogram.zero({ rpc: 'Acquire' });
        const unlabelled = new Histogram({ name: 'u_seconds', help: 'no labels', buckets, registers });
        unlabelled.observe(0.05);
      }
    });
    assert.equal(plain, reference);
    // prom-client's histogram values also carry `exemplar: null` (exemplars are off).
    const withoutExemplars = (metrics: typeof json.reference) =>
      metrics.map((m) => ({ ...m, values: m.values.map((v) => Object.fromEntries(Object.entries(v).filter(([k, x]) => !(k === 'exemplar' && x == null)))) }));
    assert.deepEqual(withoutExemplars(json.plain), withoutExemplars(json.reference));
  });

  it('removes every series of a first label value, and resets', async () => {
    const registry = new Registry();
    const gauge = new PlainMetric('g', 'a gauge', 'gauge', ['experiment', 'state'], [registry]);
    gauge.series('old', 'queued').inc();
    gauge.series('old', 'running').inc();
    gauge.series('new', 'queued').inc(3);
    gauge.remove('old');
    assert.deepEqual((await registry.metrics()).split('\n').filter((l) => !l.startsWith('#')), ['g{experiment="new",state="queued"} 3', '']);
    registry.resetMetrics();
    assert.deepEqual((await registry.metrics()).split('\n').filter((l) => !l.startsWith('#')), ['']);
  });

  it('refuses NaN and infinities, as prom-client does', () => {
    const histogram = new PlainMetric('h_seconds', 'a histogram', 'histogram', ['rpc'], [], buckets).series('Heartbeat');
    assert.throws(() => histogram.observe(Number.NaN), /not a finite number: NaN/);
    const gauge = new PlainMetric('g', 'a gauge', 'gauge', [], []).series();
    assert.throws(() => gauge.inc(Number.POSITIVE_INFINITY), TypeError);
    assert.throws(() => gauge.set(Number.NaN), TypeError);
    assert.equal(histogram.value + gauge.value, 0, 'nothing was counted');
  });

  it('names a missing label value', () => {
    const gauge = new PlainMetric('g', 'a gauge', 'gauge', ['experiment', 'state'], []);
    assert.throws(() => gauge.series('e'), /g: missing the value of label state/);
  });
});
