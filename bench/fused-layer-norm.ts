// Micro A/B of the element-wise work around BERT's Linear layers on wasm: the fused kernels
// (trainer/src/ops/layer-norm.ts, trainer/src/ops/gelu.ts biasGelu, trainer/src/ops/bias-add.ts
// in the whole step) against the same math composed
// of tfjs ops (what bert-model.ts ran before), alternating in one process, at BERT shapes (seq 128,
// hidden dropout 0.1). One iteration is forward + backward with every gradient training needs:
//   residual   LayerNorm(dropout(y + bias) + x), [N, hidden]: grads of y, bias, x, gamma, beta
//              (twice per block: attention output and FFN output)
//   bias+gelu  gelu(y + bias), [N, 4·hidden]: grads of y and bias (once per block; composed =
//              tfjs Add then GELU of tfjs ops)
//   embedding  dropout(LayerNorm(words[ids] + types[typeIds] + positions)), lookups included:
//              grads of the three tables, gamma, beta (once per forward; composed = gather,
//              one-hot matmul, slice, LayerNorm, dropout multiply, as before)
// Dropout masks are drawn once, outside the timing. Then a whole training step (forward + loss +
// gradients, no optimizer; dropout 0.1; the trainer's recompute default) of each shape with these
// ops fused and, in the same process, with their wasm kernels unregistered (the ops then compose
// tfjs ops, as bert-model.ts did before), alternating.
//
//   node --import tsx bench/fused-layer-norm.ts [--shapes bert-tiny,bert-mini,bert-base] [--reps 7] [--steps 4] [--threads 2]
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../trainer/src/backend/select-backend.ts';
import { biasGelu, biasGeluComposed } from '../trainer/src/ops/gelu.ts';
import { bertEmbeddings, bertEmbeddingsComposed, residualLayerNorm, residualLayerNormComposed } from '../trainer/src/ops/layer-norm.ts';
import { BertForSequenceClassification } from '../trainer/src/model/bert-model.ts';
import { benchBatch } from './bert-batch.ts';
import { initBertParams } from '../trainer/src/model/bert-params.ts';
import { bertShapeConfig, type BertShape } from '../trainer/src/model/builtin-models.ts';
import { dropoutMask } from '../trainer/src/model/seeded-masks.ts';

/** The wasm kernels of the ops under test (their gradient kernels only run from these). */
const FUSED_KERNELS = [
  'BallastResidualLayerNorm', 'BallastResidualDropoutLayerNorm', 'BallastBertEmbeddings', 'BallastBertEmbeddingsDropout', 'BallastBiasGelu', 'BallastBiasAdd',
];

const SHAPES: Record<string, { batch: number; hidden: number }> = {
  'bert-tiny': { batch: 16, hidden: 128 },
  'bert-mini': { batch: 16, hidden: 256 },
  'bert-small': { batch: 16, hidden: 512 },
  'bert-base': { batch: 8, hidden: 768 },
};
const SEQ = 128;
const EPS = 1e-12;

const { values } = parseArgs({
  options: {
    shapes: { type: 'string', default: 'bert-tiny,bert-mini,bert-base' },
    reps: { type: 'string', default: '7' },
    steps: { type: 'string', default: '4' },
    threads: { type: 'string', default: '2' },
  },
});

type Op = (...xs: tf.Tensor[]) => tf.Tensor;

function timeOnce(f: Op, xs: tf.Tensor[], dy: tf.Tensor): number {
  const t0 = performance.now();
  const grads = tf.grads(f)(xs, dy);
  for (const g of grads) g.dataSync();
  const ms = performance.now() - t0;
  tf.dispose(grads);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** Fused and composed medians (ms) over `reps` alternating runs, after one warm-up of each. */
function ab(fused: Op, composed: Op, xs: tf.Tensor[], dy: tf.Tensor, reps: number): [number, number] {
  timeOnce(fused, xs, dy);
  timeOnce(composed, xs, dy);
  const f: number[] = [];
  const c: number[] = [];
  for (let r = 0; r < reps; r++) {
    f.push(timeOnce(fused, xs, dy));
    c.push(timeOnce(composed, xs, dy));
  }
  return [median(f), median(c)];
}

async function main(): Promise<void> {
  const info = await initBackend({ override: 'wasm', threads: Number(values.threads) });
  console.log(`backend ${info.name}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const reps = Number(values.reps);
  for (const name of (values.shapes as string).split(',')) {
    const shape = SHAPES[name];
    if (!shape) throw new Error(`--shapes: unknown shape '${name}' (known: ${Object.keys(SHAPES).join(', ')})`);
    const { batch, hidden } = shape;
    const n = batch * SEQ;
    const rand = (s: number[], seed: number) => tf.randomNormal(s, 0, 1, 'float32', seed);
    const at = { seed: 1, step: 0 };
    const drop = dropoutMask([n, hidden], 0.1, at, 'bench');
    const line: string[] = [];
    const report = (what: string, [f, c]: [number, number]) => line.push(`${what} fused ${f.toFixed(1)} ms, composed ${c.toFixed(1)} ms, ${(c / f).toFixed(2)}x`);

    const res = [rand([n, hidden], 1), rand([hidden], 2), rand([n, hidden], 3), rand([hidden], 4), rand([hidden], 5)];
    const dyH = rand([n, hidden], 6);
    const residual = ab(
      (y, b, x, g, be) => residualLayerNorm(y as tf.Tensor, b as tf.Tensor, x as tf.Tensor, g as tf.Tensor, be as tf.Tensor, EPS, drop),
      (y, b, x, g, be) => residualLayerNormComposed(y as tf.Tensor, b as tf.Tensor, x as tf.Tensor, g as tf.Tensor, be as tf.Tensor, EPS, drop),
      res, dyH, reps,
    );
    report('residual', residual);

    const ge = [rand([n, 4 * hidden], 7), rand([4 * hidden], 8)];
    const dyF = rand([n, 4 * hidden], 9);
    const gelu = ab((y, b) => biasGelu(y as tf.Tensor, b as tf.Tensor), (y, b) => biasGeluComposed(y as tf.Tensor, b as tf.Tensor), ge, dyF, reps);
    report('bias+gelu', gelu);

    const vocab = 30522;
    const emb = [rand([vocab, hidden], 10), rand([2, hidden], 11), rand([512, hidden], 12), rand([hidden], 13), rand([hidden], 14)];
    let r = 7;
    const ids = tf.tensor1d(Int32Array.from({ length: n }, () => (r = (r * 1103515245 + 12345) >>> 0) % vocab), 'int32');
    const typeIds = tf.tensor1d(Int32Array.from({ length: n }, (_, i) => (i % SEQ >= SEQ / 2 ? 1 : 0)), 'int32');
    const tables = (words: tf.Tensor, types: tf.Tensor, positions: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => ({ words, types, positions, gamma, beta });
    const embed = ab(
      (w, t, p, g, b) => bertEmbeddings(tables(w as tf.Tensor, t as tf.Tensor, p as tf.Tensor, g as tf.Tensor, b as tf.Tensor), ids, typeIds, SEQ, EPS, drop),
      (w, t, p, g, b) => bertEmbeddingsComposed(tables(w as tf.Tensor, t as tf.Tensor, p as tf.Tensor, g as tf.Tensor, b as tf.Tensor), ids, typeIds, SEQ, EPS, drop),
      emb, dyH, reps,
    );
    report('embedding', embed);

    // Per block: two residual LayerNorms and one bias+GELU.
    const blockF = 2 * residual[0] + gelu[0];
    const blockC = 2 * residual[1] + gelu[1];
    console.log(`${name} (N ${n}, hidden ${hidden}): ${line.join('; ')}; per block ${blockF.toFixed(1)} vs ${blockC.toFixed(1)} ms, ${(blockC / blockF).toFixed(2)}x`);
    tf.dispose([...res, dyH, ...ge, dyF, ...emb, ids, typeIds, drop]);
  }
  console.log(`load average: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (const name of (values.shapes as string).split(',')) stepAb(name as BertShape, Number(values.steps));
  console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

/** Unregisters the ops' wasm kernels (the ops compose tfjs ops) or registers them back. */
function setFused(on: boolean, saved: Map<string, tf.KernelConfig>): void {
  for (const name of FUSED_KERNELS) {
    if (!saved.has(name)) saved.set(name, tf.getKernel(name, 'wasm') as tf.KernelConfig);
    const present = tf.getKernel(name, 'wasm') !== undefined;
    if (on && !present) tf.registerKernel(saved.get(name) as tf.KernelConfig);
    if (!on && present) tf.unregisterKernel(name, 'wasm');
  }
}

function stepAb(shape: BertShape, steps: number): void {
  const config = bertShapeConfig(shape, 2);
  const batch = SHAPES[shape]?.batch as number;
  const model = new BertForSequenceClassification(config, initBertParams(config, 0));
  const { inputs, labels } = benchBatch(batch, SEQ);
  const saved = new Map<string, tf.KernelConfig>();
  const losses: Record<string, number> = {};
  const step = (fused: boolean): number => {
    setFused(fused, saved);
    const t0 = performance.now();
    const { value, grads } = tf.variableGrads(() => model.loss(model.forward(inputs, { training: true, dropoutSeed: 1, step: 0 }), labels));
    losses[String(fused)] = value.dataSync()[0] as number;
    for (const g of Object.values(grads)) g.dataSync();
    const ms = performance.now() - t0;
    tf.dispose([value, ...Object.values(grads)]);
    return ms;
  };
  step(true);
  step(false);
  const f: number[] = [];
  const c: number[] = [];
  for (let k = 0; k < steps; k++) {
    f.push(step(true));
    c.push(step(false));
  }
  setFused(true, saved);
  model.dispose();
  const [mf, mc] = [median(f), median(c)];
  console.log(
    `${shape} step (batch ${batch}, recompute ${model.recomputes(batch, SEQ)}): fused ${mf.toFixed(0)} ms (${(batch / (mf / 1e3)).toFixed(1)} ex/s), ` +
    `composed ${mc.toFixed(0)} ms (${(batch / (mc / 1e3)).toFixed(1)} ex/s), ${(mc / mf).toFixed(2)}x; loss ${losses.true} vs ${losses.false}  ` +
    `[fused ${f.map((v) => v.toFixed(0)).join(' ')}; composed ${c.map((v) => v.toFixed(0)).join(' ')}]`,
  );
}

await main();
