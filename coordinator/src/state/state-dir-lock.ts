// One coordinator per state directory: two writers appending to one journal would interleave
// events that each assumed the other's absence. The lock is a file naming its holder; a lock whose
// process is gone (kill -9) is stale and taken over.
import { hostname } from 'node:os';
import { openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { join } from 'node:path';

export class StateDirLockedError extends Error {
  override readonly name = 'StateDirLockedError';
}

interface Holder {
  pid: number;
  hostname: string;
  started_at: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the lock of `dir`; returns a release function. Throws StateDirLockedError when a live
 * process on this host holds it. A lock from another host cannot be checked and is taken over with
 * `warn`: on Kubernetes the previous pod of the same StatefulSet is the usual writer and is gone.
 */
export function lockStateDir(dir: string, warn: (message: string) => void): () => void {
  const file = join(dir, 'coordinator.lock');
  const me: Holder = { pid: process.pid, hostname: hostname(), started_at: new Date().toISOString() };
  for (let tries = 0; tries < 2; tries++) {
    try {
      const fd = openSync(file, 'wx');
      writeFileSync(fd, `${JSON.stringify(me)}\n`);
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let holder: Holder | undefined;
    try {
      holder = JSON.parse(readFileSync(file, 'utf8')) as Holder;
    } catch {
      holder = undefined; // unreadable: a crash while writing it
    }
    if (holder && holder.hostname === me.hostname && holder.pid !== me.pid && alive(holder.pid)) {
      throw new StateDirLockedError(`${dir} is in use by another coordinator (pid ${holder.pid}, since ${holder.started_at})`);
    }
    if (holder && holder.hostname !== me.hostname) {
      warn(`taking over the lock of ${dir} from ${holder.hostname} (pid ${holder.pid}); make sure no other coordinator uses it`);
    }
    rmSync(file, { force: true });
  }
  throw new StateDirLockedError(`${dir}: could not take the lock`);
}
