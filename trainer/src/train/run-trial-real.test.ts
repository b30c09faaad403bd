// runTrial on the real things where this machine has them: the MLM-pretrained bert-tiny stand-in
// in the hub's layout (LayerNorm gamma/beta names, a cls.* pre-training head, no classifier) and
// the real RTE files, through the `rte` preset with the paper's 1k-style downsampling. Skipped with
// a reason on a fresh clone (the files live beside the repository, never in it). Runs on wasm, the
// backend these machines train on.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../backend/select-backend.ts';
import { parseTrialConfig } from '../config/trial-config.ts';
import { loadModel } from '../model/checkpoint.ts';
import { localTrialContext } from './local-context.ts';
import { runTrial } from './run-trial.ts';

const shared = fileURLToPath(new URL('../../../../shared/', import.meta.url));
const model = join(shared, 'models', 'bert-tiny-glue-mlm');
const rte = join(shared, 'data', 'glue', 'RTE');
const missing = [model, rte].filter((p) => !existsSync(p));

test('RTE with the pretrained bert-tiny stand-in: loads the hub layout, trains, evaluates, saves', { skip: missing.length > 0 ? `absent: ${missing.join(', ')}` : false }, async () => {
  const backend = await initBackend({ override: 'wasm' });
  const outDir = mkdtempSync(join(tmpdir(), 'ballast-rte-'));
  const config = parseTrialConfig({
    model,
    task: { name: 'rte', data_dir: rte, downsample: 32 },
    max_seq_length: 64,
    batch_size: 8,
    learning_rate: 1e-4,
    max_steps: 4,
    num_evals: 1,
    reinit_layers: 1,
  });
  const result = await runTrial(config, localTrialContext(), { outDir, backend });
  assert.equal(result.task.name, 'rte');
  assert.equal(result.task.num_train, 32);
  assert.equal(result.task.num_validation, 32);
  assert.equal(result.task.num_test, 277, 'with downsample the original dev set is the test set');
  assert.equal(result.steps_completed, 4);
  assert.ok(result.selected.test && typeof result.selected.test.accuracy === 'number');
  assert.equal(result.backend.name, 'wasm');
  const steps = readFileSync(join(outDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.type === 'step');
  assert.ok(steps.every((s) => Number.isFinite(s.loss) && Math.abs(s.loss - Math.log(2)) < 0.2), 'a fresh 2-class head starts near ln 2');
  // The saved checkpoint is in transformers' layout: bert.* + classifier.*, no pre-training head.
  const saved = loadModel(join(outDir, 'checkpoint'), { numLabels: 2, initSeed: 0 });
  assert.equal(saved.report.head, 'loaded');
  assert.deepEqual(saved.report.renamed, []);
  assert.deepEqual(saved.report.ignored, []);
  assert.ok(existsSync(join(outDir, 'checkpoint', 'vocab.txt')));
});
