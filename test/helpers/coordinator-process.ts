// A real `ballast coordinator` process for integration tests: on a free loopback port (listen on
// port 0, address read from its "coordinator listening" log line), killable with any signal,
// restartable on the same state dir.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BALLAST = fileURLToPath(new URL('../../bin/ballast.mjs', import.meta.url));

export interface CoordinatorProcess {
  readonly address: string;
  readonly child: ChildProcess;
  /** Everything it wrote to stderr so far (pino JSON lines). */
  readonly log: () => string;
  /** Resolves with the exit code (or the signal name). */
  readonly exited: Promise<number | string>;
  /** Sends a signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export async function startCoordinatorProcess(stateDir: string, extraArgs: string[] = [], listen = '127.0.0.1:0'): Promise<CoordinatorProcess> {
  const child = spawn(process.execPath, [BALLAST, 'coordinator', '--listen', listen, '--state-dir', stateDir, ...extraArgs], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`coordinator did not start in 30 s:\n${stderr}`)), 30_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      for (const line of stderr.split('\n')) {
        if (!line.includes('coordinator listening')) continue;
        clearTimeout(timer);
        resolve((JSON.parse(line) as { address: string }).address);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`coordinator exited (${code}) before listening:\n${stderr}`));
    });
  });
  return {
    address,
    child,
    log: () => stderr,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
