// Training throughput on the wasm backend against PyTorch, same model, batch and optimizer, same run.
//
//   node --import tsx bench/train-throughput.ts [--shapes bert-tiny,bert-mini,bert-small,bert-base]
//        [--steps 3] [--threads 2] [--no-torch] [--recompute auto|on|off]
//
// For each shape (sequence length 128; batch 16, bert-base 8) one child process trains on wasm
// (so that each shape's heap peak is its own: wasm memory never shrinks) and one runs
// bench/torch_throughput.py (Debian's torch, OpenBLAS, torch.set_num_threads(threads)). A step is
// the training loop's: forward + loss, tf.variableGrads, AdamW with global-norm clipping
// (trainer/src/train/optimizer.ts), dropout 0.1 on.
//
// FLOPs counted per example (the same for both sides, so their ratio is the ex/s ratio):
//   6 · P_enc · seq           the encoder's Linear weights (P_enc = L·(4H² + 2·H·4H)), forward 2,
//                             backward 4 FLOPs per weight and token
//   + 12 · L · seq² · H       attention: QKᵀ and PV, 2·seq²·H each forward, ×3 with backward
//   + 6 · (H² + 2H)           pooler and classifier, [CLS] only
// Not counted: embeddings (lookups and a scatter-add, no FLOPs worth the name), LayerNorm, softmax,
// GELU, the optimizer, and the forward that activation checkpointing recomputes (tfjs side only:
// it is extra work done, not useful work).
import { execFileSync, spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../trainer/src/backend/select-backend.ts';
import { asWasmBackend, heapBytes } from '../trainer/src/backend/wasm-heap.ts';
import { BertForSequenceClassification } from '../trainer/src/model/bert-model.ts';
import { benchBatch } from './bert-batch.ts';
import { initBertParams } from '../trainer/src/model/bert-params.ts';
import { BERT_SHAPES, bertShapeConfig, type BertShape } from '../trainer/src/model/builtin-models.ts';
import { Optimizer, type ParamSpec } from '../trainer/src/train/optimizer.ts';

const SEQ = 128;
const BATCH: Record<string, number> = { 'bert-base': 8 };
const DEFAULT_BATCH = 16;
const WASM_HEAP_LIMIT = 4 * 2 ** 30;

const { values } = parseArgs({
  options: {
    shapes: { type: 'string', default: 'bert-tiny,bert-mini,bert-small,bert-base' },
    steps: { type: 'string', default: '3' },
    threads: { type: 'string', default: String(Math.min(cpus().length, 8)) },
    'no-torch': { type: 'boolean', default: false },
    // As the trainer does by default: recompute block activations only where they would not fit.
    recompute: { type: 'string', default: 'auto' },
    child: { type: 'string' },
  },
});

interface WasmRun {
  shape: string;
  batch: number;
  threads: number;
  recompute: boolean;
  seconds_per_step: number[];
  examples_per_second: number;
  heap_peak_bytes: number;
  num_tensors_after_step: number[];
  error?: string;
}

interface TorchRun {
  torch_version: string;
  threads: number;
  blas: string[];
  seconds_per_step: number[];
  examples_per_second: number;
}

function flopsPerExample(shape: BertShape): number {
  const { hidden: h, layers: l } = BERT_SHAPES[shape];
  const pEnc = l * (4 * h * h + 2 * h * 4 * h);
  return 6 * pEnc * SEQ + 12 * l * SEQ * SEQ * h + 6 * (h * h + 2 * h);
}

/** Child mode: train one shape on wasm and print a WasmRun as JSON. */
async function runWasm(shape: BertShape, steps: number, recomputeMode: string): Promise<WasmRun> {
  if (!['auto', 'on', 'off'].includes(recomputeMode)) throw new Error(`--recompute: '${recomputeMode}' is not auto, on or off`);
  const recompute = recomputeMode === 'auto' ? 'auto' : recomputeMode === 'on';
  const info = await initBackend({ override: 'wasm', threads: Number(values.threads) });
  const batch = BATCH[shape] ?? DEFAULT_BATCH;
  const config = bertShapeConfig(shape, 2);
  const run: WasmRun = {
    shape, batch, threads: info.threads, recompute: false, seconds_per_step: [], examples_per_second: 0, heap_peak_bytes: 0, num_tensors_after_step: [],
  };
  const backend = asWasmBackend(tf.backend());
  try {
    const model = new BertForSequenceClassification(config, initBertParams(config, 0), { recompute });
    run.recompute = model.recomputes(batch, SEQ);
    const specs = new Map<string, ParamSpec>(model.paramInfo().map((p) => [p.name, { lrScale: 1, decay: !p.noDecay }]));
    const optimizer = new Optimizer(model.params, specs, {
      kind: 'adamw', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, maxGradNorm: 1, weightDecay: 0.01, pretrainedWeightDecay: 0,
    });
    const hfName = new Map([...model.params].map(([name, v]) => [v.name, name]));
    const { inputs, labels } = benchBatch(batch, SEQ);
    const step = (k: number) => {
      const { value, grads: byVar } = tf.variableGrads(() => model.loss(model.forward(inputs, { training: true, dropoutSeed: 1, step: k }), labels));
      value.dataSync();
      value.dispose();
      const grads: tf.NamedTensorMap = {};
      for (const [v, g] of Object.entries(byVar)) grads[hfName.get(v) as string] = g;
      optimizer.step(grads, 2e-5).dispose();
      run.num_tensors_after_step.push(tf.memory().numTensors);
      run.heap_peak_bytes = heapBytes(backend);
    };
    step(0); // warm-up: V8 tiers the wasm code up, XNNPACK packs weights
    for (let k = 1; k <= steps; k++) {
      const t0 = performance.now();
      step(k);
      run.seconds_per_step.push((performance.now() - t0) / 1000);
    }
    // The median step, on both sides: one step stalled by another process must not set the ratio.
    run.examples_per_second = batch / median(run.seconds_per_step);
  } catch (error) {
    run.error = error instanceof Error ? error.message : String(error);
    run.heap_peak_bytes = heapBytes(backend);
  }
  return run;
}

function runTorch(shape: BertShape, steps: number, threads: number): TorchRun | { error: string } {
  const s = BERT_SHAPES[shape];
  const script = fileURLToPath(new URL('./torch_throughput.py', import.meta.url));
  const args = [script, '--hidden', String(s.hidden), '--layers', String(s.layers), '--heads', String(s.heads), '--batch', String(BATCH[shape] ?? DEFAULT_BATCH), '--seq', String(SEQ), '--steps', String(steps), '--threads', String(threads)];
  // Debian's libblas.so.3 alternative may be the reference BLAS (~6 GFLOP/s); point the loader at
  // OpenBLAS (OpenMP build, as torch's own threads are OpenMP) so that the anchor is fair.
  const env = { ...process.env, LD_LIBRARY_PATH: ['/usr/lib/x86_64-linux-gnu/openblas-openmp', process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') };
  const r = spawnSync('/usr/bin/python3', args, { env, encoding: 'utf8' });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || 'failed').trim().split('\n').slice(-1)[0] ?? 'failed' };
  return JSON.parse(r.stdout) as TorchRun;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;

if (values.child) {
  const run = await runWasm(values.child as BertShape, Number(values.steps), values.recompute);
  process.stdout.write(`${JSON.stringify(run)}\n`);
} else {
  const shapes = values.shapes.split(',').map((s) => s.trim()) as BertShape[];
  for (const s of shapes) if (!(s in BERT_SHAPES)) throw new Error(`--shapes: unknown shape '${s}' (one of ${Object.keys(BERT_SHAPES).join(', ')})`);
  const threads = Number(values.threads);
  const steps = Number(values.steps);
  console.log(`train throughput, seq ${SEQ}, ${steps} timed steps after 1 warm-up; wasm threads ${threads}, torch threads ${threads}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log('shape       batch  wasm ex/s  torch ex/s  ratio  wasm GFLOP/s  torch GFLOP/s  heap peak   fits 4 GiB  tensors/step');
  const results: unknown[] = [];
  for (const shape of shapes) {
    const self = fileURLToPath(import.meta.url);
    const childArgs = ['--import', 'tsx', self, '--child', shape, '--steps', String(steps), '--threads', String(threads), '--recompute', values.recompute];
    let wasm: WasmRun;
    try {
      wasm = JSON.parse(execFileSync(process.execPath, childArgs, { encoding: 'utf8', maxBuffer: 1 << 24 })) as WasmRun;
    } catch (error) {
      // A wasm abort (out of memory) kills the child before it can report.
      wasm = { shape, batch: BATCH[shape] ?? DEFAULT_BATCH, threads, recompute: values.recompute === 'on', seconds_per_step: [], examples_per_second: 0, heap_peak_bytes: WASM_HEAP_LIMIT, num_tensors_after_step: [], error: String((error as { stderr?: string }).stderr ?? error).trim().split('\n').slice(-1)[0] };
    }
    const torch = values['no-torch'] ? undefined : runTorch(shape, steps, threads);
    const flops = flopsPerExample(shape);
    const torchEx = torch && 'examples_per_second' in torch ? torch.examples_per_second : undefined;
    const tensors = wasm.num_tensors_after_step;
    const flat = tensors.length > 1 && tensors.every((t) => t === tensors[0]);
    console.log(
      [
        shape.padEnd(11),
        String(wasm.batch).padStart(5),
        (wasm.error ? 'FAILED' : wasm.examples_per_second.toFixed(2)).padStart(10),
        (torchEx !== undefined ? torchEx.toFixed(2) : '-').padStart(11),
        (torchEx && !wasm.error ? `${(wasm.examples_per_second / torchEx).toFixed(2)}x` : '-').padStart(6),
        (wasm.error ? '-' : ((wasm.examples_per_second * flops) / 1e9).toFixed(1)).padStart(13),
        (torchEx !== undefined ? ((torchEx * flops) / 1e9).toFixed(1) : '-').padStart(14),
        gib(wasm.heap_peak_bytes).padStart(10),
        (wasm.error ? 'no' : 'yes').padStart(11),
        `${tensors.join(',')}${tensors.length > 1 ? (flat ? ' (flat)' : ' (GROWS)') : ''}`.padStart(14),
      ].join(' '),
    );
    if (wasm.error) console.log(`  wasm ${shape}: ${wasm.error}`);
    if (torch && 'error' in torch) console.log(`  torch ${shape}: ${torch.error}`);
    results.push({ shape, flops_per_example: flops, wasm, torch });
  }
  console.log(JSON.stringify({ load_average: loadavg(), results }));
}
