import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { selfAttention } from './attention.ts';
import { assertClose, assertMatchesCpu, randomArray, useWasm } from './fused-op-testing.ts';
import { BertForSequenceClassification, type BertInputs } from '../model/bert-model.ts';
import { dropoutMask } from '../model/seeded-masks.ts';
import { tinyConfig, tinyWeights } from '../model/tiny-checkpoint.ts';

before(useWasm);

const FLOAT32_MIN = -3.4028234663852886e38;

interface Case {
  batch: number;
  seq: number;
  heads: number;
  headDim: number;
  /** Real tokens per example (the rest is padding); default all. */
  lengths?: number[];
  dropout?: number;
}

function maskAddData(c: Case): Float32Array {
  const m = new Float32Array(c.batch * c.seq);
  for (let b = 0; b < c.batch; b++) {
    const len = c.lengths?.[b] ?? c.seq;
    for (let j = len; j < c.seq; j++) m[b * c.seq + j] = FLOAT32_MIN;
  }
  return m;
}

/** Host data of a dropout mask as the model draws it. */
function dropData(c: Case): Float32Array | undefined {
  if (!c.dropout) return undefined;
  return tf.tidy(() => dropoutMask([c.batch, c.heads, c.seq, c.seq], c.dropout as number, { seed: 7, step: 3 }, 'test').dataSync() as Float32Array);
}

async function check(c: Case, seed: number): Promise<void> {
  const n = c.batch * c.seq;
  const hidden = c.heads * c.headDim;
  const what = `attention b${c.batch} s${c.seq} h${c.heads} dh${c.headDim}${c.lengths ? ` lengths ${c.lengths}` : ''}${c.dropout ? ` dropout ${c.dropout}` : ''}`;
  const madd = maskAddData(c);
  const drop = dropData(c);
  const inputs = [0, 1, 2].map((i) => ({ data: randomArray(n * hidden, seed + i, 1.5), shape: [n, hidden] }));
  await assertMatchesCpu(
    (q, k, v) => {
      // Masks made inside f, on the backend being run (tensors don't cross backends).
      const maskAdd = tf.tensor(madd, [c.batch, 1, 1, c.seq]);
      const dropT = drop && tf.tensor(drop, [c.batch, c.heads, c.seq, c.seq]);
      return selfAttention(q as tf.Tensor, k as tf.Tensor, v as tf.Tensor, { heads: c.heads, maskAdd, dropoutMask: dropT });
    },
    inputs,
    { tol: 2e-5, gradTol: 5e-5, dy: randomArray(n * hidden, seed + 9), what },
  );
}

test('fused attention matches the composed ops on cpu: value and dq, dk, dv', async () => {
  await check({ batch: 2, seq: 8, heads: 2, headDim: 8 }, 1);
  await check({ batch: 2, seq: 16, heads: 2, headDim: 64, lengths: [16, 9] }, 2);
});

test('fused attention: odd shapes (seq and head size not multiples of 4 or 8, one head, padding)', async () => {
  await check({ batch: 1, seq: 1, heads: 1, headDim: 1 }, 3);
  await check({ batch: 3, seq: 7, heads: 1, headDim: 5, lengths: [7, 3, 1] }, 4);
  await check({ batch: 2, seq: 13, heads: 3, headDim: 6, lengths: [13, 10] }, 5);
  await check({ batch: 1, seq: 33, heads: 2, headDim: 12, lengths: [30] }, 6);
});

test('fused attention with dropout on the probabilities', async () => {
  await check({ batch: 2, seq: 12, heads: 2, headDim: 8, lengths: [12, 5], dropout: 0.1 }, 7);
  await check({ batch: 2, seq: 9, heads: 3, headDim: 5, lengths: [6, 9], dropout: 0.5 }, 8);
});

test('fused attention: masked keys get exactly zero weight, a fully masked row is uniform', async () => {
  await tf.setBackend('wasm');
  const seq = 6;
  const c: Case = { batch: 2, seq, heads: 1, headDim: 4, lengths: [3, 0] };
  const n = c.batch * seq;
  // Example 0's context must not depend on its padded rows of v (3..5), however large; example 1,
  // all padding, averages its v rows (as softmax over equal scores does in the composed path).
  const qd = randomArray(n * 4, 11, 4);
  const kd = randomArray(n * 4, 12, 4);
  const vd = randomArray(n * 4, 13);
  const maskAdd = tf.tensor(maskAddData(c), [2, 1, 1, seq]);
  const run = (vdata: Float32Array) => tf.tidy(() => selfAttention(tf.tensor2d(qd, [n, 4]), tf.tensor2d(kd, [n, 4]), tf.tensor2d(vdata, [n, 4]), { heads: 1, maskAdd }).dataSync() as Float32Array);
  const base = run(vd);
  const changed = vd.slice();
  for (let i = 3 * 4; i < 6 * 4; i++) changed[i] = 1e6;
  const after = run(changed);
  assert.deepEqual(Array.from(after.slice(0, 6 * 4)), Array.from(base.slice(0, 6 * 4)));
  const mean = [0, 1, 2, 3].map((d) => {
    let s = 0;
    for (let j = 0; j < seq; j++) s += vd[(seq + j) * 4 + d] as number;
    return s / seq;
  });
  for (let i = 0; i < seq; i++) assertClose(base.slice((seq + i) * 4, (seq + i + 1) * 4), mean, 1e-6, `uniform row ${i}`);
  maskAdd.dispose();
});

test('fused attention: deterministic, and no tensors left behind by forward and backward', async () => {
  await tf.setBackend('wasm');
  const c: Case = { batch: 2, seq: 10, heads: 2, headDim: 8, lengths: [10, 4], dropout: 0.1 };
  const n = c.batch * c.seq;
  const before = tf.memory().numTensors;
  const results: Float32Array[][] = [];
  for (let r = 0; r < 2; r++) {
    const xs = [0, 1, 2].map((i) => tf.tensor2d(randomArray(n * 16, 20 + i), [n, 16]));
    const maskAdd = tf.tensor(maskAddData(c), [2, 1, 1, c.seq]);
    const drop = tf.tensor(dropData(c) as Float32Array, [2, 2, c.seq, c.seq]);
    const f = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.sum(tf.mul(selfAttention(q, k, v, { heads: 2, maskAdd, dropoutMask: drop }), tf.range(0, n * 16).reshape([n, 16])));
    const { value, grads } = tf.valueAndGrads(f)(xs);
    results.push([value.dataSync() as Float32Array, ...grads.map((g) => g.dataSync() as Float32Array)]);
    tf.dispose([value, ...grads, ...xs, maskAdd, drop]);
  }
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(results[1], results[0]);
});

test('fused attention rejects bad shapes by name', async () => {
  await tf.setBackend('wasm');
  const q = tf.zeros([6, 8]);
  const maskAdd = tf.zeros([2, 1, 1, 3]);
  assert.throws(() => selfAttention(q, q, tf.zeros([6, 4]), { heads: 2, maskAdd }), /v has shape \[6,4\]/);
  assert.throws(() => selfAttention(q, q, q, { heads: 3, maskAdd }), /heads must be a positive divisor of hidden 8/);
  assert.throws(() => selfAttention(q, q, q, { heads: 2, maskAdd: tf.zeros([3, 1, 1, 3]) }), /q has 6 rows, maskAdd is for 3 × 3/);
  assert.throws(() => selfAttention(q, q, q, { heads: 2, maskAdd, dropoutMask: tf.zeros([2, 2, 3, 4]) }), /dropoutMask has shape \[2,2,3,4\]/);
});

test('BERT on wasm with the fused attention: recomputed blocks give the forward\'s numbers exactly, and nothing leaks', async () => {
  await tf.setBackend('wasm');
  const config = tinyConfig({ hiddenSize: 24, numAttentionHeads: 3, intermediateSize: 32, vocabSize: 40, numLabels: 3, dropout: 0.1 });
  const weights = tinyWeights(config, 5);
  const inputs: BertInputs = {
    size: 2,
    seqLength: 7,
    inputIds: Int32Array.from([2, 10, 11, 3, 12, 13, 3, 2, 14, 3, 0, 0, 0, 0]),
    tokenTypeIds: Int32Array.from([0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]),
    attentionMask: Int32Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]),
  };
  const run = (model: BertForSequenceClassification, step: number) => {
    const { value, grads } = tf.variableGrads(() => model.loss(model.forward(inputs, { training: true, dropoutSeed: 4, step }), [2, 0]));
    const out = [value.dataSync()[0] as number, ...Object.values(grads).map((g) => Array.from(g.dataSync()))];
    tf.dispose([value, ...Object.values(grads)]);
    return out;
  };
  const plain = new BertForSequenceClassification(config, weights, { recompute: false });
  const recomputed = new BertForSequenceClassification(config, weights, { recompute: true });
  run(recomputed, 0);
  const before = tf.memory().numTensors;
  for (const step of [1, 2]) assert.deepEqual(run(recomputed, step), run(plain, step), `step ${step}`);
  assert.equal(tf.memory().numTensors, before);
  plain.dispose();
  recomputed.dispose();
});
