import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { parseTrialConfig, type TrialConfigInput } from '../config/trial-config.ts';
import { loadModel } from '../model/checkpoint.ts';
import { reinitWeights } from '../model/reinit.ts';
import { DataCache } from '../data/data-cache.ts';
import { localTrialContext } from './local-context.ts';
import { paramSpecs, runTrial } from './run-trial.ts';
import { BertForSequenceClassification } from '../model/bert-model.ts';
import { tinyConfig, tinyWeights } from '../model/tiny-checkpoint.ts';
import { writeTinyTrial } from './tiny-trial.ts';
import { TrialCancelledError } from './trial-context.ts';
import type { TrialProgress, TrialResult } from './trial-result.ts';

await tf.setBackend('cpu');
const tmp = mkdtempSync(join(tmpdir(), 'ballast-run-trial-'));
const tiny = writeTinyTrial(join(tmp, 'data'));
let runs = 0;

async function run(overrides: Partial<TrialConfigInput> = {}, extra: { signal?: AbortSignal; onProgress?: (p: TrialProgress) => void; dataCache?: DataCache } = {}) {
  const outDir = join(tmp, `out-${runs++}`);
  const config = parseTrialConfig({ ...tiny.config, ...overrides });
  const result = await runTrial(config, localTrialContext(extra), { outDir, dataRoot: tiny.root, ...(extra.dataCache ? { dataCache: extra.dataCache } : {}) });
  const lines = readFileSync(join(outDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  return { result, outDir, steps: lines.filter((l) => l.type === 'step'), evalLines: lines.filter((l) => l.type === 'eval') };
}

test('a trial writes metrics.jsonl, result.json and the selected checkpoint', async () => {
  const { result, outDir, steps, evalLines } = await run();
  assert.equal(result.total_steps, 12);
  assert.equal(result.steps_completed, 12);
  assert.deepEqual(steps.map((s) => s.step), Array.from({ length: 12 }, (_, i) => i + 1));
  assert.equal(steps[0].lr, 0, 'the first update has learning rate 0');
  assert.ok(steps.every((s) => Number.isFinite(s.loss) && s.loss > 0 && Number.isFinite(s.grad_norm)));
  assert.deepEqual(evalLines.map((e) => e.step), [4, 8, 12]);
  assert.deepEqual(result.evals.map((e) => e.step), [4, 8, 12]);
  assert.ok(result.evals.some((e) => e.step === result.selected.step));
  assert.equal(evalLines.filter((e) => e.selected).at(-1).step, result.selected.step);
  assert.equal(result.last.step, 12);
  assert.ok(result.selected.test && typeof result.selected.test.accuracy === 'number');
  assert.equal(result.task.num_train, 48);
  assert.equal(result.task.selection_metric, 'accuracy');
  assert.equal(typeof result.task.majority_baseline, 'number');
  assert.equal(result.degenerate, (result.selected.validation.accuracy as number) <= (result.task.majority_baseline as number));
  assert.equal(result.backend.name, 'cpu');
  assert.equal(result.config.learning_rate, 1e-3);
  const onDisk = JSON.parse(readFileSync(join(outDir, 'result.json'), 'utf8')) as TrialResult;
  assert.deepEqual(onDisk.selected, result.selected);
  assert.equal(onDisk.checkpoint_dir, join(outDir, 'checkpoint'));
  // The checkpoint is the selected model: it reproduces the selected validation numbers.
  const reloaded = loadModel(join(outDir, 'checkpoint'), { numLabels: 2, initSeed: 0 });
  assert.equal(reloaded.report.head, 'loaded');
  const again = await run({ model: join(outDir, 'checkpoint'), max_steps: 0 });
  assert.deepEqual(again.result.selected.validation, result.selected.validation);
});

test('same seeds, same numbers, bit for bit (dropout on, shuffled); another seed differs', async () => {
  const overrides = { dropout: 0.1, shuffle: true, seed: 5 };
  const a = await run(overrides);
  const b = await run(overrides);
  assert.deepEqual(a.steps.map((s) => s.loss), b.steps.map((s) => s.loss));
  assert.deepEqual(a.result.evals, b.result.evals);
  const c = await run({ ...overrides, seed: 6 });
  assert.notDeepEqual(a.steps.map((s) => s.loss), c.steps.map((s) => s.loss));
});

test('trials sharing a data cache (as a trainer process does) give the numbers of fresh ones', async () => {
  const dataCache = new DataCache();
  const overrides = { dropout: 0.1, shuffle: true, seed: 5 };
  const fresh = await run(overrides);
  const first = await run({ ...overrides, seed: 6 }, { dataCache });
  const second = await run(overrides, { dataCache });
  assert.deepEqual(second.steps.map((s) => s.loss), fresh.steps.map((s) => s.loss));
  assert.deepEqual(second.result.evals, fresh.result.evals);
  assert.notDeepEqual(first.steps.map((s) => s.loss), second.steps.map((s) => s.loss));
});

test('max_steps 0 saves the initial model after re-initialisation', async () => {
  const { result, outDir } = await run({ max_steps: 0, reinit_pooler: true, reinit_layers: 1, init_seed: 9 });
  assert.equal(result.steps_completed, 0);
  assert.deepEqual(result.evals.map((e) => e.step), [0]);
  const saved = loadModel(join(outDir, 'checkpoint'), { numLabels: 2, initSeed: 0 }).weights;
  const original = loadModel(tiny.checkpoint, { numLabels: 2, initSeed: 9 }).weights;
  const fresh = reinitWeights(loadModel(tiny.checkpoint, { numLabels: 2, initSeed: 9 }).config, { reinitPooler: true, reinitLayers: 1 }, 9);
  assert.ok(fresh.has('bert.pooler.dense.weight') && fresh.has('bert.encoder.layer.1.output.dense.weight'));
  for (const [name, t] of saved) {
    const want = fresh.get(name) ?? original.get(name);
    assert.deepEqual(Array.from(t.data), Array.from(want!.data), name);
  }
  // And the re-initialised values really differ from the checkpoint's.
  assert.notDeepEqual(Array.from(saved.get('bert.pooler.dense.weight')!.data), Array.from(original.get('bert.pooler.dense.weight')!.data));
});

test('the signal stops the loop at the next step with TrialCancelledError', async () => {
  const controller = new AbortController();
  const seen: number[] = [];
  await assert.rejects(
    run({}, {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.kind === 'step') seen.push(p.step);
        if (p.kind === 'step' && p.step === 3) controller.abort(new Error('user asked'));
      },
    }),
    (e: unknown) => e instanceof TrialCancelledError && e.step === 3 && /user asked/.test(e.message),
  );
  assert.deepEqual(seen, [1, 2, 3]);
});

test('a non-finite loss stops the trial as diverged and degenerate, with the step', async () => {
  const { result, steps } = await run({ learning_rate: 1e30, warmup_steps: 0, max_steps: 12 });
  assert.ok(result.diverged, 'diverged');
  assert.equal(result.degenerate, true);
  assert.match(result.degenerate_reason ?? '', new RegExp(`diverged: loss \\S+ at step ${result.diverged.step}`));
  assert.equal(result.steps_completed, result.diverged.step - 1);
  assert.equal(steps.length, result.diverged.step);
  assert.equal(steps.at(-1).loss, null, 'JSON has no NaN: the diverged loss is null in metrics.jsonl');
  assert.equal(result.last.step, result.steps_completed);
});

test('no tensor growth across steps', async () => {
  const counts: number[] = [];
  await run({ max_steps: 10, num_evals: 2, weight_decay: 0.01, pretrained_weight_decay: 0.1, mixout: 0.3 }, {
    onProgress: (p) => {
      if (p.kind === 'step') counts.push(tf.memory().numTensors);
    },
  });
  assert.equal(new Set(counts.slice(1)).size, 1, `tensor counts per step: ${counts.join(', ')}`);
});

test('init_from starts from a fine-tuned checkpoint; a head of the wrong size is replaced', async () => {
  const first = await run({ max_steps: 6 });
  const fineTuned = join(first.outDir, 'checkpoint');
  const fineTunedWeights = loadModel(fineTuned, { numLabels: 2, initSeed: 0 }).weights;
  // Same label count: everything, head included, comes from the fine-tuned checkpoint.
  const same = await run({ init_from: fineTuned, max_steps: 0 });
  const sameWeights = loadModel(join(same.outDir, 'checkpoint'), { numLabels: 2, initSeed: 0 }).weights;
  for (const [name, t] of fineTunedWeights) assert.deepEqual(Array.from(sameWeights.get(name)!.data), Array.from(t.data), name);
  // Three labels: the backbone transfers, the head is fresh (N(0, 0.02) from the init seed).
  const task = { ...(tiny.config.task as object), labels: ['early', 'late', 'other'] };
  const other = await run({ init_from: fineTuned, max_steps: 0, task } as Partial<TrialConfigInput>);
  const otherWeights = loadModel(join(other.outDir, 'checkpoint'), { numLabels: 3, initSeed: 0 }).weights;
  assert.deepEqual(otherWeights.get('classifier.weight')!.shape, [32, 3]);
  assert.deepEqual(Array.from(otherWeights.get('bert.pooler.dense.weight')!.data), Array.from(fineTunedWeights.get('bert.pooler.dense.weight')!.data));
  assert.equal(other.result.task.num_labels, 3);
});

test('init_from of another architecture is a config error naming init_from', async () => {
  const config = parseTrialConfig({ ...tiny.config, model: 'builtin:quickstart-tiny', init_from: tiny.checkpoint });
  await assert.rejects(runTrial(config, localTrialContext(), { dataRoot: tiny.root }), /init_from: .*not a fine-tuned builtin:quickstart-tiny/);
});

test('a trial leaves no tensors behind, completed, diverged or cancelled (a trainer pod runs many)', async () => {
  const before = tf.memory().numTensors;
  await run({ max_steps: 5, mixout: 0.2, pretrained_weight_decay: 0.5 });
  assert.equal(tf.memory().numTensors, before, 'after a completed trial');
  await run({ learning_rate: 1e30, warmup_steps: 0, max_steps: 6 });
  assert.equal(tf.memory().numTensors, before, 'after a diverged trial');
  const controller = new AbortController();
  await assert.rejects(run({ max_steps: 50 }, { signal: controller.signal, onProgress: (p) => p.kind === 'step' && p.step === 2 && controller.abort() }));
  assert.equal(tf.memory().numTensors, before, 'after a cancelled trial');
});

test('layer-wise LR decay: head and pooler at lr, top block η, …, embeddings η^(L+1); no decay for biases and LayerNorm', () => {
  const config = tinyConfig({ numHiddenLayers: 2 });
  const model = new BertForSequenceClassification(config, tinyWeights(config, 0));
  const specs = paramSpecs(model, { llrd: 0.5 });
  const at = (name: string) => specs.get(name)!;
  assert.deepEqual(at('classifier.weight'), { lrScale: 1, decay: true });
  assert.deepEqual(at('bert.pooler.dense.bias'), { lrScale: 1, decay: false });
  assert.deepEqual(at('bert.encoder.layer.1.attention.self.query.weight'), { lrScale: 0.5, decay: true });
  assert.deepEqual(at('bert.encoder.layer.1.output.LayerNorm.weight'), { lrScale: 0.5, decay: false });
  assert.deepEqual(at('bert.encoder.layer.0.intermediate.dense.weight'), { lrScale: 0.25, decay: true });
  assert.deepEqual(at('bert.embeddings.word_embeddings.weight'), { lrScale: 0.125, decay: true });
  assert.deepEqual(at('bert.embeddings.LayerNorm.bias'), { lrScale: 0.125, decay: false });
  assert.equal(specs.size, model.params.size);
  assert.ok([...paramSpecs(model, { llrd: 1 }).values()].every((s) => s.lrScale === 1));
  model.dispose();
});
