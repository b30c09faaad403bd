// Our wasm kernels (fast BatchMatMul, UnsortedSegmentSum) against the cpu backend's results, and a
// tiny BERT forward + backward on wasm against cpu: every kernel BERT training needs must exist on
// wasm and agree.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { BertForSequenceClassification, type BertInputs } from '../model/bert-model.ts';
import { tinyConfig, tinyWeights } from '../model/tiny-checkpoint.ts';
import { Rng } from '../util/rng.ts';
import { initBackend } from './select-backend.ts';
import { asWasmBackend, tensorData } from './wasm-heap.ts';

before(async () => {
  const info = await initBackend({ override: 'wasm' });
  assert.equal(info.name, 'wasm');
});

function randomData(shape: number[], seed: number): Float32Array {
  const rng = Rng.derive(seed, 'wasm-kernels');
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal());
}

/** Runs `f` on the cpu backend and on wasm; returns both results as host arrays. */
async function onBoth(f: () => tf.Tensor): Promise<{ cpu: Float32Array | Int32Array; wasm: Float32Array | Int32Array; shape: number[] }> {
  await tf.setBackend('cpu');
  const c = tf.tidy(f);
  const cpu = c.dataSync() as Float32Array;
  c.dispose();
  await tf.setBackend('wasm');
  const before = tf.memory().numTensors;
  const w = tf.tidy(f);
  const wasm = w.dataSync() as Float32Array;
  const shape = w.shape;
  w.dispose();
  assert.equal(tf.memory().numTensors, before, 'the wasm kernel leaked tensors');
  return { cpu, wasm, shape };
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    assert.ok(Math.abs(a - e) <= tol * (1 + Math.abs(e)), `${what}[${i}]: ${a} vs ${e}`);
  }
}

const MATMUL_CASES: Array<{ a: number[]; b: number[]; ta?: boolean; tb?: boolean; name: string }> = [
  { name: '2-D', a: [37, 29], b: [29, 41] },
  { name: '2-D, transposeA', a: [29, 37], b: [29, 41], ta: true },
  { name: '2-D, transposeB', a: [37, 29], b: [41, 29], tb: true },
  { name: '2-D, both transposed', a: [29, 37], b: [41, 29], ta: true, tb: true },
  { name: 'batched (attention scores)', a: [2, 3, 16, 8], b: [2, 3, 8, 16] },
  { name: 'batched, transposeB (q·kᵀ)', a: [6, 16, 8], b: [6, 16, 8], tb: true },
  { name: 'batched, transposeA (grad)', a: [6, 16, 8], b: [6, 16, 5], ta: true },
  { name: 'batched, both transposed', a: [5, 7, 9], b: [5, 11, 7], ta: true, tb: true },
  { name: 'batch × shared weight', a: [4, 10, 12], b: [12, 9] },
  { name: 'batch × shared weight, transposeB', a: [4, 10, 12], b: [9, 12], tb: true },
  { name: 'shared left × batch', a: [10, 12], b: [4, 12, 9] },
  { name: 'broadcast batch of 1', a: [1, 10, 12], b: [3, 12, 9] },
  { name: 'broadcast both ways (stock path)', a: [2, 1, 4, 5], b: [1, 3, 5, 6] },
  { name: 'inner dimension 1', a: [3, 8, 1], b: [3, 1, 8] },
  { name: 'large 2-D', a: [300, 257], b: [257, 129] },
];

for (const c of MATMUL_CASES) {
  test(`BatchMatMul on wasm equals cpu: ${c.name}`, async () => {
    const a = randomData(c.a, 1);
    const b = randomData(c.b, 2);
    const { cpu, wasm } = await onBoth(() => tf.matMul(tf.tensor(a, c.a), tf.tensor(b, c.b), c.ta, c.tb));
    // Sums of k products of N(0, 1) values, accumulated in another order than the cpu backend's.
    const k = c.ta ? (c.a.at(-2) as number) : (c.a.at(-1) as number);
    assertClose(wasm, cpu, Math.max(1e-5, 1e-6 * k), c.name);
  });
}

test('BatchMatMul keeps the output shape of the batch dimensions', async () => {
  await tf.setBackend('wasm');
  const out = tf.tidy(() => tf.matMul(tf.ones([2, 3, 4, 5]), tf.ones([2, 3, 6, 5]), false, true));
  assert.deepEqual(out.shape, [2, 3, 4, 6]);
  assert.ok((out.dataSync() as Float32Array).every((v) => v === 5));
  out.dispose();
});

test('BatchMatMul rejects mismatched inner dimensions', async () => {
  await tf.setBackend('wasm');
  assert.throws(() => tf.tidy(() => tf.matMul(tf.ones([3, 4]), tf.ones([5, 6]))), /inner shapes/);
});

const SUM_CASES: Array<{ shape: number[]; axis?: number | number[]; keepDims?: boolean; name: string }> = [
  { name: 'axis 0 of 2-D (a bias gradient)', shape: [300, 17], axis: 0 },
  { name: 'axes [0, 1] of 3-D', shape: [4, 30, 9], axis: [0, 1] },
  { name: 'axes [1, 0] (unsorted)', shape: [4, 30, 9], axis: [1, 0] },
  { name: 'axis 0 keepDims', shape: [30, 9], axis: 0, keepDims: true },
  { name: 'innermost axis (stock path)', shape: [30, 9], axis: -1 },
  { name: 'all axes (stock path)', shape: [30, 9] },
  { name: 'middle axis (stock path)', shape: [4, 30, 9], axis: 1 },
];

for (const c of SUM_CASES) {
  test(`Sum on wasm equals cpu: ${c.name}`, async () => {
    const x = randomData(c.shape, 6);
    const { cpu, wasm, shape } = await onBoth(() => tf.sum(tf.tensor(x, c.shape), c.axis, c.keepDims));
    assert.deepEqual(shape, tf.tidy(() => tf.sum(tf.zeros(c.shape), c.axis, c.keepDims).shape));
    assertClose(wasm, cpu, 1e-5, c.name);
  });
}

test('Sum on wasm of int32 stays exact', async () => {
  const x = Int32Array.from({ length: 20 }, (_, i) => i * 100003);
  const { cpu, wasm } = await onBoth(() => tf.sum(tf.tensor(x, [5, 4], 'int32'), 0));
  assert.deepEqual([...wasm], [...cpu]);
});

const TRANSPOSE_CASES: Array<{ shape: number[]; perm: number[]; dtype?: 'float32' | 'int32' | 'bool'; name: string }> = [
  { name: '2-D, multiples of 4', shape: [64, 128], perm: [1, 0] },
  { name: '2-D, ragged both ways', shape: [37, 45], perm: [1, 0] },
  { name: '2-D, fewer than 4 rows', shape: [3, 70], perm: [1, 0] },
  { name: '2-D, one column', shape: [33, 1], perm: [1, 0] },
  { name: 'batched last two axes', shape: [3, 5, 33, 70], perm: [0, 1, 3, 2] },
  { name: 'int32 words', shape: [6, 9], perm: [1, 0], dtype: 'int32' },
  { name: 'other permutation (stock path)', shape: [2, 5, 3, 4], perm: [0, 2, 1, 3] },
  { name: 'bool (stock path)', shape: [5, 7], perm: [1, 0], dtype: 'bool' },
];

for (const c of TRANSPOSE_CASES) {
  test(`Transpose on wasm equals cpu: ${c.name}`, async () => {
    const x = randomData(c.shape, 8);
    const data = c.dtype === 'int32' ? Int32Array.from(x, (v) => Math.round(v * 1e6)) : c.dtype === 'bool' ? Uint8Array.from(x, (v) => (v > 0 ? 1 : 0)) : x;
    const { cpu, wasm, shape } = await onBoth(() => tf.transpose(tf.tensor(data, c.shape, c.dtype), c.perm));
    assert.deepEqual(shape, c.perm.map((p) => c.shape[p]));
    assert.deepEqual([...wasm], [...cpu], 'a transpose moves values exactly');
  });
}

test('Identity (tf.clone) on wasm shares the buffer, which lives until its last reference goes', async () => {
  await tf.setBackend('wasm');
  const backend = asWasmBackend(tf.backend());
  const before = tf.memory();
  const x = tf.tensor1d([1, 2, 3]);
  const y = tf.clone(x);
  assert.equal(tensorData(backend, y).memoryOffset, tensorData(backend, x).memoryOffset, 'no copy');
  x.dispose();
  assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3], 'the clone outlives the original');
  const z = tf.add(y, 1); // a kernel reading the shared buffer
  y.dispose();
  assert.deepEqual(Array.from(z.dataSync()), [2, 3, 4]);
  z.dispose();
  assert.equal(tf.memory().numTensors, before.numTensors);
  assert.equal(tf.memory().numBytes, before.numBytes);
  assert.deepEqual(Array.from(tf.clone(tf.tensor1d(['a', 'b'], 'string')).dataSync() as unknown as string[]), ['a', 'b']);
});

test('UnsortedSegmentSum on wasm equals cpu, repeated and out-of-range ids included', async () => {
  const x = randomData([9, 3, 4], 3);
  const ids = Int32Array.from([4, 0, 4, 2, -1, 7, 2, 4, 0]); // -1 and 7 (≥ numSegments) are dropped
  const { cpu, wasm, shape } = await onBoth(() => tf.unsortedSegmentSum(tf.tensor(x, [9, 3, 4]), tf.tensor1d(ids, 'int32'), 6));
  assert.deepEqual(shape, [6, 3, 4]);
  assertClose(wasm, cpu, 1e-6, 'segment sum');
});

test('UnsortedSegmentSum on wasm sums int32 exactly', async () => {
  const x = Int32Array.from({ length: 12 }, (_, i) => i * 1000 + 1);
  const ids = Int32Array.from([1, 0, 1, 1]);
  const { cpu, wasm } = await onBoth(() => tf.unsortedSegmentSum(tf.tensor(x, [4, 3], 'int32'), tf.tensor1d(ids, 'int32'), 3));
  assert.deepEqual([...wasm], [...cpu]);
});

test('the gradient of gather (an embedding) on wasm equals cpu', async () => {
  const table = randomData([50, 6], 4);
  const ids = Int32Array.from([3, 3, 49, 0, 17, 3, 0]);
  const dy = randomData([7, 6], 5);
  const { cpu, wasm } = await onBoth(() => {
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, tf.tensor1d(ids, 'int32')), tf.tensor(dy, [7, 6]))));
    return g(tf.tensor(table, [50, 6]));
  });
  assertClose(wasm, cpu, 1e-6, 'embedding gradient');
});

test('a tiny BERT forward and backward on wasm equals cpu (every kernel present)', async () => {
  const config = tinyConfig({ hiddenSize: 16, intermediateSize: 32, vocabSize: 40, numLabels: 3, dropout: 0.1 });
  const weights = tinyWeights(config, 11);
  const inputs: BertInputs = {
    size: 2,
    seqLength: 6,
    inputIds: Int32Array.from([2, 10, 11, 3, 12, 3, 2, 13, 3, 0, 0, 0]),
    tokenTypeIds: Int32Array.from([0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0]),
    attentionMask: Int32Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]),
  };
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    const model = new BertForSequenceClassification(config, weights);
    const byId = new Map([...model.params].map(([name, v]) => [v.name, name]));
    const { value, grads } = tf.variableGrads(() => model.loss(model.forward(inputs, { training: true, dropoutSeed: 3, step: 2 }), [2, 0]));
    const out = new Map<string, Float32Array>();
    for (const [id, g] of Object.entries(grads)) out.set(byId.get(id) as string, g.dataSync() as Float32Array);
    const loss = value.dataSync()[0] as number;
    tf.dispose([value, ...Object.values(grads)]);
    model.dispose();
    return { loss, grads: out };
  };
  const cpu = await run('cpu');
  const wasm = await run('wasm');
  assert.ok(Math.abs(wasm.loss - cpu.loss) <= 1e-5 * (1 + Math.abs(cpu.loss)), `loss ${wasm.loss} vs ${cpu.loss}`);
  assert.equal(wasm.grads.size, cpu.grads.size);
  for (const [name, g] of cpu.grads) assertClose(wasm.grads.get(name) as Float32Array, g, 1e-4, name);
});
