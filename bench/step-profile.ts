// Where one training step's time goes on wasm: wall time per tfjs kernel (and, for BatchMatMul and
// Transpose, per operand shape) of one step of the trainer's model and optimizer, after warm-up
// steps, the batch and step as bench/train-throughput.ts has them.
//
//   node --import tsx bench/step-profile.ts [--shape bert-tiny] [--batch 16] [--threads 2] [--top 25]
//
// Each kernel function in the wasm registry is wrapped with a timer, so a kernel that calls another
// kernel's function (BatchMatMul's transposes) counts that time twice: once under each name.
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../trainer/src/backend/select-backend.ts';
import { BertForSequenceClassification } from '../trainer/src/model/bert-model.ts';
import { initBertParams } from '../trainer/src/model/bert-params.ts';
import { BERT_SHAPES, bertShapeConfig, type BertShape } from '../trainer/src/model/builtin-models.ts';
import { Optimizer, type ParamSpec } from '../trainer/src/train/optimizer.ts';
import { benchBatch } from './bert-batch.ts';

const { values } = parseArgs({
  options: {
    shape: { type: 'string', default: 'bert-tiny' },
    batch: { type: 'string', default: '16' },
    threads: { type: 'string', default: '2' },
    top: { type: 'string', default: '25' },
  },
});
const shape = values.shape as BertShape;
if (!(shape in BERT_SHAPES)) throw new Error(`--shape: unknown shape '${shape}' (one of ${Object.keys(BERT_SHAPES).join(', ')})`);
const batch = Number(values.batch);
const SEQ = 128;

await initBackend({ override: 'wasm', threads: Number(values.threads) });
const config = bertShapeConfig(shape, 2);
const model = new BertForSequenceClassification(config, initBertParams(config, 0));
const specs = new Map<string, ParamSpec>(model.paramInfo().map((p) => [p.name, { lrScale: 1, decay: !p.noDecay }]));
const optimizer = new Optimizer(model.params, specs, {
  kind: 'adamw', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, maxGradNorm: 1, weightDecay: 0.01, pretrainedWeightDecay: 0,
});
const hfName = new Map([...model.params].map(([name, v]) => [v.name, name]));
const { inputs, labels } = benchBatch(batch, SEQ);

let phase = 'forward+backward';
const step = (k: number) => {
  phase = 'forward+backward';
  const { value, grads: byVar } = tf.variableGrads(() => model.loss(model.forward(inputs, { training: true, dropoutSeed: 1, step: k }), labels));
  value.dataSync();
  value.dispose();
  const grads: tf.NamedTensorMap = {};
  for (const [v, g] of Object.entries(byVar)) grads[hfName.get(v) as string] = g;
  phase = 'optimizer';
  optimizer.step(grads, 2e-5).dispose();
};
for (let k = 0; k < 3; k++) step(k);

const byKernel = new Map<string, { ms: number; calls: number }>();
for (const kernel of tf.getKernelsForBackend('wasm')) {
  const inner = kernel.kernelFunc;
  const withShape = kernel.kernelName === tf.BatchMatMul || kernel.kernelName === tf.Transpose;
  (kernel as { kernelFunc: tf.KernelFunc }).kernelFunc = (args) => {
    const t0 = performance.now();
    const out = inner(args);
    const ms = performance.now() - t0;
    const shapes = withShape ? ` ${Object.values(args.inputs).map((t) => `[${t?.shape}]`).join('·')}${args.attrs?.transposeA ? ' tA' : ''}${args.attrs?.transposeB ? ' tB' : ''}` : '';
    const key = `${phase}  ${kernel.kernelName}${shapes}`;
    const entry = byKernel.get(key) ?? { ms: 0, calls: 0 };
    entry.ms += ms;
    entry.calls++;
    byKernel.set(key, entry);
    return out;
  };
}
const t0 = performance.now();
step(3);
const total = performance.now() - t0;
const rows = [...byKernel].sort((a, b) => b[1].ms - a[1].ms);
console.log(`${shape}, batch ${batch}, seq ${SEQ}, ${values.threads} threads, recompute ${model.recomputes(batch, SEQ)}: step ${total.toFixed(0)} ms (${(batch / (total / 1000)).toFixed(1)} ex/s); load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log(`${'phase  kernel [operand shapes]'.padEnd(70)}${'ms'.padStart(9)}${'share'.padStart(8)}${'calls'.padStart(7)}`);
for (const [key, { ms, calls }] of rows.slice(0, Number(values.top))) {
  console.log(`${key.padEnd(70)}${ms.toFixed(1).padStart(9)}${`${((100 * ms) / total).toFixed(1)}%`.padStart(8)}${String(calls).padStart(7)}`);
}
