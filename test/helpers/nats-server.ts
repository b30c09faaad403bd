// A real nats-server (the Debian package) for tests: on a free loopback port, JetStream on, its
// store in a temp dir. Tests skip with `natsServerSkipReason()` when the binary is absent.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';

const CANDIDATES = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];

export function natsServerPath(): string | undefined {
  if (process.env.NATS_SERVER && existsSync(process.env.NATS_SERVER)) return process.env.NATS_SERVER;
  return CANDIDATES.find((path) => existsSync(path));
}

/** `false` when nats-server is there, else the reason to give `test(..., { skip })`. */
export function natsServerSkipReason(): string | false {
  return natsServerPath() ? false : 'nats-server not installed (apt-get install nats-server; .ci/run does it)';
}

export interface NatsServer {
  url: string;
  port: number;
  /** Stops the server (SIGTERM, then SIGKILL); the store is kept so `start()` can bring it back. */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  /** Stops it and removes its store. */
  dispose(): Promise<void>;
}

export async function startNatsServer(options: { jetstream?: boolean } = {}): Promise<NatsServer> {
  const binary = natsServerPath();
  if (!binary) throw new Error('nats-server not found');
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), 'ballast-nats-'));
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    const args = ['-a', '127.0.0.1', '-p', String(port)];
    if (options.jetstream !== false) args.push('-js', '-sd', storeDir);
    const proc = spawn(binary!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    await new Promise<void>((resolve, reject) => {
      let log = '';
      const timer = setTimeout(() => reject(new Error(`nats-server did not start:\n${log}`)), 10_000);
      proc.stderr!.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        if (log.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited with ${code}:\n${log}`));
      });
    });
    proc.stderr!.resume();
  }

  async function stop(): Promise<void> {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }

  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    stop,
    start,
    async dispose() {
      await stop();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
