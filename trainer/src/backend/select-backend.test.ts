import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pino } from 'pino';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './select-backend.ts';

const probe = fileURLToPath(new URL('./testing/print-backend.ts', import.meta.url));

/** initBackend() in a fresh process with these variables (the choice is once per process). */
async function choose(env: Record<string, string>): Promise<Record<string, unknown>> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', probe], {
    env: { ...process.env, BALLAST_BACKEND: '', BALLAST_WASM_THREADS: '', ...env },
  });
  return JSON.parse(stdout) as Record<string, unknown>;
}

function installed(pkg: string): boolean {
  try {
    createRequire(import.meta.url).resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

test('selection in fresh processes: automatic order, overrides, thread count, clear errors', async () => {
  const [auto, cpu, wasmByPackage, gpu, bogus, oneThread, badThreads] = await Promise.all([
    choose({}),
    choose({ BALLAST_BACKEND: 'cpu' }),
    choose({ BALLAST_BACKEND: '@tensorflow/tfjs-backend-wasm' }),
    choose({ BALLAST_BACKEND: 'tensorflow-gpu' }),
    choose({ BALLAST_BACKEND: 'bogus' }),
    choose({ BALLAST_BACKEND: 'wasm', BALLAST_WASM_THREADS: '1' }),
    choose({ BALLAST_WASM_THREADS: '0' }),
  ]);
  const expected = installed('@tensorflow/tfjs-node-gpu') ? 'tensorflow' : installed('@tensorflow/tfjs-node') ? 'tensorflow' : 'wasm';
  assert.equal(auto.name, expected);
  assert.equal(auto.chosen_by, 'auto');
  if (expected === 'wasm') assert.equal(auto.threads, Math.min(cpus().length, 8));
  assert.deepEqual(cpu, { name: 'cpu', package: '@tensorflow/tfjs-backend-cpu', device: 'cpu', threads: 1, chosen_by: 'override' });
  assert.equal(wasmByPackage.name, 'wasm');
  assert.equal(wasmByPackage.chosen_by, 'override');
  if (!installed('@tensorflow/tfjs-node-gpu')) {
    // An override that cannot load is an error naming the package, not a fallback.
    assert.equal(gpu.errorName, 'ConfigError');
    assert.match(String(gpu.error), /BALLAST_BACKEND: backend 'tensorflow-gpu' \(@tensorflow\/tfjs-node-gpu\) cannot be loaded/);
  }
  assert.match(String(bogus.error), /unknown backend 'bogus' \(expected one of tensorflow-gpu, tensorflow, wasm, cpu/);
  assert.equal(oneThread.threads, 1);
  assert.match(String(badThreads.error), /BALLAST_WASM_THREADS: must be a positive integer, got '0'/);
});

test('initBackend is idempotent in a process, logs its choice, and refuses a conflicting override', async () => {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
  const first = await initBackend({ override: 'cpu', log });
  assert.equal(tf.getBackend(), 'cpu');
  assert.equal(first.chosen_by, 'override');
  const record = JSON.parse(lines.find((l) => l.includes('tfjs backend')) ?? '{}') as { backend?: unknown };
  assert.deepEqual(record.backend, first);
  assert.deepEqual(await initBackend({ override: 'cpu' }), first);
  assert.deepEqual(await initBackend({ override: '@tensorflow/tfjs-backend-cpu' }), first);
  assert.deepEqual(await initBackend(), first);
  await assert.rejects(initBackend({ override: 'wasm' }), /backend 'wasm' requested, but this process already runs on 'cpu'/);
});
