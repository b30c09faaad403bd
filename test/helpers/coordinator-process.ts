// A real `ballast coordinator` process for integration tests and benchmarks: on a free loopback
// port (listen on port 0, address read from its "coordinator listening" log line), killable with
// any signal, restartable on the same state dir. Its log goes to a file, not a pipe: a busy test
// process that reads a pipe late would block the coordinator's synchronous log writes.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BALLAST = fileURLToPath(new URL('../../bin/ballast.mjs', import.meta.url));

export interface CoordinatorProcess {
  readonly address: string;
  readonly child: ChildProcess;
  /** Everything it logged so far (pino JSON lines). */
  readonly log: () => string;
  /** Resolves with the exit code (or the signal name). */
  readonly exited: Promise<number | string>;
  /** Sends a signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export async function startCoordinatorProcess(stateDir: string, extraArgs: string[] = [], listen = '127.0.0.1:0'): Promise<CoordinatorProcess> {
  const logFile = join(mkdtempSync(join(tmpdir(), 'ballast-coordinator-log-')), 'coordinator.log');
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [BALLAST, 'coordinator', '--listen', listen, '--state-dir', stateDir, ...extraArgs], {
    stdio: ['ignore', 'ignore', fd],
  });
  closeSync(fd);
  const log = () => readFileSync(logFile, 'utf8');
  let exitCode: number | string | undefined;
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => {
      exitCode = code ?? signal ?? -1;
      resolve(exitCode);
    }),
  );
  const started = Date.now();
  let address: string | undefined;
  while (address === undefined) {
    const line = log()
      .split('\n')
      .find((l) => l.includes('coordinator listening') && l.endsWith('}'));
    if (line) address = (JSON.parse(line) as { address: string }).address;
    else if (exitCode !== undefined) throw new Error(`coordinator exited (${exitCode}) before listening:\n${log()}`);
    else if (Date.now() - started > 30_000) throw new Error(`coordinator did not start in 30 s:\n${log()}`);
    else await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    address,
    child,
    log,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
