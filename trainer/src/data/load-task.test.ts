import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, TaskConfigSchema, type TaskConfig } from '../config/trial-config.ts';
import { DataError } from './data-error.ts';
import { loadTask } from './load-task.ts';
import { SYNTHETIC_PRESET } from './synthetic-task.ts';

const root = mkdtempSync(join(tmpdir(), 'ballast-custom-'));
after(() => rmSync(root, { recursive: true, force: true }));
const write = (name: string, text: string) => writeFileSync(join(root, name), text);
const task = (input: Record<string, unknown>): TaskConfig => TaskConfigSchema.parse(input);

write('train.csv', 'review,verdict\n"Great, really ""great""",pos\n"bad\nthen worse",neg\nfine,pos\nmeh,neg\n');
write('val.csv', 'review,verdict\nok,pos\n');
write('test.csv', 'review,verdict\nno,neg\n');
write('train.jsonl', '{"q": "a?", "p": "b.", "score": 1.5}\n{"q": "c?", "p": "d.", "score": 4}\n');
write('val.jsonl', '{"q": "e?", "p": "f.", "score": 0}\n');
write('pairs.tsv', 'id\ts1\ts2\tlab\n1\tA\tB\tyes\n2\tC\tD\tno\n');

describe('custom tasks', () => {
  test('csv with quoted fields, labels in id order, test file', () => {
    const data = loadTask(task({ format: 'csv', train: 'train.csv', validation: 'val.csv', test: 'test.csv', text_column: 'review', label_column: 'verdict', labels: ['neg', 'pos'] }), { root });
    assert.deepEqual(data.train.examples, [
      { textA: 'Great, really "great"', label: 1, line: 2 },
      { textA: 'bad\nthen worse', label: 0, line: 3 },
      { textA: 'fine', label: 1, line: 5 },
      { textA: 'meh', label: 0, line: 6 },
    ]);
    assert.deepEqual(data.validation.examples, [{ textA: 'ok', label: 1, line: 2 }]);
    assert.deepEqual(data.test?.examples, [{ textA: 'no', label: 0, line: 2 }]);
    assert.deepEqual(data.spec, {
      name: 'custom', problemType: 'classification', labels: ['neg', 'pos'], numLabels: 2,
      metrics: ['accuracy', 'f1', 'mcc'], metric: 'accuracy', selectionMetric: 'accuracy',
    });
  });

  test('jsonl regression with a text pair; numbers as scores', () => {
    const data = loadTask(task({ format: 'jsonl', train: join(root, 'train.jsonl'), validation: 'val.jsonl', text_column: 'q', text_pair_column: 'p', label_column: 'score', problem_type: 'regression' }), { root });
    assert.deepEqual(data.train.examples.map((e) => [e.textA, e.textB, e.label]), [['a?', 'b.', 1.5], ['c?', 'd.', 4]]);
    assert.equal(data.spec.numLabels, 1);
    assert.equal(data.spec.selectionMetric, 'spearman');
    assert.equal(data.test, undefined);
  });

  test('tsv pair task with dev_halves on the validation file', () => {
    const data = loadTask(task({ format: 'tsv', train: 'pairs.tsv', validation: 'pairs.tsv', text_column: 's1', text_pair_column: 's2', label_column: 'lab', labels: ['no', 'yes'], split: 'dev_halves' }), { root });
    assert.equal(data.validation.examples.length + (data.test?.examples.length ?? 0), 2);
    assert.equal(data.validation.examples.length, 1);
  });

  test('bad rows and bad columns are DataErrors naming file and line', () => {
    write('bad.csv', 'review,verdict\nok,pos\nhmm,maybe\n');
    assert.throws(
      () => loadTask(task({ format: 'csv', train: 'bad.csv', validation: 'val.csv', text_column: 'review', label_column: 'verdict', labels: ['neg', 'pos'] }), { root }),
      (e: unknown) => e instanceof DataError && e.file === join(root, 'bad.csv') && e.line === 3 && /"maybe"/.test(e.message),
    );
    assert.throws(
      () => loadTask(task({ format: 'csv', train: 'train.csv', validation: 'val.csv', text_column: 'text', label_column: 'verdict', labels: ['neg', 'pos'] }), { root }),
      (e: unknown) => e instanceof DataError && /no column 'text' \(columns: review, verdict\)/.test(e.message),
    );
    write('badtext.jsonl', '{"q": "a", "p": "b", "score": 1}\n{"q": 5, "p": "b", "score": 1}\n');
    assert.throws(
      () => loadTask(task({ format: 'jsonl', train: 'badtext.jsonl', validation: 'val.jsonl', text_column: 'q', label_column: 'score', problem_type: 'regression' }), { root }),
      (e: unknown) => e instanceof DataError && e.line === 2 && /column 'q' should be text/.test(e.message),
    );
    write('badscore.jsonl', '{"q": "a", "score": "1.5x"}\n');
    assert.throws(
      () => loadTask(task({ format: 'jsonl', train: 'badscore.jsonl', validation: 'val.jsonl', text_column: 'q', label_column: 'score', problem_type: 'regression' }), { root }),
      /badscore.jsonl:1: score "1.5x"/,
    );
  });

  test('config mistakes are ConfigErrors naming the key', () => {
    const base = { format: 'csv', train: 'train.csv', text_column: 'review', label_column: 'verdict', labels: ['neg', 'pos'] };
    assert.throws(() => loadTask(task(base), { root }), (e: unknown) => e instanceof ConfigError && e.path === 'task.validation');
    assert.throws(() => loadTask(task({ ...base, validation: 'val.csv', labels: ['pos', 'pos'] }), { root }), (e: unknown) => e instanceof ConfigError && e.path === 'task.labels');
    assert.throws(() => loadTask(task({ ...base, validation: 'val.csv', downsample: 2, split: 'dev_halves' }), { root }), (e: unknown) => e instanceof ConfigError && e.path === 'task.split');
    assert.throws(() => loadTask(task({ ...base, validation: 'val.csv', test: 'test.csv', downsample: 2 }), { root }), (e: unknown) => e instanceof ConfigError && e.path === 'task.test');
    assert.throws(() => loadTask(task({ format: 'jsonl', train: 'train.jsonl', validation: 'val.jsonl', text_column: 'q', label_column: 'score', problem_type: 'regression', labels: ['a', 'b'] }), { root }), (e: unknown) => e instanceof ConfigError && e.path === 'task.labels');
  });

  test('downsample without a validation file holds validation out of train', () => {
    const data = loadTask(task({ format: 'csv', train: 'train.csv', text_column: 'review', label_column: 'verdict', labels: ['neg', 'pos'], downsample: 2 }), { root });
    assert.equal(data.train.examples.length, 2);
    assert.equal(data.validation.examples.length, 2);
    assert.equal(data.test, undefined);
  });
});

describe('synthetic preset', () => {
  test('generated splits of the preset sizes, accuracy as metric, identical on every load', () => {
    const a = loadTask(task({ name: 'synthetic' }), { root: '/nonexistent' });
    assert.equal(a.train.examples.length, SYNTHETIC_PRESET.train);
    assert.equal(a.validation.examples.length, SYNTHETIC_PRESET.validation);
    assert.equal(a.test?.examples.length, SYNTHETIC_PRESET.test);
    assert.equal(a.spec.metric, 'accuracy');
    assert.deepEqual(loadTask(task({ name: 'synthetic' }), { root: '/elsewhere' }), a);
  });
});
