// A complete tiny trial on disk for tests: a tiny Hugging Face checkpoint (hidden 32, 2 layers, the
// model module's builder) and a small custom jsonl task whose label a 2-layer BERT can learn: is the
// first letter of the sentence in the second half of the alphabet (classification), or the share
// of such letters in the sentence, times 5 (regression, an STS-B-like score).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TrialConfigInput } from '../config/trial-config.ts';
import { writeTinyCheckpoint } from '../model/tiny-checkpoint.ts';
import { Rng } from '../util/rng.ts';

export interface TinyTrialFiles {
  root: string;
  checkpoint: string;
  /** A trial config (input form) for this task and checkpoint; spread overrides over it. */
  config: TrialConfigInput;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

interface Row {
  text: string;
  label: string;
  score: number;
}

function sentences(rng: Rng, n: number): Row[] {
  return Array.from({ length: n }, () => {
    const len = 3 + rng.nextInt(8);
    const words = Array.from({ length: len }, () => LETTERS[rng.nextInt(26)] as string);
    const late = words.filter((w) => w >= 'n').length;
    return { text: words.join(' '), label: (words[0] as string) >= 'n' ? 'late' : 'early', score: Math.round((5000 * late) / len) / 1000 };
  });
}

export interface TinyTrialOptions {
  numTrain?: number;
  numEval?: number;
  seed?: number;
  problemType?: 'classification' | 'regression';
}

export function writeTinyTrial(root: string, options: TinyTrialOptions = {}): TinyTrialFiles {
  mkdirSync(root, { recursive: true });
  const regression = options.problemType === 'regression';
  const checkpoint = join(root, 'tiny-bert');
  writeTinyCheckpoint(checkpoint, { seed: options.seed ?? 1, numLabels: regression ? 1 : 2 });
  const rng = new Rng(options.seed ?? 1);
  const write = (name: string, rows: Row[]) => writeFileSync(join(root, name), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  write('train.jsonl', sentences(rng, options.numTrain ?? 48));
  write('validation.jsonl', sentences(rng, options.numEval ?? 24));
  write('test.jsonl', sentences(rng, options.numEval ?? 24));
  return {
    root,
    checkpoint,
    config: {
      model: 'tiny-bert',
      task: {
        format: 'jsonl',
        train: 'train.jsonl',
        validation: 'validation.jsonl',
        test: 'test.jsonl',
        text_column: 'text',
        ...(regression ? { label_column: 'score', problem_type: 'regression' } : { label_column: 'label', labels: ['early', 'late'] }),
      },
      max_seq_length: 16,
      batch_size: 8,
      learning_rate: 1e-3,
      max_steps: 12,
      num_evals: 3,
      dropout: 0,
    },
  };
}
