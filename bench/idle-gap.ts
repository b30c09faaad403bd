// The idle gap between two trials on a real trainer: from one trial's end to the next trial's
// first update. A coordinator runs in this process on loopback; one `ballast trainer` process
// (wasm, the builtin tiny BERT, 20 updates per trial) works through 6 trials, once with lease
// prefetching (the default) and once without, as the reference in the same run.
//
// The gap has two parts, both printed:
//   - waited: trial end -> next trial start, what the control plane costs (the lease round trip,
//     unless the lease was fetched during the final evaluation). Target: < 50 ms.
//   - setup: next trial start -> its first update, what the training core spends loading the task
//     and building the model (the same on any network).
//
//   node --import tsx bench/idle-gap.ts [--trials 6] [--steps 20]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { startCoordinator } from '../coordinator/src/main.ts';
import { BALLAST_BIN } from '../coordinator/src/local/trainer-pool.ts';

const { values } = parseArgs({ options: { trials: { type: 'string', default: '6' }, steps: { type: 'string', default: '20' } } });
const trials = Number(values.trials);
const steps = Number(values.steps);

interface Gaps {
  waited: number[];
  setup: number[];
  total: number[];
}

async function measure(prefetch: boolean): Promise<Gaps> {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-idle-gap-'));
  const coordinator = await startCoordinator({ listen: '127.0.0.1:0', stateDir: join(dir, 'state'), leaseTtlMs: 30_000, log: pino({ level: 'silent' }) });
  try {
    await coordinator.core.submitExperiment({
      name: 'idle-gap',
      base: { model: 'builtin:quickstart-tiny', task: { name: 'synthetic' }, max_seq_length: 32, batch_size: 16, learning_rate: 1e-3, max_steps: steps, num_evals: 1 },
      seeds: trials,
    });
    const args = [BALLAST_BIN, 'trainer', '--coordinator', coordinator.address, '--out-dir', join(dir, 'trials'), '--worker-id', 'bench', '--backend', 'wasm', '--exit-when-idle'];
    if (!prefetch) args.push('--no-prefetch');
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, BALLAST_WASM_THREADS: '1' } });
    const gaps: Gaps = { waited: [], setup: [], total: [] };
    let buffer = '';
    let waited: number | undefined;
    child.stderr.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      for (let i; (i = buffer.indexOf('\n')) >= 0; buffer = buffer.slice(i + 1)) {
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(buffer.slice(0, i)) as Record<string, unknown>;
        } catch {
          continue;
        }
        if (line.msg === 'trial started' && typeof line.waitedMs === 'number') waited = line.waitedMs;
        if (line.msg === 'first step' && typeof line.idleGapMs === 'number' && waited !== undefined) {
          gaps.waited.push(waited);
          gaps.total.push(line.idleGapMs);
          gaps.setup.push(line.idleGapMs - waited);
          waited = undefined;
        }
      }
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`trainer exited with ${code}`);
    const done = coordinator.core.listExperiments()[0]!.counts.succeeded;
    if (done !== trials) throw new Error(`only ${done}/${trials} trials succeeded`);
    return gaps;
  } finally {
    await coordinator.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (xs: number[]) => `median ${median(xs).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms (n=${xs.length})`;

console.log(`idle gap between trials: 1 trainer (wasm, 1 thread), ${trials} trials of ${steps} updates, coordinator on loopback`);
const withPrefetch = await measure(true);
const without = await measure(false);
for (const [name, g] of [['prefetch (default)', withPrefetch], ['no prefetch (reference)', without]] as const) {
  console.log(`${name}:`);
  console.log(`  waited (control plane): ${fmt(g.waited)}`);
  console.log(`  setup (data + model):   ${fmt(g.setup)}`);
  console.log(`  idle gap (end -> first update): ${fmt(g.total)}`);
}
const target = 50;
const waited = median(withPrefetch.waited);
console.log(`control-plane part with prefetch: ${waited.toFixed(1)} ms (target < ${target} ms: ${waited < target ? 'met' : 'NOT met'}); ` + `without prefetch ${median(without.waited).toFixed(1)} ms (${(median(without.waited) / Math.max(waited, 0.1)).toFixed(1)}x)`);
console.log(`whole gap with prefetch: ${median(withPrefetch.total).toFixed(1)} ms (target < ${target} ms: ${median(withPrefetch.total) < target ? 'met' : 'NOT met: the setup of the next trial dominates'})`);
