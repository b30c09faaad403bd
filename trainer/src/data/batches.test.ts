import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { batchesPerEpoch, encodeSplit, epochOrder, evalBatches, exampleIds, makeBatch, trainBatchAt, trainBatches } from './batches.ts';
import type { Example } from './task-data.ts';
import { BertTokenizer } from './tokenizer.ts';

const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', 'b', 'c', 'd', 'e'];
const tok = BertTokenizer.fromVocab(VOCAB);
// [CLS]=2 [SEP]=3 [PAD]=0; a..e = 5..9
const pairs: Example[] = [
  { textA: 'a', textB: 'b c', label: 1, line: 1 },
  { textA: 'a b c d e a b', textB: 'c', label: 0, line: 2 },
  { textA: 'e', textB: 'zzz', label: 1, line: 3 },
];

describe('encodeSplit', () => {
  test('caches ids per example, truncates, counts truncations, keeps labels typed', () => {
    const split = encodeSplit(tok, pairs, 8, 'classification');
    assert.equal(split.size, 3);
    assert.deepEqual([...exampleIds(split, 0)], [2, 5, 3, 6, 7, 3]);
    assert.deepEqual([...split.segmentA], [3, 6, 3]);
    assert.deepEqual([...exampleIds(split, 1)], [2, 5, 6, 7, 8, 3, 7, 3]); // 7+1 -> 4+1
    assert.deepEqual([...exampleIds(split, 2)], [2, 9, 3, 1, 3]);
    assert.deepEqual([...split.offsets], [0, 6, 14, 19]);
    assert.equal(split.tokens, 19);
    assert.equal(split.truncated, 1);
    assert.equal(split.maxLength, 8);
    assert.ok(split.labels instanceof Int32Array);
    assert.deepEqual([...split.labels], [1, 0, 1]);
    const reg = encodeSplit(tok, [{ textA: 'a', label: 3.25, line: 1 }], 8, 'regression');
    assert.ok(reg.labels instanceof Float32Array);
    assert.equal(reg.labels[0], 3.25);
  });
});

describe('batches', () => {
  const split = encodeSplit(tok, pairs, 8, 'classification');

  test('padded to the longest sequence of the batch, with mask and token types', () => {
    const b = makeBatch(split, [2, 0]);
    assert.equal(b.size, 2);
    assert.equal(b.seqLength, 6);
    assert.deepEqual([...b.inputIds], [2, 9, 3, 1, 3, 0, /**/ 2, 5, 3, 6, 7, 3]);
    assert.deepEqual([...b.attentionMask], [1, 1, 1, 1, 1, 0, /**/ 1, 1, 1, 1, 1, 1]);
    assert.deepEqual([...b.tokenTypeIds], [0, 0, 0, 1, 1, 0, /**/ 0, 0, 0, 1, 1, 1]);
    assert.deepEqual([...b.labels], [1, 1]);
    assert.deepEqual([...b.indices], [2, 0]);
    assert.equal(makeBatch(split, [0, 1, 2]).seqLength, 8);
    assert.throws(() => makeBatch(split, [3]), /example 3 is outside the split/);
    // Single sentences: every position has token type 0.
    const single = encodeSplit(tok, [{ textA: 'a b', label: 0, line: 1 }, { textA: 'c', label: 1, line: 2 }], 8, 'classification');
    assert.deepEqual([...single.segmentA], [4, 3]);
    assert.deepEqual([...makeBatch(single, [0, 1]).tokenTypeIds], new Array(8).fill(0));
  });

  test('evaluation batches are in order, the last one short', () => {
    const batches = [...evalBatches(split, 2)];
    assert.deepEqual(batches.map((b) => [...b.indices]), [[0, 1], [2]]);
    assert.deepEqual(batches.map((b) => b.seqLength), [8, 5]);
  });

  test('epoch order is a pure function of (data_seed, epoch); no shuffle keeps file order', () => {
    assert.deepEqual(epochOrder(10, 5, 0, false), Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    assert.deepEqual(epochOrder(50, 5, 3, true), epochOrder(50, 5, 3, true));
    assert.notDeepEqual(epochOrder(50, 5, 3, true), epochOrder(50, 5, 4, true));
    assert.notDeepEqual(epochOrder(50, 5, 3, true), epochOrder(50, 6, 3, true));
    assert.deepEqual([...epochOrder(50, 5, 3, true)].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
    // Pinned, so a change of the order (which changes every trial's numbers) cannot pass unnoticed.
    assert.deepEqual([...epochOrder(8, 1, 0, true)], PINNED_ORDER_SEED1_EPOCH0);
  });

  test('training batches cover the epoch once; trainBatchAt resumes at any step', () => {
    const many: Example[] = Array.from({ length: 23 }, (_, i) => ({ textA: 'a b c'.slice(0, 1 + (i % 5)), label: i % 2, line: i + 1 }));
    const s = encodeSplit(tok, many, 16, 'classification');
    const options = { batchSize: 5, dataSeed: 9, shuffle: true };
    assert.equal(batchesPerEpoch(23, 5), 5);
    for (let epoch = 0; epoch < 3; epoch++) {
      const batches = [...trainBatches(s, { ...options, epoch })];
      assert.deepEqual(batches.map((b) => b.size), [5, 5, 5, 5, 3]);
      const seen = batches.flatMap((b) => [...b.indices]).sort((a, b) => a - b);
      assert.deepEqual(seen, Array.from({ length: 23 }, (_, i) => i));
      batches.forEach((b, k) => assert.deepEqual(trainBatchAt(s, epoch * 5 + k, options), b));
    }
  });
});

const PINNED_ORDER_SEED1_EPOCH0 = [1, 4, 3, 2, 7, 0, 5, 6];
