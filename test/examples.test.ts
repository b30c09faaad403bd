// Every experiment spec under examples/ parses and expands as the coordinator would take it, so
// a key the trainer does not know fails here rather than on a cluster. The paper's specs are
// checked against the protocol they claim (bert-large-uncased, the four tasks, dev halves, 20 seeds).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expandExperiment, parseExperimentSpecText } from '../coordinator/src/spec/experiment-spec.ts';

const examples = fileURLToPath(new URL('../examples/', import.meta.url));

function specFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? specFiles(join(dir, entry.name)) : /\.(ya?ml|json)$/.test(entry.name) ? [join(dir, entry.name)] : [],
  );
}

const expected: Record<string, number> = {
  'quickstart.yaml': 6,
  'paper/standard.yaml': 160,
  'paper/reinit.yaml': 560,
  'paper/longer.yaml': 400,
  'paper/mixout.yaml': 400,
  'paper/llrd.yaml': 160,
  'paper/pretrained-wd.yaml': 320,
  'paper/intermediate-mnli.yaml': 1,
  'paper/intermediate-task.yaml': 80,
};

test('every example spec is valid and expands to the trials it promises', () => {
  const files = specFiles(examples);
  assert.deepEqual(files.map((f) => f.slice(examples.length)).sort(), Object.keys(expected).sort());
  for (const file of files) {
    const name = file.slice(examples.length);
    const trials = expandExperiment(parseExperimentSpecText(readFileSync(file, 'utf8'), name));
    assert.equal(trials.length, expected[name], name);
  }
});

test('the paper specs follow the paper protocol', () => {
  for (const file of specFiles(join(examples, 'paper'))) {
    const name = file.slice(examples.length);
    const trials = expandExperiment(parseExperimentSpecText(readFileSync(file, 'utf8'), name));
    for (const trial of trials) {
      const c = trial.config;
      assert.equal(c.model, 'bert-large-uncased', name);
      assert.equal(c.learning_rate, 2e-5, name);
      assert.equal(c.batch_size, 16, name);
      assert.equal(c.warmup_ratio, 0.1, name);
      assert.equal(c.max_seq_length, 128, name);
      assert.equal(c.num_evals, 10, name);
      if (name.endsWith('intermediate-mnli.yaml')) continue;
      assert.equal(c.task.split, 'dev_halves', name);
      assert.ok(['rte', 'mrpc', 'sts-b', 'cola'].includes(c.task.name!), name);
    }
    if (!name.endsWith('intermediate-mnli.yaml')) {
      const seeds = new Set(trials.map((t) => t.config.seed));
      assert.equal(seeds.size, 20, `${name}: 20 seeds`);
    }
  }
});
