import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, deriveSeed, parseTrialConfig, resolveTrialConfig } from './trial-config.ts';

const minimal = { model: 'bert-base-uncased', task: { name: 'rte' } };

function rejects(input: unknown, path: string, message?: RegExp) {
  try {
    parseTrialConfig(input, 'trial.yaml');
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    assert.equal(error.path, path);
    assert.equal(error.source, 'trial.yaml');
    assert.ok(error.message.startsWith(`trial.yaml: ${path || "(root)"}: `), error.message);
    if (message) assert.match(error.reason, message);
    return;
  }
  assert.fail(`accepted ${JSON.stringify(input)}`);
}

test('defaults are the paper-facing defaults of the issue', () => {
  const c = parseTrialConfig(minimal);
  assert.equal(c.max_seq_length, 128);
  assert.equal(c.batch_size, 32);
  assert.equal(c.learning_rate, 2e-5);
  assert.equal(c.epochs, 3);
  assert.equal(c.max_steps, undefined);
  assert.equal(c.warmup_ratio, 0.1);
  assert.equal(c.weight_decay, 0);
  assert.equal(c.max_grad_norm, 1);
  assert.equal(c.optimizer, 'adamw');
  assert.equal(c.reinit_pooler, false);
  assert.equal(c.reinit_layers, 0);
  assert.equal(c.mixout, 0);
  assert.equal(c.llrd, 1);
  assert.equal(c.pretrained_weight_decay, 0);
  assert.equal(c.shuffle, true);
  assert.equal(c.seed, 0);
  assert.equal(c.num_evals, 10);
  assert.equal(c.task.split, 'standard');
});

test('unknown keys are rejected with their path, top level and nested', () => {
  rejects({ ...minimal, learning_rat: 1e-5 }, 'learning_rat', /unknown key/);
  rejects({ ...minimal, task: { name: 'rte', splitt: 'dev_halves' } }, 'task.splitt', /unknown key/);
});

test('bad values name their key', () => {
  rejects({ task: { name: 'rte' } }, 'model');
  rejects({ model: 'm' }, 'task');
  rejects({ ...minimal, batch_size: 0 }, 'batch_size');
  rejects({ ...minimal, batch_size: 2.5 }, 'batch_size');
  rejects({ ...minimal, learning_rate: -1 }, 'learning_rate');
  rejects({ ...minimal, learning_rate: '2e-5' }, 'learning_rate');
  rejects({ ...minimal, optimizer: 'sgd' }, 'optimizer');
  rejects({ ...minimal, warmup_ratio: 1.5 }, 'warmup_ratio');
  rejects({ ...minimal, mixout: 1 }, 'mixout');
  rejects({ ...minimal, llrd: 1.2 }, 'llrd');
  rejects({ ...minimal, max_steps: -3 }, 'max_steps');
  rejects({ ...minimal, seed: 2 ** 31 }, 'seed');
  rejects({ ...minimal, task: { name: 'glue' } }, 'task.name');
  rejects({ ...minimal, task: { name: 'rte', split: 'halves' } }, 'task.split');
  rejects({ ...minimal, mixout: 0.7, dropout: 0.1 }, 'dropout', /mixout replaces dropout/);
});

test('custom tasks need their files, columns and labels; presets refuse a format', () => {
  rejects({ ...minimal, task: {} }, 'task', /preset `name` or a custom `format`/);
  rejects({ ...minimal, task: { format: 'tsv', text_column: 's', label_column: 'l', labels: ['a', 'b'] } }, 'task.train');
  rejects({ ...minimal, task: { format: 'csv', train: 't.csv', text_column: 's', label_column: 'l' } }, 'task.labels');
  rejects({ ...minimal, task: { name: 'rte', format: 'tsv' } }, 'task.format');
  const ok = parseTrialConfig({
    ...minimal,
    task: { format: 'jsonl', train: 't.jsonl', text_column: 's', label_column: 'score', problem_type: 'regression' },
  });
  assert.equal(ok.task.format, 'jsonl');
});

test('adam_epsilon resolves per optimizer unless given', () => {
  assert.equal(resolveTrialConfig(parseTrialConfig(minimal)).adam_epsilon, 1e-8);
  assert.equal(resolveTrialConfig(parseTrialConfig({ ...minimal, optimizer: 'bertadam' })).adam_epsilon, 1e-6);
  assert.equal(resolveTrialConfig(parseTrialConfig({ ...minimal, optimizer: 'bertadam', adam_epsilon: 1e-8 })).adam_epsilon, 1e-8);
});

test('derived seeds are stable, distinct per stream, and explicit seeds never move the others', () => {
  const a = resolveTrialConfig(parseTrialConfig({ ...minimal, seed: 3 })).seeds;
  // Pinned values: these must never change, or `seed: 3` stops meaning the same run.
  assert.deepEqual(a, { seed: 3, init_seed: deriveSeed(3, 'init'), data_seed: deriveSeed(3, 'data'), dropout_seed: deriveSeed(3, 'dropout') });
  assert.deepEqual([deriveSeed(3, 'init'), deriveSeed(3, 'data'), deriveSeed(3, 'dropout')], PINNED_SEED_3);
  assert.equal(new Set([a.init_seed, a.data_seed, a.dropout_seed]).size, 3);
  const b = resolveTrialConfig(parseTrialConfig({ ...minimal, seed: 3, data_seed: 77 })).seeds;
  assert.equal(b.data_seed, 77);
  assert.equal(b.init_seed, a.init_seed);
  assert.equal(b.dropout_seed, a.dropout_seed);
  // Neighbouring seeds give unrelated streams.
  const c = resolveTrialConfig(parseTrialConfig({ ...minimal, seed: 4 })).seeds;
  assert.notEqual(c.init_seed, a.init_seed);
  for (const s of [a.init_seed, a.data_seed, a.dropout_seed]) assert.ok(Number.isInteger(s) && s >= 0 && s < 2 ** 31);
});

const PINNED_SEED_3 = [48156028, 2066910831, 1768126034];

test('a file that is not a mapping is rejected at the root', () => {
  for (const input of [null, [], 'model: x', 42]) rejects(input, '');
  assert.throws(() => parseTrialConfig([], 'trial.yaml'), /trial\.yaml: \(root\): /);
});
