import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { bertEmbeddings, residualLayerNorm } from './layer-norm.ts';
import { assertClose, assertMatchesCpu, randomArray, useWasm, type HostInput } from './fused-op-testing.ts';

before(useWasm);

/** An inverted dropout mask: 0 with probability 0.25, else 1/0.75. */
function maskArray(length: number, seed: number): Float32Array {
  return randomArray(length, seed).map((v) => (v < -0.674 ? 0 : 1 / 0.75));
}

const SHAPES: [number, number][] = [[1, 1], [3, 5], [7, 4], [5, 13], [33, 128], [6, 130]];

test('residualLayerNorm matches the composed ops on cpu, value and every gradient, with and without dropout', async () => {
  for (const [rows, h] of SHAPES) {
    const seed = rows * 1000 + h;
    const full = (k: number, scale = 1): HostInput => ({ data: randomArray(rows * h, seed + k, scale), shape: [rows, h] });
    const vec = (k: number, offset: number): HostInput => ({ data: randomArray(h, seed + k, 0.5).map((v) => v + offset), shape: [h] });
    // y and residual with a common offset and unequal scales, as activations have: the mean matters.
    const y = { ...full(1, 2), data: full(1, 2).data.map((v) => v + 3) };
    const inputs = [y, vec(2, 0), full(3), vec(4, 1), vec(5, 0)];
    const dy = randomArray(rows * h, seed + 6);
    const what = `residualLayerNorm[${rows}, ${h}]`;
    await assertMatchesCpu((a, b, r, g, be) => residualLayerNorm(a, b, r, g, be, 1e-12), inputs, { tol: 2e-6, gradTol: 2e-5, dy, what });
    const mask: HostInput = { data: maskArray(rows * h, seed + 7), shape: [rows, h] };
    await assertMatchesCpu(
      (a, b, r, g, be, m) => residualLayerNorm(a, b, r, g, be, 1e-5, m), [...inputs, mask], { tol: 2e-6, gradTol: 2e-5, dy, what: `${what} with dropout` },
    );
  }
});

test('bertEmbeddings matches the composed ops on cpu, value and every table\'s gradient, with and without dropout', async () => {
  for (const [batch, seq, h, vocab, types, maxPos] of [[1, 1, 1, 1, 1, 1], [3, 5, 7, 4, 2, 9], [2, 3, 8, 50, 3, 3], [4, 16, 128, 40, 2, 20], [3, 7, 130, 9, 2, 8]] as const) {
    const rows = batch * seq;
    const seed = rows * 1000 + h;
    // Repeated ids, as real batches have ([PAD], [CLS], common words): their gradients add up.
    const ids = Int32Array.from(randomArray(rows, seed), (v) => Math.min(vocab - 1, Math.floor(Math.abs(v) * vocab / 2)));
    const typeIds = Int32Array.from({ length: rows }, (_, i) => (i % seq) * types / seq | 0);
    const inputs: HostInput[] = [
      { data: randomArray(vocab * h, seed + 1), shape: [vocab, h] }, { data: randomArray(types * h, seed + 2), shape: [types, h] },
      { data: randomArray(maxPos * h, seed + 3), shape: [maxPos, h] },
      { data: randomArray(h, seed + 4, 0.5).map((v) => v + 1), shape: [h] }, { data: randomArray(h, seed + 5), shape: [h] },
    ];
    const dy = randomArray(rows * h, seed + 6);
    const what = `bertEmbeddings[${batch}×${seq}, ${h}]`;
    const op = (eps: number) => (words: tf.Tensor, ty: tf.Tensor, positions: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, mask?: tf.Tensor) =>
      bertEmbeddings({ words, types: ty, positions, gamma, beta }, tf.tensor1d(ids, 'int32'), tf.tensor1d(typeIds, 'int32'), seq, eps, mask);
    await assertMatchesCpu(op(1e-12), inputs, { tol: 2e-6, gradTol: 2e-5, dy, what });
    const mask: HostInput = { data: maskArray(rows * h, seed + 7), shape: [rows, h] };
    await assertMatchesCpu(op(1e-5), [...inputs, mask], { tol: 2e-6, gradTol: 2e-5, dy, what: `${what} with dropout` });
  }
});

/** LayerNorm of each row in float64, biased variance. */
function layerNorm64(s: Float32Array, rows: number, h: number, gamma: Float32Array, beta: Float32Array, eps: number): Float64Array {
  const out = new Float64Array(rows * h);
  for (let r = 0; r < rows; r++) {
    const row = Array.from(s.subarray(r * h, (r + 1) * h));
    const mean = row.reduce((a, b) => a + b, 0) / h;
    const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / h;
    for (let j = 0; j < h; j++) out[r * h + j] = ((row[j] as number) - mean) / Math.sqrt(variance + eps) * (gamma[j] as number) + (beta[j] as number);
  }
  return out;
}

test('fused residualLayerNorm against a float64 LayerNorm, eps applied', async () => {
  await tf.setBackend('wasm');
  const [rows, h] = [9, 37];
  const y = randomArray(rows * h, 1, 3);
  const bias = randomArray(h, 2);
  const res = randomArray(rows * h, 3);
  const mask = maskArray(rows * h, 4);
  const gamma = randomArray(h, 5);
  const beta = randomArray(h, 6);
  const s = Float32Array.from(y, (v, i) => (v + (bias[i % h] as number)) * (mask[i] as number) + (res[i] as number));
  for (const eps of [1e-12, 0.5]) {
    const out = tf.tidy(() => residualLayerNorm(
      tf.tensor2d(y, [rows, h]), tf.tensor1d(bias), tf.tensor2d(res, [rows, h]), tf.tensor1d(gamma), tf.tensor1d(beta), eps, tf.tensor2d(mask, [rows, h]),
    ));
    assertClose(out.dataSync(), layerNorm64(s, rows, h, gamma, beta, eps), 2e-6, `eps ${eps}`);
    out.dispose();
  }
});

test('the fused ops give the same bits on every call (the recomputed forward is the forward)', async () => {
  await tf.setBackend('wasm');
  const [rows, h] = [20, 24];
  const run = () => tf.tidy(() => {
    const x = tf.tensor2d(randomArray(rows * h, 1), [rows, h]);
    const p = [tf.tensor1d(randomArray(h, 2)), tf.tensor2d(randomArray(rows * h, 3), [rows, h]), tf.tensor1d(randomArray(h, 4)), tf.tensor1d(randomArray(h, 5))] as const;
    const f = (a: tf.Tensor, b: tf.Tensor, r: tf.Tensor, g: tf.Tensor) => residualLayerNorm(a, b, r, g, p[3], 1e-12);
    const grads = tf.grads(f)([x, p[0], p[1], p[2]], tf.onesLike(x).mul(tf.tensor2d(randomArray(rows * h, 6), [rows, h])));
    return tf.concat([f(x, ...p.slice(0, 3) as [tf.Tensor, tf.Tensor, tf.Tensor]).flatten(), ...grads.map((g) => g.flatten())]);
  });
  const a = run();
  const b = run();
  assert.deepEqual(a.dataSync(), b.dataSync());
  tf.dispose([a, b]);
});

test('the ops name the input whose shape is wrong', async () => {
  await tf.setBackend('wasm');
  tf.tidy(() => {
    const x = tf.zeros([4, 8]);
    const v = tf.zeros([8]);
    assert.throws(() => residualLayerNorm(x, tf.zeros([7]), x, v, v, 1e-12), /residualLayerNorm: bias has shape \[7\], expected \[8\]/);
    assert.throws(() => residualLayerNorm(x, v, tf.zeros([4, 9]), v, v, 1e-12), /residualLayerNorm: residual has shape \[4,9\]/);
    assert.throws(() => residualLayerNorm(x, v, x, v, v, 1e-12, tf.zeros([8])), /residualLayerNorm: dropoutMask has shape \[8\]/);
    const tables = { words: tf.zeros([10, 8]), types: tf.zeros([2, 8]), positions: tf.zeros([6, 8]), gamma: v, beta: v };
    const ids = tf.zeros([4], 'int32');
    assert.throws(() => bertEmbeddings(tables, ids, ids, 3, 1e-12), /bertEmbeddings: sequence length 3 must divide the 4 tokens and not exceed the 6 positions/);
    assert.throws(() => bertEmbeddings(tables, ids, ids, 8, 1e-12), /sequence length 8 must divide the 4 tokens and not exceed the 6 positions/);
    assert.throws(() => bertEmbeddings(tables, tf.zeros([4]), ids, 2, 1e-12), /bertEmbeddings: ids is float32 \[4\], expected int32/);
    assert.throws(() => bertEmbeddings(tables, ids, tf.zeros([3], 'int32'), 2, 1e-12), /bertEmbeddings: typeIds is int32 \[3\], expected int32 \[4\]/);
    assert.throws(() => bertEmbeddings({ ...tables, types: tf.zeros([2, 7]) }, ids, ids, 2, 1e-12), /bertEmbeddings: types has shape \[2,7\], expected \[rows, 8\]/);
    assert.throws(() => bertEmbeddings({ ...tables, gamma: tf.zeros([4]) }, ids, ids, 2, 1e-12), /bertEmbeddings: gamma has shape \[4\]/);
    assert.throws(() => bertEmbeddings(tables, tf.tensor1d([0, 3, 10, 2], 'int32'), ids, 2, 1e-12), /bertEmbeddings: ids\[2\] is 10, outside its table's 10 rows/);
    assert.throws(() => bertEmbeddings(tables, ids, tf.tensor1d([0, -1, 0, 0], 'int32'), 2, 1e-12), /bertEmbeddings: typeIds\[1\] is -1, outside its table's 2 rows/);
    assert.throws(() => bertEmbeddings(tables, ids, ids, 2, 1e-12, tf.zeros([4, 7])), /bertEmbeddings: dropoutMask has shape \[4,7\], expected \[4,8\]/);
  });
});
