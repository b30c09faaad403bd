import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DataError } from './data-error.ts';
import { syntheticVocabText } from './synthetic-task.ts';
import { BertTokenizer, buildTokenizerJson, DEFAULT_SPECIAL_TOKENS, formatVocab, loadTokenizer, parseVocab, readVocab, tokenizerFromFiles } from './tokenizer.ts';

const SHARED = fileURLToPath(new URL('../../../../shared/data/', import.meta.url));
const VOCAB_FILE = join(SHARED, 'vocab-bert-base-uncased/vocab.txt');
const noShared = existsSync(VOCAB_FILE) ? false : `the real vocabulary is not at ${VOCAB_FILE} (../shared/data is absent on a fresh clone)`;

// Ids from testdata/bert_tokenizer_reference.py, an independent Python WordPiece (see its header).
interface Expected {
  handmade: { text: string; ids: number[] }[];
  real: { file: string; line: number; column: number; ids: number[] }[];
}
const expected = JSON.parse(readFileSync(new URL('./testdata/tokenizer-expected.json', import.meta.url), 'utf8')) as Expected;

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-tok-'));
  dirs.push(dir);
  return dir;
}
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

// A vocabulary small enough to check by hand: ids are line numbers.
const TINY = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'the', 'cat', 'sat', 'on', 'mat', '.', ',', 'un', '##believ', '##able', 'cafe', '##s', '!', 'hello', 'Hello'];
const id = (token: string) => TINY.indexOf(token);

describe('tokenizer on a tiny vocabulary', () => {
  const tok = BertTokenizer.fromVocab(TINY);

  test('special tokens come from the vocabulary by name', () => {
    assert.deepEqual(tok.specialIds, { cls: 2, sep: 3, pad: 0, unk: 1, mask: 4 });
    const shuffled = ['hello', '[SEP]', 'x', '[UNK]', '[PAD]', '[CLS]'];
    const t2 = BertTokenizer.fromVocab(shuffled);
    assert.deepEqual(t2.specialIds, { cls: 5, sep: 1, pad: 4, unk: 3, mask: undefined });
    assert.deepEqual(t2.encode('hello x', undefined, 16).inputIds, [5, 0, 2, 1]);
  });

  test('lowercases, strips accents, splits punctuation, WordPiece with ##', () => {
    assert.deepEqual(tok.tokenize('The CAT sat, on the mat.'), ['the', 'cat', 'sat', ',', 'on', 'the', 'mat', '.']);
    assert.deepEqual(tok.tokenize('Unbelievable CAFÉS!'), ['un', '##believ', '##able', 'cafe', '##s', '!']);
    assert.deepEqual(tok.tokenIds('unbelievable'), [id('un'), id('##believ'), id('##able')]);
  });

  test('an unknown word is one [UNK], whole, even when a prefix matches', () => {
    assert.deepEqual(tok.tokenize('the dog unbelievably'), ['the', '[UNK]', '[UNK]']);
  });

  test('cased vocabulary keeps case and accents when do_lower_case is false', () => {
    const cased = BertTokenizer.fromVocab(TINY, { doLowerCase: false });
    assert.deepEqual(cased.tokenize('Hello hello HELLO café'), ['Hello', 'hello', '[UNK]', '[UNK]']);
  });

  test('single: [CLS] a [SEP]; pair: [CLS] a [SEP] b [SEP] with token types 0/1', () => {
    const single = tok.encode('the cat', undefined, 128);
    assert.deepEqual(single.inputIds, [2, 5, 6, 3]);
    assert.deepEqual(single.tokenTypeIds, [0, 0, 0, 0]);
    assert.deepEqual(single.attentionMask, [1, 1, 1, 1]);
    const pair = tok.encode('the cat', 'sat on the mat', 128);
    assert.deepEqual(pair.inputIds, [2, 5, 6, 3, 7, 8, 5, 9, 3]);
    assert.deepEqual(pair.tokenTypeIds, [0, 0, 0, 0, 1, 1, 1, 1, 1]);
    assert.deepEqual(pair.attentionMask, new Array(9).fill(1));
    // An empty text still gets its special tokens.
    assert.deepEqual(tok.encode('', '', 8).inputIds, [2, 3, 3]);
  });

  test('single-sequence truncation keeps the first max_seq_length - 2 tokens', () => {
    assert.deepEqual(tok.encode('the cat sat on the mat', undefined, 5).inputIds, [2, 5, 6, 7, 3]);
    assert.deepEqual(tok.encode('the cat sat', undefined, 5).inputIds, [2, 5, 6, 7, 3]);
  });

  test('pair truncation removes one token at a time from the longer text, the second on ties', () => {
    // Reference: the paper's _truncate_seq_pair, written out here independently.
    const reference = (la: number, lb: number, budget: number): [number, number] => {
      while (la + lb > budget) {
        if (la > lb) la--;
        else lb--;
      }
      return [la, lb];
    };
    for (let la = 0; la <= 9; la++) {
      for (let lb = 0; lb <= 9; lb++) {
        for (let max = 3; max <= 14; max++) {
          const a = Array.from({ length: la }, (_, i) => 100 + i);
          const b = Array.from({ length: lb }, (_, i) => 200 + i);
          const out = tok.assemble(a, b, max);
          const [ka, kb] = reference(la, lb, max - 3);
          assert.deepEqual(out.inputIds, [2, ...a.slice(0, ka), 3, ...b.slice(0, kb), 3], `la=${la} lb=${lb} max=${max}`);
          assert.deepEqual(out.tokenTypeIds, [...new Array(ka + 2).fill(0), ...new Array(kb + 1).fill(1)]);
        }
      }
    }
    // Worked cases: 6+2 into 5 takes 3 from the first; 4+4 into 5 leaves 3+2 (the second shrinks first).
    assert.deepEqual(tok.assemble([1, 1, 1, 1, 1, 1], [7, 7], 8).inputIds, [2, 1, 1, 1, 3, 7, 7, 3]);
    assert.deepEqual(tok.assemble([1, 1, 1, 1], [7, 7, 7, 7], 8).inputIds, [2, 1, 1, 1, 3, 7, 7, 3]);
  });

  test('max_seq_length too small for the special tokens is an error', () => {
    assert.throws(() => tok.encode('the', 'cat', 2), /max_seq_length 2/);
    assert.throws(() => tok.encode('the', undefined, 1), /max_seq_length 1/);
    assert.deepEqual(tok.encode('the', 'cat', 3).inputIds, [2, 3, 3]);
  });

  test('vocabulary round-trips and decode skips special tokens', () => {
    assert.deepEqual(tok.vocabulary(), TINY);
    assert.equal(tok.vocabSize, TINY.length);
    assert.equal(tok.decode(tok.encode('the cat sat', 'on the mat', 32).inputIds), 'the cat sat on the mat');
  });

  test('a missing special token is an error naming the file and token', () => {
    assert.throws(
      () => BertTokenizer.fromVocab(['[PAD]', '[UNK]', '[CLS]', 'a'], { source: '/x/vocab.txt' }),
      (e: unknown) => e instanceof DataError && e.file === '/x/vocab.txt' && /sep token '\[SEP\]'/.test(e.message),
    );
  });
});

describe('loading a checkpoint directory', () => {
  test('vocab.txt + tokenizer_config.json (do_lower_case, renamed special tokens)', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'vocab.txt'), formatVocab(['<pad>', '<unk>', '<s>', '</s>', 'Hello', 'hello']));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: false, cls_token: '<s>', sep_token: '</s>', pad_token: { content: '<pad>' }, unk_token: '<unk>' }));
    const tok = loadTokenizer(dir);
    assert.deepEqual(tok.specialIds, { cls: 2, sep: 3, pad: 0, unk: 1, mask: undefined });
    assert.deepEqual(tok.encode('Hello hello HELLO', undefined, 16).inputIds, [2, 4, 5, 1, 3]);
  });

  test('vocab.txt alone is uncased (do_lower_case defaults to true); CRLF and a BOM are accepted', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'vocab.txt'), `\ufeff${TINY.join('\r\n')}\r\n`);
    const tok = loadTokenizer(dir);
    assert.deepEqual(tok.encode('Hello', undefined, 8).inputIds, [2, id('hello'), 3]);
  });

  test('tokenizer.json is preferred when present', () => {
    const dir = tempDir();
    const json = buildTokenizerJson(TINY, { doLowerCase: false, specialTokens: { ...DEFAULT_SPECIAL_TOKENS }, source: 'test' });
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
    writeFileSync(join(dir, 'vocab.txt'), formatVocab(['[PAD]', '[UNK]', '[CLS]', '[SEP]']));
    const tok = loadTokenizer(dir);
    assert.equal(tok.vocabSize, TINY.length);
    assert.deepEqual(tok.tokenize('Hello hello'), ['Hello', 'hello']);
  });

  test('errors name the directory or file', () => {
    const empty = tempDir();
    assert.throws(() => loadTokenizer(empty), (e: unknown) => e instanceof DataError && e.file === empty && /no tokenizer.json or vocab.txt/.test(e.message));
    const badJson = tempDir();
    writeFileSync(join(badJson, 'tokenizer.json'), '{"model": ');
    assert.throws(() => loadTokenizer(badJson), (e: unknown) => e instanceof DataError && e.file.endsWith('tokenizer.json'));
    const bpe = tempDir();
    writeFileSync(join(bpe, 'tokenizer.json'), JSON.stringify({ model: { type: 'BPE', vocab: {}, merges: [] } }));
    assert.throws(() => loadTokenizer(bpe), /expected a WordPiece \(BERT\) tokenizer, found model type 'BPE'/);
    const badConfig = tempDir();
    writeFileSync(join(badConfig, 'vocab.txt'), formatVocab(TINY));
    writeFileSync(join(badConfig, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: 'yes' }));
    assert.throws(() => loadTokenizer(badConfig), /do_lower_case/);
  });

  test('from files in memory (a builtin model has no directory)', () => {
    const files = new Map([
      ['vocab.txt', Buffer.from(syntheticVocabText())],
      ['tokenizer_config.json', Buffer.from('{"do_lower_case": true}')],
    ]);
    const tok = tokenizerFromFiles(files, 'builtin:quickstart-tiny');
    assert.deepEqual(tok.specialIds, { pad: 0, unk: 1, cls: 2, sep: 3, mask: 4 });
    assert.deepEqual(tok.tokenize('The movie was NOT good!'), ['the', 'movie', 'was', 'not', 'good', '!']);
    assert.throws(() => tokenizerFromFiles(new Map(), 'builtin:x'), (e: unknown) => e instanceof DataError && e.file === 'builtin:x');
  });

  test('a duplicated token in vocab.txt is an error naming its line', () => {
    assert.throws(() => parseVocab('[PAD]\na\nb\na\n', 'v.txt'), (e: unknown) => e instanceof DataError && e.line === 4 && /first on line 2/.test(e.message));
    assert.throws(() => parseVocab('', 'v.txt'), /empty/);
  });
});

describe('bert-base-uncased vocabulary', { skip: noShared }, () => {
  const tok = noShared ? undefined : BertTokenizer.fromVocab(readVocab(VOCAB_FILE), { source: VOCAB_FILE });

  test('special ids as in the hub: [PAD]=0 [UNK]=100 [CLS]=101 [SEP]=102 [MASK]=103', () => {
    assert.deepEqual(tok?.specialIds, { pad: 0, unk: 100, cls: 101, sep: 102, mask: 103 });
    assert.equal(tok?.vocabSize, 30522);
  });

  test('well-known ids', () => {
    // "hello , world !" in bert-base-uncased, as every BERT tutorial prints them.
    assert.deepEqual(tok?.encode('Hello, world!', undefined, 128).inputIds, [101, 7592, 1010, 2088, 999, 102]);
  });

  test('hand-made texts: accents, CJK, Cyrillic, Greek, emoji, control characters, long words', () => {
    assert.ok(expected.handmade.length >= 15);
    for (const { text, ids } of expected.handmade) {
      assert.deepEqual(tok?.tokenIds(text), ids, JSON.stringify(text));
    }
    // Spot checks of the fixture itself, so a broken generator cannot hide behind it.
    const byText = new Map(expected.handmade.map((h) => [h.text, h.ids]));
    assert.deepEqual(byText.get('x'.repeat(101)), [100]); // longer than max_input_chars_per_word
    assert.equal(byText.get('I ❤️ NLP 😀👍🏽 !!!')?.filter((i) => i === 100).length, 2); // emoji are unknown
    assert.deepEqual(byText.get('[CLS] literal [SEP] tokens [MASK] and [cls] lowercase')?.slice(0, 1), [101]);
  });

  test('real GLUE sentences (RTE, MRPC, CoLA, STS-B, SST-2)', () => {
    for (const { file, line, column, ids } of expected.real) {
      let text = readFileSync(join(SHARED, file), 'utf8');
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      const cell = text.split('\n')[line - 1]?.split('\t')[column];
      assert.ok(cell !== undefined, `${file}:${line}`);
      assert.deepEqual(tok?.tokenIds(cell), ids, `${file}:${line} column ${column}`);
    }
  });

  test('truncation of a real pair to 128 and to 16 tokens', () => {
    const row = expected.real.find((r) => r.file === 'glue/RTE/dev.tsv' && r.line === 246);
    assert.ok(row && tok);
    const premise = row.ids; // long premise
    const hypothesis = tok.tokenIds('Tata Steel bought Corus Group.');
    const out = tok.assemble(premise, hypothesis, 16);
    assert.equal(out.inputIds.length, 16);
    // The premise is longer: it is cut first, down to the hypothesis's length, then they alternate.
    const kb = Math.min(hypothesis.length, Math.floor(13 / 2));
    const ka = 13 - kb;
    assert.deepEqual(out.inputIds, [101, ...premise.slice(0, ka), 102, ...hypothesis.slice(0, kb), 102]);
    assert.equal(out.tokenTypeIds.filter((t) => t === 1).length, kb + 1);
    const full = tok.assemble(premise, hypothesis, 128);
    assert.equal(full.inputIds.length, Math.min(128, premise.length + hypothesis.length + 3));
  });
});
