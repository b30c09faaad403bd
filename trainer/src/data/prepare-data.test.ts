import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { TaskConfigSchema } from '../config/trial-config.ts';
import { DataError } from './data-error.ts';
import { loadTask } from './load-task.ts';
import { prepareData } from './prepare-data.ts';
import { SYNTHETIC_PRESET, SYNTHETIC_VOCAB } from './synthetic-task.ts';
import { BertTokenizer } from './tokenizer.ts';

const root = mkdtempSync(join(tmpdir(), 'ballast-prep-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('prepareData', () => {
  const tokenizer = BertTokenizer.fromVocab(SYNTHETIC_VOCAB);

  test('synthetic: encoded splits, sizes, a majority baseline near one half', () => {
    const data = prepareData(loadTask(TaskConfigSchema.parse({ name: 'synthetic' }), { root }), tokenizer, { maxSeqLength: 32 });
    assert.equal(data.train.size, SYNTHETIC_PRESET.train);
    assert.equal(data.validation.size, SYNTHETIC_PRESET.validation);
    assert.equal(data.test?.size, SYNTHETIC_PRESET.test);
    assert.equal(data.train.truncated, 0);
    assert.ok(data.majorityBaseline !== undefined && data.majorityBaseline > 0.4 && data.majorityBaseline < 0.6);
    const ones = Array.from(data.validation.labels).reduce((n, l) => n + l, 0);
    const majority = Array.from(data.train.labels).reduce((n, l) => n + l, 0) * 2 >= data.train.size ? 1 : 0;
    assert.equal(data.majorityBaseline, (majority === 1 ? ones : data.validation.size - ones) / data.validation.size);
  });

  test('an empty split is a DataError naming the file', () => {
    writeFileSync(join(root, 'train.tsv'), 'text\tlabel\na\t1\nb\t0\n');
    writeFileSync(join(root, 'dev.tsv'), 'text\tlabel\n');
    const task = TaskConfigSchema.parse({ format: 'tsv', train: 'train.tsv', validation: 'dev.tsv', text_column: 'text', label_column: 'label', labels: ['0', '1'] });
    assert.throws(() => prepareData(loadTask(task, { root }), tokenizer, { maxSeqLength: 16 }), (e: unknown) => e instanceof DataError && e.file === join(root, 'dev.tsv') && /validation split has no examples/.test(e.message));
  });

  test('regression has no majority baseline', () => {
    writeFileSync(join(root, 'r.jsonl'), '{"t": "good", "s": 1.0}\n{"t": "bad", "s": 0.0}\n');
    const task = TaskConfigSchema.parse({ format: 'jsonl', train: 'r.jsonl', validation: 'r.jsonl', text_column: 't', label_column: 's', problem_type: 'regression' });
    const data = prepareData(loadTask(task, { root }), tokenizer, { maxSeqLength: 16 });
    assert.equal(data.majorityBaseline, undefined);
    assert.ok(data.train.labels instanceof Float32Array);
  });
});
