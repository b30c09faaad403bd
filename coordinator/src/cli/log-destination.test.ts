import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { LOG_FLUSH_MS, bufferedLogDestination } from './log-destination.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('every line arrives once and in order: in chunks, after the flush interval, and on flushSync', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'log-destination-'));
  const file = join(dir, 'log');
  const fd = openSync(file, 'w');
  try {
    const destination = bufferedLogDestination(fd);
    const log = pino({ base: null, timestamp: false }, destination);
    // A few lines stay buffered (under 4 KiB) until the interval flushes them.
    for (let i = 0; i < 3; i++) log.info({ i }, 'early');
    assert.equal(readFileSync(file, 'utf8'), '');
    await sleep(LOG_FLUSH_MS * 4);
    assert.equal(readFileSync(file, 'utf8').split('\n').length - 1, 3);
    // Many lines (several chunks, some lines non-ASCII), then what is left goes out on flushSync.
    for (let i = 3; i < 2000; i++) log.info({ i, text: i % 7 === 0 ? 'é日本' : 'x'.repeat(i % 50) }, 'line');
    // Until those chunks' asynchronous writes are done (a fixed sleep was too short on a loaded
    // machine: a write still in flight after closeSync failed with EBADF).
    await new Promise<void>((resolve, reject) => destination.flush((error) => (error ? reject(error) : resolve())));
    for (let i = 2000; i < 2005; i++) log.info({ i }, 'last');
    destination.flushSync();
    const seen = readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => (JSON.parse(line) as { i: number }).i);
    assert.deepEqual(seen, Array.from({ length: 2005 }, (_, i) => i));
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
});
