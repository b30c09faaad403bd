// Lease throughput of the coordinator core alone (no gRPC): N simulated trainers loop
// acquire -> heartbeats -> complete against one CoordinatorCore on a real disk, every state change
// fsynced. The reference, in the same process, is the raw cost of one append + fdatasync, which
// bounds a core without group commit to (1 / fsync time) state changes per second.
//
// Two loads: closed loop (every trainer calls again as soon as it has an answer: the ceiling), and
// open loop at --rate operations per second spread over the trainers (the latency at a target load).
//
//   node --import tsx bench/core-lease-throughput.ts [--trainers 1000] [--seconds 5] [--heartbeats 2] [--rate 2000]
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CoordinatorCore } from '../coordinator/src/core/coordinator-core.ts';
import { fakeTrialResult } from '../coordinator/src/core/fake-trial-result.ts';

const { values } = parseArgs({
  options: {
    trainers: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '5' },
    heartbeats: { type: 'string', default: '2' },
    rate: { type: 'string', default: '2000' },
    dir: { type: 'string', default: process.cwd() },
  },
});
const trainers = Number(values.trainers);
const seconds = Number(values.seconds);
const heartbeats = Number(values.heartbeats);
const rate = Number(values.rate);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function rawFsync(dir: string, n: number): Promise<number> {
  const handle = await open(join(dir, 'raw.jsonl'), 'a');
  const line = Buffer.from(`${JSON.stringify({ v: 1, type: 'trial_leased', at: new Date().toISOString(), lease_id: 'x'.repeat(36) })}\n`);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    await handle.write(line);
    await handle.datasync();
  }
  const ms = (performance.now() - t0) / n;
  await handle.close();
  return ms;
}

async function run(dir: string, trainerCount: number, opsPerSecond?: number): Promise<{ ops: number; p50: number; p99: number; max: number; writeP50: number; writeP99: number; stats: ReturnType<CoordinatorCore['journalStats']>; completed: number }> {
  const core = await CoordinatorCore.open({ stateDir: join(dir, `state-${trainerCount}-${opsPerSecond ?? 'max'}`), leaseTtlMs: 60_000 });
  // Open loop: each trainer waits its share of the target rate between calls (jittered).
  const pause = opsPerSecond ? () => sleep(Math.random() * 2 * (trainerCount / opsPerSecond) * 1000) : () => undefined;
  const batchSizes = Array.from({ length: 20 }, (_, i) => i + 1);
  await core.submitExperiment({ name: 'bench', base: { model: 'builtin:tiny', task: { name: 'rte' } }, sweep: { batch_size: batchSizes }, seeds: 5000 });
  const latencies: number[] = [];
  const writeLatencies: number[] = [];
  let completed = 0;
  const end = performance.now() + seconds * 1000;
  // Only calls started before `end` count, over exactly `seconds`, so the tail does not dilute the rate.
  const timed = async <T>(op: () => T | Promise<T>, writes: boolean): Promise<T> => {
    await pause();
    const t0 = performance.now();
    const value = await op();
    const ms = performance.now() - t0;
    if (t0 < end) {
      latencies.push(ms);
      if (writes) writeLatencies.push(ms);
    }
    return value;
  };
  const trainer = async (id: number) => {
    const worker = `w${id}`;
    while (performance.now() < end) {
      const lease = await timed(() => core.acquireTrial(worker), true);
      if (!lease) return;
      for (let h = 0; h < heartbeats; h++) {
        await timed(() => core.heartbeat(lease.leaseId, { kind: 'step', step: h, total_steps: 10, loss: 1, lr: 1e-5, examples_per_second: 1 }), false);
      }
      await timed(() => core.completeTrial(lease.leaseId, fakeTrialResult(lease.config, lease.seeds)), true);
      completed++;
    }
  };
  await Promise.all(Array.from({ length: trainerCount }, (_, i) => trainer(i)));
  const stats = core.journalStats();
  await core.close();
  latencies.sort((a, b) => a - b);
  writeLatencies.sort((a, b) => a - b);
  return {
    ops: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? NaN,
    writeP50: percentile(writeLatencies, 50),
    writeP99: percentile(writeLatencies, 99),
    stats,
    completed,
  };
}

const dir = mkdtempSync(join(values.dir, '.bench-core-'));
try {
  const fsyncMs = await rawFsync(dir, 200);
  console.log(`reference: append + fdatasync of one event: ${fsyncMs.toFixed(3)} ms -> at most ${Math.round(1000 / fsyncMs)} fsynced changes/s without group commit`);
  for (const [n, load] of [[1, undefined], [trainers, undefined], [trainers, rate]] as const) {
    const r = await run(dir, n, load);
    const changes = r.stats.events;
    console.log(
      `${String(n).padStart(5)} trainers, ${load ? `open loop at ${load}/s` : 'closed loop'}: ${Math.round(r.ops)} lease ops/s (acquire, ${heartbeats} heartbeats, complete), ` +
        `p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, max ${r.max.toFixed(1)} ms ` +
        `(acquire/complete only: p50 ${r.writeP50.toFixed(2)}, p99 ${r.writeP99.toFixed(2)} ms); ${r.completed} trials; ` +
        `${changes} journaled changes in ${r.stats.writes} fsyncs (${(changes / Math.max(1, r.stats.writes)).toFixed(1)} per fsync, ` +
        `${(r.stats.syncMs / Math.max(1, r.stats.writes)).toFixed(2)} ms each, slowest ${r.stats.maxSyncMs.toFixed(1)} ms); ` +
        `${Math.round((changes / (r.stats.syncMs / 1000 || 1)))} changes per fsync-second vs ${Math.round(1000 / fsyncMs)} raw (x${((changes / Math.max(1, r.stats.writes))).toFixed(1)})`,
    );
  }
  // Start-up cost: replaying the journal the closed-loop run left behind.
  const stateDir = join(dir, `state-${trainers}-max`);
  const bytes = statSync(join(stateDir, 'journal.jsonl')).size;
  const t0 = performance.now();
  const core = await CoordinatorCore.open({ stateDir });
  const ms = performance.now() - t0;
  const info = core.listExperiments()[0]!;
  await core.close();
  console.log(`replay: ${(bytes / 1e6).toFixed(1)} MB journal (${info.trials} trials, ${info.counts.succeeded} results) opened in ${Math.round(ms)} ms`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
