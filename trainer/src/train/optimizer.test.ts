import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { initBackend } from '../backend/select-backend.ts';
import { Optimizer, type OptimizerSettings, type ParamSpec } from './optimizer.ts';

// Every test runs on cpu (the composed tfjs ops) and on wasm (the fused kernels, fused-optimizer.ts).
await initBackend({ override: 'wasm' });
const BACKENDS = ['cpu', 'wasm'];

// A float64 re-statement of the update rules, one scalar at a time, as the issue writes them.
function reference(
  settings: OptimizerSettings,
  params: Record<string, number[]>,
  specs: Record<string, ParamSpec>,
  gradsPerStep: Array<Record<string, number[]>>,
  lrs: number[],
): Record<string, number[]> {
  const p = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, [...v]]));
  const p0 = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, [...v]]));
  const m = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, v.map(() => 0)]));
  const v = Object.fromEntries(Object.entries(params).map(([k, x]) => [k, x.map(() => 0)]));
  const { beta1: b1, beta2: b2, epsilon: eps, maxGradNorm, weightDecay, pretrainedWeightDecay } = settings;
  gradsPerStep.forEach((grads, k) => {
    const t = k + 1;
    const norm = (xs: number[]) => Math.sqrt(xs.reduce((a, x) => a + x * x, 0));
    const total = Math.sqrt(Object.values(grads).reduce((a, g) => a + norm(g) ** 2, 0));
    for (const name of Object.keys(p)) {
      const lr = (lrs[k] as number) * specs[name]!.lrScale;
      const wd = specs[name]!.decay ? weightDecay : 0;
      const g = grads[name]!;
      const coef = Math.min(1, maxGradNorm / ((settings.kind === 'adamw' ? total : norm(g)) + 1e-6));
      const P = p[name]!;
      for (let i = 0; i < P.length; i++) {
        if (specs[name]!.decay) P[i]! -= lr * pretrainedWeightDecay * (P[i]! - p0[name]![i]!);
        const gi = g[i]! * coef;
        m[name]![i] = b1 * m[name]![i]! + (1 - b1) * gi;
        v[name]![i] = b2 * v[name]![i]! + (1 - b2) * gi * gi;
        if (settings.kind === 'adamw') {
          P[i]! *= 1 - lr * wd;
          P[i]! -= (lr * (m[name]![i]! / (1 - b1 ** t))) / (Math.sqrt(v[name]![i]! / (1 - b2 ** t)) + eps);
        } else {
          P[i]! -= lr * (m[name]![i]! / (Math.sqrt(v[name]![i]!) + eps) + wd * P[i]!);
        }
      }
    }
  });
  return p;
}

function run(settings: OptimizerSettings, specs: Record<string, ParamSpec>, steps: number) {
  const init = { 'a.weight': [0.5, -1.5, 2.0, 0.25], 'a.bias': [0.1, -0.2], 'b.LayerNorm.weight': [1, 1, 1] };
  // Deterministic, varied gradients, large enough that clipping bites on some steps.
  const gradsPerStep = Array.from({ length: steps }, (_, k) =>
    Object.fromEntries(Object.entries(init).map(([name, v]) => [name, v.map((_, i) => Math.sin(1 + 3 * k + 7 * i + name.length) * (k % 3 === 0 ? 5 : 0.3))])),
  );
  const lrs = Array.from({ length: steps }, (_, k) => (k === 0 ? 0 : 0.05 * (1 - k / (steps + 1))));
  const vars = new Map(Object.entries(init).map(([name, v]) => [name, tf.variable(tf.tensor(v))]));
  const opt = new Optimizer(vars, new Map(Object.entries(specs)), settings);
  const before = tf.memory().numTensors;
  const counts: number[] = [];
  gradsPerStep.forEach((grads, k) => {
    const g = Object.fromEntries(Object.entries(grads).map(([name, x]) => [name, tf.tensor(x)]));
    opt.step(g, lrs[k] as number).dispose();
    counts.push(tf.memory().numTensors);
  });
  const got = Object.fromEntries([...vars].map(([name, x]) => [name, Array.from(x.dataSync())]));
  const want = reference(settings, init, specs, gradsPerStep, lrs);
  opt.dispose();
  for (const x of vars.values()) x.dispose();
  return { got, want, before, counts };
}

const specs: Record<string, ParamSpec> = {
  'a.weight': { lrScale: 1, decay: true },
  'a.bias': { lrScale: 1, decay: false },
  'b.LayerNorm.weight': { lrScale: 0.5, decay: false },
};
const base: OptimizerSettings = { kind: 'adamw', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, maxGradNorm: 1, weightDecay: 0.1, pretrainedWeightDecay: 0 };

function assertClose(got: Record<string, number[]>, want: Record<string, number[]>, rel: number) {
  for (const name of Object.keys(want)) {
    want[name]!.forEach((w, i) => {
      const g = got[name]![i]!;
      assert.ok(Math.abs(g - w) <= rel * Math.max(1, Math.abs(w)), `${name}[${i}]: ${g} vs ${w}`);
    });
  }
}

for (const backend of BACKENDS) {
  test(`${backend}: adamw follows torch.optim.AdamW with global clipping, weight decay only where asked, llrd scale`, async () => {
    await tf.setBackend(backend);
    const { got, want } = run(base, specs, 12);
    assertClose(got, want, 1e-5);
  });

  test(`${backend}: bertadam: per-tensor clipping, no bias correction, decoupled wd inside the update`, async () => {
    await tf.setBackend(backend);
    const { got, want } = run({ ...base, kind: 'bertadam', epsilon: 1e-6 }, specs, 12);
    assertClose(got, want, 1e-5);
  });

  test(`${backend}: the two optimizers really differ (bias correction and clipping matter)`, async () => {
    await tf.setBackend(backend);
    const a = run(base, specs, 6).got;
    const b = run({ ...base, kind: 'bertadam' }, specs, 6).got;
    assert.ok(Math.abs(a['a.weight']![0]! - b['a.weight']![0]!) > 1e-3);
  });

  test(`${backend}: pre-trained weight decay pulls decayed parameters towards their start`, async () => {
    await tf.setBackend(backend);
    const { got, want } = run({ ...base, weightDecay: 0, pretrainedWeightDecay: 5 }, specs, 8);
    assertClose(got, want, 1e-5);
    const plain = run({ ...base, weightDecay: 0 }, specs, 8).got;
    // Closer to the start (0.5) than without the pull; biases untouched by it.
    assert.ok(Math.abs(got['a.weight']![0]! - 0.5) < Math.abs(plain['a.weight']![0]! - 0.5));
    assert.deepEqual(got['a.bias'], plain['a.bias']);
  });

  test(`${backend}: no tensor growth across steps`, async () => {
    await tf.setBackend(backend);
    for (const kind of ['adamw', 'bertadam'] as const) {
      const { before, counts } = run({ ...base, kind, pretrainedWeightDecay: 1 }, specs, 10);
      // Each step consumes the 3 gradients the test made for it and leaves the count where it was.
      assert.deepEqual(counts, counts.map(() => before), kind);
    }
  });

  test(`${backend}: a missing gradient is an error naming the parameter, and grads are still freed`, async () => {
    await tf.setBackend(backend);
    const vars = new Map([['w', tf.variable(tf.ones([2]))]]);
    const opt = new Optimizer(vars, new Map([['w', { lrScale: 1, decay: true }]]), base);
    const before = tf.memory().numTensors;
    const stray = tf.ones([2]);
    assert.throws(() => opt.step({ x: stray }, 0.1), /no gradient for 'w'/);
    assert.equal(tf.memory().numTensors, before);
    opt.dispose();
    vars.get('w')!.dispose();
  });
}
