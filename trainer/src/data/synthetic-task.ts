// A small generated sentiment task for the offline quickstart (no hub, no GLUE files) and for
// tests that need a task a tiny BERT can actually learn. Sentences are review-like:
//
//   [filler ,] clause [(but | and) clause] (. | !)
//   clause = subject verb [not | never] [intensifier] adjective
//
// A clause's polarity is its adjective's, flipped by a negation; with `but` the second clause
// decides the label, with `and` both clauses agree. Counting positive against negative adjectives
// gets 58% right, and also flipping on any negation 83% (measured on 3000 examples): word counts
// cannot see which adjective a `not` belongs to, nor which side of `but` it stands. A small BERT
// can, because the rule is local and ordered: `builtin:quickstart-tiny` (batch 32, seed 1, wasm)
// reached 0.82 validation accuracy after 300 updates at lr 1e-3, and 0.91 after 400 and 0.97
// after 1000 updates at lr 2e-3.
//
// The vocabulary below is the vocabulary of `builtin:quickstart-tiny` (trainer/src/model/); its
// order is a contract: changing it changes every token id of the quickstart model.
import { Rng } from '../util/rng.ts';
import type { Example, Split, TaskSpec } from './task-data.ts';

const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;
const PUNCTUATION = ['.', ',', '!'] as const;
const SUBJECTS = [['the', 'movie'], ['the', 'film'], ['the', 'story'], ['the', 'acting'], ['the', 'plot'], ['the', 'music'], ['the', 'ending'], ['the', 'cast'], ['this', 'show'], ['the', 'script']] as const;
const VERBS = ['is', 'was', 'seems', 'felt', 'looks'] as const;
const NEGATIONS = ['not', 'never'] as const;
const INTENSIFIERS = ['very', 'really', 'quite', 'truly', 'so', 'rather'] as const;
const POSITIVE = ['good', 'great', 'wonderful', 'brilliant', 'charming', 'fun', 'moving', 'clever', 'beautiful', 'delightful'] as const;
const NEGATIVE = ['bad', 'awful', 'boring', 'dull', 'terrible', 'weak', 'messy', 'tedious', 'bland', 'poor'] as const;
const FILLERS = [['honestly'], ['overall'], ['i', 'think'], ['to', 'me'], ['in', 'the', 'end']] as const;
const CONJUNCTIONS = ['but', 'and'] as const;

function uniqueInOrder(words: readonly string[]): string[] {
  return [...new Set(words)];
}

/** The vocabulary in id order ([PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3, [MASK]=4, then words). */
export const SYNTHETIC_VOCAB: readonly string[] = Object.freeze(
  uniqueInOrder([
    ...SPECIALS,
    ...PUNCTUATION,
    ...SUBJECTS.flat(),
    ...VERBS,
    ...NEGATIONS,
    ...INTENSIFIERS,
    ...POSITIVE,
    ...NEGATIVE,
    ...FILLERS.flat(),
    ...CONJUNCTIONS,
  ]),
);

/** `vocab.txt` content for the synthetic vocabulary. */
export function syntheticVocabText(): string {
  return `${SYNTHETIC_VOCAB.join('\n')}\n`;
}

/** Longest sentence the generator makes, in tokens including [CLS] and [SEP]. */
export const SYNTHETIC_MAX_TOKENS = 2 + 3 + 1 + 2 * 6 + 1 + 1; // filler+comma, two clauses, conjunction, end mark

/** The seed and sizes of the preset `synthetic`: fixed, so every trial sees the same task. */
export const SYNTHETIC_PRESET = { seed: 20210113, train: 2000, validation: 500, test: 500 } as const;

export const SYNTHETIC_LABELS = ['negative', 'positive'] as const;

export function syntheticTaskSpec(): TaskSpec {
  return {
    name: 'synthetic',
    problemType: 'classification',
    labels: SYNTHETIC_LABELS,
    numLabels: 2,
    metrics: ['accuracy'],
    metric: 'accuracy',
    selectionMetric: 'accuracy',
  };
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.nextInt(items.length)] as T;
}

/** One clause with the given polarity (1 positive, 0 negative). */
function clause(rng: Rng, polarity: number): string[] {
  const words: string[] = [...pick(rng, SUBJECTS), pick(rng, VERBS)];
  const negated = rng.nextFloat() < 0.4;
  if (negated) words.push(pick(rng, NEGATIONS));
  if (rng.nextFloat() < 0.4) words.push(pick(rng, INTENSIFIERS));
  const adjectivePositive = negated ? 1 - polarity : polarity;
  words.push(pick(rng, adjectivePositive ? POSITIVE : NEGATIVE));
  return words;
}

/** One sentence and its label (0 negative, 1 positive). */
export function syntheticSentence(rng: Rng): { text: string; label: number } {
  const label = rng.nextInt(2);
  const words: string[] = [];
  if (rng.nextFloat() < 0.25) words.push(...pick(rng, FILLERS), ',');
  const shape = rng.nextFloat();
  if (shape < 0.3) {
    // "but": the first clause is free and usually contrary, the second decides.
    words.push(...clause(rng, rng.nextFloat() < 0.8 ? 1 - label : label), 'but', ...clause(rng, label));
  } else if (shape < 0.45) {
    words.push(...clause(rng, label), 'and', ...clause(rng, label));
  } else {
    words.push(...clause(rng, label));
  }
  words.push(rng.nextFloat() < 0.8 ? '.' : '!');
  return { text: words.join(' '), label };
}

export interface SyntheticSizes {
  train: number;
  validation: number;
  test: number;
}

export interface SyntheticTask {
  train: Split;
  validation: Split;
  test: Split;
}

/** Deterministic in `seed`; each split has its own stream, so sizes do not move other splits. */
export function generateSyntheticTask(seed: number, sizes: SyntheticSizes): SyntheticTask {
  const make = (name: keyof SyntheticSizes): Split => {
    const rng = Rng.derive(seed, `synthetic:${name}`);
    const examples: Example[] = [];
    for (let i = 0; i < sizes[name]; i++) {
      const { text, label } = syntheticSentence(rng);
      examples.push({ textA: text, label, line: 0 });
    }
    return { examples, source: `generated (synthetic ${name}, seed ${seed})` };
  };
  return { train: make('train'), validation: make('validation'), test: make('test') };
}
