// `ballast run` end to end as a user runs it: a small quickstart-like spec, real trainer
// processes, results.json at the end; then the same command again resumes instead of
// resubmitting; a run directory of another spec is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExperimentResults } from '../coordinator/src/results/experiment-results.ts';
import { BALLAST_BIN } from './helpers/ballast-process.ts';

function ballast(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BALLAST_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BALLAST_LOG_LEVEL: 'info' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const SPEC = `# a smaller examples/quickstart.yaml
name: run-e2e
base:
  model: builtin:quickstart-tiny
  task: {name: synthetic}
  max_seq_length: 32
  batch_size: 16
  learning_rate: 1.0e-3
  max_steps: 15
  num_evals: 1
sweep:
  optimizer: [adamw, bertadam]
seeds: 2
`;

test('ballast run: a small sweep end to end writes results.json, and running it again resumes without resubmitting', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-run-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const specPath = join(dir, 'spec.yaml');
  writeFileSync(specPath, SPEC);
  const out = join(dir, 'out');

  const first = await ballast(['run', specPath, '--out', out, '--workers', '2', '--no-report']);
  assert.equal(first.code, 0, first.stderr);
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ExperimentResults;
  assert.equal(results.experiment.state, 'succeeded');
  assert.equal(results.trials.length, 4);
  assert.ok(results.trials.every((trial) => trial.state === 'succeeded' && trial.result !== undefined && trial.attempts === 1));
  assert.deepEqual(results.summary.map((s) => [s.sweep_values.optimizer, s.n]), [['adamw', 2], ['bertadam', 2]]);
  assert.match(first.stdout, /optimizer=adamw\s+accuracy\s+2/);
  assert.match(first.stdout, /results: .*results\.json/);
  const runRecord = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { experiment_id: string };
  assert.equal(runRecord.experiment_id, results.experiment.id);
  // Each trial's files are under the run directory, and the logs too.
  for (const trial of results.trials) readFileSync(join(out, 'trials', results.experiment.id, trial.id, 'result.json'));
  assert.match(readFileSync(join(out, 'logs', 'trainer-1.log'), 'utf8'), /"msg":"trial finished"/);

  // Again: the journal replays, nothing is submitted or trained twice.
  const second = await ballast(['run', specPath, '--out', out, '--no-report']);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /resuming run-e2e-[0-9a-f]+: 4\/4 trials done/);
  const again = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ExperimentResults;
  assert.equal(again.experiment.id, results.experiment.id);
  assert.deepEqual(again.trials.map((trial) => [trial.id, trial.attempts, trial.metrics]), results.trials.map((trial) => [trial.id, trial.attempts, trial.metrics]));

  // Another spec in the same directory is refused, naming the directory.
  writeFileSync(specPath, SPEC.replace('max_steps: 15', 'max_steps: 16'));
  const other = await ballast(['run', specPath, '--out', out, '--no-report']);
  assert.equal(other.code, 2);
  assert.match(other.stderr, /holds experiment run-e2e-[0-9a-f]+ of a different spec/);
});

test('ballast run: Ctrl-C stops cleanly (trials handed back, exit 130) and the same command finishes the sweep', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-run-int-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const specPath = join(dir, 'spec.yaml');
  writeFileSync(specPath, SPEC.replace('name: run-e2e', 'name: run-int').replace('max_steps: 15', 'max_steps: 1000'));
  const out = join(dir, 'out');

  const child = spawn(process.execPath, [BALLAST_BIN, 'run', specPath, '--out', out, '--workers', '2', '--no-report'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  // Trials long enough that one is surely still training when its first progress line (sent with a
  // heartbeat, every few seconds) shows: once the fused wasm kernels came, `ballast train` of 300
  // such steps took about 6 s here, start-up included, too close to the heartbeat period.
  const started = new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (/step \d+\/1000/.test(stderr)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`ballast run exited (${code}) before any progress:\n${stderr}`)));
  });
  child.stdout.resume();
  await started;
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  assert.equal(code, 130, stderr);
  assert.match(stderr, /interrupted after .* run the same command again to resume/);
  // The trainers handed their trials back: nothing is left running in the journal.
  const handedBack = readFileSync(join(out, 'logs', 'trainer-1.log'), 'utf8') + readFileSync(join(out, 'logs', 'trainer-2.log'), 'utf8');
  assert.match(handedBack, /"status":"cancelled","accepted":true/);

  const again = await ballast(['run', specPath, '--out', out, '--no-report']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /resuming run-int-[0-9a-f]+: \d\/4 trials done\n/, 'no trial was left running');
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ExperimentResults;
  assert.equal(results.experiment.state, 'succeeded');
  assert.ok(results.trials.every((trial) => trial.state === 'succeeded'));
  assert.equal(results.trials.length, 4);
});
