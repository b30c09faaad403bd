import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bertParamSpecs, transpose2d } from './bert-params.ts';
import { CheckpointError } from './checkpoint-error.ts';
import { loadCheckpointDir, loadModel, saveCheckpoint } from './checkpoint.ts';
import { encodeSafetensors, readSafetensors, type HostTensor } from './safetensors.ts';
import { tinyConfig, writeTinyCheckpoint } from './tiny-checkpoint.ts';
import { bertConfigToJson } from './bert-config.ts';
import { SYNTHETIC_VOCAB } from '../data/synthetic-task.ts';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-ckpt-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Rewrites model.safetensors of `dir` through `edit` (HF layout tensors, HF names). */
function editTensors(dir: string, edit: (t: Map<string, HostTensor>) => Map<string, HostTensor>): void {
  const file = readSafetensors(join(dir, 'model.safetensors'));
  const tensors = new Map([...file.entries.keys()].map((n) => [n, file.read(n)]));
  writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(edit(tensors)));
}

test('save then load round-trips weights, config and vocabulary; the head is loaded when it fits', () => {
  withDir((dir) => {
    const { weights } = writeTinyCheckpoint(join(dir, 'a'), { numLabels: 3, seed: 3 });
    const loaded = loadCheckpointDir(join(dir, 'a'), { numLabels: 3, labels: ['x', 'y', 'z'], initSeed: 0 });
    assert.equal(loaded.report.head, 'loaded');
    assert.deepEqual(loaded.report.missing, []);
    assert.deepEqual(loaded.report.unexpected, []);
    assert.equal(loaded.report.loaded.length, weights.size);
    for (const [name, t] of weights) assert.deepEqual(loaded.weights.get(name), t, name);
    assert.deepEqual(loaded.config.id2label, ['x', 'y', 'z']);
    assert.deepEqual([...loaded.vocabFiles.keys()].sort(), ['tokenizer_config.json', 'vocab.txt']);

    saveCheckpoint(join(dir, 'b'), loaded.config, loaded.weights, { vocabFiles: loaded.vocabFiles, info: { step: 7 } });
    const json = JSON.parse(readFileSync(join(dir, 'b', 'config.json'), 'utf8'));
    assert.deepEqual(json.architectures, ['BertForSequenceClassification']);
    assert.deepEqual(json.id2label, { 0: 'x', 1: 'y', 2: 'z' });
    assert.deepEqual(json.label2id, { x: 0, y: 1, z: 2 });
    assert.equal(json.problem_type, 'single_label_classification');
    assert.equal(readFileSync(join(dir, 'b', 'vocab.txt'), 'utf8'), readFileSync(join(dir, 'a', 'vocab.txt'), 'utf8'));
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'b', 'ballast.json'), 'utf8')), { step: 7 });
    // HF layout on disk: Linear [out, in], F32, names bert.* and classifier.*
    const file = readSafetensors(join(dir, 'b', 'model.safetensors'));
    assert.deepEqual(file.entries.get('bert.encoder.layer.0.intermediate.dense.weight')?.shape, [64, 32]);
    assert.ok([...file.entries.values()].every((e) => e.dtype === 'F32'));
    assert.ok([...file.entries.keys()].every((n) => n.startsWith('bert.') || n.startsWith('classifier.')));
    const again = loadCheckpointDir(join(dir, 'b'), { numLabels: 3, initSeed: 0 });
    for (const [name, t] of weights) assert.deepEqual(again.weights.get(name), t, name);
  });
});

test('hub spellings: no bert. prefix, LayerNorm.gamma/beta, pre-training heads, position_ids, F16', () => {
  withDir((dir) => {
    const { weights } = writeTinyCheckpoint(dir, { numLabels: 2 });
    editTensors(dir, (t) => {
      const out = new Map<string, HostTensor>();
      for (const [name, v] of t) {
        if (name.startsWith('classifier.')) continue; // an MLM checkpoint has no head
        out.set(name.replace(/^bert\./, '').replace(/LayerNorm\.weight$/, 'LayerNorm.gamma').replace(/LayerNorm\.bias$/, 'LayerNorm.beta'), v);
      }
      out.set('cls.predictions.bias', { shape: [100], data: new Float32Array(100) });
      out.set('cls.seq_relationship.weight', { shape: [2, 32], data: new Float32Array(64) });
      out.set('something.else', { shape: [1], data: new Float32Array(1) });
      return out;
    });
    const loaded = loadCheckpointDir(dir, { numLabels: 2, initSeed: 5 });
    assert.equal(loaded.report.head, 'fresh');
    assert.match(loaded.report.headReason ?? '', /no 'classifier.weight'/);
    assert.deepEqual(loaded.report.missing, ['classifier.weight', 'classifier.bias']);
    assert.deepEqual(loaded.report.ignored.sort(), ['cls.predictions.bias', 'cls.seq_relationship.weight']);
    assert.deepEqual(loaded.report.unexpected, ['something.else']);
    assert.ok(loaded.report.renamed.includes('embeddings.LayerNorm.gamma → bert.embeddings.LayerNorm.weight'));
    for (const [name, t] of weights) if (!name.startsWith('classifier.')) assert.deepEqual(loaded.weights.get(name), t, name);
    assert.deepEqual(loaded.weights.get('classifier.bias')?.data, new Float32Array(2));
  });
});

test('a head of the wrong size is replaced by a fresh one (init_from with another task)', () => {
  withDir((dir) => {
    writeTinyCheckpoint(dir, { numLabels: 3 });
    const a = loadModel(dir, { numLabels: 2, initSeed: 9 });
    assert.equal(a.report.head, 'fresh');
    assert.match(a.report.headReason ?? '', /has shape \[3,32\], the task needs \[2,32\]/);
    assert.deepEqual(a.weights.get('classifier.weight')?.shape, [32, 2]);
    assert.equal(a.config.numLabels, 2);
    const b = loadModel(dir, { numLabels: 2, initSeed: 9 });
    assert.deepEqual(a.weights.get('classifier.weight'), b.weights.get('classifier.weight'), 'fresh head from the init seed');
    const reg = loadModel(dir, { numLabels: 1, initSeed: 9 });
    assert.equal(reg.config.problemType, 'regression');
  });
});

test('a missing pooler is initialised fresh and reported; a missing block tensor is an error', () => {
  withDir((dir) => {
    writeTinyCheckpoint(dir);
    editTensors(dir, (t) => new Map([...t].filter(([n]) => !n.startsWith('bert.pooler.'))));
    const loaded = loadCheckpointDir(dir, { numLabels: 2, initSeed: 1 });
    assert.deepEqual(loaded.report.missing, ['bert.pooler.dense.weight', 'bert.pooler.dense.bias']);
    assert.equal(loaded.report.head, 'loaded');
    editTensors(dir, (t) => new Map([...t].filter(([n]) => n !== 'bert.encoder.layer.1.output.dense.bias')));
    assert.throws(() => loadCheckpointDir(dir, { numLabels: 2, initSeed: 1 }), (e: unknown) => e instanceof CheckpointError && /missing 1 model tensor\(s\): bert\.encoder\.layer\.1\.output\.dense\.bias/.test(e.message));
  });
});

test('wrong shapes, corrupt weights and bad configs are CheckpointErrors naming file and tensor', () => {
  withDir((dir) => {
    writeTinyCheckpoint(dir);
    editTensors(dir, (t) => {
      t.set('bert.encoder.layer.0.attention.self.query.weight', { shape: [32, 16], data: new Float32Array(512) });
      return t;
    });
    assert.throws(() => loadCheckpointDir(dir, { numLabels: 2, initSeed: 1 }), /model\.safetensors: bert\.encoder\.layer\.0\.attention\.self\.query\.weight: has shape \[32,16\], the config needs \[32,32\]/);
    const bytes = readFileSync(join(dir, 'model.safetensors'));
    writeFileSync(join(dir, 'model.safetensors'), bytes.subarray(0, bytes.length - 100));
    assert.throws(() => loadCheckpointDir(dir, { numLabels: 2, initSeed: 1 }), (e: unknown) => e instanceof CheckpointError && /truncated file/.test(e.message));
    rmSync(join(dir, 'model.safetensors'));
    assert.throws(() => loadCheckpointDir(dir, { numLabels: 2, initSeed: 1 }), /no model\.safetensors/);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...bertConfigToJson(tinyConfig()), hidden_act: 'relu' }));
    assert.throws(() => loadCheckpointDir(dir, { numLabels: 2, initSeed: 1 }), /config\.json: hidden_act: only 'gelu'/);
  });
  assert.throws(() => loadCheckpointDir('/nonexistent/ckpt', { numLabels: 2, initSeed: 1 }), /no such checkpoint directory/);
});

test('Linear weights are transposed at the boundary and nothing else is', () => {
  withDir((dir) => {
    const { config, weights } = writeTinyCheckpoint(dir);
    const file = readSafetensors(join(dir, 'model.safetensors'));
    for (const spec of bertParamSpecs(config)) {
      const onDisk = file.read(spec.name);
      const expected = spec.kind === 'linear-weight' ? transpose2d(weights.get(spec.name) as HostTensor) : weights.get(spec.name);
      assert.deepEqual(onDisk, expected, spec.name);
    }
  });
});

test('builtin:quickstart-tiny: random from the init seed, the synthetic task\'s vocabulary', () => {
  const a = loadModel('builtin:quickstart-tiny', { numLabels: 2, labels: ['negative', 'positive'], initSeed: 3 });
  const b = loadModel('builtin:quickstart-tiny', { numLabels: 2, initSeed: 3 });
  const c = loadModel('builtin:quickstart-tiny', { numLabels: 2, initSeed: 4 });
  assert.equal(a.config.hiddenSize, 64);
  assert.equal(a.config.vocabSize, SYNTHETIC_VOCAB.length);
  assert.deepEqual(a.weights.get('bert.encoder.layer.0.attention.self.query.weight'), b.weights.get('bert.encoder.layer.0.attention.self.query.weight'));
  assert.notDeepEqual(a.weights.get('bert.encoder.layer.0.attention.self.query.weight'), c.weights.get('bert.encoder.layer.0.attention.self.query.weight'));
  assert.equal(a.vocabFiles.get('vocab.txt')?.toString('utf8').split('\n')[0], '[PAD]');
  assert.equal(a.dir, undefined);
  withDir((dir) => {
    saveCheckpoint(dir, a.config, a.weights, { vocabFiles: a.vocabFiles });
    const back = loadCheckpointDir(dir, { numLabels: 2, initSeed: 0 });
    assert.deepEqual(back.config.id2label, ['negative', 'positive']);
    assert.ok(existsSync(join(dir, 'vocab.txt')));
  });
  assert.throws(() => loadModel('builtin:nope', { numLabels: 2, initSeed: 0 }), /unknown builtin model 'builtin:nope'/);
});

const REAL = '/work/shared/models/bert-tiny-glue-mlm';
test('the real MLM checkpoint: gamma/beta names, cls.* ignored, fresh head', { skip: existsSync(REAL) ? false : `${REAL} is not present on this machine` }, () => {
  const loaded = loadCheckpointDir(REAL, { numLabels: 2, initSeed: 0 });
  assert.equal(loaded.report.head, 'fresh');
  assert.deepEqual(loaded.report.unexpected, []);
  assert.ok(loaded.report.ignored.length > 0 && loaded.report.ignored.every((n) => n.startsWith('cls.')));
  assert.ok(loaded.report.renamed.some((r) => r.includes('LayerNorm.gamma')));
  assert.equal(loaded.report.loaded.length, bertParamSpecs(loaded.config).length - 2);
  assert.ok(loaded.vocabFiles.has('vocab.txt'));
  assert.equal(loaded.config.hiddenSize, 128);
});
