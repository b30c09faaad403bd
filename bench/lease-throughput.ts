// Lease throughput and latency of the coordinator with many simulated trainers (no training):
// each trainer loops acquire -> heartbeat -> complete. Three runs of that loop:
//   1. saturation, in process: the core called directly (the reference: journal and scheduling
//      only, no gRPC), every trainer calling again as soon as it is answered;
//   2. saturation over gRPC, against a real `ballast coordinator` process on loopback, over
//      --connections connections: the most lease operations per second the server sustains;
//   3. paced over gRPC: the trainers together offer --rate operations per second (default the
//      2,000/s target, i.e. one call every 500 ms per trainer), and the latency is what a trainer
//      sees at that load. Targets: >= 2,000 lease operations per second and p99 < 10 ms.
// Under saturation every call waits behind all others (latency ~ trainers / throughput), so the
// latency target applies to the paced run; the throughput target to both gRPC runs.
//
//   node --import tsx bench/lease-throughput.ts [--trainers 1000] [--seconds 15] [--rate 2000]
//       [--connections 100] [--clients 2] [--client-nice 10] [--client raw|grpc-js] [--skip-reference] [--skip-saturation]
//       [--address HOST:PORT [--metrics-address HOST:PORT] [--coordinator-pid PID]]
//
// The gRPC runs simulate the trainers in --clients child processes (each its share of trainers
// and connections): one process simulating 1,000 trainers on grpc-js's client spent 6-10% of the
// window in its own GC with pauses up to ~40 ms, and every pause delayed all trainers' calls at
// once, so part of the measured tail was the bench. Each child's own stalls are printed beside the
// figures. The children run at --client-nice (default 10), below the coordinator.
//
// A lease operation is one AcquireTrial, Heartbeat or CompleteTrial call; an acquire that finds no
// trial is not counted. Latency is measured by the caller, per call. The bench and the server
// share this machine's cores: run it on a quiet machine, its figures include the client's CPU.
// A p99 over 8-15 s is set by a few stalls of tens of milliseconds (a stall at 2,000 calls/s
// delays a hundred calls or more), so every run also reports the stalls of both processes
// over the measured window: event-loop delay and GC pauses of the bench (measured here) and of the
// coordinator (from its Prometheus endpoint: prom-client's nodejs_eventloop_lag_* and
// nodejs_gc_duration_seconds), to tell which process a tail came from.
import { AsyncResource } from 'node:async_hooks';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { CoordinatorCore } from '../coordinator/src/core/coordinator-core.ts';
import { CoordinatorClient } from '../coordinator/src/client/coordinator-client.ts';
import { createClient } from '../coordinator/src/grpc/grpc-bridge.ts';
import { trialProgressToProto, trialResultToProto } from '../coordinator/src/grpc/proto-convert.ts';
import { sampleResult } from '../coordinator/src/grpc/test-fixtures.ts';
import {
  CoordinatorService,
  type AcquireTrialRequestSchema,
  type CompleteTrialRequestSchema,
  type HeartbeatRequestSchema,
  type Lease as LeaseMessage,
} from '../proto/gen/ballast/v1/coordinator_service_pb.ts';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { connect, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { TrialProgress, TrialResult } from '../trainer/src/train/trial-result.ts';
import { checkFrame, LeaseRequests, readLease, type WireLease } from './lease-wire.ts';
import { startCoordinatorProcess } from '../test/helpers/coordinator-process.ts';

const { values: args } = parseArgs({
  options: {
    trainers: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '5' },
    rate: { type: 'string', default: '2000' },
    connections: { type: 'string' },
    'trials-per-experiment': { type: 'string', default: '10000' },
    experiments: { type: 'string', default: '3' },
    'skip-reference': { type: 'boolean', default: false },
    'skip-saturation': { type: 'boolean', default: false },
    // Each client process costs CPU per call beyond its share of the work (its own event loop's
    // wakeups, timers and GC, less batching per wakeup): the raw client measured about 230 µs per
    // call in 4 processes, 155 in 2 and 118 in 1. Two keep a client's stall to half the calls.
    clients: { type: 'string', default: '2' },
    // Niceness of the client processes (0 to 19): see startChildren.
    'client-nice': { type: 'string', default: '10' },
    // The simulated trainers' gRPC client: `raw` (node:http2, see rawGrpcClient) or `grpc-js`.
    client: { type: 'string', default: 'raw' },
    // Internal: this process is one client child (see runChild).
    child: { type: 'string' },
    // Use a coordinator that is already running (e.g. started under --cpu-prof) instead of spawning one.
    address: { type: 'string' },
    // Its --metrics-listen address, for the coordinator's event-loop delay and GC figures.
    'metrics-address': { type: 'string' },
    // Its process id, for its CPU time per operation (same machine only).
    'coordinator-pid': { type: 'string' },
  },
});
const TRAINERS = Number(args.trainers);
const SECONDS = Number(args.seconds);
const WARMUP = Number(args.warmup);
// Real trainers each have their own connection, on other machines. Here the simulated trainers
// share this machine with the server, and 1,000 connections cost the bench (not the coordinator)
// CPU it then takes from the server; 100 connections carry the same calls. The coordinator's CPU
// per call measured the same with 100 or 1,000 grpc-js connections (about 115 µs).
const CONNECTIONS = Number(args.connections ?? Math.min(100, Number(args.trainers)));
const SEEDS_PER_EXPERIMENT = Number(args['trials-per-experiment']) / 2;
const RATE = Number(args.rate);
const CLIENTS = Math.max(1, Math.min(Number(args.clients), TRAINERS));
const CLIENT = args.client;
const CLIENT_NICE = Number(args['client-nice']);
if (CLIENT !== 'raw' && CLIENT !== 'grpc-js') throw new Error(`--client: expected raw or grpc-js, got ${CLIENT}`);

const TARGET_OPS = 2000;
const TARGET_P99_MS = 10;

/**
 * The worker half of the coordinator, as a simulated trainer calls it: in process on the core, or
 * over gRPC. `complete` sends a result for the lease (the fixture result with the lease's config
 * and seeds, as a real trainer's result carries them). Callbacks, not promises: each trainer passes
 * its own `done` (bound once), so a call on the raw client allocates no closure or promise of the
 * bench's. A failed call throws (uncaught: its client process exits), as a rejected call did.
 */
interface LeaseApi<L extends object = object> {
  acquire(workerId: string, done: (lease: L | null) => void): void;
  heartbeat(lease: L, done: () => void): void;
  complete(lease: L, done: () => void): void;
}

const progress: TrialProgress = { kind: 'step', step: 5, total_steps: 10, loss: 0.5, lr: 1e-5, examples_per_second: 100 };

const rethrow = (error: unknown) => {
  throw error;
};

function coreApi(core: CoordinatorCore): LeaseApi<NonNullable<Awaited<ReturnType<CoordinatorCore['acquireTrial']>>>> {
  return {
    acquire: (workerId, done) => void core.acquireTrial(workerId).then(done, rethrow),
    // Synchronous on the core; answered in a microtask, as the awaited call it stands for.
    heartbeat: (lease, done) => {
      core.heartbeat(lease.leaseId, progress);
      queueMicrotask(done);
    },
    complete: (lease, done) =>
      void core.completeTrial(lease.leaseId, { ...sampleResult, config: lease.config, seeds: lease.seeds } satisfies TrialResult).then(done, rethrow),
  };
}

/** The three lease rpcs, as grpc-js's client (createClient) offers them. */
interface LeaseRpcs {
  acquireTrial(request: MessageInitShape<typeof AcquireTrialRequestSchema>, options: { timeoutMs: number }): Promise<{ lease?: LeaseMessage | undefined }>;
  heartbeat(request: MessageInitShape<typeof HeartbeatRequestSchema>, options: { timeoutMs: number }): Promise<unknown>;
  completeTrial(request: MessageInitShape<typeof CompleteTrialRequestSchema>, options: { timeoutMs: number }): Promise<unknown>;
  close(): void;
}

/** The deadline CoordinatorClient gives every call. */
const CALL_TIMEOUT_MS = 30_000;

/**
 * The simulated trainer's gRPC side: the same requests on the wire as CoordinatorClient sends
 * (same messages, same 30 s deadline), but without its conversions between messages and plain
 * objects. A real trainer converts one result per trial, every few minutes; the simulation
 * completes hundreds of trials per second, and those conversions (about half of the bench's CPU
 * per call) took cores from the coordinator being measured. The lease's config and seeds go back
 * in the result as the messages they came in. This is grpc-js's; rawGrpcClient has its own.
 */
function grpcApi(rpc: LeaseRpcs): LeaseApi<LeaseMessage> {
  const call = { timeoutMs: CALL_TIMEOUT_MS };
  const progressMessage = trialProgressToProto(progress);
  const resultMessage = trialResultToProto(sampleResult);
  return {
    acquire: (workerId, done) => void rpc.acquireTrial({ workerId, waitMs: 0 }, call).then((reply) => done(reply.lease ?? null), rethrow),
    heartbeat: (lease, done) => void rpc.heartbeat({ leaseId: lease.leaseId, progress: progressMessage }, call).then(done, rethrow),
    complete: (lease, done) =>
      void rpc.completeTrial({ leaseId: lease.leaseId, result: { ...resultMessage, config: lease.config, seeds: lease.seeds } }, call).then(done, rethrow),
  };
}

/** One unary call in flight on the raw client: what its stream's events delivered so far. */
class RawCall {
  status: string | undefined = undefined;
  message = '';
  reply: Buffer | undefined = undefined;
  error: Error | undefined = undefined;
  constructor(
    readonly method: string,
    /** AcquireTrial: the lease is read from the reply and handed to `done`. */
    readonly acquire: boolean,
    readonly done: (lease: WireLease | null) => void,
  ) {}
}
type RawStream = ClientHttp2Stream & { call: RawCall };

// The stream's listeners, shared by all calls (the call is on the stream), so a call adds five
// listeners but creates no closures.
function onRawHeaders(this: RawStream, headers: IncomingHttpHeaders) {
  // A trailers-only reply (an error) has its status in the response headers.
  const status = headers['grpc-status'];
  if (status !== undefined) this.call.status = String(status);
  const message = headers['grpc-message'];
  if (message !== undefined) this.call.message = decodeURIComponent(String(message));
}
function onRawData(this: RawStream, chunk: Buffer) {
  const call = this.call;
  call.reply = call.reply === undefined ? chunk : Buffer.concat([call.reply, chunk]);
}
function onRawError(this: RawStream, error: Error) {
  this.call.error ??= error;
}
function onRawClose(this: RawStream) {
  const call = this.call;
  if (call.error !== undefined) throw call.error;
  if (call.status !== '0') throw new Error(`${call.method}: grpc-status ${call.status ?? '(none)'} ${call.message}`);
  if (call.acquire) return call.done(readLease(call.reply!));
  checkFrame(call.reply, call.method);
  call.done(null);
}

/**
 * gRPC unary calls straight over node:http2: the frames grpc-js sends (POST to the method's path,
 * `application/grpc`, `te: trailers`, the deadline as `grpc-timeout`, one length-prefixed
 * message) and the status read from the trailers. grpc-js's client spent about 3x the
 * coordinator's CPU per call here (its channel, resolver, load balancer, interceptor and
 * metadata layers, per call), so 1,000 simulated trainers on it took most of the 2 cores from the
 * coordinator being measured; a real trainer makes one call every few seconds and never notices.
 * The requests are spliced from bytes encoded once and the lease read from the reply's bytes
 * (lease-wire.ts: the same messages as protobuf-es builds). `--client grpc-js` runs the same loop
 * on grpc-js.
 */
function rawGrpcClient(address: string, requests: LeaseRequests): LeaseApi<WireLease> & { close(): void } {
  const session = connect(`http://${address}`);
  session.on('error', () => {}); // every pending call fails with its stream's error instead
  const headers = (method: { name: string }) => ({
    ':method': 'POST',
    ':path': `/${CoordinatorService.typeName}/${method.name}`,
    'content-type': 'application/grpc',
    te: 'trailers',
    'grpc-timeout': `${CALL_TIMEOUT_MS}m`,
  });
  const acquireHeaders = headers(CoordinatorService.method.acquireTrial);
  const heartbeatHeaders = headers(CoordinatorService.method.heartbeat);
  const completeHeaders = headers(CoordinatorService.method.completeTrial);
  const call = (requestHeaders: OutgoingHttpHeaders, frame: Buffer, state: RawCall) => {
    const stream = session.request(requestHeaders) as RawStream;
    stream.call = state;
    stream.on('response', onRawHeaders);
    stream.on('trailers', onRawHeaders);
    stream.on('data', onRawData);
    stream.on('error', onRawError);
    stream.on('close', onRawClose);
    stream.end(frame);
  };
  const acquireFrames = new Map<string, Buffer>();
  return {
    acquire(workerId, done) {
      let frame = acquireFrames.get(workerId);
      if (frame === undefined) acquireFrames.set(workerId, (frame = requests.acquire(workerId)));
      call(acquireHeaders, frame, new RawCall('AcquireTrial', true, done));
    },
    heartbeat: (lease, done) => call(heartbeatHeaders, requests.heartbeat(lease), new RawCall('Heartbeat', false, done)),
    complete: (lease, done) => call(completeHeaders, requests.complete(lease), new RawCall('CompleteTrial', false, done)),
    close: () => session.close(),
  };
}

function spec(i: number) {
  return {
    name: `bench-${i}`,
    base: { model: 'builtin:bert-tiny', task: { name: 'synthetic' }, max_steps: 10 },
    sweep: { optimizer: ['adamw', 'bertadam'] },
    seeds: SEEDS_PER_EXPERIMENT,
  };
}

const percentile = (sorted: Float64Array, p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

interface RunFigures {
  ops: number;
  opsPerSecond: number;
  trialsPerSecond: number;
  p50: Record<string, number>;
  p99: Record<string, number>;
  idle: number;
  serverUsPerOp?: number | undefined;
}

/** CPU seconds (user + system) a process used so far, from /proc (Linux); undefined elsewhere. */
function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return undefined;
  }
}

/**
 * CPU time the hypervisor gave to other guests while this machine's vCPUs wanted it (the `steal`
 * column of /proc/stat), in ms over all cores; undefined off Linux. On a VM a process can stall for
 * tens of ms with no GC and no work of its own: this tells such a window apart.
 */
function machineStealMs(): number | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/);
    return Number(fields[8]) * 10; // USER_HZ 100
  } catch {
    return undefined;
  }
}

/**
 * CPU time per operation is the figure contention cannot distort: the machine's other load
 * stretches latency and caps throughput, but not what each call costs. `serverPid` is the
 * coordinator process (undefined for the in-process reference, whose CPU is all in `client`).
 */
/** Event-loop delay and GC pauses over a window: this process's, or the coordinator's from its metrics. */
interface Stalls {
  loopP99Ms: number;
  loopMaxMs: number;
  gcCount: number;
  gcTotalMs: number;
  /** Pauses over 10 ms and over 100 ms (the coordinator's histogram has no finer buckets). */
  gcOver10: number;
  gcOver100: number;
  /** The longest pause (this process only: the histogram does not keep it). */
  gcMaxMs?: number;
}

function watchClientStalls(): () => Stalls {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const pauses: number[] = [];
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) pauses.push(entry.duration);
  });
  delay.enable();
  gc.observe({ entryTypes: ['gc'] });
  return () => {
    delay.disable();
    gc.disconnect();
    return {
      loopP99Ms: delay.percentile(99) / 1e6,
      loopMaxMs: delay.max / 1e6,
      gcCount: pauses.length,
      gcTotalMs: pauses.reduce((a, b) => a + b, 0),
      gcOver10: pauses.filter((ms) => ms > 10).length,
      gcOver100: pauses.filter((ms) => ms > 100).length,
      gcMaxMs: Math.max(0, ...pauses),
    };
  };
}

/** The default metrics of the coordinator that describe stalls (a scrape also resets the event-loop figures). */
async function scrapeServerStalls(metricsAddress: string | undefined): Promise<Map<string, number> | undefined> {
  if (metricsAddress === undefined) return undefined;
  try {
    const text = await (await fetch(`http://${metricsAddress}/metrics`)).text();
    const values = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (!['nodejs_eventloop_lag_', 'nodejs_gc_duration_seconds', 'ballast_coordinator_lease_latency_seconds'].some((name) => line.startsWith(name))) continue;
      const space = line.lastIndexOf(' ');
      values.set(line.slice(0, space), Number(line.slice(space + 1)));
    }
    return values;
  } catch {
    return undefined;
  }
}

function serverStalls(before: Map<string, number> | undefined, after: Map<string, number> | undefined): Stalls | undefined {
  if (!before || !after) return undefined;
  const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
  const kinds = ['minor', 'major', 'incremental', 'weakcb'];
  const sum = (suffix: string, le?: string) =>
    kinds.reduce((n, kind) => n + delta(`nodejs_gc_duration_seconds_${suffix}{${le !== undefined ? `le="${le}",` : ''}kind="${kind}"}`), 0);
  const count = sum('count');
  return {
    // The scrape before the window reset these, so the scrape after covers just the window.
    loopP99Ms: (after.get('nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000,
    loopMaxMs: (after.get('nodejs_eventloop_lag_max_seconds') ?? NaN) * 1000,
    gcCount: count,
    gcTotalMs: sum('sum') * 1000,
    gcOver10: count - sum('bucket', '0.01'),
    gcOver100: count - sum('bucket', '0.1'),
  };
}

/**
 * The coordinator's own time per lease call (its handler, receipt to reply, from its histogram)
 * over the window: calls over 10 ms, and the bucket bound under which 99% of calls fall. What the
 * bench measures on top of it is gRPC transport and the bench's own delays.
 */
function serverLatency(before: Map<string, number> | undefined, after: Map<string, number> | undefined): string | undefined {
  if (!before || !after) return undefined;
  const name = 'ballast_coordinator_lease_latency_seconds';
  const rpcs = ['AcquireTrial', 'Heartbeat', 'CompleteTrial'];
  const delta = (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);
  const count = rpcs.reduce((n, rpc) => n + delta(`${name}_count{rpc="${rpc}"}`), 0);
  const within = (le: string) => rpcs.reduce((n, rpc) => n + delta(`${name}_bucket{le="${le}",rpc="${rpc}"}`), 0);
  const bounds = ['0.0005', '0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10'];
  const p99 = bounds.find((le) => within(le) >= 0.99 * count);
  const over10 = count - within('0.01');
  return `  coordinator's own handler time: p99 <= ${p99 !== undefined ? `${Number(p99) * 1000} ms` : '> 10 s'}; ${over10} of ${count} calls over 10 ms (${((100 * over10) / Math.max(1, count)).toFixed(2)}%)`;
}

function formatStalls(who: string, stalls: Stalls, sampling: string): string {
  return (
    `  ${who}: event-loop delay (${sampling}) p99 ${stalls.loopP99Ms.toFixed(1)} ms, max ${stalls.loopMaxMs.toFixed(1)} ms; ` +
    `GC ${stalls.gcCount} pauses, ${stalls.gcTotalMs.toFixed(0)} ms in all, ${stalls.gcOver10} over 10 ms, ${stalls.gcOver100} over 100 ms` +
    (stalls.gcMaxMs !== undefined ? `, longest ${stalls.gcMaxMs.toFixed(1)} ms` : '')
  );
}

/** One measured window of a group of trainers: what a client process reports. */
interface WindowReport {
  latencies: Record<string, number[]>;
  ops: number;
  trials: number;
  idle: number;
  refills: number;
  cpuUs: number;
  stalls: Stalls;
}

const KINDS = ['acquire', 'heartbeat', 'complete'] as const;
const ACQUIRE = 0;
const HEARTBEAT = 1;
const COMPLETE = 2;

/** What the trainers of one process share: the window's figures, and the stop. */
interface TrainerGroup {
  measuring: boolean;
  stopping: boolean;
  intervalMs: number;
  latencies: number[][];
  ops: number;
  trials: number;
  idle: number;
  refills: number;
  /** Out of trials: submit another experiment (one at a time) and count the miss. */
  refill(): void;
  stopped(): void;
}

/**
 * One simulated trainer: acquire -> heartbeat -> complete, again until stopped. Paced trainers
 * keep to a schedule (open loop: a slow answer does not delay the next call's planned time, so
 * queueing shows in latency). Each call is timed from its start to its reply; an acquire that
 * finds no trial is not counted (it would flatter the figures), `idle` says how many.
 */
class SimTrainer {
  private phase = ACQUIRE;
  private lease: object | null = null;
  private started = 0;
  private next: number;

  constructor(
    private readonly group: TrainerGroup,
    private readonly api: LeaseApi,
    private readonly workerId: string,
  ) {
    // Paced trainers start spread over one cycle of their three calls. Spread over one interval
    // only, every trainer made the same call in the same 500 ms (all acquire, then all heartbeat,
    // then all complete), and a stall landed on one kind of call: which kind "had the tail"
    // changed from run to run.
    this.next = performance.now() + Math.random() * group.intervalMs * 3;
  }

  start(): void {
    this.loop();
  }

  /** The call of `phase`, now that it is due. */
  private readonly fire = () => {
    this.started = performance.now();
    if (this.phase === ACQUIRE) this.api.acquire(this.workerId, this.acquired);
    else if (this.phase === HEARTBEAT) this.api.heartbeat(this.lease!, this.heartbeaten);
    else this.api.complete(this.lease!, this.completed);
  };

  private readonly loop = () => {
    if (this.group.stopping) return this.group.stopped();
    this.pace(ACQUIRE);
  };

  private pace(phase: number): void {
    this.phase = phase;
    const { intervalMs } = this.group;
    if (intervalMs === 0) return this.fire();
    const now = performance.now();
    const wait = this.next - now;
    this.next = Math.max(this.next + intervalMs, now - intervalMs);
    // One timer per trainer per call: a timer wheel per process (one timer armed for the earliest
    // due trainer) measured no cheaper, in CPU per call, than these.
    if (wait > 0) setTimeout(this.fire, wait);
    else this.fire();
  }

  private record(kind: number): void {
    if (!this.group.measuring) return;
    this.group.latencies[kind]!.push(performance.now() - this.started);
    this.group.ops++;
  }

  private readonly acquired = (lease: object | null) => {
    if (lease === null) {
      this.group.refill();
      if (this.group.measuring) this.group.idle++;
      setTimeout(this.loop, 50);
      return;
    }
    this.record(ACQUIRE);
    this.lease = lease;
    this.pace(HEARTBEAT);
  };

  private readonly heartbeaten = () => {
    this.record(HEARTBEAT);
    this.pace(COMPLETE);
  };

  private readonly completed = () => {
    this.record(COMPLETE);
    if (this.group.measuring) this.group.trials++;
    this.lease = null;
    this.loop();
  };
}

/**
 * Runs `trainers` simulated trainers (indices into `apis` round robin) until `stop()`; calls are
 * timed only between `measure()` and `report()`. `intervalMs` 0: each trainer calls again at
 * once; else each calls on a fixed schedule.
 */
function startTrainers(trainers: number[], apis: LeaseApi[], refill: () => Promise<unknown>, intervalMs: number) {
  let refilling: Promise<unknown> | undefined;
  let finishStalls: (() => Stalls) | undefined;
  let cpu0 = process.cpuUsage();
  let running = trainers.length;
  let allStopped!: () => void;
  const stopped = new Promise<void>((resolve) => (allStopped = resolve));
  const group: TrainerGroup = {
    measuring: false,
    stopping: false,
    intervalMs,
    latencies: KINDS.map(() => []),
    ops: 0,
    trials: 0,
    idle: 0,
    refills: 0,
    refill() {
      if (!refilling && group.measuring) group.refills++;
      refilling ??= refill().finally(() => (refilling = undefined));
    },
    stopped() {
      if (--running === 0) allStopped();
    },
  };
  for (const i of trainers) new SimTrainer(group, apis[i % apis.length]!, `sim-${i}`).start();
  if (trainers.length === 0) allStopped();
  return {
    measure() {
      group.measuring = true;
      finishStalls = watchClientStalls();
      cpu0 = process.cpuUsage();
    },
    report(): WindowReport {
      group.measuring = false;
      const cpu = process.cpuUsage(cpu0);
      const latencies = Object.fromEntries(KINDS.map((kind, k) => [kind, group.latencies[k]!]));
      return { latencies, ops: group.ops, trials: group.trials, idle: group.idle, refills: group.refills, cpuUs: cpu.user + cpu.system, stalls: finishStalls!() };
    },
    async stop() {
      group.stopping = true;
      await stopped;
    },
  };
}

/** What the parent tells a client child, and what the child answers. */
type ToChild =
  | { type: 'start'; address: string; trainers: number[]; connections: number; intervalMs: number; client: string }
  | { type: 'measure' }
  | { type: 'report' }
  | { type: 'stop' }
  | { type: 'refilled' };
type FromChild = { type: 'ready' } | { type: 'refill' } | { type: 'report'; report: WindowReport } | { type: 'stopped' };

/**
 * Node 20's AsyncResource#bind, minus the deprecated `asyncResource` accessor on the bound
 * function. node:http2 binds one per request, and each accessor is made by util.deprecate, which
 * changes a new function's prototype: in the client processes that was 50-60 µs of CPU per call
 * (about a sixth of it) and most of their GC (5 pauses and 35-60 ms per 8 s window, against 3 and
 * 5-10 ms without). It changes nothing on the wire; the bound function runs in the resource's
 * async scope as before.
 */
function cheaperAsyncResourceBind(): void {
  AsyncResource.prototype.bind = function bind<F extends (...args: never[]) => unknown>(this: AsyncResource, fn: F, thisArg?: unknown) {
    if (typeof fn !== 'function') throw new TypeError('The "fn" argument must be of type function');
    const resource = this;
    // Anonymous: tsx (esbuild, keepNames) would set a named function's name per call.
    return function (this: unknown, ...args: Parameters<F>) {
      return resource.runInAsyncScope(fn as unknown as (...a: unknown[]) => unknown, thisArg === undefined ? this : thisArg, ...args);
    } as unknown as F;
  };
}

/** The client child: runs its trainers over its own connections as the parent says. */
async function runChild(): Promise<void> {
  cheaperAsyncResourceBind();
  const send = (message: FromChild) => process.send!(message);
  let trainers: ReturnType<typeof startTrainers> | undefined;
  const clients: { close(): void }[] = [];
  let refilled: (() => void) | undefined;
  process.on('message', (message: ToChild) => {
    switch (message.type) {
      case 'start': {
        const apis: LeaseApi[] = [];
        const requests = new LeaseRequests(trialProgressToProto(progress), trialResultToProto(sampleResult));
        for (let i = 0; i < message.connections; i++) {
          if (message.client === 'grpc-js') {
            const client = createClient(CoordinatorService, message.address);
            clients.push(client);
            apis.push(grpcApi(client));
          } else {
            const client = rawGrpcClient(message.address, requests);
            clients.push(client);
            apis.push(client);
          }
        }
        // The parent submits (one experiment at a time, for all children) and says when it is done.
        const refill = () => new Promise<void>((resolve) => {
          refilled = resolve;
          send({ type: 'refill' });
        });
        trainers = startTrainers(message.trainers, apis, refill, message.intervalMs);
        send({ type: 'ready' });
        break;
      }
      case 'measure':
        trainers!.measure();
        break;
      case 'report':
        send({ type: 'report', report: trainers!.report() });
        break;
      case 'refilled':
        refilled?.();
        break;
      case 'stop':
        void trainers!.stop().then(() => {
          for (const client of clients) client.close();
          send({ type: 'stopped' });
          process.disconnect();
        });
        break;
    }
  });
}

/** Splits trainers and connections over `count` client children on `address`. */
async function startChildren(count: number, address: string, intervalMs: number, refill: () => Promise<unknown>) {
  const children: ChildProcess[] = [];
  const waiting = new Map<ChildProcess, (message: FromChild) => void>();
  const perChild = (total: number, k: number) => Math.floor(total / count) + (k < total % count ? 1 : 0);
  let next = 0;
  // One submission at a time for all children; each asking child hears when it is done.
  let refilling: Promise<unknown> | undefined;
  for (let k = 0; k < count; k++) {
    const child = fork(fileURLToPath(import.meta.url), ['--child', String(k)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    // Below the coordinator's priority: the trainers it serves would be on other machines, and
    // with 4 client processes busy beside it the scheduler gave the coordinator a fifth of the 2
    // cores at most, about what it needs at 2,000 calls/s, so its queue grew without bound.
    setPriority(child.pid!, CLIENT_NICE);
    children.push(child);
    child.on('message', (message: FromChild) => {
      if (message.type === 'refill') {
        refilling ??= refill().finally(() => (refilling = undefined));
        void refilling.finally(() => child.send({ type: 'refilled' } satisfies ToChild));
        return;
      }
      const resolve = waiting.get(child);
      waiting.delete(child);
      resolve?.(message);
    });
    const trainers = Array.from({ length: perChild(TRAINERS, k) }, () => next++);
    child.send({ type: 'start', address, trainers, connections: Math.max(1, perChild(CONNECTIONS, k)), intervalMs, client: CLIENT } satisfies ToChild);
  }
  const all = (message: ToChild) =>
    Promise.all(
      children.map(
        (child) =>
          new Promise<FromChild>((resolve) => {
            waiting.set(child, resolve);
            child.send(message);
          }),
      ),
    );
  await Promise.all(children.map((child) => new Promise<void>((resolve) => waiting.set(child, () => resolve()))));
  return {
    children,
    measure: () => {
      for (const child of children) child.send({ type: 'measure' } satisfies ToChild);
    },
    report: async () => (await all({ type: 'report' })).map((m) => (m as Extract<FromChild, { type: 'report' }>).report),
    stop: async () => {
      await all({ type: 'stop' });
    },
  };
}

/**
 * One run: warm up, measure for SECONDS, print. `group` is either trainers in this process (the
 * in-process reference) or client children; `serverPid`/`metricsAddress` are the coordinator's.
 */
async function run(
  label: string,
  group: { measure(): void; report(): WindowReport | Promise<WindowReport[]>; stop(): Promise<void> },
  serverPid?: number,
  metricsAddress?: string,
): Promise<RunFigures> {
  // Scraped through the warm-up as Prometheus would be: the first scrape of a process runs cold
  // code and held the coordinator's event loop ~10 ms, and the scrape that opens the window was
  // that first one, which put 60-150 calls over 10 ms into the window's first 150 ms.
  const warmupEnds = performance.now() + WARMUP * 1000;
  while (performance.now() < warmupEnds) {
    await scrapeServerStalls(metricsAddress);
    await new Promise((resolve) => setTimeout(resolve, Math.min(1000, warmupEnds - performance.now())));
  }
  const serverBefore = await scrapeServerStalls(metricsAddress);
  const serverCpu0 = processCpuSeconds(serverPid);
  const steal0 = machineStealMs();
  const started = performance.now();
  group.measure();
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
  const reported = await group.report();
  const elapsed = (performance.now() - started) / 1000;
  const reports = Array.isArray(reported) ? reported : [reported];
  const steal1 = machineStealMs();
  const serverAfter = await scrapeServerStalls(metricsAddress);
  const serverCpu1 = processCpuSeconds(serverPid);
  const server = serverStalls(serverBefore, serverAfter);
  const serverSide = serverLatency(serverBefore, serverAfter);
  await group.stop();

  const latencies: Record<string, number[]> = { acquire: [], heartbeat: [], complete: [], all: [] };
  let ops = 0;
  let trials = 0;
  let idle = 0;
  let refills = 0;
  let clientCpuUs = 0;
  for (const report of reports) {
    for (const kind of KINDS) {
      for (const ms of report.latencies[kind]!) {
        latencies[kind]!.push(ms);
        latencies.all!.push(ms);
      }
    }
    ops += report.ops;
    trials += report.trials;
    idle += report.idle;
    refills += report.refills;
    clientCpuUs += report.cpuUs;
  }
  const clientUsPerOp = clientCpuUs / Math.max(1, ops);
  const serverUsPerOp = serverCpu0 !== undefined && serverCpu1 !== undefined ? ((serverCpu1 - serverCpu0) * 1e6) / Math.max(1, ops) : undefined;

  const figures: RunFigures = { ops, opsPerSecond: ops / elapsed, trialsPerSecond: trials / elapsed, p50: {}, p99: {}, idle };
  for (const [kind, values] of Object.entries(latencies)) {
    const sorted = Float64Array.from(values).sort();
    figures.p50[kind] = percentile(sorted, 50);
    figures.p99[kind] = percentile(sorted, 99);
  }
  const over10 = latencies.all!.filter((ms) => ms > 10).length;
  const ms = (x: number | undefined) => `${(x ?? NaN).toFixed(2)} ms`;
  console.log(`\n${label}: ${TRAINERS} trainers, ${elapsed.toFixed(1)} s measured`);
  console.log(`  lease operations: ${figures.opsPerSecond.toFixed(0)} ops/s (${figures.trialsPerSecond.toFixed(0)} trials/s; ${ops} ops)`);
  for (const kind of [...KINDS, 'all']) {
    console.log(`  ${kind.padEnd(9)} p50 ${ms(figures.p50[kind])}  p99 ${ms(figures.p99[kind])}  (n=${latencies[kind]!.length})`);
  }
  console.log(`  calls over 10 ms: ${over10} (${((100 * over10) / Math.max(1, ops)).toFixed(2)}%)`);
  console.log(
    `  CPU per operation: ${serverPid === undefined ? 'in process' : `bench (${reports.length} client processes)`} ${clientUsPerOp.toFixed(0)} µs` +
      (serverUsPerOp !== undefined ? `, coordinator ${serverUsPerOp.toFixed(0)} µs (one core would serve ${(1e6 / serverUsPerOp).toFixed(0)} ops/s)` : ''),
  );
  // Both figures are the interval between two samples, so they include the sampling interval.
  reports.forEach((report, k) => console.log(formatStalls(reports.length > 1 ? `bench client ${k + 1}/${reports.length}` : 'bench (client)', report.stalls, 'sampled every 1 ms')));
  if (server) console.log(formatStalls('coordinator', server, "prom-client's, sampled every 10 ms"));
  if (serverSide) console.log(serverSide);
  if (steal0 !== undefined && steal1 !== undefined) console.log(`  CPU steal (the hypervisor running others on this machine's cores): ${steal1 - steal0} ms over the window`);
  if (idle > 0) console.log(`  acquires that found no trial (not counted): ${idle}`);
  // A submission expands and journals a whole experiment at once, and lease calls wait behind it.
  if (refills > 0) console.log(`  experiments submitted while measuring (each stalls lease calls): ${refills}`);
  figures.serverUsPerOp = serverUsPerOp;
  return figures;
}

async function main(): Promise<void> {
  console.log(`lease throughput: ${TRAINERS} simulated trainers, ${args.experiments} experiments x ${SEEDS_PER_EXPERIMENT * 2} trials per run`);
  const experiments = Number(args.experiments);

  // Reference: the same loop calling the core directly (no gRPC, no second process).
  const refDir = mkdtempSync(join(tmpdir(), 'ballast-bench-ref-'));
  let reference: RunFigures | undefined;
  if (!args['skip-reference']) try {
    const core = await CoordinatorCore.open({ stateDir: refDir, leaseTtlMs: 60_000 });
    let submitted = 0;
    const submit = () => core.submitExperiment(spec(submitted++));
    for (let i = 0; i < experiments; i++) await submit();
    reference = await run('saturation, in-process core (reference)', startTrainers(Array.from({ length: TRAINERS }, (_, i) => i), [coreApi(core)], submit, 0));
    await core.close();
  } finally {
    rmSync(refDir, { recursive: true, force: true });
  }

  const dir = mkdtempSync(join(tmpdir(), 'ballast-bench-grpc-'));
  const coordinator = args.address
    ? { address: args.address, child: { pid: args['coordinator-pid'] !== undefined ? Number(args['coordinator-pid']) : undefined }, stop: async () => 0 }
    : await startCoordinatorProcess(join(dir, 'state'), ['--lease-ttl', '60', '--metrics-listen', '127.0.0.1:0']);
  const metricsAddress = args.address
    ? args['metrics-address']
    : (
        'log' in coordinator
          ? coordinator.log().split('\n').map((line) => (line.includes('metrics listening') && line.endsWith('}') ? (JSON.parse(line) as { address: string }).address : undefined)).find((a) => a !== undefined)
          : undefined
      );
  const clients: CoordinatorClient[] = [];
  try {
    const admin = new CoordinatorClient({ address: coordinator.address, defaultTimeoutMs: 120_000 });
    clients.push(admin);
    let submitted = 0;
    const submit = () => admin.submitExperiment(spec(submitted++));
    for (let i = 0; i < experiments; i++) await submit();
    const children = (intervalMs: number) => startChildren(CLIENTS, coordinator.address, intervalMs, submit);
    const where = `${CONNECTIONS} connections from ${CLIENTS} client processes, ${CLIENT} client`;
    const saturated = args['skip-saturation']
      ? undefined
      : await run(`saturation, gRPC to a coordinator process (${where})`, await children(0), coordinator.child.pid, metricsAddress);
    const intervalMs = (1000 * TRAINERS) / RATE;
    // The latency target is for steady leasing: queue enough trials up front (1.5x what the paced
    // run can take, at 3 calls per trial) that no submission lands in its window; what a submission
    // costs is measured on its own below.
    const pacedTrials = ((WARMUP + SECONDS) * RATE * 1.5) / 3;
    const queued = (await admin.listExperiments()).reduce((n, e) => n + e.counts.queued, 0);
    for (let need = pacedTrials - queued; need > 0; need -= SEEDS_PER_EXPERIMENT * 2) await submit();
    const paced = await run(`paced at ${RATE} ops/s offered, gRPC (one call per trainer every ${intervalMs.toFixed(0)} ms; ${where})`, await children(intervalMs), coordinator.child.pid, metricsAddress);
    const p99 = paced.p99.all ?? NaN;
    const s0 = performance.now();
    await submit();
    const submitMs = performance.now() - s0;
    console.log(`\nsubmitting one experiment of ${SEEDS_PER_EXPERIMENT * 2} trials took ${submitMs.toFixed(0)} ms (lease calls queue behind it)`);
    console.log(`\nmachine: load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${cpus().length} cores`);
    console.log('\nsummary');
    if (reference && saturated) console.log(`  gRPC / in-process saturation throughput: ${(saturated.opsPerSecond / reference.opsPerSecond).toFixed(2)}x`);
    if (saturated) console.log(`  saturation throughput ${saturated.opsPerSecond.toFixed(0)} ops/s vs target >= ${TARGET_OPS}: ${saturated.opsPerSecond >= TARGET_OPS ? 'MET' : 'MISSED'}`);
    console.log(`  paced: ${paced.opsPerSecond.toFixed(0)} ops/s achieved of ${RATE} offered; p50 ${(paced.p50.all ?? NaN).toFixed(2)} ms, p99 ${p99.toFixed(2)} ms vs target < ${TARGET_P99_MS} ms: ${p99 < TARGET_P99_MS && paced.opsPerSecond >= 0.95 * RATE ? 'MET' : 'MISSED'}`);
  } finally {
    for (const client of clients) client.close();
    await coordinator.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (args.child !== undefined) await runChild();
else await main();
