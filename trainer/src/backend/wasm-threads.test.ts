// wasm threads in Node (patches/@tensorflow+tfjs-backend-wasm+4.22.0.patch): the pool has one
// thread per core (2 on a 2-core machine, where stock tfjs gives 1), its pthreads really run, and
// a threaded product is bit-for-bit the single-threaded one.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendInfo } from '../train/trial-result.ts';
import { initBackend } from './select-backend.ts';
import { matmulDigest } from './testing/matmul-digest.ts';

const cores = cpus().length;
let info: BackendInfo;

before(async () => {
  info = await initBackend({ override: 'wasm', threads: cores });
});

test('the wasm pool has one thread per core (capped at 8), recorded in BackendInfo', () => {
  assert.equal(info.name, 'wasm');
  assert.equal(info.threads, Math.min(cores, 8));
  if (cores >= 2) assert.ok(info.threads >= 2, `expected ≥ 2 threads on ${cores} cores, got ${info.threads}`);
});

test('the pool threads are running pthreads (Node workers)', () => {
  const pthread = (tf.backend() as unknown as { wasm: { PThread?: { runningWorkers: unknown[] } } }).wasm.PThread;
  assert.ok(pthread, 'the threaded-SIMD build is not the one loaded');
  // XNNPACK's pool runs n − 1 workers beside the calling thread.
  assert.equal(pthread.runningWorkers.length, info.threads - 1);
});

test('large products with the pool equal those of a single thread, bit for bit', { skip: cores < 2 ? 'one core: nothing to compare' : false }, () => {
  const threaded = matmulDigest();
  const script = fileURLToPath(new URL('./testing/matmul-digest.ts', import.meta.url));
  const child = JSON.parse(
    execFileSync(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, BALLAST_BACKEND: '', BALLAST_WASM_THREADS: '1' }, encoding: 'utf8' }),
  ) as { threads: number; digest: string };
  assert.equal(child.threads, 1);
  assert.equal(threaded, child.digest);
});
