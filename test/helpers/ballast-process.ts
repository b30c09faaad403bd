// Real `ballast` processes for integration tests: a coordinator and trainers started through
// bin/ballast.mjs exactly as users start them, their structured logs collected, and small waits.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CoordinatorClient } from '../../coordinator/src/client/coordinator-client.ts';
import type { ExperimentResults } from '../../coordinator/src/results/experiment-results.ts';
import { freePort } from './free-port.ts';

export const BALLAST_BIN = fileURLToPath(new URL('../../bin/ballast.mjs', import.meta.url));

export interface BallastProcess {
  child: ChildProcess;
  /** Parsed JSON log lines (pino) so far; other stderr lines as `{ text }`. */
  logs: Array<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first log line matching, or rejects after `timeoutMs`. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  kill(signal?: NodeJS.Signals): void;
}

export function spawnBallast(args: string[], env: NodeJS.ProcessEnv = {}): BallastProcess {
  const child = spawn(process.execPath, [BALLAST_BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BALLAST_WASM_THREADS: '1', ...env },
  });
  const logs: Array<Record<string, unknown>> = [];
  const waiters = new Set<{ match: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }>();
  let buffer = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const text = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        line = { text };
      }
      logs.push(line);
      for (const waiter of waiters) {
        if (waiter.match(line)) {
          waiters.delete(waiter);
          waiter.resolve(line);
        }
      }
    }
  });
  child.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    logs,
    exited,
    waitForLog(match, timeoutMs = 60_000) {
      const seen = logs.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = { match, resolve: (line: Record<string, unknown>) => (clearTimeout(timer), resolve(line)) };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no matching log line within ${timeoutMs} ms; last lines:\n${logs.slice(-10).map((l) => JSON.stringify(l)).join('\n')}`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

export interface CoordinatorProcess extends BallastProcess {
  address: string;
}

export async function startCoordinatorProcess(options: { stateDir: string; port?: number; leaseTtlSeconds?: number; nats?: string }): Promise<CoordinatorProcess> {
  const port = options.port ?? (await freePort());
  const address = `127.0.0.1:${port}`;
  const args = ['coordinator', '--listen', address, '--state-dir', options.stateDir, '--lease-ttl', String(options.leaseTtlSeconds ?? 4)];
  if (options.nats) args.push('--nats', options.nats);
  const proc = spawnBallast(args);
  const client = new CoordinatorClient({ address });
  try {
    await Promise.race([
      client.waitUntilServing(30_000),
      proc.exited.then(({ code }) => Promise.reject(new Error(`coordinator exited with ${code}: ${JSON.stringify(proc.logs.slice(-5))}`))),
    ]);
  } finally {
    client.close();
  }
  return Object.assign(proc, { address });
}

export function startTrainerProcess(options: { coordinator: string; workerId: string; outDir: string; nats?: string; extra?: string[] }): BallastProcess {
  const args = ['trainer', '--coordinator', options.coordinator, '--worker-id', options.workerId, '--out-dir', options.outDir, '--backend', 'wasm', '--heartbeat-interval', '1'];
  if (options.nats) args.push('--nats', options.nats);
  args.push(...(options.extra ?? []));
  return spawnBallast(args);
}

/** Polls the coordinator until the experiment is no longer running (riding out its restarts). */
export async function waitForExperiment(client: CoordinatorClient, experimentId: string, timeoutMs: number): Promise<ExperimentResults> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const results = await client.results(experimentId, { timeoutMs: 5000 });
      if (results.experiment.state !== 'running') return results;
      last = results.trials.map((t) => `${t.id}:${t.state}/${t.attempts}`).join(' ');
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`experiment ${experimentId} still running after ${timeoutMs} ms: ${last instanceof Error ? last.message : String(last)}`);
}

/** Stops processes gracefully and waits (SIGKILL after `graceMs`). */
export async function stopAll(processes: Array<BallastProcess | undefined>, graceMs = 10_000): Promise<void> {
  await Promise.all(
    processes.map(async (proc) => {
      if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await proc.exited;
      clearTimeout(timer);
    }),
  );
}
