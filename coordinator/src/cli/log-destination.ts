// The coordinator's log destination: stderr (or any fd), written asynchronously (a pipe whose
// reader stalls must not block the event loop) in chunks of at least 4 KiB, and at the latest
// LOG_FLUSH_MS after a line. Line by line, 1,000 trainers' leases and completions (two info lines
// per trial, over a thousand a second at the lease target) made as many writes on libuv's thread
// pool, beside the journal's and each waiting for its turn there and on the event loop, and every
// buffered line stayed alive until its write was done. pino flushes the buffer synchronously on
// exit; kill -9 loses at most the last LOG_FLUSH_MS of lines (the journal, not the log, is the
// durable record).
//
// Lines are gathered here in an array and handed to sonic-boom joined, one string per chunk:
// sonic-boom appends each write to its last pending string and takes that string's byte length,
// which flattens it, so line by line a 4-16 KiB buffer was copied once per line (about 3 KB
// allocated per log line, a sixth of all the coordinator allocated per lease call).
import { pino } from 'pino';

/** How long a log line may wait in the buffer before it is written. */
export const LOG_FLUSH_MS = 100;
const CHUNK = 4096;

export function bufferedLogDestination(fd = 2): ReturnType<typeof pino.destination> {
  const destination = pino.destination({ dest: fd, minLength: CHUNK, sync: false });
  let lines: string[] = [];
  // In UTF-16 code units, never more than the bytes they take: a chunk is at least CHUNK bytes.
  let length = 0;
  const write = destination.write.bind(destination);
  const flush = destination.flush.bind(destination);
  const flushSync = destination.flushSync.bind(destination);
  const end = destination.end.bind(destination);
  const handOver = () => {
    if (lines.length === 0) return;
    const chunk = lines.length === 1 ? lines[0]! : lines.join('');
    lines = [];
    length = 0;
    write(chunk);
  };
  let written = false;
  destination.write = (data: string) => {
    written = true;
    lines.push(data);
    length += data.length;
    if (length >= CHUNK) handOver();
    return true;
  };
  destination.flush = (cb?: (error?: Error) => void) => {
    handOver();
    flush(cb);
  };
  destination.flushSync = () => {
    handOver();
    flushSync();
  };
  destination.end = () => {
    handOver();
    end();
  };
  // Flush only after lines came in: an idle coordinator makes no empty writes.
  setInterval(() => {
    if (!written) return;
    written = false;
    try {
      destination.flush();
    } catch {
      // Destroyed at exit (pino flushed it then): nothing left to write.
    }
  }, LOG_FLUSH_MS).unref();
  return destination;
}
