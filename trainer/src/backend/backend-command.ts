// `ballast backend`: which tfjs backend this machine would train on, with how many threads, and
// (with --matmul) how fast it multiplies: a quick check of a trainer image or pod.
import type { Command } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './select-backend.ts';

interface BackendFlags {
  backend?: string;
  json?: boolean;
  matmul?: boolean;
}

export function register(program: Command): void {
  program
    .command('backend')
    .description('show the tfjs backend training would use (BALLAST_BACKEND, BALLAST_WASM_THREADS apply)')
    .option('--backend <name>', 'tensorflow-gpu, tensorflow, wasm or cpu (default: BALLAST_BACKEND, else the fastest available)')
    .option('--matmul', 'also time a 1024×1024×1024 matmul and print GFLOP/s')
    .option('--json', 'print JSON')
    .action(async (flags: BackendFlags) => {
      const info = await initBackend({ override: flags.backend });
      const gflops = flags.matmul ? matmulGflops(1024) : undefined;
      if (flags.json) process.stdout.write(`${JSON.stringify({ ...info, ...(gflops !== undefined ? { matmul_gflops: gflops } : {}) })}\n`);
      else {
        process.stdout.write(`${info.name} (${info.package}) on ${info.device}, ${info.threads} thread${info.threads === 1 ? '' : 's'}, chosen ${info.chosen_by === 'auto' ? 'automatically' : 'by override'}\n`);
        if (gflops !== undefined) process.stdout.write(`matmul 1024³: ${gflops.toFixed(1)} GFLOP/s\n`);
      }
    });
}

function matmulGflops(n: number): number {
  const a = tf.randomNormal([n, n]);
  const b = tf.randomNormal([n, n]);
  // Warm-up: first calls compile (V8 tiers wasm up) and pack XNNPACK weights.
  for (let i = 0; i < 3; i++) tf.matMul(a, b).dataSync();
  const reps = 5;
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) tf.matMul(a, b).dispose();
  const seconds = (performance.now() - t0) / 1000 / reps;
  tf.dispose([a, b]);
  return (2 * n ** 3) / seconds / 1e9;
}
