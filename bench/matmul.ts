// wasm matmul kernels: tfjs's stock BatchMatMul against Ballast's (trainer/src/backend/
// wasm-batch-matmul.ts), with 1 and 2 threads, on the products one bert-mini training step at
// batch 16, seq 128 does (N = 2048 tokens, H = 256, FF = 1024, 4 heads of 64) and the Linear
// products of bert-base at batch 8 (1024 tokens, H = 768, FF = 3072); and the same products on
// PyTorch (bench/torch_matmul.py: Debian's torch on OpenBLAS, same thread count), whose ratio is
// the ceiling of wasm's training throughput for shapes whose step is mostly large products.
//
//   node --import tsx bench/matmul.ts [--threads 1,2] [--seconds 0.5] [--no-torch]
//
// Each thread count runs in its own process (the pool size is fixed when wasm starts).
import { execFileSync, spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '../trainer/src/backend/select-backend.ts';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '1,2' },
    seconds: { type: 'string', default: '0.5' },
    child: { type: 'string' },
    'no-torch': { type: 'boolean', default: false },
  },
});

interface Case {
  name: string;
  a: number[];
  b: number[];
  ta?: boolean;
  tb?: boolean;
}

const N = 2048;
const H = 256;
const FF = 1024;
const CASES: Case[] = [
  { name: 'Linear forward      x·W        [N,H]·[H,FF]', a: [N, H], b: [H, FF] },
  { name: 'Linear backward dx  dy·Wᵀ      [N,FF]·[H,FF]ᵀ', a: [N, FF], b: [H, FF], tb: true },
  { name: 'Linear backward dW  xᵀ·dy      [N,H]ᵀ·[N,FF]', a: [N, H], b: [N, FF], ta: true },
  { name: 'attention scores    q·kᵀ       64×[128,64]·[64,128]', a: [64, 128, 64], b: [64, 64, 128] },
  { name: 'attention context   p·v        64×[128,128]·[128,64]', a: [64, 128, 128], b: [64, 128, 64] },
  { name: 'attention backward  dp·vᵀ      64×[128,64]·[128,64]ᵀ', a: [64, 128, 64], b: [64, 128, 64], tb: true },
  { name: 'attention backward  pᵀ·dc      64×[128,128]ᵀ·[128,64]', a: [64, 128, 128], b: [64, 128, 64], ta: true },
  { name: 'square 1024³', a: [1024, 1024], b: [1024, 1024] },
  { name: 'bert-base Linear    x·W        [1024,768]·[768,3072]', a: [1024, 768], b: [768, 3072] },
  { name: 'bert-base backward  dy·Wᵀ      [1024,3072]·[768,3072]ᵀ', a: [1024, 3072], b: [768, 3072], tb: true },
  { name: 'bert-base backward  xᵀ·dy      [1024,768]ᵀ·[1024,3072]', a: [1024, 768], b: [1024, 3072], ta: true },
];

/** GFLOP/s of every case on PyTorch with `threads` threads, or undefined when torch cannot run. */
function torchGflops(threads: number): number[] | undefined {
  const script = fileURLToPath(new URL('./torch_matmul.py', import.meta.url));
  // As train-throughput.ts: point the loader at OpenBLAS (OpenMP), not the reference BLAS.
  const env = { ...process.env, LD_LIBRARY_PATH: ['/usr/lib/x86_64-linux-gnu/openblas-openmp', process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') };
  const r = spawnSync('/usr/bin/python3', [script, '--threads', String(threads), '--seconds', values.seconds], { env, input: JSON.stringify(CASES), encoding: 'utf8' });
  if (r.status !== 0) {
    console.log(`torch: ${(r.stderr || r.error?.message || 'failed').trim().split('\n').at(-1)}`);
    return undefined;
  }
  return JSON.parse(r.stdout) as number[];
}

function gflops(c: Case, seconds: number): number {
  const a = tf.randomNormal(c.a);
  const b = tf.randomNormal(c.b);
  const ra = c.a.length;
  const m = c.ta ? (c.a[ra - 1] as number) : (c.a[ra - 2] as number);
  const k = c.ta ? (c.a[ra - 2] as number) : (c.a[ra - 1] as number);
  const n = c.tb ? (c.b.at(-2) as number) : (c.b.at(-1) as number);
  const batch = c.a.slice(0, -2).reduce((x, y) => x * y, 1);
  tf.matMul(a, b, c.ta, c.tb).dispose(); // warm-up
  let reps = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000 || reps === 0) {
    tf.matMul(a, b, c.ta, c.tb).dispose();
    reps++;
  }
  const perCall = (performance.now() - t0) / 1000 / reps;
  tf.dispose([a, b]);
  return (2 * batch * m * k * n) / perCall / 1e9;
}

if (values.child) {
  // The stock kernel is registered by the import above; keep it before initBackend replaces it.
  const stock = { ...(tf.getKernel(tf.BatchMatMul, 'wasm') as tf.KernelConfig) };
  const info = await initBackend({ override: 'wasm', threads: Number(values.child) });
  const ours = { ...(tf.getKernel(tf.BatchMatMul, 'wasm') as tf.KernelConfig) };
  const use = (k: tf.KernelConfig) => {
    tf.unregisterKernel(tf.BatchMatMul, 'wasm');
    tf.registerKernel(k);
  };
  const rows = CASES.map((c) => {
    use(stock);
    const s = gflops(c, Number(values.seconds));
    use(ours);
    const o = gflops(c, Number(values.seconds));
    return { name: c.name, stock: s, ours: o };
  });
  // Fixed cost per product of a batch: 64 products too small to take any time themselves.
  const tiny = { name: 'overhead', a: [64, 8, 8], b: [64, 8, 8] };
  const overheadUs = (1e6 * (2 * 64 * 8 * 8 * 8)) / (gflops(tiny, Number(values.seconds)) * 1e9) / 64;
  process.stdout.write(`${JSON.stringify({ threads: info.threads, rows, overhead_us_per_product: overheadUs })}\n`);
} else {
  const threadCounts = values.threads.split(',').map(Number);
  const runs = threadCounts.map((t) => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', String(t), '--seconds', values.seconds], { encoding: 'utf8' });
    return JSON.parse(out) as { threads: number; rows: Array<{ name: string; stock: number; ours: number }>; overhead_us_per_product: number };
  });
  const torch = values['no-torch'] ? [] : threadCounts.map((t) => torchGflops(t));
  console.log(`BatchMatMul, GFLOP/s (load average ${loadavg().map((l) => l.toFixed(1)).join(' ')})`);
  console.log(`${'product'.padEnd(52)}${runs.map((r, j) => `  stock ${r.threads}t   ours ${r.threads}t${torch[j] ? `  torch ${r.threads}t  ratio` : ''}`).join('')}`);
  for (let i = 0; i < CASES.length; i++) {
    const cells = runs.map((r, j) => {
      const ours = r.rows[i]?.ours ?? 0;
      const t = torch[j]?.[i];
      return `${(r.rows[i]?.stock ?? 0).toFixed(1).padStart(9)} ${ours.toFixed(1).padStart(9)}${t !== undefined ? `${t.toFixed(1).padStart(9)} ${(ours / t).toFixed(2).padStart(5)}x` : ''}`;
    });
    console.log(`${(CASES[i] as Case).name.padEnd(52)}${cells.map((c) => `  ${c}`).join('')}`);
  }
  for (const r of runs) console.log(`batched products, fixed cost per product (64×[8,8]·[8,8]), ${r.threads} thread(s): ${r.overhead_us_per_product.toFixed(0)} µs`);
  console.log(JSON.stringify({ load_average: loadavg(), runs, torch }));
}
