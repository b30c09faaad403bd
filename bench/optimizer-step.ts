// One optimizer step on wasm: the fused kernels (trainer/src/train/fused-optimizer.ts, one pass per
// parameter tensor plus a norm pass) against the composed tfjs ops (optimizer.ts, ~15 kernels per
// tensor), same process, same parameters and gradients, alternating step by step.
//
//   node --import tsx bench/optimizer-step.ts [--shapes bert-tiny,bert-mini,bert-base] [--steps 7]
//        [--optimizer adamw|bertadam] [--threads 2]
//
// Each shape's full parameter set (BERT with a 2-label head) with the trainer's settings (adamw,
// weight decay 0.01 on the decayed parameters, clipping at 1); gradients N(0, 1e-3) so that the
// global norm clips, as in training. Reports the median step of each path and their ratio.
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../trainer/src/backend/select-backend.ts';
import { asWasmBackend, heapBytes } from '../trainer/src/backend/wasm-heap.ts';
import { initBertParams, isNoDecay } from '../trainer/src/model/bert-params.ts';
import { BERT_SHAPES, bertShapeConfig, type BertShape } from '../trainer/src/model/builtin-models.ts';
import { Optimizer, type OptimizerKind, type ParamSpec } from '../trainer/src/train/optimizer.ts';

const { values } = parseArgs({
  options: {
    shapes: { type: 'string', default: 'bert-tiny,bert-mini,bert-base' },
    steps: { type: 'string', default: '7' },
    optimizer: { type: 'string', default: 'adamw' },
    threads: { type: 'string', default: '2' },
  },
});
const shapes = (values.shapes as string).split(',');
for (const s of shapes) if (!(s in BERT_SHAPES)) throw new Error(`--shapes: unknown shape '${s}' (known: ${Object.keys(BERT_SHAPES).join(', ')})`);
const steps = Number(values.steps);
if (!(Number.isInteger(steps) && steps > 0)) throw new Error(`--steps: expected a positive integer, got '${values.steps}'`);
const kind = values.optimizer as OptimizerKind;
if (kind !== 'adamw' && kind !== 'bertadam') throw new Error(`--optimizer: expected adamw or bertadam, got '${kind}'`);

const info = await initBackend({ override: 'wasm', threads: Number(values.threads) });
const backend = asWasmBackend(tf.backend());
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

console.log(`optimizer step (${kind}) on wasm, fused vs composed tfjs ops, median of ${steps} alternating steps; wasm threads ${info.threads}; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log('shape       params   tensors  fused ms  composed ms  speed-up  heap peak');
for (const shape of shapes as BertShape[]) {
  const config = bertShapeConfig(shape, 2);
  const params = new Map<string, tf.Variable>();
  for (const [name, t] of initBertParams(config, 0)) params.set(name, tf.tidy(() => tf.variable(tf.tensor(t.data, t.shape))));
  const specs = new Map<string, ParamSpec>([...params.keys()].map((name) => [name, { lrScale: 1, decay: !isNoDecay(name) }]));
  const settings = { kind, beta1: 0.9, beta2: 0.999, epsilon: kind === 'adamw' ? 1e-8 : 1e-6, maxGradNorm: 1, weightDecay: 0.01, pretrainedWeightDecay: 0 };
  const fused = new Optimizer(params, specs, settings, { fused: true });
  const composed = new Optimizer(params, specs, settings, { fused: false });
  // Each step consumes its gradients; clones share the buffers, so every step reads the same ones.
  const grads = new Map([...params].map(([name, p], i) => [name, tf.randomNormal(p.shape, 0, 1e-3, 'float32', i + 1)]));
  const gradsCopy = (): tf.NamedTensorMap => Object.fromEntries([...grads].map(([name, g]) => [name, g.clone()]));
  const time = (opt: Optimizer): number => {
    const t0 = performance.now();
    opt.step(gradsCopy(), 2e-5).dispose();
    return performance.now() - t0;
  };
  time(fused); // warm-up: V8 tiers the code up, the heap grows to its peak
  time(composed);
  const tensors = tf.memory().numTensors;
  const ms = { fused: [] as number[], composed: [] as number[] };
  for (let k = 0; k < steps; k++) {
    // Alternate which goes first: a burst of load from other processes hits both.
    if (k % 2 === 0) {
      ms.fused.push(time(fused));
      ms.composed.push(time(composed));
    } else {
      ms.composed.push(time(composed));
      ms.fused.push(time(fused));
    }
  }
  if (tf.memory().numTensors !== tensors) throw new Error(`${shape}: tensor count grew from ${tensors} to ${tf.memory().numTensors}`);
  const count = [...params.values()].reduce((a, p) => a + p.size, 0);
  const f = median(ms.fused);
  const c = median(ms.composed);
  console.log(
    `${shape.padEnd(10)} ${(count / 1e6).toFixed(1).padStart(6)}M ${String(params.size).padStart(8)} ${f.toFixed(1).padStart(9)} ${c.toFixed(1).padStart(12)} ${(c / f).toFixed(2).padStart(8)}x ${(heapBytes(backend) / 2 ** 30).toFixed(2).padStart(6)} GiB`,
  );
  console.log(JSON.stringify({ shape, params: count, fused_ms: ms.fused, composed_ms: ms.composed }));
  fused.dispose();
  composed.dispose();
  for (const g of grads.values()) g.dispose();
  for (const p of params.values()) p.dispose();
}
console.log(`load average after: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
