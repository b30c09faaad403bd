import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { UsageError } from '../../../cli/main.ts';
import { ConfigError } from '../config/trial-config.ts';
import { parseTrialText, readTrialFile } from './read-trial-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'ballast-trial-'));

test('YAML and JSON trial files parse, with defaults applied', () => {
  const yamlPath = join(dir, 't.yaml');
  writeFileSync(yamlPath, 'model: builtin:tiny\ntask:\n  name: rte\n  split: dev_halves\noptimizer: bertadam\nlearning_rate: 1.0e-5\n');
  const c = readTrialFile(yamlPath);
  assert.equal(c.optimizer, 'bertadam');
  assert.equal(c.learning_rate, 1e-5);
  assert.equal(c.task.split, 'dev_halves');
  assert.equal(c.batch_size, 32);
  const jsonPath = join(dir, 't.json');
  writeFileSync(jsonPath, JSON.stringify({ model: 'm', task: { name: 'mrpc' }, max_steps: 5 }));
  assert.equal(readTrialFile(jsonPath).max_steps, 5);
});

test('a missing file, a directory, bad YAML and a repeated key are usage errors naming file and line', () => {
  assert.throws(() => readTrialFile(join(dir, 'nope.yaml')), (e: unknown) => e instanceof UsageError && /nope\.yaml: no such file/.test(e.message));
  assert.throws(() => readTrialFile(dir), (e: unknown) => e instanceof UsageError && /is a directory/.test(e.message));
  assert.throws(
    () => parseTrialText('model: m\ntask:\n  name: rte\n   split: x\n', 'bad.yaml'),
    (e: unknown) => e instanceof UsageError && /^bad\.yaml:[34]:\d+: Nested mappings/.test(e.message),
  );
  assert.throws(
    () => parseTrialText('model: m\ntask: {name: rte}\nmodel: n\n', 'dup.yaml'),
    (e: unknown) => e instanceof UsageError && /^dup\.yaml:3:\d+: .*[Mm]ap keys must be unique/.test(e.message),
  );
});

test('content errors are ConfigErrors naming the key path and the file', () => {
  assert.throws(
    () => parseTrialText('model: m\ntask:\n  name: rte\n  labl_column: x\n', 'trial.yaml'),
    (e: unknown) => e instanceof ConfigError && e.message === 'trial.yaml: task.labl_column: unknown key',
  );
  assert.throws(() => parseTrialText('', 'empty.yaml'), (e: unknown) => e instanceof ConfigError && /^empty\.yaml: \(root\)/.test(e.message));
});
