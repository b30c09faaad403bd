import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { BertForSequenceClassification, type BertInputs } from './bert-model.ts';
import { tinyConfig, tinyWeights } from './tiny-checkpoint.ts';

before(async () => {
  await tf.setBackend('cpu');
});

const config = tinyConfig({ hiddenSize: 16, intermediateSize: 32, vocabSize: 40, numLabels: 3 });
const weights = tinyWeights(config, 7);

// Two sequences: the second padded.
const inputs: BertInputs = {
  size: 2,
  seqLength: 6,
  inputIds: Int32Array.from([2, 10, 11, 3, 12, 3, 2, 13, 3, 0, 0, 0]),
  tokenTypeIds: Int32Array.from([0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0]),
  attentionMask: Int32Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]),
};
const labels = Int32Array.from([2, 0]);

function lossAndGrads(model: BertForSequenceClassification, step: number): { loss: number; grads: Map<string, Float32Array> } {
  const byId = new Map([...model.params].map(([name, v]) => [v.name, name]));
  const { value, grads } = tf.variableGrads(() => model.loss(model.forward(inputs, { training: true, dropoutSeed: 5, step }), labels));
  const out = new Map<string, Float32Array>();
  for (const [id, g] of Object.entries(grads)) out.set(byId.get(id) as string, g.dataSync() as Float32Array);
  const loss = value.dataSync()[0] as number;
  value.dispose();
  tf.dispose(grads);
  return { loss, grads: out };
}

function assertClose(a: Float32Array, b: Float32Array, tol: number, what: string): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs((a[i] as number) - (b[i] as number)) <= tol * (1 + Math.abs(b[i] as number)), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

test('activation recomputation gives the same loss and gradients (dropout on, and mixout on)', () => {
  for (const mixout of [0, 0.3]) {
    const plain = new BertForSequenceClassification(config, weights, { recompute: false });
    const recomputed = new BertForSequenceClassification(config, weights, { recompute: true });
    // Move the weights away from the mixout target so that mixing changes something.
    plain.setMixout(mixout);
    recomputed.setMixout(mixout);
    for (const m of [plain, recomputed]) for (const v of m.params.values()) tf.tidy(() => v.assign(tf.add(v, 0.01)));
    const a = lossAndGrads(plain, 3);
    const b = lossAndGrads(recomputed, 3);
    assert.equal(a.loss, b.loss);
    assert.equal(a.grads.size, plain.params.size, 'every parameter gets a gradient');
    for (const [name, g] of a.grads) assertClose(b.grads.get(name) as Float32Array, g, 1e-6, `${name} (mixout ${mixout})`);
    plain.dispose();
    recomputed.dispose();
  }
});

test('no tensors leak across repeated forward/backward passes', () => {
  const model = new BertForSequenceClassification(config, weights, { recompute: true });
  model.setMixout(0.2);
  lossAndGrads(model, 0);
  const start = tf.memory().numTensors;
  for (let step = 1; step <= 4; step++) {
    lossAndGrads(model, step);
    tf.tidy(() => {
      model.forward(inputs, { training: false });
    });
  }
  assert.equal(tf.memory().numTensors, start);
  model.dispose();
  model.setMixout(0);
});

test('gradients match finite differences', () => {
  // Dropout off, so the loss is a smooth function of the weights; float64 would be nicer, but a
  // relative agreement of a few percent on the largest components catches any wrong gradient.
  const model = new BertForSequenceClassification(config, weights, { recompute: true, hiddenDropout: 0, attentionDropout: 0 });
  const f = () => tf.tidy(() => model.loss(model.forward(inputs, { training: true, dropoutSeed: 1, step: 0 }), labels).dataSync()[0] as number);
  const { grads } = lossAndGrads(model, 0);
  for (const name of ['bert.encoder.layer.0.attention.self.query.weight', 'bert.encoder.layer.1.output.LayerNorm.weight', 'bert.embeddings.position_embeddings.weight', 'classifier.bias']) {
    const g = grads.get(name) as Float32Array;
    let idx = 0;
    for (let i = 0; i < g.length; i++) if (Math.abs(g[i] as number) > Math.abs(g[idx] as number)) idx = i;
    const v = model.params.get(name) as tf.Variable;
    const orig = v.dataSync().slice();
    const eps = 1e-2;
    const at = (delta: number) => {
      const w = orig.slice();
      w[idx] = (w[idx] as number) + delta;
      tf.tidy(() => v.assign(tf.tensor(w, v.shape)));
      return f();
    };
    const numeric = (at(eps) - at(-eps)) / (2 * eps);
    tf.tidy(() => v.assign(tf.tensor(orig, v.shape)));
    assert.ok(Math.abs(numeric - (g[idx] as number)) <= 0.05 * Math.abs(g[idx] as number) + 1e-4, `${name}[${idx}]: analytic ${g[idx]} vs numeric ${numeric}`);
  }
  model.dispose();
});

test('dropout is a function of (seed, step): same masks for the same pair, new ones otherwise', () => {
  const model = new BertForSequenceClassification(config, weights);
  const logits = (training: boolean, seed: number, step: number) => tf.tidy(() => model.forward(inputs, { training, dropoutSeed: seed, step }).dataSync().slice());
  assert.deepEqual(logits(true, 1, 0), logits(true, 1, 0));
  assert.notDeepEqual(logits(true, 1, 0), logits(true, 1, 1));
  assert.notDeepEqual(logits(true, 1, 0), logits(true, 2, 0));
  assert.deepEqual(logits(false, 1, 0), logits(false, 2, 9), 'evaluation has no dropout');
  assert.notDeepEqual(logits(false, 1, 0), logits(true, 1, 0));
  model.dispose();
  const noDropout = new BertForSequenceClassification(config, weights, { hiddenDropout: 0, attentionDropout: 0 });
  const on = tf.tidy(() => noDropout.forward(inputs, { training: true, dropoutSeed: 1, step: 0 }).dataSync().slice());
  assert.deepEqual(on, tf.tidy(() => noDropout.forward(inputs, { training: false }).dataSync().slice()));
  noDropout.dispose();
});

test('padding does not change a sequence\'s logits (the attention mask hides it)', () => {
  const model = new BertForSequenceClassification(config, weights);
  const alone: BertInputs = { size: 1, seqLength: 3, inputIds: Int32Array.from([2, 13, 3]), tokenTypeIds: new Int32Array(3), attentionMask: Int32Array.from([1, 1, 1]) };
  const padded = tf.tidy(() => model.forward(inputs, { training: false }).arraySync()[1] as number[]);
  const unpadded = tf.tidy(() => model.forward(alone, { training: false }).arraySync()[0] as number[]);
  padded.forEach((v, i) => assert.ok(Math.abs(v - (unpadded[i] as number)) < 1e-5, `${v} vs ${unpadded[i]}`));
  model.dispose();
});

test('mixout: W mixed with itself is W; with moved weights it differs and dropout is off', () => {
  const model = new BertForSequenceClassification(config, weights);
  const evalLogits = tf.tidy(() => model.forward(inputs, { training: false }).dataSync().slice() as Float32Array);
  model.setMixout(0.5);
  assert.equal(model.mixout, 0.5);
  // Targets equal the weights: mix = ((1-M)W + MW - pW)/(1-p) = W, and dropout is off under mixout.
  const mixed = tf.tidy(() => model.forward(inputs, { training: true, dropoutSeed: 3, step: 0 }).dataSync().slice() as Float32Array);
  assertClose(mixed, evalLogits, 1e-5, 'mixout with W = W0');
  for (const v of model.params.values()) tf.tidy(() => v.assign(tf.mul(v, 1.5)));
  const moved = () => tf.tidy(() => model.forward(inputs, { training: true, dropoutSeed: 3, step: 0 }).dataSync().slice());
  const movedEval = tf.tidy(() => model.forward(inputs, { training: false }).dataSync().slice());
  assert.deepEqual(moved(), moved());
  assert.notDeepEqual(moved(), movedEval);
  model.setMixout(0);
  assert.throws(() => model.setMixout(1), /\[0, 1\)/);
  model.dispose();
});

test('losses: cross-entropy by hand, MSE for regression, bad labels rejected', () => {
  const model = new BertForSequenceClassification(config, weights);
  const logits = tf.tensor2d([[1, 2, 3], [0, 0, 0]]);
  const ce = model.loss(logits, Int32Array.from([2, 1])).dataSync()[0] as number;
  const expected = (-Math.log(Math.exp(3) / (Math.exp(1) + Math.exp(2) + Math.exp(3))) + Math.log(3)) / 2;
  assert.ok(Math.abs(ce - expected) < 1e-6);
  assert.throws(() => model.loss(logits, Int32Array.from([3, 0])), /label 3 outside \[0, 3\)/);
  assert.throws(() => model.loss(logits, Int32Array.from([1])), /1 labels for a batch of 2/);
  logits.dispose();
  model.dispose();
  const reg = new BertForSequenceClassification(tinyConfig({ hiddenSize: 16, intermediateSize: 32, vocabSize: 40, numLabels: 1 }), tinyWeights(tinyConfig({ hiddenSize: 16, intermediateSize: 32, vocabSize: 40, numLabels: 1 }), 1));
  const y = tf.tensor2d([[1], [3]]);
  assert.ok(Math.abs((reg.loss(y, Float32Array.from([2, 1])).dataSync()[0] as number) - 2.5) < 1e-6);
  y.dispose();
  reg.dispose();
});

test('bad inputs are clear errors', () => {
  const model = new BertForSequenceClassification(config, weights);
  assert.throws(() => model.forward({ ...inputs, inputIds: Int32Array.from([...inputs.inputIds.slice(0, 11), 40]) }, { training: false }), /token id 40 at position 11 outside the vocabulary \(40\)/);
  assert.throws(() => model.forward({ ...inputs, tokenTypeIds: new Int32Array(12).fill(2) }, { training: false }), /token type 2/);
  assert.throws(() => model.forward({ ...inputs, seqLength: 5 }, { training: false }), /inputIds has 12 values, expected 2 × 5/);
  const long = 65;
  assert.throws(() => model.forward({ size: 1, seqLength: long, inputIds: new Int32Array(long), tokenTypeIds: new Int32Array(long), attentionMask: new Int32Array(long) }, { training: false }), /exceeds max_position_embeddings 64/);
  model.dispose();
  const broken = new Map(weights);
  broken.delete('classifier.bias');
  assert.throws(() => new BertForSequenceClassification(config, broken), /no weights for 'classifier.bias'/);
});

test('paramInfo: layer indices for LLRD and weight-decay exemptions; weights round-trip', () => {
  const model = new BertForSequenceClassification(config, weights);
  const info = new Map(model.paramInfo().map((p) => [p.name, p]));
  assert.equal(info.size, 5 + 16 * 2 + 4);
  assert.equal(info.get('bert.embeddings.word_embeddings.weight')?.layer, 0);
  assert.equal(info.get('bert.encoder.layer.0.output.dense.weight')?.layer, 1);
  assert.equal(info.get('bert.encoder.layer.1.attention.self.key.bias')?.layer, 2);
  assert.equal(info.get('bert.pooler.dense.weight')?.layer, 3);
  assert.equal(info.get('classifier.weight')?.layer, 3);
  assert.equal(info.get('classifier.weight')?.noDecay, false);
  assert.equal(info.get('classifier.bias')?.noDecay, true);
  assert.equal(info.get('bert.embeddings.LayerNorm.weight')?.noDecay, true);
  assert.equal(info.get('bert.encoder.layer.0.intermediate.dense.weight')?.noDecay, false);
  assert.deepEqual(info.get('bert.encoder.layer.0.intermediate.dense.weight')?.variable.shape, [16, 32], 'Linear weights are stored [in, out]');
  const got = model.getWeights();
  for (const [name, t] of weights) assert.deepEqual(got.get(name)?.data, t.data, name);
  model.setWeights(new Map([['classifier.bias', { shape: [3], data: Float32Array.from([1, 2, 3]) }]]));
  assert.deepEqual([...(model.params.get('classifier.bias') as tf.Variable).dataSync()], [1, 2, 3]);
  assert.throws(() => model.setWeights(new Map([['classifier.bias', { shape: [2], data: new Float32Array(2) }]])), /shape \[2\], expected \[3\]/);
  model.dispose();
});

test("recompute 'auto' switches on above the activation budget", () => {
  const auto = new BertForSequenceClassification(config, weights);
  assert.equal(auto.recompute, 'auto');
  assert.equal(auto.recomputes(2, 6), false);
  const low = new BertForSequenceClassification(config, weights, { recomputeAboveBytes: auto.activationBytes(2, 6) - 1 });
  assert.equal(low.recomputes(2, 6), true);
  assert.equal(low.recomputes(1, 2), false);
  // bert-base at batch 8, seq 128 needs it; bert-tiny and bert-small at batch 16 do not (default budget).
  const base = { hiddenSize: 768, intermediateSize: 3072, numAttentionHeads: 12, numHiddenLayers: 12 };
  const small = { hiddenSize: 512, intermediateSize: 2048, numAttentionHeads: 8, numHiddenLayers: 4 };
  const tiny = { hiddenSize: 128, intermediateSize: 512, numAttentionHeads: 2, numHiddenLayers: 2 };
  const bytes = (shape: typeof base, batch: number) => BertForSequenceClassification.prototype.activationBytes.call({ config: shape } as never, batch, 128);
  assert.ok(bytes(base, 8) > auto.recomputeAboveBytes);
  assert.ok(bytes(small, 16) < auto.recomputeAboveBytes && bytes(tiny, 16) < auto.recomputeAboveBytes);
  auto.dispose();
  low.dispose();
});

test('creating and disposing a model leaves no tensors behind', () => {
  const before = tf.memory();
  const model = new BertForSequenceClassification(config, weights);
  assert.equal(tf.memory().numTensors - before.numTensors, model.params.size, 'one tensor per parameter');
  model.setMixout(0.1);
  model.dispose();
  assert.equal(tf.memory().numTensors, before.numTensors);
  assert.equal(tf.memory().numBytes, before.numBytes);
});
