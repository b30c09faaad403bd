import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bertParamSpecs, initBertParams, isNoDecay, paramLayerIndex, transpose2d } from './bert-params.ts';
import { tinyConfig } from './tiny-checkpoint.ts';

test('specs: HF names in state-dict order, Linear weights [in, out]', () => {
  const config = tinyConfig({ numHiddenLayers: 2, hiddenSize: 32, intermediateSize: 64, numLabels: 3 });
  const specs = bertParamSpecs(config);
  assert.equal(specs.length, 5 + 2 * 16 + 4);
  assert.equal(specs[0]?.name, 'bert.embeddings.word_embeddings.weight');
  assert.equal(specs.at(-1)?.name, 'classifier.bias');
  const byName = new Map(specs.map((s) => [s.name, s]));
  assert.deepEqual(byName.get('bert.encoder.layer.1.intermediate.dense.weight')?.shape, [32, 64]);
  assert.deepEqual(byName.get('bert.encoder.layer.1.output.dense.weight')?.shape, [64, 32]);
  assert.deepEqual(byName.get('classifier.weight')?.shape, [32, 3]);
  assert.equal(byName.get('bert.embeddings.LayerNorm.weight')?.kind, 'layernorm-weight');
  assert.equal(byName.get('bert.embeddings.token_type_embeddings.weight')?.kind, 'embedding');
});

test('layer index and weight-decay exemption', () => {
  assert.equal(paramLayerIndex('bert.embeddings.position_embeddings.weight', 12), 0);
  assert.equal(paramLayerIndex('bert.encoder.layer.11.output.dense.weight', 12), 12);
  assert.equal(paramLayerIndex('bert.pooler.dense.bias', 12), 13);
  assert.equal(paramLayerIndex('classifier.weight', 12), 13);
  assert.throws(() => paramLayerIndex('cls.predictions.bias', 12), /not a BERT parameter/);
  assert.equal(isNoDecay('bert.encoder.layer.0.attention.output.LayerNorm.weight'), true);
  assert.equal(isNoDecay('bert.pooler.dense.bias'), true);
  assert.equal(isNoDecay('bert.pooler.dense.weight'), false);
  assert.equal(isNoDecay('bert.embeddings.word_embeddings.weight'), false);
});

test('BERT initialisation: padding row zero, LayerNorm 1/0, deterministic', () => {
  const config = tinyConfig({ vocabSize: 50 });
  const a = initBertParams(config, 3);
  const words = a.get('bert.embeddings.word_embeddings.weight')?.data as Float32Array;
  assert.ok(words.subarray(0, 32).every((v) => v === 0), '[PAD] row');
  assert.ok(words.subarray(32, 64).some((v) => v !== 0));
  assert.ok((a.get('bert.encoder.layer.0.output.LayerNorm.weight')?.data as Float32Array).every((v) => v === 1));
  assert.deepEqual(initBertParams(config, 3), a);
});

test('transpose2d', () => {
  assert.deepEqual(transpose2d({ shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }), { shape: [3, 2], data: Float32Array.from([1, 4, 2, 5, 3, 6]) });
});
