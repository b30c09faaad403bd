// The coordinator's own CPU and allocation per lease call, without the gRPC transport: the same
// work a lease call does behind grpc-js (decode the request bytes, the service handler, the core,
// the journal's O_DSYNC group commit, the info log lines into a buffered destination, the
// Prometheus metrics through the call and journal observers, encode the reply), driven in process
// by simulated trainers paced like bench/lease-throughput.ts (acquire, heartbeat, complete, one
// call per trainer every trainers/rate seconds). The simulated trainers splice their requests
// from bytes (no protobuf work of their own), so nearly all CPU here is the coordinator's.
//
// Prints CPU per call (process.cpuUsage: every thread, so the journal's pool writes too), GC
// pauses, and the old generation's growth per trial after a full GC (what each finished trial
// keeps alive). Run A/B alternately: the machine is shared.
//
//   node --expose-gc --import tsx bench/coordinator-work.ts [--trainers 1000] [--rate 2000] [--seconds 8] [--warmup 3] [--log-level info]
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { toBinary, create } from '@bufbuild/protobuf';
import { bufferedLogDestination } from '../coordinator/src/cli/log-destination.ts';
import { CoordinatorCore } from '../coordinator/src/core/coordinator-core.ts';
import { createCoordinatorService } from '../coordinator/src/grpc/coordinator-service.ts';
import { decodeMessage } from '../coordinator/src/grpc/fast-decode.ts';
import { encodeMessage } from '../coordinator/src/grpc/fast-encode.ts';
import { trialProgressToProto, trialResultToProto } from '../coordinator/src/grpc/proto-convert.ts';
import { Code } from '../coordinator/src/grpc/rpc-error.ts';
import { sampleResult } from '../coordinator/src/grpc/test-fixtures.ts';
import { createCoordinatorMetrics } from '../coordinator/src/metrics/coordinator-metrics.ts';
import {
  AcquireTrialRequestSchema,
  AcquireTrialResponseSchema,
  CompleteTrialRequestSchema,
  CompleteTrialResponseSchema,
  HeartbeatRequestSchema,
  HeartbeatResponseSchema,
} from '../proto/gen/ballast/v1/coordinator_service_pb.ts';
import { TrialResultSchema } from '../proto/gen/ballast/v1/trial_pb.ts';

const { values: args } = parseArgs({
  options: {
    trainers: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '3' },
    'log-level': { type: 'string', default: 'info' },
    metrics: { type: 'boolean', default: true },
    'trials-per-experiment': { type: 'string', default: '10000' },
    experiments: { type: 'string', default: '3' },
    // A .cpuprofile of the measured window only (not start-up, submission or warm-up).
    'cpu-prof': { type: 'string' },
    // A sampling heap profile of everything allocated in the measured window (collected or not).
    'heap-prof': { type: 'string' },
  },
  allowNegative: true,
});
const trainers = Number(args.trainers);
const rate = Number(args.rate);
const seconds = Number(args.seconds);
const warmup = Number(args.warmup);
const gc = (globalThis as { gc?: () => void }).gc;

const dir = mkdtempSync(join(tmpdir(), 'coordinator-work-'));
// As `ballast coordinator` logs, into /dev/null.
const log = pino({ level: args['log-level'], base: { component: 'coordinator' } }, bufferedLogDestination(openSync('/dev/null', 'w')));
const registry = new Registry();
collectDefaultMetrics({ register: registry });
const metrics = args.metrics ? createCoordinatorMetrics(registry) : undefined;
const core = await CoordinatorCore.open({ stateDir: dir, leaseTtlMs: 60_000, log, ...(metrics ? { journalObserver: metrics.journalObserver } : {}) });
metrics?.attach(core);
const service = createCoordinatorService({ core, leaseTtlMs: 60_000, log });

const perExperiment = Number(args['trials-per-experiment']);
for (let i = 0; i < Number(args.experiments); i++) {
  await core.submitExperiment({
    name: `bench-${i}`,
    base: { model: 'builtin:bert-tiny', task: { name: 'synthetic' }, max_steps: 10 },
    sweep: { optimizer: ['adamw', 'bertadam'] },
    seeds: perExperiment / 2,
  });
}

/** One unary call as the bridge makes it: decode, handler, encode, observer. */
async function call<I, O>(rpc: string, input: Parameters<typeof decodeMessage>[0], output: Parameters<typeof encodeMessage>[0], handler: (request: I) => Promise<O>, bytes: Uint8Array): Promise<Uint8Array> {
  const started = performance.now();
  const request = decodeMessage(input, bytes as Buffer) as I;
  const reply = await handler(request);
  const encoded = encodeMessage(output, reply as never);
  metrics?.callObserver.onCallEnd(rpc, Code.OK, performance.now() - started);
  return encoded;
}

// Protobuf wire helpers for the simulated trainers (they only splice bytes).
function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}
function lengthDelimited(field: number, body: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([...varint((field << 3) | 2), ...varint(body.length)]), body]);
}
/** Top-level length-delimited fields of a message: field number -> its bytes (the last one). */
function fields(bytes: Uint8Array): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  let i = 0;
  const readVarint = () => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[i++]!;
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
      shift += 7;
    }
  };
  while (i < bytes.length) {
    const key = readVarint();
    const wire = key & 7;
    if (wire === 0) readVarint();
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else if (wire === 2) {
      const length = readVarint();
      out.set(key >>> 3, bytes.subarray(i, i + length));
      i += length;
    } else throw new Error(`wire type ${wire}`);
  }
  return out;
}

const progressMessage = trialProgressToProto({ kind: 'step', step: 5, total_steps: 10, loss: 0.5, lr: 1e-5, examples_per_second: 100 });
const heartbeatTail = toBinary(HeartbeatRequestSchema, create(HeartbeatRequestSchema, { progress: progressMessage }));
const resultMessage = trialResultToProto(sampleResult);
// The result without config and seeds (fields 1 and 2), which each trainer splices in from its lease.
const resultTail = toBinary(TrialResultSchema, create(TrialResultSchema, { ...resultMessage, config: undefined, seeds: undefined }));

let measuring = false;
let ops = 0;
let trials = 0;
let stop = false;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pause = () => sleep(Math.random() * 2 * (trainers / rate) * 1000);

async function trainer(id: number): Promise<void> {
  const acquireBytes = toBinary(AcquireTrialRequestSchema, create(AcquireTrialRequestSchema, { workerId: `trainer-${id}`, waitMs: 0 }));
  while (!stop) {
    await pause();
    const reply = await call('AcquireTrial', AcquireTrialRequestSchema, AcquireTrialResponseSchema, service.acquireTrial as never, acquireBytes);
    const lease = fields(reply).get(1);
    if (!lease) return;
    if (measuring) ops++;
    const leaseFields = fields(lease);
    const leaseIdField = lengthDelimited(1, leaseFields.get(1)!);
    await pause();
    await call('Heartbeat', HeartbeatRequestSchema, HeartbeatResponseSchema, service.heartbeat as never, Buffer.concat([leaseIdField, heartbeatTail]));
    if (measuring) ops++;
    await pause();
    const result = Buffer.concat([lengthDelimited(1, leaseFields.get(6)!), lengthDelimited(2, leaseFields.get(7)!), resultTail]);
    await call('CompleteTrial', CompleteTrialRequestSchema, CompleteTrialResponseSchema, service.completeTrial as never, Buffer.concat([leaseIdField, lengthDelimited(2, result)]));
    if (measuring) {
      ops++;
      trials++;
    }
  }
}

/** tid -> [thread name, user+system ticks of 10 ms], from /proc (Linux). */
function threadTicks(): Map<number, [string, number]> {
  const out = new Map<number, [string, number]>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), [name.replace(/[0-9]+$/, '#'), Number(rest[11]) + Number(rest[12])]);
    }
  } catch {
    // not Linux
  }
  return out;
}

const gcPauses: number[] = [];
const gcObserver = new PerformanceObserver((list) => {
  if (measuring) for (const entry of list.getEntries()) gcPauses.push(entry.duration);
});
gcObserver.observe({ entryTypes: ['gc'] });

const running = Array.from({ length: trainers }, (_, i) => trainer(i));
await sleep(warmup * 1000);
gc?.();
const heapBefore = process.memoryUsage().heapUsed;
const stats0 = core.journalStats();
const heapProfiler = args['heap-prof'] !== undefined ? new Session() : undefined;
if (heapProfiler) {
  heapProfiler.connect();
  await heapProfiler.post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
}
const profiler = args['cpu-prof'] !== undefined ? new Session() : undefined;
if (profiler) {
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.setSamplingInterval', { interval: 100 });
  await profiler.post('Profiler.start');
}
const threads0 = threadTicks();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
measuring = true;
await sleep(seconds * 1000);
measuring = false;
const cpu = process.cpuUsage(cpu0);
const threads1 = threadTicks();
const elapsed = (performance.now() - t0) / 1000;
const stats1 = core.journalStats();
if (heapProfiler) {
  const { profile } = (await heapProfiler.post('HeapProfiler.stopSampling')) as { profile: unknown };
  writeFileSync(args['heap-prof']!, JSON.stringify(profile));
  heapProfiler.disconnect();
}
if (profiler) {
  const { profile } = (await profiler.post('Profiler.stop')) as { profile: unknown };
  writeFileSync(args['cpu-prof']!, JSON.stringify(profile));
  profiler.disconnect();
}
gc?.();
const heapAfter = process.memoryUsage().heapUsed;
stop = true;
await Promise.all(running);
gcObserver.disconnect();

const userUs = cpu.user / ops;
const systemUs = cpu.system / ops;
const writes = stats1.writes - stats0.writes;
console.log(
  `${Math.round(ops / elapsed)} calls/s (${trials} trials) over ${elapsed.toFixed(1)} s: ${(userUs + systemUs).toFixed(1)} µs CPU per call ` +
    `(user ${userUs.toFixed(1)}, system ${systemUs.toFixed(1)}); GC ${gcPauses.length} pauses, ${Math.round(gcPauses.reduce((a, b) => a + b, 0))} ms; ` +
    `journal ${writes} writes, ${((stats1.events - stats0.events) / Math.max(1, writes)).toFixed(1)} events and ${Math.round((stats1.bytes - stats0.bytes) / Math.max(1, stats1.events - stats0.events))} bytes per event` +
    (gc ? `; old heap +${Math.round((heapAfter - heapBefore) / Math.max(1, trials))} bytes per trial after full GC` : '') +
    `; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
);
// Per thread (Linux): CPU µs per call by thread name, so the main thread's share is visible.
const byName = new Map<string, number>();
for (const [tid, [name, ticks]] of threads1) {
  const before = threads0.get(tid)?.[1] ?? 0;
  const key = tid === process.pid ? 'main' : name;
  byName.set(key, (byName.get(key) ?? 0) + ((ticks - before) * 10_000) / ops);
}
console.log(`  per thread, µs per call: ${[...byName].filter(([, us]) => us >= 0.5).map(([name, us]) => `${name} ${us.toFixed(1)}`).join(', ')}`);
await core.close();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
