// One optimizer step on wasm: the fused kernels (trainer/src/train/fused-optimizer.ts, one pass per
// parameter tensor plus a norm pass) against the composed tfjs ops (optimizer.ts, ~15 kernels per
// tensor), same process, same parameters and gradients, alternating step by step.
//
//   node --import tsx bench/optimizer-step.ts [--shapes bert-tiny,bert-mini,bert-base] [--steps 7]
//        [--optimizer adamw|bertadam] [--threads 2] [--full-step]
//
// Each shape's full parameter set (BERT with a 2-label head) with the trainer's settings (adamw,
// weight decay 0.01 on the decayed parameters, clipping at 1); gradients N(0, 1e-3) so that the
// global norm clips, as in training. Reports the median step of each path and their ratio.
//
// --full-step: the gradients come from the model's forward and backward on a batch (16, or 8 for
// bert-base; sequence 128, dropout on, as bench/train-throughput.ts), timed too, so that the table
// shows the training step's examples/s with either optimizer path; both paths train the same
// model in turns, so a burst of load from other processes hits both (on a shared machine a
// before/after pair of train-throughput runs cannot resolve this difference).
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../trainer/src/backend/select-backend.ts';
import { asWasmBackend, heapBytes } from '../trainer/src/backend/wasm-heap.ts';
import { BertForSequenceClassification } from '../trainer/src/model/bert-model.ts';
import { benchBatch } from './bert-batch.ts';
import { initBertParams, isNoDecay } from '../trainer/src/model/bert-params.ts';
import { BERT_SHAPES, bertShapeConfig, type BertShape } from '../trainer/src/model/builtin-models.ts';
import { Optimizer, type OptimizerKind, type ParamSpec } from '../trainer/src/train/optimizer.ts';

const { values } = parseArgs({
  options: {
    shapes: { type: 'string', default: 'bert-tiny,bert-mini,bert-base' },
    steps: { type: 'string', default: '7' },
    optimizer: { type: 'string', default: 'adamw' },
    threads: { type: 'string', default: '2' },
    'full-step': { type: 'boolean', default: false },
  },
});
const fullStep = values['full-step'] as boolean;
const SEQ = 128;
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
console.log(`shape       params   tensors  fused ms  composed ms  speed-up  heap peak${fullStep ? '  fwd+bwd ms  ex/s fused  ex/s composed  ratio' : ''}`);
for (const shape of shapes as BertShape[]) {
  const config = bertShapeConfig(shape, 2);
  const batch = shape === 'bert-base' ? 8 : 16;
  const model = fullStep ? new BertForSequenceClassification(config, initBertParams(config, 0)) : undefined;
  const params = new Map<string, tf.Variable>();
  if (model) for (const [name, v] of model.params) params.set(name, v);
  else for (const [name, t] of initBertParams(config, 0)) params.set(name, tf.tidy(() => tf.variable(tf.tensor(t.data, t.shape))));
  const specs = new Map<string, ParamSpec>([...params.keys()].map((name) => [name, { lrScale: 1, decay: !isNoDecay(name) }]));
  const settings = { kind, beta1: 0.9, beta2: 0.999, epsilon: kind === 'adamw' ? 1e-8 : 1e-6, maxGradNorm: 1, weightDecay: 0.01, pretrainedWeightDecay: 0 };
  const fused = new Optimizer(params, specs, settings, { fused: true });
  const composed = new Optimizer(params, specs, settings, { fused: false });
  // Each step consumes its gradients; clones share the buffers, so every step reads the same ones.
  const grads = new Map(model ? [] : [...params].map(([name, p], i) => [name, tf.randomNormal(p.shape, 0, 1e-3, 'float32', i + 1)]));
  const forwardBackward = fullStep ? modelGradients(model as BertForSequenceClassification, batch) : undefined;
  const fwdBwdMs: number[] = [];
  let k = 0;
  const gradsFor = (): tf.NamedTensorMap => {
    if (!forwardBackward) return Object.fromEntries([...grads].map(([name, g]) => [name, g.clone()]));
    const t0 = performance.now();
    const g = forwardBackward(k++);
    fwdBwdMs.push(performance.now() - t0);
    return g;
  };
  const time = (opt: Optimizer): number => {
    const g = gradsFor();
    const t0 = performance.now();
    opt.step(g, 2e-5).dispose();
    return performance.now() - t0;
  };
  time(fused); // warm-up: V8 tiers the code up, the heap grows to its peak
  time(composed);
  const tensors = tf.memory().numTensors;
  const ms = { fused: [] as number[], composed: [] as number[] };
  fwdBwdMs.length = 0;
  for (let i = 0; i < steps; i++) {
    // Alternate which goes first: a burst of load from other processes hits both.
    if (i % 2 === 0) {
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
  let line = `${shape.padEnd(10)} ${(count / 1e6).toFixed(1).padStart(6)}M ${String(params.size).padStart(8)} ${f.toFixed(1).padStart(9)} ${c.toFixed(1).padStart(12)} ${(c / f).toFixed(2).padStart(8)}x ${(heapBytes(backend) / 2 ** 30).toFixed(2).padStart(6)} GiB`;
  if (fullStep) {
    const fb = median(fwdBwdMs);
    const exFused = batch / ((fb + f) / 1000);
    const exComposed = batch / ((fb + c) / 1000);
    line += ` ${fb.toFixed(0).padStart(11)} ${exFused.toFixed(2).padStart(11)} ${exComposed.toFixed(2).padStart(14)} ${(exFused / exComposed).toFixed(2).padStart(6)}x`;
  }
  console.log(line);
  console.log(JSON.stringify({ shape, params: count, fused_ms: ms.fused, composed_ms: ms.composed, ...(fullStep ? { batch, forward_backward_ms: fwdBwdMs } : {}) }));
  fused.dispose();
  composed.dispose();
  for (const g of grads.values()) g.dispose();
  if (model) model.dispose();
  else for (const p of params.values()) p.dispose();
}

/** The gradients of one training step of `model` on a fixed batch, keyed by parameter name. */
function modelGradients(model: BertForSequenceClassification, batch: number): (step: number) => tf.NamedTensorMap {
  const { inputs, labels } = benchBatch(batch, SEQ);
  const hfName = new Map([...model.params].map(([name, v]) => [v.name, name]));
  return (step) => {
    const { value, grads } = tf.variableGrads(() => model.loss(model.forward(inputs, { training: true, dropoutSeed: 1, step }), labels));
    value.dataSync();
    value.dispose();
    return Object.fromEntries(Object.entries(grads).map(([v, g]) => [hfName.get(v) as string, g]));
  };
}
console.log(`load average after: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
