// The trainer's Prometheus metrics. Two feeds, neither of which imports Prometheus into the agent
// or the training loop: the agent's `AgentMetrics` hooks (trials, idle gap, rpc failures), and a
// wrapper around the RunTrialFn that sees every progress report of the running trial through its
// TrialContext (steps, examples, step time, loss, learning rate, evaluations). Sources read at
// scrape time (tfjs memory, NATS counters) are passed in. The registry is passed in too.
//
// Cardinality: the only per-trial label is `trial_id`, on gauges that are removed when the trial
// ends (a trainer runs one trial at a time, so each holds at most a handful of such series).
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { AgentMetrics, RunTrialFn } from '../agent/trainer-agent.ts';
import type { TrialContext } from '../train/trial-context.ts';
import type { BackendInfo, TrialOutcome } from '../train/trial-result.ts';

export interface TrainerMetricsSources {
  backend: BackendInfo;
  /** tfjs' live tensors and their bytes (`tf.memory()`), read on each scrape: a leak shows as growth. */
  memory: () => { numTensors: number; numBytes: number };
  /** The NATS progress bus's counters, when there is one. */
  nats?: () => { published: number; dropped: number };
}

export interface TrainerMetrics extends AgentMetrics {
  readonly registry: Registry;
  /** Wraps the training core so that its progress reports feed the step metrics. */
  instrument(runTrial: RunTrialFn): RunTrialFn;
}

export function createTrainerMetrics(registry: Registry, sources: TrainerMetricsSources): TrainerMetrics {
  const registers = [registry];
  const steps = new Counter({ name: 'ballast_trainer_steps_total', help: 'Optimizer updates done.', registers });
  const examples = new Counter({
    name: 'ballast_trainer_examples_total',
    help: 'Training examples processed (batch_size per update; an epoch-final partial batch counts as full).',
    registers,
  });
  const stepDuration = new Histogram({
    name: 'ballast_trainer_step_duration_seconds',
    help: "Wall time of one update (forward, backward, optimizer), between two step reports; a trial's first update and updates right after an evaluation are timed from the previous report.",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const loss = new Gauge({ name: 'ballast_trainer_loss', help: 'Training loss of the latest update of the running trial.', labelNames: ['trial_id'] as const, registers });
  const learningRate = new Gauge({ name: 'ballast_trainer_learning_rate', help: 'Learning rate of the latest update of the running trial.', labelNames: ['trial_id'] as const, registers });
  const trialProgress = new Gauge({ name: 'ballast_trainer_trial_progress_ratio', help: 'Updates done over updates planned, of the running trial.', labelNames: ['trial_id'] as const, registers });
  const evalMetric = new Gauge({
    name: 'ballast_trainer_eval_metric',
    help: "The running trial's latest validation evaluation, per metric (loss, accuracy, f1, mcc, pearson, spearman).",
    labelNames: ['trial_id', 'metric'] as const,
    registers,
  });
  const running = new Gauge({ name: 'ballast_trainer_running_trials', help: 'Trials running on this trainer (0 or 1).', registers });
  const trials = new Counter({ name: 'ballast_trainer_trials_total', help: 'Trials that ended on this trainer, by status.', labelNames: ['status'] as const, registers });
  const trialDuration = new Histogram({
    name: 'ballast_trainer_trial_duration_seconds',
    help: 'Wall time of one trial on this trainer, by status.',
    labelNames: ['status'] as const,
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800],
    registers,
  });
  const idleGap = new Histogram({
    name: 'ballast_trainer_idle_gap_seconds',
    help: "From one trial's end to the next trial's first update: the time the device waits on the control plane.",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const rpcFailures = new Counter({
    name: 'ballast_trainer_coordinator_rpc_failures_total',
    help: 'Coordinator calls that failed (transient ones are retried), by call.',
    labelNames: ['rpc'] as const,
    registers,
  });
  const backend = new Gauge({
    name: 'ballast_trainer_backend_info',
    help: 'The tfjs backend this trainer runs on (always 1; the labels carry the information).',
    labelNames: ['backend', 'package', 'device', 'threads', 'chosen_by'] as const,
    registers,
  });
  // Zero series from the start, so a rate shows 0 rather than no data until the first event.
  for (const status of ['completed', 'failed', 'cancelled']) trials.inc({ status }, 0);
  for (const rpc of ['acquire', 'heartbeat', 'report']) rpcFailures.inc({ rpc }, 0);
  const { backend: info } = sources;
  backend.set({ backend: info.name, package: info.package, device: info.device, threads: String(info.threads), chosen_by: info.chosen_by }, 1);
  new Gauge({
    name: 'ballast_trainer_tfjs_tensors',
    help: 'Live tfjs tensors (tf.memory().numTensors).',
    registers,
    collect() {
      this.set(sources.memory().numTensors);
    },
  });
  new Gauge({
    name: 'ballast_trainer_tfjs_bytes',
    help: 'Bytes held by live tfjs tensors (tf.memory().numBytes).',
    registers,
    collect() {
      this.set(sources.memory().numBytes);
    },
  });
  if (sources.nats) {
    const read = sources.nats;
    // Counters that mirror the bus's own: each scrape adds what the bus counted since the last one.
    const mirror = (name: string, help: string, pick: (s: { published: number; dropped: number }) => number) => {
      let seen = 0;
      new Counter({
        name,
        help,
        registers,
        collect() {
          const value = pick(read());
          if (value > seen) this.inc(value - seen);
          seen = value;
        },
      });
    };
    mirror('ballast_nats_published_messages_total', 'Progress messages published to NATS.', (s) => s.published);
    mirror('ballast_nats_dropped_messages_total', 'Progress messages dropped because NATS was unreachable or the publish failed (training goes on).', (s) => s.dropped);
  }

  const observe = (ctx: TrialContext, batchSize: number): TrialContext => {
    const trial_id = ctx.trialId;
    let last = performance.now();
    return {
      trialId: ctx.trialId,
      signal: ctx.signal,
      log: ctx.log,
      heartbeat(progress) {
        const t = performance.now();
        if (progress.kind === 'step') {
          steps.inc();
          examples.inc(batchSize);
          stepDuration.observe((t - last) / 1000);
          if (Number.isFinite(progress.loss)) loss.set({ trial_id }, progress.loss);
          learningRate.set({ trial_id }, progress.lr);
          if (progress.total_steps > 0) trialProgress.set({ trial_id }, progress.step / progress.total_steps);
        } else {
          for (const [metric, value] of Object.entries(progress.validation)) {
            if (typeof value === 'number' && Number.isFinite(value)) evalMetric.set({ trial_id, metric }, value);
          }
        }
        last = performance.now();
        ctx.heartbeat(progress);
      },
    };
  };

  const forget = (trial_id: string) => {
    loss.remove({ trial_id });
    learningRate.remove({ trial_id });
    trialProgress.remove({ trial_id });
    for (const metric of ['loss', 'accuracy', 'f1', 'mcc', 'pearson', 'spearman']) evalMetric.remove({ trial_id, metric });
  };

  return {
    registry,
    instrument(runTrial) {
      return async (config, ctx, options) => {
        running.inc();
        try {
          return await runTrial(config, observe(ctx, config.batch_size), options);
        } finally {
          running.dec();
          forget(ctx.trialId);
        }
      };
    },
    trialStarted() {},
    trialFinished(status: TrialOutcome['status'], durationMs: number) {
      trials.inc({ status });
      trialDuration.observe({ status }, durationMs / 1000);
    },
    idleGap(ms) {
      idleGap.observe(ms / 1000);
    },
    rpcFailed(rpc) {
      rpcFailures.inc({ rpc });
    },
  };
}
