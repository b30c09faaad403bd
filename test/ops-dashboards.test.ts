// Dashboards and alert rules as code: the checked-in files are what the generator renders, the
// rules pass promtool's checks and unit tests, and every Ballast metric the dashboards and rules
// name is one the exporters register.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { createCoordinatorMetrics } from '../coordinator/src/metrics/coordinator-metrics.ts';
import { createTrainerMetrics } from '../trainer/src/metrics/trainer-metrics.ts';
import { dashboardQueries } from '../dashboards/src/dashboard-model.ts';
import { REPO_ROOT, dashboards, renderAll } from '../dashboards/src/generate.ts';
import { DCGM_METRICS } from '../dashboards/src/trainer-fleet.ts';
import { metricNames, ruleExpressions } from './helpers/ops-queries.ts';

const promtool = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));
const skipPromtool = promtool ? false : 'promtool not installed (apt-get install prometheus; .ci/run does it)';

/** Every metric name the exporters register (default process metrics included). */
async function exportedMetricNames(): Promise<Set<string>> {
  const names = new Set<string>();
  const coordinator = new Registry();
  collectDefaultMetrics({ register: coordinator });
  createCoordinatorMetrics(coordinator);
  const trainer = new Registry();
  collectDefaultMetrics({ register: trainer });
  createTrainerMetrics(trainer, {
    backend: { name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', device: 'cpu', threads: 1, chosen_by: 'auto' },
    memory: () => ({ numTensors: 0, numBytes: 0 }),
    nats: () => ({ published: 0, dropped: 0 }),
  });
  for (const registry of [coordinator, trainer]) {
    for (const metric of await registry.getMetricsAsJSON()) {
      names.add(metric.name);
      if (metric.type === ('histogram' as never)) for (const suffix of ['_bucket', '_sum', '_count']) names.add(metric.name + suffix);
    }
  }
  return names;
}

describe('dashboards and alert rules', () => {
  test('the checked-in generated files are what the generator renders', () => {
    const stale: string[] = [];
    for (const [path, content] of renderAll()) {
      const file = join(REPO_ROOT, path);
      if (!existsSync(file) || readFileSync(file, 'utf8') !== content) stale.push(path);
    }
    assert.deepEqual(stale, [], `regenerate with: node --import tsx dashboards/generate-dashboards.ts`);
  });

  test('dashboards: unique uids and panel ids, panels inside the 24-column grid without overlaps', () => {
    const uids = new Set<string>();
    for (const d of Object.values(dashboards())) {
      assert.ok(!uids.has(d.uid), d.uid);
      uids.add(d.uid);
      const ids = new Set(d.panels.map((p) => p.id));
      assert.equal(ids.size, d.panels.length, `${d.uid}: duplicate panel ids`);
      for (const a of d.panels) {
        assert.ok(a.gridPos.x >= 0 && a.gridPos.x + a.gridPos.w <= 24, `${d.uid}/${a.title}: outside the grid`);
        for (const b of d.panels) {
          if (a === b) continue;
          const overlap =
            a.gridPos.x < b.gridPos.x + b.gridPos.w && b.gridPos.x < a.gridPos.x + a.gridPos.w && a.gridPos.y < b.gridPos.y + b.gridPos.h && b.gridPos.y < a.gridPos.y + a.gridPos.h;
          assert.ok(!overlap, `${d.uid}: '${a.title}' overlaps '${b.title}'`);
        }
      }
      for (const p of d.panels) if (p.type !== 'row') assert.ok((p.targets ?? []).length > 0, `${d.uid}/${p.title}: no query`);
    }
  });

  test('every ballast_* metric the dashboards and rules use is exported (and follows the naming conventions)', async () => {
    const exported = await exportedMetricNames();
    const used = new Set<string>();
    for (const d of Object.values(dashboards())) for (const q of dashboardQueries(d)) for (const n of metricNames(q.expr)) used.add(n);
    for (const r of ruleExpressions()) for (const n of metricNames(r.expr)) used.add(n);
    const missing = [...used].filter((n) => /^(ballast_|process_|nodejs_)/.test(n) && !exported.has(n));
    assert.deepEqual(missing, [], 'metrics used but not exported');
    for (const dcgm of DCGM_METRICS) assert.ok(used.has(dcgm), `${dcgm} panel`);
    for (const name of exported) {
      if (!name.startsWith('ballast_')) continue;
      assert.doesNotMatch(name, /_(ms|milliseconds|kb|mb)(_|$)/, `${name}: base units`);
    }
    const registry = new Registry();
    createCoordinatorMetrics(registry);
    createTrainerMetrics(registry, {
      backend: { name: 'wasm', package: 'p', device: 'cpu', threads: 1, chosen_by: 'auto' },
      memory: () => ({ numTensors: 0, numBytes: 0 }),
      nats: () => ({ published: 0, dropped: 0 }),
    });
    for (const metric of await registry.getMetricsAsJSON()) {
      if (metric.type === ('counter' as never)) assert.match(metric.name, /_total$/, `${metric.name}: counters end in _total`);
      if (metric.type === ('histogram' as never) && !metric.name.endsWith('_metric')) assert.match(metric.name, /_seconds$/, `${metric.name}: duration histograms in seconds`);
    }
  });

  test('promtool check rules and promtool test rules pass', { skip: skipPromtool }, () => {
    const dir = join(REPO_ROOT, 'dashboards/alerts');
    const check = spawnSync(promtool as string, ['check', 'rules', 'ballast-rules.yaml'], { cwd: dir, encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /SUCCESS: 8 rules found/);
    const unit = spawnSync(promtool as string, ['test', 'rules', 'ballast-rules.test.yaml'], { cwd: dir, encoding: 'utf8' });
    assert.equal(unit.status, 0, unit.stdout + unit.stderr);
    // Every alert has a firing case in the unit tests.
    const tests = readFileSync(join(dir, 'ballast-rules.test.yaml'), 'utf8');
    for (const r of ruleExpressions().filter((r) => r.kind === 'alert')) assert.match(tests, new RegExp(`alertname: ${r.name}\\n\\s+exp_alerts:\\n\\s+- exp_labels`), `${r.name} never fires in the tests`);
  });
});
