// The tfjs model against an independent PyTorch implementation (trainer/reference/torch_bert.py):
// logits and loss of tiny checkpoints on batches with padding and both token types. The fixtures
// were generated once with torch (fixtures/make-torch-fixtures.ts), so this needs no torch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { BertForSequenceClassification, type BertInputs } from './bert-model.ts';
import { bertParamSpecs, transpose2d } from './bert-params.ts';
import { loadCheckpointDir } from './checkpoint.ts';
import { writeTinyCheckpoint, type TinyCheckpointOptions } from './tiny-checkpoint.ts';
import { sha256, type FixtureBatch } from './fixtures/make-torch-fixtures.ts';

interface Fixture {
  case: string;
  options: TinyCheckpointOptions;
  checkpoint_sha256: string;
  batches: FixtureBatch[];
  outputs: { logits: number[][]; loss: number; grads?: Record<string, { norm: number; sum: number; first: number[] }> }[];
}

function close(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= 1e-5 + 1e-4 * Math.abs(expected), `${what}: ${actual} vs torch ${expected}`);
}

for (const name of ['classification-3', 'regression']) {
  test(`logits and loss match PyTorch (${name})`, async () => {
    await tf.setBackend('cpu');
    const fixture = JSON.parse(readFileSync(new URL(`./fixtures/torch-${name}.json`, import.meta.url), 'utf8')) as Fixture;
    const dir = mkdtempSync(join(tmpdir(), 'ballast-parity-'));
    try {
      writeTinyCheckpoint(dir, fixture.options);
      assert.equal(sha256(join(dir, 'model.safetensors')), fixture.checkpoint_sha256, 'the tiny checkpoint changed: regenerate the fixtures');
      const numLabels = fixture.options.numLabels ?? 2;
      const loaded = loadCheckpointDir(dir, { numLabels, initSeed: 0 });
      assert.equal(loaded.report.head, 'loaded');
      const model = new BertForSequenceClassification(loaded.config, loaded.weights);
      fixture.batches.forEach((b, i) => {
        const size = b.input_ids.length;
        const seqLength = (b.input_ids[0] as number[]).length;
        const inputs = {
          size,
          seqLength,
          inputIds: Int32Array.from(b.input_ids.flat()),
          tokenTypeIds: Int32Array.from(b.token_type_ids.flat()),
          attentionMask: Int32Array.from(b.attention_mask.flat()),
        };
        const expected = fixture.outputs[i] as Fixture['outputs'][number];
        tf.tidy(() => {
          const logits = model.forward(inputs, { training: false });
          const got = logits.arraySync();
          expected.logits.forEach((row, r) => row.forEach((v, c) => close(got[r]?.[c] as number, v, `batch ${i} logits[${r}][${c}]`)));
          const labels = numLabels === 1 ? Float32Array.from(b.labels) : Int32Array.from(b.labels);
          close(model.loss(logits, labels).dataSync()[0] as number, expected.loss, `batch ${i} loss`);
        });
      });
      model.dispose();

      // Gradients of the first batch, through the recomputing blocks (dropout off, so that the
      // training forward is torch's): every parameter's norm, sum and first values in HF layout.
      const b = fixture.batches[0] as FixtureBatch;
      const grads = fixture.outputs[0]?.grads;
      assert.ok(grads, 'the fixture has gradients');
      const trained = new BertForSequenceClassification(loaded.config, loaded.weights, { recompute: true, hiddenDropout: 0, attentionDropout: 0 });
      const inputs: BertInputs = {
        size: b.input_ids.length,
        seqLength: (b.input_ids[0] as number[]).length,
        inputIds: Int32Array.from(b.input_ids.flat()),
        tokenTypeIds: Int32Array.from(b.token_type_ids.flat()),
        attentionMask: Int32Array.from(b.attention_mask.flat()),
      };
      assert.ok(trained.recomputes(inputs.size, inputs.seqLength));
      const labels = numLabels === 1 ? Float32Array.from(b.labels) : Int32Array.from(b.labels);
      const { value, grads: byId } = tf.variableGrads(() => trained.loss(trained.forward(inputs, { training: true, dropoutSeed: 1, step: 0 }), labels));
      const specs = new Map(bertParamSpecs(loaded.config).map((spec) => [spec.name, spec]));
      for (const [name, v] of trained.params) {
        const expected = grads[name];
        assert.ok(expected, `torch has a gradient for ${name}`);
        const g = { shape: [...v.shape], data: (byId[v.name] as tf.Tensor).dataSync() as Float32Array };
        const hf = specs.get(name)?.kind === 'linear-weight' ? transpose2d(g) : g;
        const norm = Math.sqrt(hf.data.reduce((a, x) => a + x * x, 0));
        const sum = hf.data.reduce((a, x) => a + x, 0);
        close(norm, expected.norm, `${name} gradient norm`);
        assert.ok(Math.abs(sum - expected.sum) <= 1e-5 + 1e-4 * expected.norm, `${name} gradient sum: ${sum} vs torch ${expected.sum}`);
        expected.first.forEach((x, i) => assert.ok(Math.abs((hf.data[i] as number) - x) <= 1e-6 + 1e-4 * expected.norm, `${name} gradient[${i}]: ${hf.data[i]} vs torch ${x}`));
      }
      value.dispose();
      tf.dispose(byId);
      trained.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
