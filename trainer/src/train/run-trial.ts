// One trial, top to bottom: config → data → model → T updates with periodic evaluation → the
// selected model, its metrics and its checkpoint. Everything the paper varies is a config key read
// here; the arithmetic lives in optimizer.ts, lr-schedule.ts and the model. No callbacks: the loop
// checks `ctx.signal` once per update and reports through `ctx.heartbeat`.
//
// Determinism: data order comes from data_seed (per epoch), head and re-init draws from init_seed,
// dropout and mixout masks from (dropout_seed, step, site). Nothing reads a clock or tfjs's own RNG,
// so the same seeds on the same backend give the same numbers bit for bit (run-trial.test.ts).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { dataRoot, resolveModelPath } from '../config/data-paths.ts';
import { ConfigError, resolveTrialConfig, type ResolvedTrialConfig, type TrialConfig } from '../config/trial-config.ts';
import { epochOrder, evalBatches, makeBatch, type EncodedSplit } from '../data/batches.ts';
import { DataCache } from '../data/data-cache.ts';
import type { TaskData } from '../data/task-data.ts';
import { tokenizerFromFiles } from '../data/tokenizer.ts';
import { argmax, computeMetrics } from '../eval/metrics.ts';
import type { BertConfig } from '../model/bert-config.ts';
import { BertForSequenceClassification } from '../model/bert-model.ts';
import { loadModel, saveCheckpoint, type LoadedModel } from '../model/checkpoint.ts';
import { reinitWeights } from '../model/reinit.ts';
import type { HostTensor } from '../model/safetensors.ts';
import { learningRateAt, scheduleLength } from './lr-schedule.ts';
import { MetricsLog } from './metrics-log.ts';
import { degenerateReason, evalSteps, isImprovement } from './model-selection.ts';
import { Optimizer, type ParamSpec } from './optimizer.ts';
import { TrialCancelledError, type TrialContext } from './trial-context.ts';
import type { BackendInfo, EvalMetrics, SelectedModel, TrialResult } from './trial-result.ts';
import { writeFileAtomic } from '../util/write-file-atomic.ts';

export interface RunTrialOptions {
  /** Where metrics.jsonl, result.json and checkpoint/ go; nothing is written without it. */
  outDir?: string;
  /** Root for relative model and data paths (see config/data-paths.ts). */
  dataRoot?: string;
  /** The backend the caller initialised (recorded in the result); default: described from tfjs. */
  backend?: BackendInfo;
  /** Keeps the loaded and encoded task between the trials of one process (a trainer's sweep). */
  dataCache?: DataCache;
}

export async function runTrial(config: TrialConfig, ctx: TrialContext, options: RunTrialOptions = {}): Promise<TrialResult> {
  const t0 = performance.now();
  const cfg = resolveTrialConfig(config);
  const { seeds } = cfg;
  const root = dataRoot(options.dataRoot);
  const backend = options.backend ?? describeActiveBackend();
  const log = ctx.log; // bound to the trial (trialId, workerId, attempt) by whoever made the context

  // ---- data and model -------------------------------------------------------------------------
  const data = options.dataCache ?? new DataCache();
  const task = data.loadTask(cfg.task, root);
  const { spec } = task;
  const loaded = loadStartingPoint(cfg, root, spec.numLabels, spec.labels);
  log.info({ source: loaded.report.source, head: loaded.report.head, headReason: loaded.report.headReason, missing: loaded.report.missing, unexpected: loaded.report.unexpected }, 'model loaded');
  const tokenizerSource = loaded.dir ?? cfg.model;
  const tokenizer = tokenizerFromFiles(loaded.vocabFiles, tokenizerSource);
  const { train, validation, test, majorityBaseline: baseline } = data.prepare(task, tokenizer, tokenizerSource, cfg.max_seq_length);
  log.info({ train: train.size, validation: validation.size, test: test?.size ?? 0, truncated: train.truncated }, 'data loaded');

  // Re-initialisation replaces the pooler and the top blocks before anything else sees the weights
  // (mixout's targets, pre-trained weight decay's p0 and the max_steps: 0 checkpoint all see them).
  const weights = loaded.weights;
  for (const [name, t] of reinitWeights(loaded.config, { reinitPooler: cfg.reinit_pooler, reinitLayers: cfg.reinit_layers }, seeds.init_seed)) {
    weights.set(name, t);
  }
  const model = new BertForSequenceClassification(loaded.config, weights, { hiddenDropout: cfg.dropout, attentionDropout: cfg.dropout });
  weights.clear(); // the model holds its own copies; let the host arrays go
  if (cfg.mixout > 0) model.setMixout(cfg.mixout);

  const optimizer = new Optimizer(model.params, paramSpecs(model, cfg), {
    kind: cfg.optimizer,
    beta1: 0.9,
    beta2: 0.999,
    epsilon: cfg.adam_epsilon,
    maxGradNorm: cfg.max_grad_norm,
    weightDecay: cfg.weight_decay,
    pretrainedWeightDecay: cfg.pretrained_weight_decay,
  });
  // tf.variableGrads keys gradients by tfjs variable name; the optimizer keys by Hugging Face name.
  const hfName = new Map([...model.params].map(([name, v]) => [v.name, name]));
  const trainable = [...model.params.values()];

  const { totalSteps: T, warmupSteps: W, stepsPerEpoch } = scheduleLength({
    numTrain: train.size,
    batchSize: cfg.batch_size,
    epochs: cfg.epochs,
    maxSteps: cfg.max_steps,
    warmupRatio: cfg.warmup_ratio,
    warmupSteps: cfg.warmup_steps,
  });
  const evalAt = new Set(evalSteps(T, cfg.num_evals));
  const evalBatchSize = cfg.eval_batch_size ?? 2 * cfg.batch_size;
  log.info({ totalSteps: T, warmupSteps: W, stepsPerEpoch, evalSteps: [...evalAt], backend: backend.name }, 'training');

  const metricsLog = new MetricsLog(options.outDir ? join(options.outDir, 'metrics.jsonl') : undefined);
  const evals: TrialResult['evals'] = [];
  let selected: { step: number; validation: EvalMetrics; weights: Map<string, HostTensor> } | undefined;
  let diverged: TrialResult['diverged'];
  let stepsCompleted = 0;
  let trainMs = 0;
  let evalMs = 0;
  let examplesSeen = 0;

  const evaluateSplit = (split: EncodedSplit): Promise<EvalMetrics> =>
    evaluate(model, split, spec.metrics, evalBatchSize, { signal: ctx.signal, step: stepsCompleted });
  const evaluateValidation = async (step: number): Promise<void> => {
    const e0 = performance.now();
    const validationMetrics = await evaluateSplit(validation);
    evals.push({ step, validation: validationMetrics });
    const better = isImprovement(validationMetrics, selected?.validation, spec.selectionMetric);
    // The selected weights go to host memory, not to extra GPU variables: bert-base's 440 MB matter
    // more on an accelerator than in the host's RAM.
    if (better) selected = { step, validation: validationMetrics, weights: model.getWeights() };
    evalMs += performance.now() - e0;
    metricsLog.write({ type: 'eval', step, validation: validationMetrics, selected: better });
    ctx.heartbeat({ kind: 'eval', step, total_steps: T, validation: validationMetrics });
    log.info({ step, validation: validationMetrics, selected: better }, 'evaluated');
  };

  try {
    if (T === 0) await evaluateValidation(0);
    // ---- the training loop ----------------------------------------------------------------------
    let order: { epoch: number; indices: Int32Array } | undefined;
    for (let k = 0; k < T; k++) {
      // Let timers, I/O and signal handlers run once per update: on wasm and cpu, `data()` resolves
      // as a microtask, so without this the trainer agent's heartbeats and a SIGTERM would wait for
      // the whole trial (its lease would expire while it trains). Costs microseconds per update.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (ctx.signal.aborted) throw new TrialCancelledError(k, ctx.signal.reason);
      const s0 = performance.now();
      const step = k + 1;
      // Epoch e's order is a pure function of (data_seed, e), so a retried trial sees the same batches.
      const epoch = Math.floor(k / stepsPerEpoch);
      if (order?.epoch !== epoch) order = { epoch, indices: epochOrder(train.size, seeds.data_seed, epoch, cfg.shuffle) };
      const start = (k % stepsPerEpoch) * cfg.batch_size;
      const batch = makeBatch(train, order.indices.subarray(start, start + cfg.batch_size));
      const lr = learningRateAt(k, cfg.learning_rate, T, W);
      const { value, grads: byVarName } = tf.variableGrads(
        () => model.loss(model.forward(batch, { training: true, dropoutSeed: seeds.dropout_seed, step: k }), batch.labels),
        trainable,
      );
      const loss = (await value.data())[0] as number;
      value.dispose();
      const grads: tf.NamedTensorMap = {};
      for (const [varName, g] of Object.entries(byVarName)) grads[hfName.get(varName) as string] = g;
      if (!Number.isFinite(loss)) {
        // Stop before the update: a non-finite loss poisons every weight it touches.
        for (const g of Object.values(grads)) g.dispose();
        diverged = { step, loss };
        metricsLog.write({ type: 'step', step, epoch, loss, lr, grad_norm: Number.NaN });
        log.warn({ step, loss }, 'diverged: non-finite loss');
        break;
      }
      const normTensor = optimizer.step(grads, lr);
      const gradNorm = (await normTensor.data())[0] as number;
      normTensor.dispose();
      stepsCompleted = step;
      examplesSeen += batch.size;
      trainMs += performance.now() - s0;
      metricsLog.write({ type: 'step', step, epoch, loss, lr, grad_norm: gradNorm });
      ctx.heartbeat({ kind: 'step', step, total_steps: T, loss, lr, examples_per_second: examplesSeen / (trainMs / 1000) });
      if (evalAt.has(step)) await evaluateValidation(step);
    }

    // ---- selection, test metrics, checkpoint ----------------------------------------------------
    // The last model is the weights as they are now: after update T, or after the last finite
    // update of a diverged run (which may not have been evaluated yet).
    if (evals[evals.length - 1]?.step !== stepsCompleted) await evaluateValidation(stepsCompleted);
    const lastValidation = evals[evals.length - 1] as (typeof evals)[number];
    const e0 = performance.now();
    const last: SelectedModel = { step: lastValidation.step, validation: lastValidation.validation };
    if (test) last.test = await evaluateSplit(test);
    const chosen = selected as NonNullable<typeof selected>;
    const selectedModel: SelectedModel = { step: chosen.step, validation: chosen.validation };
    if (chosen.step === last.step) {
      if (last.test) selectedModel.test = last.test;
    } else {
      model.setWeights(chosen.weights);
      if (test) selectedModel.test = await evaluateSplit(test);
    }
    evalMs += performance.now() - e0;

    let reason = degenerateReason(chosen.validation, spec.selectionMetric, spec.problemType, baseline);
    if (diverged) reason = `diverged: loss ${diverged.loss} at step ${diverged.step}${reason ? `; ${reason}` : ''}`;

    const result: TrialResult = {
      config,
      seeds,
      backend,
      task: {
        name: spec.name,
        problem_type: spec.problemType,
        metric: spec.metric,
        selection_metric: spec.selectionMetric,
        num_labels: spec.numLabels,
        num_train: train.size,
        num_validation: validation.size,
        num_test: test?.size ?? 0,
        ...(baseline !== undefined ? { majority_baseline: baseline } : {}),
      },
      total_steps: T,
      steps_completed: stepsCompleted,
      evals,
      selected: selectedModel,
      last,
      degenerate: reason !== undefined,
      ...(reason !== undefined ? { degenerate_reason: reason } : {}),
      ...(diverged ? { diverged } : {}),
      timings: {
        total_seconds: (performance.now() - t0) / 1000,
        train_seconds: trainMs / 1000,
        eval_seconds: evalMs / 1000,
        examples_per_second: trainMs > 0 ? examplesSeen / (trainMs / 1000) : 0,
      },
    };
    if (options.outDir) {
      const checkpointDir = join(options.outDir, 'checkpoint');
      saveCheckpoint(checkpointDir, loaded.config, chosen.weights, {
        vocabFiles: loaded.vocabFiles,
        info: { config, seeds, step: chosen.step, selection_metric: spec.selectionMetric, validation: chosen.validation },
      });
      result.checkpoint_dir = checkpointDir;
      result.metrics_path = join(options.outDir, 'metrics.jsonl');
      writeJsonAtomic(join(options.outDir, 'result.json'), result);
    }
    log.info({ selectedStep: chosen.step, validation: chosen.validation, test: selectedModel.test, degenerate: result.degenerate, durationMs: Math.round(performance.now() - t0) }, 'trial done');
    return result;
  } finally {
    metricsLog.close();
    optimizer.dispose();
    model.dispose();
  }
}

/** The model's weights to start from: `init_from` (a fine-tuned checkpoint) or `model`, with the task's head. */
function loadStartingPoint(cfg: ResolvedTrialConfig, root: string, numLabels: number, labels: readonly string[] | undefined): LoadedModel {
  const options = { numLabels, initSeed: cfg.seeds.init_seed, ...(labels ? { labels } : {}) };
  const base = loadModel(resolveModelPath(cfg.model, root), options);
  if (cfg.init_from === undefined) return base;
  const from = loadModel(resolveModelPath(cfg.init_from, root), options);
  const mismatch = architectureMismatch(base.config, from.config);
  if (mismatch) throw new ConfigError('init_from', `${cfg.init_from} is not a fine-tuned ${cfg.model}: ${mismatch}`);
  return from;
}

function architectureMismatch(a: BertConfig, b: BertConfig): string | undefined {
  for (const key of ['vocabSize', 'hiddenSize', 'numHiddenLayers', 'numAttentionHeads', 'intermediateSize', 'maxPositionEmbeddings', 'typeVocabSize'] as const) {
    if (a[key] !== b[key]) return `${key} ${b[key]} ≠ ${a[key]}`;
  }
  return undefined;
}

/**
 * Per parameter: its layer-wise LR scale (head and pooler 1, top block η, …, embeddings η^(L+1)) and
 * whether it decays (not biases and LayerNorm). The paper's code, with llrd on, also happens to
 * exempt the head and pooler weights from weight decay; we keep one rule for every setting, so that
 * turning llrd on changes learning rates and nothing else.
 */
export function paramSpecs(model: BertForSequenceClassification, cfg: Pick<TrialConfig, 'llrd'>): Map<string, ParamSpec> {
  const top = model.config.numHiddenLayers + 1;
  return new Map(model.paramInfo().map((p) => [p.name, { lrScale: cfg.llrd ** (top - p.layer), decay: !p.noDecay }]));
}

/**
 * Validation or test metrics of the model as it is, in inference mode (no dropout, no mixout).
 * Yields to the event loop between batches and stops at a batch boundary once `signal` is aborted:
 * evaluating a large dev set can outlast a lease, and heartbeats and SIGTERM must get through.
 */
export async function evaluate(
  model: BertForSequenceClassification,
  split: EncodedSplit,
  metrics: TaskData['spec']['metrics'],
  batchSize: number,
  options: { signal?: AbortSignal; step?: number } = {},
): Promise<EvalMetrics> {
  const numLabels = model.config.numLabels;
  const outputs = new Float32Array(split.size * numLabels);
  let lossSum = 0;
  let offset = 0;
  for (const batch of evalBatches(split, batchSize)) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (options.signal?.aborted) throw new TrialCancelledError(options.step ?? 0, options.signal.reason);
    // Logits and loss are read back to the host; nothing of the batch stays on the device.
    const [logits, loss] = tf.tidy(() => {
      const l = model.forward(batch, { training: false });
      return [l, model.loss(l, batch.labels)];
    });
    try {
      outputs.set((await logits.data()) as Float32Array, offset * numLabels);
      lossSum += ((await loss.data())[0] as number) * batch.size;
    } finally {
      logits.dispose();
      loss.dispose();
    }
    offset += batch.size;
  }
  const predictions = numLabels === 1 ? outputs : argmax(outputs, numLabels);
  return { loss: lossSum / split.size, ...computeMetrics(metrics, predictions, split.labels).values };
}

function describeActiveBackend(): BackendInfo {
  const name = tf.getBackend();
  return { name, package: name === 'cpu' ? '@tensorflow/tfjs-backend-cpu' : `@tensorflow/tfjs-backend-${name}`, device: 'cpu', threads: 1, chosen_by: 'auto' };
}

function writeJsonAtomic(path: string, value: unknown): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}
