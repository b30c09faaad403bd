// The trainer against PyTorch on wasm (XNNPACK kernels, Ballast's own UnsortedSegmentSum and
// batched matmul), the backend these machines train on; and determinism there: the same seeds
// give the same losses bit for bit, thread pool and all.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { initBackend } from '../backend/select-backend.ts';
import { parseTrialConfig } from '../config/trial-config.ts';
import { parityTests } from './fixtures/parity-suite.ts';
import { localTrialContext } from './local-context.ts';
import { runTrial } from './run-trial.ts';
import { writeTinyTrial } from './tiny-trial.ts';

const backend = await initBackend({ override: 'wasm' });
parityTests(backend);

test('same seeds on wasm give the same losses bit for bit (dropout, mixout, shuffling on)', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ballast-wasm-determinism-'));
  const tiny = writeTinyTrial(join(tmp, 'data'));
  const losses = async (run: string) => {
    const config = parseTrialConfig({ ...tiny.config, dropout: undefined, mixout: 0.2, shuffle: true, seed: 11, max_steps: 10, num_evals: 1 });
    await runTrial(config, localTrialContext(), { outDir: join(tmp, run), dataRoot: tiny.root, backend });
    return readFileSync(join(tmp, run, 'metrics.jsonl'), 'utf8');
  };
  assert.equal(await losses('a'), await losses('b'));
});
