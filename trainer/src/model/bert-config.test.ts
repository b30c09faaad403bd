import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bertConfigToJson, parseBertConfig, readBertConfig, withHead } from './bert-config.ts';
import { CheckpointError } from './checkpoint-error.ts';

const BASE = {
  vocab_size: 30522, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072,
  hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, max_position_embeddings: 512,
  type_vocab_size: 2, initializer_range: 0.02, layer_norm_eps: 1e-12, pad_token_id: 0, model_type: 'bert',
  architectures: ['BertForMaskedLM'], transformers_version: '4.6.0.dev0',
};

function rejects(json: unknown, key: string, pattern: RegExp): void {
  assert.throws(() => parseBertConfig(json, 'config.json'), (e: unknown) => {
    assert.ok(e instanceof CheckpointError);
    assert.equal(e.item, key);
    assert.match(e.message, new RegExp(`^config\\.json: ${key.replace('.', '\\.')}: `));
    assert.match(e.message, pattern);
    return true;
  });
}

test('parses bert-base-uncased with HF defaults for the head', () => {
  const c = parseBertConfig(BASE, 'config.json');
  assert.equal(c.hiddenSize, 768);
  assert.equal(c.layerNormEps, 1e-12);
  assert.equal(c.numLabels, 2);
  assert.equal(c.problemType, 'single_label_classification');
  assert.deepEqual(c.id2label, ['LABEL_0', 'LABEL_1']);
  assert.equal(c.extra.transformers_version, '4.6.0.dev0');
});

test('defaults of old configs: layer_norm_eps, pad_token_id, type_vocab_size', () => {
  const { layer_norm_eps: _a, pad_token_id: _b, type_vocab_size: _c, ...old } = BASE;
  const c = parseBertConfig(old, 'config.json');
  assert.equal(c.layerNormEps, 1e-12);
  assert.equal(c.padTokenId, 0);
  assert.equal(c.typeVocabSize, 2);
});

test('labels: id2label with string keys, num_labels from it, regression from num_labels 1', () => {
  const c = parseBertConfig({ ...BASE, id2label: { '1': 'not_entailment', '0': 'entailment' } }, 'config.json');
  assert.deepEqual(c.id2label, ['entailment', 'not_entailment']);
  assert.equal(c.numLabels, 2);
  const r = parseBertConfig({ ...BASE, num_labels: 1 }, 'config.json');
  assert.equal(r.problemType, 'regression');
});

test('bad values name the file and key', () => {
  rejects({ ...BASE, hidden_act: 'relu' }, 'hidden_act', /only 'gelu'/);
  rejects({ ...BASE, hidden_act: 'gelu_new' }, 'hidden_act', /only 'gelu'/);
  rejects({ ...BASE, hidden_size: 770 }, 'num_attention_heads', /not a multiple/);
  rejects({ ...BASE, vocab_size: '30522' }, 'vocab_size', /expected an integer/);
  rejects({ ...BASE, num_hidden_layers: 0 }, 'num_hidden_layers', /integer >= 1/);
  const { intermediate_size: _x, ...noInter } = BASE;
  rejects(noInter, 'intermediate_size', /missing/);
  rejects({ ...BASE, hidden_dropout_prob: 1.5 }, 'hidden_dropout_prob', /probability/);
  rejects({ ...BASE, layer_norm_eps: -1 }, 'layer_norm_eps', /positive/);
  rejects({ ...BASE, id2label: { 0: 'a', 5: 'b' } }, 'id2label', /ids 0\.\.1/);
  rejects({ ...BASE, num_labels: 3, id2label: { 0: 'a', 1: 'b' } }, 'id2label', /2 labels but num_labels is 3/);
  rejects({ ...BASE, problem_type: 'multi_label_classification' }, 'problem_type', /expected/);
  rejects({ ...BASE, num_labels: 1, problem_type: 'single_label_classification' }, 'problem_type', /does not fit num_labels 1/);
  rejects({ ...BASE, model_type: 'roberta' }, 'model_type', /only BERT/);
  rejects({ ...BASE, position_embedding_type: 'relative_key' }, 'position_embedding_type', /absolute/);
  assert.throws(() => parseBertConfig([1], 'config.json'), /config\.json: expected a JSON object/);
});

test('readBertConfig: unreadable and invalid JSON name the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-config-'));
  try {
    assert.throws(() => readBertConfig(join(dir, 'config.json')), /config\.json: cannot read/);
    writeFileSync(join(dir, 'config.json'), '{"vocab_size": 10,');
    assert.throws(() => readBertConfig(join(dir, 'config.json')), (e: unknown) => e instanceof CheckpointError && /not valid JSON/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a new head, and config.json for transformers round-trips', () => {
  const c = withHead(parseBertConfig(BASE, 'config.json'), 3, ['contradiction', 'entailment', 'neutral']);
  const json = bertConfigToJson(c);
  assert.deepEqual(json.architectures, ['BertForSequenceClassification']);
  assert.equal(json.num_labels, 3);
  assert.equal(json.problem_type, 'single_label_classification');
  assert.deepEqual(json.id2label, { 0: 'contradiction', 1: 'entailment', 2: 'neutral' });
  assert.deepEqual(json.label2id, { contradiction: 0, entailment: 1, neutral: 2 });
  assert.equal(json.transformers_version, '4.6.0.dev0');
  assert.deepEqual(parseBertConfig(JSON.parse(JSON.stringify(json)), 'config.json'), c);
  const reg = bertConfigToJson(withHead(c, 1));
  assert.equal(reg.problem_type, 'regression');
  assert.throws(() => withHead(c, 2, ['only-one']), /1 label names for 2 labels/);
});
