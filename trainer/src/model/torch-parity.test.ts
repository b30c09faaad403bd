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
import { BertForSequenceClassification } from './bert-model.ts';
import { loadCheckpointDir } from './checkpoint.ts';
import { writeTinyCheckpoint, type TinyCheckpointOptions } from './tiny-checkpoint.ts';
import { sha256, type FixtureBatch } from './fixtures/make-torch-fixtures.ts';

interface Fixture {
  case: string;
  options: TinyCheckpointOptions;
  checkpoint_sha256: string;
  batches: FixtureBatch[];
  outputs: { logits: number[][]; loss: number }[];
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
        const expected = fixture.outputs[i] as { logits: number[][]; loss: number };
        tf.tidy(() => {
          const logits = model.forward(inputs, { training: false });
          const got = logits.arraySync();
          expected.logits.forEach((row, r) => row.forEach((v, c) => close(got[r]?.[c] as number, v, `batch ${i} logits[${r}][${c}]`)));
          const labels = numLabels === 1 ? Float32Array.from(b.labels) : Int32Array.from(b.labels);
          close(model.loss(logits, labels).dataSync()[0] as number, expected.loss, `batch ${i} loss`);
        });
      });
      model.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
