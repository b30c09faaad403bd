import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../config/trial-config.ts';
import { freshHead, reinitWeights } from './reinit.ts';
import { tinyConfig } from './tiny-checkpoint.ts';

const config = tinyConfig({ numHiddenLayers: 3, hiddenSize: 32, intermediateSize: 64, numLabels: 2 });

function stats(data: Float32Array): { mean: number; std: number } {
  const mean = data.reduce((a, b) => a + b, 0) / data.length;
  const std = Math.sqrt(data.reduce((a, b) => a + (b - mean) ** 2, 0) / data.length);
  return { mean, std };
}

test('reinit_layers: exactly the top L blocks, in BERT\'s scheme', () => {
  const fresh = reinitWeights(config, { reinitPooler: false, reinitLayers: 2 }, 42);
  const names = [...fresh.keys()];
  assert.equal(names.length, 2 * 16);
  assert.ok(names.every((n) => n.startsWith('bert.encoder.layer.1.') || n.startsWith('bert.encoder.layer.2.')));
  const w = fresh.get('bert.encoder.layer.2.intermediate.dense.weight');
  assert.deepEqual(w?.shape, [32, 64]);
  const { mean, std } = stats(w?.data as Float32Array);
  assert.ok(Math.abs(mean) < 0.002 && Math.abs(std - 0.02) < 0.002, `N(0, 0.02): mean ${mean}, std ${std}`);
  assert.ok((fresh.get('bert.encoder.layer.1.output.dense.bias')?.data as Float32Array).every((v) => v === 0));
  assert.ok((fresh.get('bert.encoder.layer.1.output.LayerNorm.weight')?.data as Float32Array).every((v) => v === 1));
  assert.ok((fresh.get('bert.encoder.layer.1.attention.output.LayerNorm.bias')?.data as Float32Array).every((v) => v === 0));
});

test('reinit_pooler alone, both, and none', () => {
  assert.deepEqual([...reinitWeights(config, { reinitPooler: true, reinitLayers: 0 }, 1).keys()], ['bert.pooler.dense.weight', 'bert.pooler.dense.bias']);
  assert.equal(reinitWeights(config, { reinitPooler: true, reinitLayers: 3 }, 1).size, 3 * 16 + 2);
  assert.equal(reinitWeights(config, { reinitPooler: false, reinitLayers: 0 }, 1).size, 0);
});

test('draws are a function of the init seed only', () => {
  const a = reinitWeights(config, { reinitPooler: true, reinitLayers: 1 }, 7);
  const b = reinitWeights(config, { reinitPooler: true, reinitLayers: 3 }, 7);
  const c = reinitWeights(config, { reinitPooler: true, reinitLayers: 1 }, 8);
  assert.deepEqual(a.get('bert.pooler.dense.weight'), b.get('bert.pooler.dense.weight'), 'independent of what else is re-initialised');
  assert.notDeepEqual(a.get('bert.pooler.dense.weight'), c.get('bert.pooler.dense.weight'));
  assert.deepEqual(freshHead(config, 7), freshHead(config, 7));
  assert.notDeepEqual(freshHead(config, 7).get('classifier.weight'), freshHead(config, 8).get('classifier.weight'));
  assert.ok((freshHead(config, 7).get('classifier.bias')?.data as Float32Array).every((v) => v === 0));
});

test('reinit_layers beyond num_hidden_layers names the key', () => {
  assert.throws(() => reinitWeights(config, { reinitPooler: false, reinitLayers: 4 }, 1), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.path, 'reinit_layers');
    assert.match(e.message, /num_hidden_layers 3/);
    return true;
  });
});
