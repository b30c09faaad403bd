// A complete tiny trial on disk for tests: a tiny Hugging Face checkpoint (hidden 32, 2 layers, the
// model module's builder) and a small custom jsonl task whose label a 2-layer BERT can learn (is the
// first letter of the sentence in the second half of the alphabet?). Runs in well under a second
// per few dozen updates on the cpu backend.
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

function sentences(rng: Rng, n: number): Array<{ text: string; label: string }> {
  return Array.from({ length: n }, () => {
    const len = 3 + rng.nextInt(8);
    const words = Array.from({ length: len }, () => LETTERS[rng.nextInt(26)] as string);
    return { text: words.join(' '), label: (words[0] as string) >= 'n' ? 'late' : 'early' };
  });
}

export function writeTinyTrial(root: string, options: { numTrain?: number; numEval?: number; seed?: number } = {}): TinyTrialFiles {
  mkdirSync(root, { recursive: true });
  const checkpoint = join(root, 'tiny-bert');
  writeTinyCheckpoint(checkpoint, { seed: options.seed ?? 1, numLabels: 2 });
  const rng = new Rng(options.seed ?? 1);
  const write = (name: string, rows: Array<{ text: string; label: string }>) =>
    writeFileSync(join(root, name), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  write('train.jsonl', sentences(rng, options.numTrain ?? 48));
  write('validation.jsonl', sentences(rng, options.numEval ?? 24));
  write('test.jsonl', sentences(rng, options.numEval ?? 24));
  return {
    root,
    checkpoint,
    config: {
      model: 'tiny-bert',
      task: { format: 'jsonl', train: 'train.jsonl', validation: 'validation.jsonl', test: 'test.jsonl', text_column: 'text', label_column: 'label', labels: ['early', 'late'] },
      max_seq_length: 16,
      batch_size: 8,
      learning_rate: 1e-3,
      max_steps: 12,
      num_evals: 3,
      dropout: 0,
    },
  };
}
