// `ballast report EXPERIMENT_ID --coordinator HOST:PORT` against a real coordinator (core over a
// temp state dir, gRPC on 127.0.0.1): trials completed and failed through the client, then the
// report fetched by id, the path users take from `ballast run --detach`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { CoordinatorClient } from '../coordinator/src/client/coordinator-client.ts';
import { buildReport } from '../coordinator/src/report/analyze.ts';
import { CoordinatorCore } from '../coordinator/src/core/coordinator-core.ts';
import { fakeTrialResult } from '../coordinator/src/core/fake-trial-result.ts';
import { serveCoordinator } from '../coordinator/src/grpc/coordinator-server.ts';

const BIN = fileURLToPath(new URL('../bin/ballast.mjs', import.meta.url));

function ballast(args: string[], cwd: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

test('ballast report fetches results by experiment id from the coordinator', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ballast-report-coord-'));
  const core = await CoordinatorCore.open({ stateDir: join(dir, 'state'), leaseTtlMs: 5000 });
  const server = await serveCoordinator({ core, leaseTtlMs: 5000, listen: '127.0.0.1:0' });
  const client = new CoordinatorClient({ address: server.address, defaultTimeoutMs: 5000 });
  try {
    const spec = { name: 'report-by-id', base: { model: 'builtin:bert-tiny', task: { name: 'rte' }, max_steps: 10 }, sweep: { optimizer: ['bertadam', 'adamw'] }, seeds: 4, max_attempts: 1 };
    const { experimentId, trialCount } = await client.submitExperiment(spec, { source: 'inline' });
    assert.equal(trialCount, 8);
    let n = 0;
    for (let lease = await client.acquireTrial('w1'); lease; lease = await client.acquireTrial('w1')) {
      n++;
      if (n === 3) {
        await client.failTrial(lease.leaseId, { message: 'out of memory', kind: 'resource', retryable: false });
        continue;
      }
      const accuracy = (lease.config.optimizer === 'adamw' ? 0.7 : 0.62) + 0.01 * (n % 4);
      await client.completeTrial(lease.leaseId, fakeTrialResult(lease.config, lease.seeds, { accuracy, degenerate: lease.config.optimizer === 'bertadam' && n % 4 === 1 }));
    }
    const out = join(dir, 'out');
    const run = await ballast(['report', experimentId, '--coordinator', server.address, '--out', out, '--json'], dir);
    assert.equal(run.status, 0, run.stderr);
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
    assert.equal(report.experiment.id, experimentId);
    assert.deepEqual({ total: report.trials.total, succeeded: report.trials.succeeded, failed: report.trials.failed }, { total: 8, succeeded: 7, failed: 1 });
    assert.deepEqual(report.table1.columns, ['optimizer=bertadam', 'optimizer=adamw']);
    const md = await readFile(join(out, 'report.md'), 'utf8');
    assert.match(md, /out of memory/);
    assert.match(md, /no per-step metrics/, 'fake results carry no metrics.jsonl: the report says so');

    const missing = await ballast(['report', 'no-such-experiment', '--coordinator', server.address], dir);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /experiment 'no-such-experiment' not found/);
  } finally {
    client.close();
    await server.shutdown(1000);
    await core.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a spec with init_seeds × data_seeds gives the variance-by-factor analysis', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ballast-report-coord-'));
  const core = await CoordinatorCore.open({ stateDir: join(dir, 'state'), leaseTtlMs: 5000 });
  const server = await serveCoordinator({ core, leaseTtlMs: 5000, listen: '127.0.0.1:0' });
  const client = new CoordinatorClient({ address: server.address, defaultTimeoutMs: 5000 });
  try {
    const spec = { name: 'factorial', base: { model: 'builtin:bert-tiny', task: { name: 'rte' }, max_steps: 10 }, init_seeds: [1, 2, 3], data_seeds: [7, 8], max_attempts: 1 };
    const { experimentId, trialCount } = await client.submitExperiment(spec, { source: 'inline' });
    assert.equal(trialCount, 6);
    for (let lease = await client.acquireTrial('w1'); lease; lease = await client.acquireTrial('w1')) {
      // The init seed moves the score a lot, the data seed a little.
      const accuracy = 0.6 + 0.03 * lease.seeds.init_seed + 0.002 * lease.seeds.data_seed;
      await client.completeTrial(lease.leaseId, fakeTrialResult(lease.config, lease.seeds, { accuracy }));
    }
    const report = await buildReport(await client.results(experimentId));
    const anova = report.tasks[0]?.configurations[0]?.variance_by_factor.anova;
    assert.ok(anova, report.tasks[0]?.configurations[0]?.variance_by_factor.reason ?? '');
    assert.deepEqual(anova.levels, { init: 3, data: 2, replicates: 1 });
    const share = (source: string) => anova.terms.find((t) => t.source === source)?.share ?? 0;
    assert.ok(share('init') > 0.99, `init share ${share('init')}`);
    assert.ok(share('data') > 0 && share('data') < 0.01, `data share ${share('data')}`);
  } finally {
    client.close();
    await server.shutdown(1000);
    await core.close();
    await rm(dir, { recursive: true, force: true });
  }
});
