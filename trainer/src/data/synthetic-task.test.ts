import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { generateSyntheticTask, SYNTHETIC_MAX_TOKENS, SYNTHETIC_VOCAB, syntheticVocabText } from './synthetic-task.ts';
import { BertTokenizer, parseVocab } from './tokenizer.ts';

const POSITIVE = new Set(['good', 'great', 'wonderful', 'brilliant', 'charming', 'fun', 'moving', 'clever', 'beautiful', 'delightful']);
const NEGATIVE = new Set(['bad', 'awful', 'boring', 'dull', 'terrible', 'weak', 'messy', 'tedious', 'bland', 'poor']);

/** The task's rule, written independently: the last clause decides (after `but`, or either of an `and`); `not`/`never` flip. */
function ruleLabel(text: string): number {
  const words = text.split(' ');
  const lastJoin = Math.max(words.lastIndexOf('but'), words.lastIndexOf('and'));
  const clause = words.slice(lastJoin + 1);
  const adjective = clause.find((w) => POSITIVE.has(w) || NEGATIVE.has(w));
  assert.ok(adjective, text);
  const negated = clause.includes('not') || clause.includes('never');
  return (POSITIVE.has(adjective) ? 1 : 0) ^ (negated ? 1 : 0);
}

describe('synthetic task', () => {
  const task = generateSyntheticTask(11, { train: 3000, validation: 200, test: 200 });

  test('vocabulary: BERT specials first, then every generated word exactly once', () => {
    assert.deepEqual(SYNTHETIC_VOCAB.slice(0, 5), ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
    assert.deepEqual(parseVocab(syntheticVocabText(), 'synthetic'), [...SYNTHETIC_VOCAB]);
    assert.equal(new Set(SYNTHETIC_VOCAB).size, SYNTHETIC_VOCAB.length);
    // Pinned size: the quickstart model's embedding matrix depends on it.
    assert.equal(SYNTHETIC_VOCAB.length, 63);
    const tok = BertTokenizer.fromVocab(SYNTHETIC_VOCAB);
    let longest = 0;
    for (const e of task.train.examples) {
      const ids = tok.encode(e.textA, undefined, 512).inputIds;
      assert.ok(!ids.includes(tok.specialIds.unk), e.textA);
      longest = Math.max(longest, ids.length);
    }
    assert.ok(longest <= SYNTHETIC_MAX_TOKENS, `${longest} > ${SYNTHETIC_MAX_TOKENS}`);
    assert.ok(longest >= SYNTHETIC_MAX_TOKENS - 3);
  });

  test('labels follow the rule, are balanced, and need more than word counting', () => {
    const examples = task.train.examples;
    for (const e of examples) assert.equal(e.label, ruleLabel(e.textA), e.textA);
    const positives = examples.filter((e) => e.label === 1).length / examples.length;
    assert.ok(positives > 0.45 && positives < 0.55, `positive share ${positives}`);
    // A negation-blind reader (majority polarity of the adjectives) is far from perfect.
    let blind = 0;
    for (const e of examples) {
      const words = e.textA.split(' ');
      const score = words.filter((w) => POSITIVE.has(w)).length - words.filter((w) => NEGATIVE.has(w)).length;
      if ((score > 0 ? 1 : 0) === e.label) blind++;
    }
    assert.ok(blind / examples.length < 0.65, `negation-blind accuracy ${blind / examples.length}`);
    assert.ok(examples.some((e) => e.textA.includes(' but ')) && examples.some((e) => e.textA.includes(' not ')));
  });

  test('deterministic in the seed, and sizes do not move other splits', () => {
    assert.deepEqual(generateSyntheticTask(11, { train: 3000, validation: 200, test: 200 }), task);
    const other = generateSyntheticTask(11, { train: 10, validation: 200, test: 5 });
    assert.deepEqual(other.validation, task.validation);
    assert.deepEqual(other.train.examples, task.train.examples.slice(0, 10));
    assert.notDeepEqual(generateSyntheticTask(12, { train: 10, validation: 0, test: 0 }).train.examples, other.train.examples);
  });
});
