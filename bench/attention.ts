// Micro A/B of the attention core on wasm: the fused kernels (trainer/src/ops/attention.ts) against
// the same math composed of tfjs ops (reshapes, transposes, per-(example, head) BatchMatMuls,
// softmax, dropout multiply), alternating in one process, at BERT shapes (seq 128, dropout 0.1
// on the probabilities, a quarter of the last example padded). One iteration is forward +
// backward (dq, dk, dv) as training runs it; the dropout mask is drawn once, outside the timing.
//
// Then whole training steps (forward, loss and every gradient; the optimizer is the same either
// way and left out) of BERT at --model-shapes, batch 16 (bert-base 8), alternating the two paths
// in the same process and model: the composed path is what the op falls back to when its wasm
// kernel is unregistered.
//
//   node --import tsx bench/attention.ts [--shapes bert-tiny,bert-mini,bert-base] [--reps 5]
//        [--model-shapes bert-tiny,bert-mini] [--steps 4] [--threads 2]
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../trainer/src/backend/select-backend.ts';
import { selfAttention, selfAttentionComposed, type AttentionOptions } from '../trainer/src/ops/attention.ts';
import { dropoutMask } from '../trainer/src/model/seeded-masks.ts';
import { BertForSequenceClassification } from '../trainer/src/model/bert-model.ts';
import { benchBatch } from './bert-batch.ts';
import { initBertParams } from '../trainer/src/model/bert-params.ts';
import { bertShapeConfig, type BertShape } from '../trainer/src/model/builtin-models.ts';

const SHAPES: Record<string, { batch: number; heads: number; hidden: number }> = {
  'bert-tiny': { batch: 16, heads: 2, hidden: 128 },
  'bert-mini': { batch: 16, heads: 4, hidden: 256 },
  'bert-small': { batch: 16, heads: 8, hidden: 512 },
  'bert-base': { batch: 8, heads: 12, hidden: 768 },
};
const SEQ = 128;

const { values } = parseArgs({
  options: {
    shapes: { type: 'string', default: 'bert-tiny,bert-mini,bert-base' },
    reps: { type: 'string', default: '5' },
    'model-shapes': { type: 'string', default: 'bert-tiny,bert-mini' },
    steps: { type: 'string', default: '4' },
    threads: { type: 'string', default: '2' },
  },
});

type Attn = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, o: AttentionOptions) => tf.Tensor2D;

function timeOnce(f: Attn, xs: tf.Tensor[], o: AttentionOptions, dy: tf.Tensor): number {
  const t0 = performance.now();
  const grads = tf.grads((q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => f(q, k, v, o))(xs, dy);
  for (const g of grads) g.dataSync();
  const ms = performance.now() - t0;
  tf.dispose(grads);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  const info = await initBackend({ override: 'wasm', threads: Number(values.threads) });
  console.log(`backend ${info.name}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const reps = Number(values.reps);
  for (const name of (values.shapes as string).split(',')) {
    const shape = SHAPES[name];
    if (!shape) throw new Error(`--shapes: unknown shape '${name}' (known: ${Object.keys(SHAPES).join(', ')})`);
    const { batch, heads, hidden } = shape;
    const n = batch * SEQ;
    const xs = [0, 1, 2].map((i) => tf.randomNormal([n, hidden], 0, 1, 'float32', i + 1));
    const dy = tf.randomNormal([n, hidden], 0, 1, 'float32', 9);
    const mask = new Float32Array(n);
    for (let j = Math.floor((3 * SEQ) / 4); j < SEQ; j++) mask[(batch - 1) * SEQ + j] = -3.4028234663852886e38;
    const maskAdd = tf.tensor(mask, [batch, 1, 1, SEQ]);
    const drop = dropoutMask([batch, heads, SEQ, SEQ], 0.1, { seed: 1, step: 0 }, 'bench');
    const o: AttentionOptions = { heads, maskAdd, dropoutMask: drop };
    // Warm-up (kernel instantiation, XNNPACK operator creation) for both.
    timeOnce(selfAttention, xs, o, dy);
    timeOnce(selfAttentionComposed, xs, o, dy);
    const fused: number[] = [];
    const composed: number[] = [];
    for (let r = 0; r < reps; r++) {
      fused.push(timeOnce(selfAttention, xs, o, dy));
      composed.push(timeOnce(selfAttentionComposed, xs, o, dy));
    }
    const f = median(fused);
    const c = median(composed);
    // QKᵀ and PV forward (2·seq²·hidden each, per example), twice that in the backward.
    const gflop = (6 * 2 * batch * SEQ * SEQ * hidden) / 1e9;
    console.log(
      `${name} (batch ${batch}, heads ${heads}, dh ${hidden / heads}): fused ${f.toFixed(1)} ms (${(gflop / (f / 1e3)).toFixed(1)} GFLOP/s), ` +
      `composed ${c.toFixed(1)} ms (${(gflop / (c / 1e3)).toFixed(1)} GFLOP/s), ${(c / f).toFixed(2)}x  ` +
      `[fused ${fused.map((x) => x.toFixed(0)).join(' ')}; composed ${composed.map((x) => x.toFixed(0)).join(' ')}]`,
    );
    tf.dispose([...xs, dy, maskAdd, drop]);
  }
  console.log(`load average after ops: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (const name of (values['model-shapes'] as string).split(',').filter(Boolean)) stepAB(name as BertShape);
  console.log(`load average after steps: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

/** Turns the fused kernel off (the op composes tfjs ops) or back on. */
function useFused(on: boolean, kernel: tf.KernelConfig): void {
  const registered = tf.getKernel(kernel.kernelName, 'wasm') !== undefined;
  if (on && !registered) tf.registerKernel(kernel);
  if (!on && registered) tf.unregisterKernel(kernel.kernelName, 'wasm');
}

function stepAB(shape: BertShape): void {
  const kernel = tf.getKernel('BallastAttention', 'wasm');
  if (!kernel) throw new Error('the fused attention kernel is not registered on wasm');
  const batch = shape === 'bert-base' ? 8 : 16;
  const config = bertShapeConfig(shape, 2);
  const model = new BertForSequenceClassification(config, initBertParams(config, 0));
  const { inputs, labels } = benchBatch(batch, SEQ, SEQ / 4);
  const step = (k: number): number => {
    const t0 = performance.now();
    const { value, grads } = tf.variableGrads(() => model.loss(model.forward(inputs, { training: true, dropoutSeed: 1, step: k }), labels));
    value.dataSync();
    for (const g of Object.values(grads)) g.dataSync();
    const ms = performance.now() - t0;
    tf.dispose([value, ...Object.values(grads)]);
    return ms;
  };
  const times: Record<'fused' | 'composed', number[]> = { fused: [], composed: [] };
  try {
    for (const on of [true, false]) {
      useFused(on, kernel);
      step(0); // warm-up
    }
    for (let k = 1; k <= Number(values.steps); k++) {
      for (const on of k % 2 ? [true, false] : [false, true]) {
        useFused(on, kernel);
        times[on ? 'fused' : 'composed'].push(step(k));
      }
    }
  } finally {
    useFused(true, kernel);
    model.dispose();
  }
  const f = median(times.fused);
  const c = median(times.composed);
  console.log(
    `${shape} training step (batch ${batch}, recompute ${model.recomputes(batch, SEQ)}): fused ${(batch / (f / 1e3)).toFixed(2)} ex/s, ` +
    `composed ${(batch / (c / 1e3)).toFixed(2)} ex/s, ${(c / f).toFixed(2)}x  ` +
    `[ms fused ${times.fused.map((t) => t.toFixed(0)).join(' ')}; composed ${times.composed.map((t) => t.toFixed(0)).join(' ')}]`,
  );
}

await main();
