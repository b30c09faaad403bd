// The trainer processes of `ballast run`: N children running `ballast trainer` against the
// embedded coordinator, exactly as trainer pods run against a cluster's. Each one's structured log
// goes to `<logDir>/trainer-<i>.log`. A trainer that dies while the run goes on (out of memory, a
// crash) is restarted, a few times; its trial is not lost either way, since the coordinator
// expires its lease and queues the trial again.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';

/** Every trainer kept exiting: the run cannot make progress (a broken backend, a bad flag). */
export class TrainersGoneError extends Error {
  override readonly name = 'TrainersGoneError';
}

export const BALLAST_BIN = fileURLToPath(new URL('../../../bin/ballast.mjs', import.meta.url));

export interface TrainerPoolOptions {
  count: number;
  /** `HOST:PORT` of the coordinator. */
  coordinator: string;
  outDir: string;
  logDir: string;
  log: Logger;
  nats?: string;
  dataRoot?: string;
  backend?: string;
  /** Restarts allowed per trainer before the pool gives up on it (default 3). */
  maxRestarts?: number;
  /** Extra `ballast trainer` flags. */
  extraArgs?: string[];
  env?: NodeJS.ProcessEnv;
  /** Told when every trainer has given up (the run cannot make progress). */
  onAllGone?: (reason: string) => void;
}

interface Slot {
  index: number;
  child: ChildProcess | undefined;
  restarts: number;
  gone: boolean;
  exited: Promise<void>;
}

export class TrainerPool {
  private readonly slots: Slot[] = [];
  private stopping = false;

  constructor(private readonly options: TrainerPoolOptions) {}

  start(): void {
    mkdirSync(this.options.logDir, { recursive: true });
    for (let index = 1; index <= this.options.count; index++) {
      const slot: Slot = { index, child: undefined, restarts: 0, gone: false, exited: Promise.resolve() };
      this.slots.push(slot);
      this.spawn(slot);
    }
  }

  logFile(index: number): string {
    return join(this.options.logDir, `trainer-${index}.log`);
  }

  /** Process ids of the running trainers (tests kill them). */
  pids(): number[] {
    return this.slots.flatMap((slot) => (slot.child?.pid !== undefined && slot.child.exitCode === null ? [slot.child.pid] : []));
  }

  private spawn(slot: Slot): void {
    const o = this.options;
    const args = [BALLAST_BIN, 'trainer', '--coordinator', o.coordinator, '--out-dir', o.outDir, '--worker-id', `local-${slot.index}`, '--parent-pid', String(process.pid)];
    if (o.nats) args.push('--nats', o.nats);
    if (o.dataRoot) args.push('--data-root', o.dataRoot);
    if (o.backend) args.push('--backend', o.backend);
    args.push(...(o.extraArgs ?? []));
    const logFd = openSync(this.logFile(slot.index), 'a');
    const env = { ...(o.env ?? process.env) };
    // Trainers share the machine: without a word, each wasm backend would start one thread per
    // core and N trainers would fight over the cores.
    env.BALLAST_WASM_THREADS ??= String(Math.max(1, Math.floor(availableParallelism() / o.count)));
    const child = spawn(process.execPath, args, { stdio: ['ignore', logFd, logFd], env });
    closeSync(logFd);
    slot.child = child;
    o.log.info({ workerId: `local-${slot.index}`, pid: child.pid, restarts: slot.restarts }, 'trainer started');
    slot.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        resolve();
        if (this.stopping) return;
        o.log.warn({ workerId: `local-${slot.index}`, code, signal, log: this.logFile(slot.index) }, 'trainer exited unexpectedly');
        if (slot.restarts >= (o.maxRestarts ?? 3)) {
          slot.gone = true;
          o.log.error({ workerId: `local-${slot.index}` }, 'trainer keeps failing; not restarting it');
          if (this.slots.every((s) => s.gone)) o.onAllGone?.(`every trainer exited repeatedly; the last said: ${lastLine(this.logFile(slot.index))} (${this.logFile(slot.index)})`);
          return;
        }
        slot.restarts++;
        setTimeout(() => {
          if (!this.stopping) this.spawn(slot);
        }, 1000 * slot.restarts).unref();
      });
    });
  }

  /** SIGTERM (trainers hand their trials back), then SIGKILL after `graceMs`. */
  async stop(graceMs = 30_000): Promise<void> {
    this.stopping = true;
    const live = this.slots.filter((slot) => slot.child && slot.child.exitCode === null && slot.child.signalCode === null);
    for (const slot of live) slot.child!.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const slot of live) if (slot.child!.exitCode === null) slot.child!.kill('SIGKILL');
    }, graceMs);
    await Promise.all(live.map((slot) => slot.exited));
    clearTimeout(timer);
  }
}

/** The last line a trainer wrote: its error, when it died of one. */
function lastLine(file: string): string {
  try {
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    const line = lines.at(-1) ?? '';
    return line.replace(/^ballast: /, '').slice(0, 500);
  } catch {
    return '(no log)';
  }
}
