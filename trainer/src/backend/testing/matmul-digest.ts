// A fixed set of large products (2-D, batched, transposed) on the active backend, reduced to a
// sha256 of their bytes: the threads test compares the digest of a 2-thread pool with that of a
// 1-thread pool in a child process (`node --import tsx matmul-digest.ts` prints JSON).
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../util/rng.ts';
import { initBackend } from '../select-backend.ts';

function random(shape: number[], label: string): tf.Tensor {
  const rng = Rng.derive(1234, label);
  return tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape);
}

export function matmulDigest(): string {
  const hash = createHash('sha256');
  const products: Array<() => tf.Tensor> = [
    () => tf.matMul(random([512, 384], 'a'), random([384, 640], 'b')),
    () => tf.matMul(random([384, 512], 'c'), random([640, 384], 'd'), true, true),
    () => tf.matMul(random([24, 128, 64], 'e'), random([24, 128, 64], 'f'), false, true),
  ];
  for (const p of products) {
    const out = tf.tidy(p);
    const data = out.dataSync() as Float32Array;
    hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    out.dispose();
  }
  return hash.digest('hex');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const info = await initBackend({ override: 'wasm' });
  process.stdout.write(`${JSON.stringify({ threads: info.threads, digest: matmulDigest() })}\n`);
}
