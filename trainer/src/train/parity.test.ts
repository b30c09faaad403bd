// The trainer against PyTorch: the per-step losses of 40 updates of a tiny checkpoint (dropout 0,
// no shuffling) for both optimizers, with and without weight decay, with re-initialisation,
// layer-wise LR decay, pre-trained weight decay and clipping on every step, and on regression. The fixtures were made
// by trainer/reference/torch_train.py (see fixtures/make-parity-fixtures.ts); no torch is needed here.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { PARITY_CASES, PARITY_DIR, parityBatches, parityConfig, parityTrials, sha256, type ParityProblem } from './fixtures/make-parity-fixtures.ts';
import { localTrialContext } from './local-context.ts';
import { runTrial } from './run-trial.ts';

await tf.setBackend('cpu');
const tmp = mkdtempSync(join(tmpdir(), 'ballast-parity-'));
const trials = parityTrials(join(tmp, 'data'));
const TOLERANCE = 1e-4;

interface TorchRun {
  losses: number[];
  lrs: number[];
  grad_norms: number[];
}
const fixture = (name: string): TorchRun => JSON.parse(readFileSync(join(PARITY_DIR, `torch-${name}.json`), 'utf8'));
const cases: Array<{ name: string; problem: ParityProblem; batches: string; checkpoint_sha256: string }> = JSON.parse(readFileSync(join(PARITY_DIR, 'cases.json'), 'utf8'));

function maxRelDiff(a: number[], b: number[]): number {
  assert.equal(a.length, b.length);
  return Math.max(...a.map((x, i) => Math.abs(x - (b[i] as number)) / Math.max(Math.abs(b[i] as number), 1e-12)));
}

test('the fixtures match the trainer of today (batches, case list)', () => {
  for (const c of cases) {
    const batches = JSON.parse(readFileSync(join(PARITY_DIR, c.batches), 'utf8'));
    assert.deepEqual(parityBatches(trials[c.problem]), batches, 'the tiny trial or the batching changed: regenerate the fixtures');
  }
  assert.deepEqual(cases.map((c) => c.name), Object.keys(PARITY_CASES));
});

test('the cases are far apart: a wrong optimizer or a dropped weight decay could not pass', () => {
  const gap = (a: string, b: string) => maxRelDiff(fixture(a).losses, fixture(b).losses);
  for (const [a, b] of [['adamw', 'adamw-wd'], ['bertadam', 'bertadam-wd'], ['adamw', 'bertadam'], ['adamw-reinit-llrd-pwd', 'bertadam-reinit-llrd'], ['adamw-regression', 'bertadam-regression']]) {
    assert.ok(gap(a as string, b as string) > 30 * TOLERANCE, `${a} vs ${b}: ${gap(a as string, b as string)}`);
  }
});

for (const { name, problem, checkpoint_sha256 } of cases) {
  test(`parity with PyTorch: ${name}`, async (t) => {
    const tiny = trials[problem];
    const config = parityConfig(tiny, name);
    // The starting point torch trained from is the trainer's max_steps: 0 export: check it is the same.
    const start = join(tmp, `start-${name}`);
    await runTrial({ ...config, max_steps: 0 }, localTrialContext(), { outDir: start, dataRoot: tiny.root });
    assert.equal(sha256(join(start, 'checkpoint', 'model.safetensors')), checkpoint_sha256, 'starting checkpoint changed: regenerate the fixtures');

    const out = join(tmp, `run-${name}`);
    await runTrial(config, localTrialContext(), { outDir: out, dataRoot: tiny.root });
    const steps = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.type === 'step');
    const torch = fixture(name);
    assert.equal(steps.length, torch.losses.length);
    assert.ok(torch.losses.length >= 30);
    const lossDiff = maxRelDiff(steps.map((s) => s.loss), torch.losses);
    const lrDiff = Math.max(...steps.map((s, i) => Math.abs(s.lr - (torch.lrs[i] as number))));
    const normDiff = maxRelDiff(steps.map((s) => s.grad_norm), torch.grad_norms);
    t.diagnostic(`${name}: max relative loss difference ${lossDiff.toExponential(2)}, grad-norm ${normDiff.toExponential(2)}, lr ${lrDiff.toExponential(2)} (absolute)`);
    assert.ok(lrDiff < 1e-15, `learning rates differ by ${lrDiff}`);
    assert.ok(lossDiff < TOLERANCE, `losses differ by ${lossDiff} relative (tolerance ${TOLERANCE})`);
    assert.ok(normDiff < 10 * TOLERANCE, `gradient norms differ by ${normDiff} relative`);
  });
}
