// The trainer agent: the loop of a trainer pod. Acquire a lease, run the trial through a
// TrialContext backed by the lease, report its one outcome, acquire the next. Three things shape it:
//   - The device never waits on the network: the next lease is asked for while the current trial
//     runs its last updates (and heartbeated while it waits), and the terminal
//     report goes out in the background while the next trial already starts.
//   - Exactly one terminal report per lease (see `runLease`'s finally and `dropPrefetched`).
//   - Training never stops for the control plane: heartbeats and reports retry on transient
//     failures (a coordinator restart), progress to NATS is best-effort and counted when dropped.
import { mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { resolveTrialConfig } from '../config/trial-config.ts';
import type { TrialConfig } from '../config/trial-config.ts';
import { TrialCancelledError } from '../train/trial-context.ts';
import type { TrialContext } from '../train/trial-context.ts';
import type { TrialOutcome, TrialProgress, TrialResult } from '../train/trial-result.ts';
import { noProgressPublisher } from '../progress/nats-progress.ts';
import type { ProgressPublisher, TrialProgressPublisher } from '../progress/nats-progress.ts';
import { subjectToken } from '../progress/nats-bus.ts';
import { classifyError } from './classify-error.ts';
import { isTransient } from './coordinator-link.ts';
import type { CoordinatorLink, LeaseGrant } from './coordinator-link.ts';
import { writeFileAtomic } from '../util/write-file-atomic.ts';
import { sleep } from '../util/sleep.ts';

/** Runs one trial to its result (the training core), writing its files under `outDir`. */
export type RunTrialFn = (config: TrialConfig, ctx: TrialContext, options: { outDir: string }) => Promise<TrialResult>;

/** Where the ops engineer's Prometheus metrics plug in; every method is called on the agent's own path. */
export interface AgentMetrics {
  trialStarted(): void;
  trialFinished(status: TrialOutcome['status'], durationMs: number): void;
  /** From one trial's end to the next trial's first step. */
  idleGap(ms: number): void;
  /** A coordinator call that failed (it is retried if transient). */
  rpcFailed(rpc: 'acquire' | 'heartbeat' | 'report'): void;
}

export const noAgentMetrics: AgentMetrics = { trialStarted() {}, trialFinished() {}, idleGap() {}, rpcFailed() {} };

export interface TrainerAgentOptions {
  link: CoordinatorLink;
  runTrial: RunTrialFn;
  workerId: string;
  /** Each trial writes under `<outDir>/<experiment>/<trial>/`. */
  outDir: string;
  log: Logger;
  progress?: ProgressPublisher;
  metrics?: AgentMetrics;
  /** Heartbeat period cap (default 5 s); the agent heartbeats at least three times per lease TTL. */
  heartbeatIntervalMs?: number;
  /** Long-poll of an idle acquire (default 5 s). */
  idleWaitMs?: number;
  /** Stop when the coordinator has nothing to do (tests, benchmarks, batch jobs). */
  exitWhenIdle?: boolean;
  /** How long to keep retrying a terminal report while the coordinator is unreachable (default 10 min). */
  reportRetryMs?: number;
  /** Fetch the next lease before this trial ends (default true; off only to measure what it saves). */
  prefetch?: boolean;
  /** How long before the last update to ask for the next lease (default 2 s). */
  prefetchLeadMs?: number;
}

type StopCause = 'shutdown' | 'cancel' | 'lost';

/** A lease this agent holds: running, or prefetched and waiting. */
class HeldLease {
  readonly controller = new AbortController();
  latest: TrialProgress | undefined;
  cause: StopCause | undefined;
  reason = '';
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;

  constructor(
    readonly grant: LeaseGrant,
    private readonly agent: { link: CoordinatorLink; log: Logger; metrics: AgentMetrics; heartbeatIntervalMs: number },
  ) {}

  /** Stops the trial at its next step boundary (the training loop checks the signal once per step). */
  abort(cause: StopCause, reason: string): void {
    if (this.controller.signal.aborted) return;
    this.cause = cause;
    this.reason = reason;
    this.controller.abort(new Error(reason));
  }

  startHeartbeats(): void {
    // A third of the TTL leaves two more chances before the lease expires.
    const period = Math.max(50, Math.min(this.agent.heartbeatIntervalMs, Math.floor(this.grant.ttlMs / 3) || this.agent.heartbeatIntervalMs));
    this.timer = setInterval(() => void this.beat(period), period);
    this.timer.unref();
  }

  stopHeartbeats(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async beat(timeoutMs: number): Promise<void> {
    if (this.inFlight) return;
    this.inFlight = true;
    try {
      const answer = await this.agent.link.heartbeat(this.grant.leaseId, this.latest, { timeoutMs: Math.max(timeoutMs, 1000) });
      if (answer.leaseLost) this.abort('lost', answer.cancelReason || 'the lease was lost');
      else if (answer.cancel) this.abort('cancel', answer.cancelReason || 'cancelled by the coordinator');
    } catch (error) {
      // Keep training: the coordinator may be restarting, and it gives running leases a fresh TTL
      // when it replays its journal. If the lease really expired, the next answer says so.
      this.agent.metrics.rpcFailed('heartbeat');
      this.agent.log.warn({ trialId: this.grant.trialId, err: (error as Error).message }, 'heartbeat failed; training goes on');
    } finally {
      this.inFlight = false;
    }
  }
}

export class TrainerAgent {
  private readonly log: Logger;
  private readonly progress: ProgressPublisher;
  private readonly metrics: AgentMetrics;
  private readonly heartbeatIntervalMs: number;
  private readonly prefetchLeadMs: number;
  private stopping = false;
  private stopReason = '';
  private readonly acquireAbort = new AbortController();
  private current: HeldLease | undefined;
  private prefetch: Promise<HeldLease | null> | undefined;
  private readonly reports = new Set<Promise<void>>();
  private lastTrialEnd: number | undefined;
  /** Counts for the final log line and tests. */
  readonly stats = { completed: 0, failed: 0, cancelled: 0, prefetched: 0 };

  constructor(private readonly options: TrainerAgentOptions) {
    this.log = options.log.child({ workerId: options.workerId });
    this.progress = options.progress ?? noProgressPublisher;
    this.metrics = options.metrics ?? noAgentMetrics;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 5000;
    this.prefetchLeadMs = options.prefetchLeadMs ?? 2000;
  }

  /** Asks the agent to stop: the running trial stops at its next step and is handed back for retry. */
  stop(reason: string): void {
    if (this.stopping) return;
    this.stopping = true;
    this.stopReason = reason;
    this.log.info({ reason, trialId: this.current?.grant.trialId }, 'stopping: handing the running trial back');
    this.acquireAbort.abort(new Error(reason));
    this.current?.abort('shutdown', reason);
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  /** Runs until `stop()` (or, with `exitWhenIdle`, until there is no work); resolves once every report is sent. */
  async run(): Promise<void> {
    this.log.info({ outDir: this.options.outDir }, 'trainer agent started');
    try {
      while (!this.stopping) {
        const held = await this.nextLease();
        if (held) await this.runLease(held);
      }
    } finally {
      await this.dropPrefetched();
      await Promise.all([...this.reports]);
      this.log.info({ ...this.stats, natsDropped: this.progress.dropped() }, 'trainer agent stopped');
    }
  }

  private hold(grant: LeaseGrant): HeldLease {
    const held = new HeldLease(grant, { link: this.options.link, log: this.log, metrics: this.metrics, heartbeatIntervalMs: this.heartbeatIntervalMs });
    held.startHeartbeats();
    return held;
  }

  private async nextLease(): Promise<HeldLease | null> {
    if (this.prefetch) {
      const pending = this.prefetch;
      this.prefetch = undefined;
      const held = await pending;
      if (held) return held;
    }
    const waitMs = this.options.exitWhenIdle ? 0 : (this.options.idleWaitMs ?? 5000);
    const t0 = performance.now();
    let grant: LeaseGrant | null;
    try {
      grant = await this.options.link.acquireTrial(this.options.workerId, { waitMs }, { signal: this.acquireAbort.signal });
    } catch (error) {
      if (this.stopping) return null;
      this.metrics.rpcFailed('acquire');
      if (!isTransient(error)) throw error; // bad credentials, wrong address family…: nothing to wait for
      this.log.warn({ err: (error as Error).message }, 'acquire failed; retrying');
      await sleep(1000, this.acquireAbort.signal);
      return null;
    }
    if (grant) return this.hold(grant);
    if (this.options.exitWhenIdle) this.stop('no work left');
    // A coordinator without long-polling answers at once: do not spin.
    else if (performance.now() - t0 < waitMs / 2) await sleep(Math.min(1000, waitMs), this.acquireAbort.signal);
    return null;
  }

  /** Asks for the next lease while the current trial finishes. Never throws. */
  private startPrefetch(): void {
    if (this.prefetch || this.stopping || this.options.prefetch === false) return;
    this.prefetch = (async () => {
      try {
        const grant = await this.options.link.acquireTrial(this.options.workerId, { waitMs: 0 }, { signal: this.acquireAbort.signal, timeoutMs: 10_000 });
        if (!grant) return null;
        this.stats.prefetched++;
        this.log.debug({ trialId: grant.trialId, attempt: grant.attempt }, 'prefetched the next lease');
        return this.hold(grant);
      } catch (error) {
        if (!this.stopping) this.metrics.rpcFailed('acquire');
        return null;
      }
    })();
  }

  /** A prefetched lease that will not run still gets its one terminal report: handed back. */
  private async dropPrefetched(): Promise<void> {
    const pending = this.prefetch;
    this.prefetch = undefined;
    const held = pending ? await pending : null;
    if (!held) return;
    held.stopHeartbeats();
    this.report(held, { status: 'cancelled', reason: `preempted before start: ${this.stopReason}` }, this.log);
  }

  private async runLease(held: HeldLease): Promise<void> {
    const { grant } = held;
    const log = this.log.child({ experimentId: grant.experimentId, trialId: grant.trialId, attempt: grant.attempt });
    this.current = held;
    if (this.stopping) held.abort('shutdown', this.stopReason);
    const trialDir = join(this.options.outDir, subjectToken(grant.experimentId), subjectToken(grant.trialId));
    const publisher = this.progress.forTrial({ experimentId: grant.experimentId, trialId: grant.trialId, workerId: this.options.workerId, attempt: grant.attempt });
    const t0 = performance.now();
    let firstStep = true;
    let lastStepAt: number | undefined;
    let lastStep = 0;
    let stepMs: number | undefined;
    let outcome: TrialOutcome | undefined;

    const expected = resolveTrialConfig(grant.config).seeds;
    if (JSON.stringify(expected) !== JSON.stringify(grant.seeds)) {
      log.warn({ leaseSeeds: grant.seeds, derivedSeeds: expected }, 'the lease seeds differ from the ones derived from its config; the config wins');
    }

    const ctx: TrialContext = {
      trialId: grant.trialId,
      signal: held.controller.signal,
      log,
      heartbeat: (progress) => {
        held.latest = progress;
        if (firstStep && progress.kind === 'step') {
          firstStep = false;
          if (this.lastTrialEnd !== undefined) {
            const gap = performance.now() - this.lastTrialEnd;
            this.metrics.idleGap(gap);
            log.info({ idleGapMs: Math.round(gap * 10) / 10 }, 'first step');
          }
        }
        publisher.progress(progress);
        if (progress.kind === 'step') {
          // Fetch the next lease when about `prefetchLeadMs` of updates are left (and at the last
          // update at the latest): the reply arrives while this trial's last updates run (the
          // loop yields between updates, not during the final evaluation), and a trial another
          // trainer could run is held for only a moment.
          const now = performance.now();
          if (lastStepAt !== undefined && progress.step > lastStep) stepMs = ((now - lastStepAt) / (progress.step - lastStep)) * 0.3 + (stepMs ?? (now - lastStepAt) / (progress.step - lastStep)) * 0.7;
          lastStepAt = now;
          lastStep = progress.step;
          const left = progress.total_steps - progress.step;
          if (left <= 0 || (stepMs !== undefined && left * stepMs <= this.prefetchLeadMs)) this.startPrefetch();
        }
      },
    };

    this.metrics.trialStarted();
    publisher.state('running');
    // waitedMs: from the previous trial's end to this start, the part of the idle gap the control
    // plane is responsible for (the rest, up to the first step, is loading data and model).
    const waitedMs = this.lastTrialEnd === undefined ? undefined : Math.round((t0 - this.lastTrialEnd) * 10) / 10;
    log.info({ config: grant.config, ...(waitedMs !== undefined ? { waitedMs } : {}) }, 'trial started');
    try {
      // Stopped between the acquire and here: do not even load the data.
      if (held.controller.signal.aborted) throw new TrialCancelledError(0, held.reason);
      mkdirSync(trialDir, { recursive: true });
      const result = await this.options.runTrial(grant.config, ctx, { outDir: trialDir });
      writeResultIfMissing(trialDir, result);
      outcome = { status: 'completed', result };
    } catch (error) {
      if (held.controller.signal.aborted) {
        const why = held.cause === 'shutdown' ? `preempted: ${held.reason}` : held.cause === 'lost' ? `lease lost: ${held.reason}` : held.reason;
        outcome = { status: 'cancelled', reason: why };
      } else {
        const failure = classifyError(error);
        outcome = { status: 'failed', error: failure };
        log.error({ err: error, kind: failure.kind, retryable: failure.retryable }, 'trial failed');
      }
    } finally {
      // Exactly one terminal report per lease: every path above (a result, an error, an abort, or
      // a bug in this very block) ends here, and this is the only place a running lease is reported.
      outcome ??= { status: 'failed', error: { kind: 'internal', message: 'the trial ended without an outcome', retryable: true } };
      this.lastTrialEnd = performance.now();
      held.stopHeartbeats();
      this.current = undefined;
      const durationMs = Math.round(this.lastTrialEnd - t0);
      this.metrics.trialFinished(outcome.status, durationMs);
      this.stats[outcome.status]++;
      publishOutcome(publisher, outcome);
      publisher.close();
      log.info({ status: outcome.status, durationMs, ...(outcome.status === 'completed' ? { metrics: outcome.result.selected.test ?? outcome.result.selected.validation, degenerate: outcome.result.degenerate } : {}), ...(outcome.status === 'failed' ? { error: outcome.error } : {}), ...(outcome.status === 'cancelled' ? { reason: outcome.reason } : {}) }, 'trial finished');
      this.report(held, outcome, log);
    }
  }

  /** Sends the report in the background (the next trial starts meanwhile), retrying transient failures. */
  private report(held: HeldLease, outcome: TrialOutcome, log: Logger): void {
    const retryUntil = Date.now() + (this.options.reportRetryMs ?? 600_000);
    const send = async () => {
      let delay = 200;
      for (let tries = 1; ; tries++) {
        const t0 = performance.now();
        try {
          const answer = await this.options.link.reportOutcome(held.grant.leaseId, outcome, { timeoutMs: 15_000 });
          const fields = { status: outcome.status, accepted: answer.accepted, durationMs: Math.round(performance.now() - t0), tries };
          if (answer.accepted) log.info(fields, 'reported');
          else log.warn({ ...fields, reason: answer.reason }, 'report not accepted (the lease had already ended)');
          return;
        } catch (error) {
          this.metrics.rpcFailed('report');
          if (!isTransient(error) || Date.now() > retryUntil) {
            log.error({ err: (error as Error).message, status: outcome.status, tries }, 'could not report the trial; the coordinator will expire the lease and run it again');
            return;
          }
          log.warn({ err: (error as Error).message, tries }, 'report failed; retrying');
          await sleep(delay);
          delay = Math.min(delay * 2, 5000);
        }
      }
    };
    const pending = send();
    this.reports.add(pending);
    void pending.finally(() => this.reports.delete(pending));
  }
}

function publishOutcome(publisher: TrialProgressPublisher, outcome: TrialOutcome): void {
  switch (outcome.status) {
    case 'completed': {
      const metrics = outcome.result.selected.test ?? outcome.result.selected.validation;
      publisher.state('succeeded', { metrics: metrics as unknown as Record<string, number>, degenerate: outcome.result.degenerate });
      break;
    }
    case 'failed':
      publisher.state('failed', { error: outcome.error });
      break;
    case 'cancelled':
      publisher.state('released');
      break;
    default: {
      const _exhaustive: never = outcome;
      return _exhaustive;
    }
  }
}

/** The training core writes result.json itself; a RunTrialFn that does not still leaves one behind. */
function writeResultIfMissing(dir: string, result: TrialResult): void {
  const path = join(dir, 'result.json');
  if (existsSync(path)) return;
  writeFileAtomic(path, `${JSON.stringify(result, null, 2)}\n`);
}
