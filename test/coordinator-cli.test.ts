// The client commands against a real `ballast coordinator` process: submit, status --json,
// watch (to the end, as lines), results --json, cancel, the errors users see, and SIGTERM.
// The trainers are simulated in this process through the client (no training).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoordinatorClient } from '../coordinator/src/client/coordinator-client.ts';
import { sampleResult } from '../coordinator/src/grpc/test-fixtures.ts';
import { startCoordinatorProcess } from './helpers/coordinator-process.ts';
import type { CoordinatorProcess } from './helpers/coordinator-process.ts';

const BALLAST = fileURLToPath(new URL('../bin/ballast.mjs', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `ballast ARGS`; `started` resolves once its stdout matches `ready` (if given). */
function ballastProcess(args: string[], env: Record<string, string> = {}, ready?: RegExp): { done: Promise<Run>; started: Promise<void> } {
  const child = spawn(process.execPath, [BALLAST, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let markStarted: () => void = () => {};
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (ready?.test(stdout)) markStarted();
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<Run>((resolve) =>
    child.on('exit', (code) => {
      markStarted();
      resolve({ code: code ?? -1, stdout, stderr });
    }),
  );
  return { done, started };
}

const ballast = (args: string[], env: Record<string, string> = {}) => ballastProcess(args, env).done;

const SPEC = `# a small sweep
name: cli-test
base:
  model: builtin:bert-tiny
  task: {name: synthetic}
  max_steps: 10
sweep:
  optimizer: [adamw, bertadam]
seeds: 2
`;

describe('ballast client commands against a coordinator process', () => {
  let dir: string;
  let coordinator: CoordinatorProcess;
  let client: CoordinatorClient;
  let env: Record<string, string>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ballast-cli-'));
    writeFileSync(join(dir, 'spec.yaml'), SPEC);
    writeFileSync(join(dir, 'bad.yaml'), SPEC.replace('bertadam]', 'bertadam, sgd]'));
    writeFileSync(join(dir, 'broken.yaml'), `${SPEC}  oops: [\n`);
    writeFileSync(join(dir, 'token'), 'tok-123\n');
    coordinator = await startCoordinatorProcess(join(dir, 'state'), ['--token-file', join(dir, 'token'), '--lease-ttl', '5']);
    client = new CoordinatorClient({ address: coordinator.address, token: 'tok-123' });
    env = { BALLAST_COORDINATOR: coordinator.address };
  });

  after(async () => {
    client?.close();
    await coordinator?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('submit, status, watch to the end, results; then cancel', async () => {
    const token = ['--token-file', join(dir, 'token')];
    const submitted = await ballast(['submit', join(dir, 'spec.yaml'), '--json', ...token], env);
    assert.equal(submitted.code, 0, submitted.stderr);
    const { experiment_id: id } = JSON.parse(submitted.stdout) as { experiment_id: string };
    assert.match(id, /^cli-test-/);

    const status = await ballast(['status', id, '--json', ...token], env);
    assert.equal(status.code, 0, status.stderr);
    const parsed = JSON.parse(status.stdout) as { trials: Array<Record<string, unknown>> };
    assert.equal(parsed.trials.length, 4);
    for (const trial of parsed.trials) {
      for (const key of ['id', 'state', 'attempts', 'config', 'seeds']) assert.ok(key in trial, `status --json trials have ${key}`);
      assert.equal(trial.state, 'queued');
    }

    // Watch in lines mode while two simulated trainers run every trial.
    const watch = ballastProcess(['watch', id, ...token], env, /running: 4 trials/);
    await watch.started;
    for (;;) {
      const lease = await client.acquireTrial('sim-1');
      if (!lease) break;
      await client.heartbeat(lease.leaseId, { kind: 'step', step: 5, total_steps: 10, loss: 0.6, lr: 1e-5, examples_per_second: 100 });
      await client.completeTrial(lease.leaseId, { ...sampleResult, config: lease.config, seeds: lease.seeds, degenerate: false, degenerate_reason: undefined, diverged: undefined });
    }
    const watched = await watch.done;
    assert.equal(watched.code, 0, watched.stderr);
    assert.match(watched.stdout, /succeeded accuracy=0\.6/);
    assert.match(watched.stdout, /experiment \S+ succeeded: 4 trials: 4 succeeded, 0 failed/);

    const results = await ballast(['results', id, '--json', ...token], env);
    assert.equal(results.code, 0, results.stderr);
    const summary = (JSON.parse(results.stdout) as { summary: Array<{ n: number; mean: number; metric: string }> }).summary;
    assert.deepEqual(summary.map((s) => [s.n, s.metric]), [[2, 'accuracy'], [2, 'accuracy']]);
    assert.ok(Math.abs((summary[0]?.mean ?? 0) - 0.6) < 1e-9);
    const table = await ballast(['results', id, ...token], env);
    assert.match(table.stdout, /mean ± std/);
    assert.match(table.stdout, /0\.6000 ± 0\.0000/);

    const second = await ballast(['submit', join(dir, 'spec.yaml'), ...token], env);
    const secondId = second.stdout.trim();
    const cancelled = await ballast(['cancel', secondId, ...token], env);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    assert.match(cancelled.stdout, /cancelled: 4 trials: .*4 cancelled/);
    const watchCancelled = await ballast(['watch', secondId, ...token], env);
    assert.equal(watchCancelled.code, 1, 'watching a cancelled experiment exits non-zero');
  });

  test('submit --wait follows to the end and exits 1 when a trial failed', async () => {
    const token = ['--token-file', join(dir, 'token')];
    const waiting = ballastProcess(['submit', join(dir, 'spec.yaml'), '--wait', ...token], env, /^\S+\n/);
    await waiting.started;
    let failedOne = false;
    for (;;) {
      const lease = await client.acquireTrial('sim-wait', { waitMs: 2000 });
      if (!lease) break;
      if (!failedOne) {
        failedOne = true;
        await client.failTrial(lease.leaseId, { message: 'labels do not match the task', kind: 'data_error', retryable: false });
        continue;
      }
      await client.completeTrial(lease.leaseId, { ...sampleResult, config: lease.config, seeds: lease.seeds, degenerate: false, degenerate_reason: undefined, diverged: undefined });
    }
    const run = await waiting.done;
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /FAILED after 1 attempt\(s\): .*labels do not match the task/);
    assert.match(run.stdout, /mean ± std/, 'the summary table is printed at the end');
  });

  test('users see what is wrong: the field, the line, the token, the address', async () => {
    const token = ['--token-file', join(dir, 'token')];
    const bad = await ballast(['submit', join(dir, 'bad.yaml'), ...token], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /bad\.yaml: sweep\.optimizer\[2\]/);
    const broken = await ballast(['submit', join(dir, 'broken.yaml'), ...token], env);
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /line \d+/);
    const noToken = await ballast(['status'], env);
    assert.equal(noToken.code, 2);
    assert.match(noToken.stderr, /missing bearer token/);
    const notFound = await ballast(['status', 'no-such-id', ...token], env);
    assert.equal(notFound.code, 2);
    assert.match(notFound.stderr, /no-such-id/);
    const unreachable = await ballast(['status', '--coordinator', '127.0.0.1:1', ...token]);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /UNAVAILABLE.*is a coordinator running at 127\.0\.0\.1:1/);
    assert.doesNotMatch(unreachable.stderr, /\n\s+at /, 'no stack trace');
  });

  test('the coordinator refuses an open non-loopback address, and stops cleanly on SIGTERM', async () => {
    const open = await ballast(['coordinator', '--listen', '0.0.0.0:0', '--state-dir', join(dir, 'other')]);
    assert.equal(open.code, 2);
    assert.match(open.stderr, /refusing to listen on 0\.0\.0\.0:0 without TLS or a token.*--insecure/);
    const second = await startCoordinatorProcess(join(dir, 'state-2'));
    assert.equal(await second.stop('SIGTERM'), 0);
    assert.match(second.log(), /coordinator stopped/);
  });
});
