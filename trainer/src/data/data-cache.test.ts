import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { TaskConfigSchema } from '../config/trial-config.ts';
import { DataCache } from './data-cache.ts';
import { SYNTHETIC_VOCAB } from './synthetic-task.ts';
import { BertTokenizer } from './tokenizer.ts';

const root = mkdtempSync(join(tmpdir(), 'ballast-cache-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('DataCache', () => {
  const tokenizer = BertTokenizer.fromVocab(SYNTHETIC_VOCAB);
  const synthetic = TaskConfigSchema.parse({ name: 'synthetic' });

  test('the same task config loads once; another config loads again', () => {
    const cache = new DataCache();
    const a = cache.loadTask(synthetic, root);
    assert.equal(cache.loadTask(TaskConfigSchema.parse({ name: 'synthetic' }), root), a);
    const other = cache.loadTask(TaskConfigSchema.parse({ name: 'synthetic', split_seed: 7 }), root);
    assert.notEqual(other, a);
    assert.notEqual(cache.loadTask(synthetic, root), a, 'one entry: the first task was replaced');
  });

  test('the encoding is reused for the same task, tokenizer and length, and redone otherwise', () => {
    const cache = new DataCache();
    const task = cache.loadTask(synthetic, root);
    const p = cache.prepare(task, tokenizer, 'builtin:quickstart-tiny', 32);
    assert.equal(cache.prepare(task, tokenizer, 'builtin:quickstart-tiny', 32), p);
    const shorter = cache.prepare(task, tokenizer, 'builtin:quickstart-tiny', 8);
    assert.notEqual(shorter, p);
    assert.ok(shorter.train.truncated > 0, 'a different max_seq_length really re-encodes');
    assert.notEqual(cache.prepare(task, tokenizer, '/models/other', 8), shorter);
    const reloaded = cache.loadTask(TaskConfigSchema.parse({ name: 'synthetic', split_seed: 3 }), root);
    assert.notEqual(cache.prepare(reloaded, tokenizer, '/models/other', 8).task, task);
  });
});
