// The fused optimizer step (wasm) against the composed tfjs ops on the same backend and inputs.
// Both compute the same float32 operations in the same order, so they agree bit for bit wherever
// the clipping factor is the same (no clipping: exactly 1 on both); with clipping active the
// factor differs by the rounding of the norm (float64 here, float32 sums there).
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { assertClose, randomArray, useWasm } from '../ops/fused-op-testing.ts';
import { hasFusedOptimizer, sumOfSquares } from './fused-optimizer.ts';
import { Optimizer, type OptimizerSettings, type ParamSpec } from './optimizer.ts';

before(useWasm);

// Odd sizes (tails of 1-3 lanes), a single element, and one tensor larger than the others.
const SHAPES: Record<string, number[]> = {
  'enc.dense.weight': [37, 11],
  'enc.dense.bias': [11],
  'enc.LayerNorm.weight': [5],
  'head.weight': [1],
  'emb.weight': [129, 33],
};
const SPECS: Record<string, ParamSpec> = {
  'enc.dense.weight': { lrScale: 0.7, decay: true },
  'enc.dense.bias': { lrScale: 0.7, decay: false },
  'enc.LayerNorm.weight': { lrScale: 0.7, decay: false },
  'head.weight': { lrScale: 1, decay: true },
  'emb.weight': { lrScale: 0.49, decay: true },
};
const BASE: OptimizerSettings = { kind: 'adamw', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, maxGradNorm: 1, weightDecay: 0, pretrainedWeightDecay: 0 };

interface Run {
  params: Record<string, Float32Array>;
  norms: number[];
  counts: number[];
  before: number;
}

/** `steps` updates from fixed weights and gradients; `gradScale` decides whether clipping bites. */
function train(settings: OptimizerSettings, fused: boolean, steps: number, gradScale: number): Run {
  const vars = new Map(Object.entries(SHAPES).map(([name, shape], j) => [name, tf.tidy(() => tf.variable(tf.tensor(randomArray(tf.util.sizeFromShape(shape), 100 + j, 0.5), shape)))]));
  const specs = new Map(Object.entries(SPECS));
  const opt = new Optimizer(vars, specs, settings, { fused });
  const before = tf.memory().numTensors;
  const run: Run = { params: {}, norms: [], counts: [], before };
  for (let k = 0; k < steps; k++) {
    const grads = Object.fromEntries(Object.entries(SHAPES).map(([name, shape], j) => [name, tf.tensor(randomArray(tf.util.sizeFromShape(shape), 1000 * k + j, gradScale), shape)]));
    // The schedule's shape: 0 at the first update, then warm and decaying.
    const norm = opt.step(grads, k === 0 ? 0 : 1e-2 / k);
    run.norms.push(norm.dataSync()[0] as number);
    norm.dispose();
    run.counts.push(tf.memory().numTensors);
  }
  for (const [name, v] of vars) run.params[name] = v.dataSync() as Float32Array;
  opt.dispose();
  for (const v of vars.values()) v.dispose();
  return run;
}

const CASES: Array<{ what: string; settings: OptimizerSettings }> = [
  { what: 'adamw', settings: BASE },
  { what: 'adamw, weight decay', settings: { ...BASE, weightDecay: 0.01 } },
  { what: 'adamw, weight decay and pre-trained weight decay', settings: { ...BASE, weightDecay: 0.01, pretrainedWeightDecay: 3 } },
  { what: 'bertadam', settings: { ...BASE, kind: 'bertadam', epsilon: 1e-6 } },
  { what: 'bertadam, weight decay', settings: { ...BASE, kind: 'bertadam', epsilon: 1e-6, weightDecay: 0.01 } },
  { what: 'bertadam, weight decay and pre-trained weight decay', settings: { ...BASE, kind: 'bertadam', epsilon: 1e-6, weightDecay: 0.01, pretrainedWeightDecay: 3 } },
];

test('on wasm the step runs the fused kernel, or the composed ops when asked (else the comparisons below prove nothing)', async () => {
  assert.equal(tf.getBackend(), 'wasm');
  assert.ok(hasFusedOptimizer());
  for (const fused of [true, false]) {
    const profile = await tf.profile(() => {
      train(BASE, fused, 2, 0.5);
    });
    const names = new Set(profile.kernelNames);
    assert.equal(names.has('BallastAdamUpdate'), fused, `fused: ${fused}: ${[...names].join(', ')}`);
    assert.equal(names.has('Sqrt'), !fused, `fused: ${fused}`);
  }
});

test('fused step = composed ops bit for bit when clipping is inactive (both optimizers, wd, llrd, PriorWD, odd sizes)', () => {
  for (const { what, settings } of CASES) {
    // Gradient norms around 0.1: min(1, 1/(norm + 1e-6)) is exactly 1 on both paths.
    const fused = train(settings, true, 6, 0.005);
    const composed = train(settings, false, 6, 0.005);
    for (const name of Object.keys(SHAPES)) {
      assert.ok(fused.norms.every((n) => n < 1), `${what}: clipping must be inactive here`);
      assert.deepEqual(fused.params[name], composed.params[name], `${what}: ${name}`);
    }
    assertClose(fused.norms, composed.norms, 1e-6, `${what}: gradient norms`);
  }
});

test('fused step = composed ops with clipping active (the factor differs only by the norm rounding)', () => {
  for (const { what, settings } of CASES) {
    const fused = train(settings, true, 6, 0.5);
    const composed = train(settings, false, 6, 0.5);
    assert.ok(fused.norms.every((n) => n > 1), `${what}: clipping must be active here`);
    // Every element also differs from its start by several ulps' worth of updates.
    for (const name of Object.keys(SHAPES)) assertClose(fused.params[name] as Float32Array, composed.params[name] as Float32Array, 2e-6, `${what}: ${name}`);
    assertClose(fused.norms, composed.norms, 1e-6, `${what}: gradient norms`);
  }
});

test('fused step keeps tf.memory().numTensors flat and leaks nothing', () => {
  // (train() creates its weights and gradients and disposes them; the optimizer's m, v and p0 go
  // with opt.dispose().)
  for (const { what, settings } of CASES) {
    const start = tf.memory().numTensors;
    const run = train(settings, true, 5, 0.5);
    assert.deepEqual(run.counts, run.counts.map(() => run.before), what);
    assert.equal(tf.memory().numTensors, start, `${what}: after dispose`);
  }
});

test('a clone of a parameter (mixout target, p0, snapshot) keeps its value; m and v may not be shared', () => {
  const w = tf.tidy(() => tf.variable(tf.tensor([1, 2, 3, 4, 5])));
  const target = w.clone(); // shares w's buffer, as mixout's targets do
  const opt = new Optimizer(new Map([['w', w]]), new Map([['w', { lrScale: 1, decay: true }]]), { ...BASE, weightDecay: 0.1, pretrainedWeightDecay: 1 });
  for (let k = 0; k < 3; k++) opt.step({ w: tf.tensor([0.5, -0.5, 0.25, 1, -1]) }, 0.1).dispose();
  assert.deepEqual(Array.from(target.dataSync()), [1, 2, 3, 4, 5]);
  assert.ok(Math.abs((w.dataSync()[0] as number) - 1) > 0.1, 'w moved');
  opt.dispose();
  // The kernel refuses to write over a moment buffer that something else also holds.
  const [p, m, v] = tf.tidy(() => [tf.variable(tf.ones([3])), tf.variable(tf.zeros([3]), false), tf.variable(tf.zeros([3]), false)]);
  const alias = m.clone();
  const g = tf.ones([3]);
  assert.throws(
    () => tf.engine().runKernel('BallastAdamUpdate', { p, g, m, v }, { kind: 0, coef: 1, beta1: 0.9, oneMinusBeta1: 0.1, beta2: 0.999, oneMinusBeta2: 0.001, epsilon: 1e-8, prior: 0, decay: 1, step: 0.1, bc2Sqrt: 1 }),
    /'m' shares its buffer/,
  );
  tf.dispose([w, target, p, m, v, alias, g]);
});

test('sumOfSquares in float64: exact on a long tensor where a float32 running sum drifts', () => {
  const n = 1_000_003;
  const data = randomArray(n, 7, 1);
  let exact = 0;
  for (const x of data) exact += x * x;
  const t = tf.tensor(data);
  assert.ok(Math.abs(sumOfSquares(t) - exact) <= 1e-12 * exact, `${sumOfSquares(t)} vs ${exact}`);
  for (const len of [1, 2, 3, 5, 7, 9]) {
    const small = tf.tensor(data.subarray(0, len));
    let want = 0;
    for (const x of data.subarray(0, len)) want += x * x;
    assert.ok(Math.abs(sumOfSquares(small) - want) <= 1e-15 * want, `length ${len}`);
    small.dispose();
  }
  t.dispose();
});
