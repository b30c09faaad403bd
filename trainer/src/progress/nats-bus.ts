// The one place that talks to NATS. Progress and state are best-effort telemetry: a publish never
// blocks, never throws into its caller, and whatever cannot go out (not yet connected, server gone,
// reconnecting) is dropped and counted rather than buffered without bound. The counter is what the
// metrics exporter reads (`ballast_nats_dropped_messages_total`).
//
// Subjects are `ballast.<experiment>.<trial>.<kind>` (trial-level) and `ballast.<experiment>.<kind>`
// (experiment-level). When the server has JetStream, a limits-based stream `BALLAST` on `ballast.>`
// keeps them for replay (`nats stream view BALLAST`, or an ordered consumer from a dashboard).
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, RetentionPolicy, StorageType, DiscardPolicy } from '@nats-io/jetstream';
import type { Logger } from 'pino';

export const STREAM_NAME = 'BALLAST';
export const STREAM_SUBJECTS = ['ballast.>'];
/** Replay window: long enough to re-watch an overnight sweep, short enough not to fill a disk. */
export const STREAM_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
export const STREAM_MAX_BYTES = 1024 ** 3;

export interface NatsBusOptions {
  /** `nats://host:port` (comma-separated for a cluster). */
  url: string;
  log: Logger;
  /** Connection name shown by the server (`ballast-trainer worker-1`). */
  name?: string;
  /** Create or update the replay stream when the server has JetStream (default true). */
  ensureStream?: boolean;
}

export interface NatsBus {
  /** Publishes a JSON payload; never throws, never waits. Returns false when the message was dropped. */
  publish(subject: string, payload: unknown): boolean;
  /** Messages published and dropped since start. */
  readonly stats: { published: number; dropped: number };
  /** Whether messages currently go out. */
  readonly connected: boolean;
  /** Resolves once connected (or closed before that); for tests and tools. */
  readonly ready: Promise<void>;
  /** Flushes what is buffered (bounded by `timeoutMs`) and closes. Never throws. */
  close(timeoutMs?: number): Promise<void>;
}

/** A subject token must not contain `.`, `*`, `>` or whitespace; ids are safe, but never trust input. */
export function subjectToken(value: string): string {
  const token = value.replace(/[.*>\s]/g, '_');
  return token.length > 0 ? token : '_';
}

export function trialSubject(experimentId: string, trialId: string, kind: string): string {
  return `ballast.${subjectToken(experimentId)}.${subjectToken(trialId)}.${kind}`;
}

export function experimentSubject(experimentId: string, kind: string): string {
  return `ballast.${subjectToken(experimentId)}.${kind}`;
}

/**
 * Connects in the background and returns at once: training must not wait for a telemetry bus.
 * Reconnects forever; while disconnected, publishes are counted as dropped.
 */
export function openNatsBus(options: NatsBusOptions): NatsBus {
  const { log } = options;
  const stats = { published: 0, dropped: 0 };
  let nc: NatsConnection | undefined;
  let up = false;
  let closing = false;

  const ready = (async () => {
    // Retry the first connection ourselves (not `waitOnFirstConnect`) so that `close()` can stop
    // it: a trainer may start before the bus, and must still exit cleanly if the bus never comes.
    let warned = false;
    while (!closing) {
      try {
        nc = await connect({
          servers: options.url.split(',').map((s) => s.trim()),
          name: options.name ?? 'ballast',
          reconnect: true,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 1000,
          timeout: 2000,
        });
        break;
      } catch (error) {
        if (!warned) log.warn({ err: error, url: options.url }, 'nats: cannot connect; progress is dropped and counted until it can');
        warned = true;
        await new Promise((resolve) => setTimeout(resolve, 1000).unref());
      }
    }
    if (!nc) return;
    if (closing) {
      await nc.close().catch(() => {});
      return;
    }
    up = true;
    log.info({ url: options.url, server: nc.getServer() }, 'nats: connected');
    void watchStatus(nc);
    void nc.closed().then(() => {
      up = false;
    });
    if (options.ensureStream !== false) await ensureReplayStream(nc, log);
  })();

  async function watchStatus(conn: NatsConnection): Promise<void> {
    for await (const status of conn.status()) {
      if (status.type === 'disconnect') {
        up = false;
        log.warn({ server: status.server }, 'nats: disconnected; dropping progress until reconnected');
      } else if (status.type === 'reconnect') {
        up = true;
        log.info({ server: status.server, dropped: stats.dropped }, 'nats: reconnected');
      }
    }
  }

  return {
    publish(subject, payload) {
      if (!nc || !up || closing) {
        stats.dropped++;
        return false;
      }
      try {
        nc.publish(subject, JSON.stringify(payload));
        stats.published++;
        return true;
      } catch {
        // Closed or draining between the check and the call: a drop, not an error.
        stats.dropped++;
        return false;
      }
    },
    stats,
    get connected() {
      return up;
    },
    ready,
    async close(timeoutMs = 2000) {
      closing = true;
      const conn = nc;
      if (!conn) return;
      const timer = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
      await Promise.race([
        (async () => {
          if (up) await conn.flush().catch(() => {});
          await conn.close().catch(() => {});
        })(),
        timer,
      ]);
    },
  };
}

/** Creates (or widens) the replay stream; a server without JetStream is fine, just logged. */
async function ensureReplayStream(nc: NatsConnection, log: Logger): Promise<void> {
  try {
    const jsm = await jetstreamManager(nc, { timeout: 2000 });
    const config = {
      name: STREAM_NAME,
      subjects: STREAM_SUBJECTS,
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: STREAM_MAX_AGE_MS * 1_000_000, // nanoseconds
      max_bytes: STREAM_MAX_BYTES,
    };
    try {
      await jsm.streams.info(STREAM_NAME);
    } catch {
      try {
        await jsm.streams.add(config);
        log.info({ stream: STREAM_NAME }, 'nats: created the JetStream replay stream');
      } catch (error) {
        // Another trainer may have created it a moment ago; that is the same stream.
        log.debug({ err: error }, 'nats: stream add raced');
      }
    }
  } catch (error) {
    log.info({ reason: error instanceof Error ? error.message : String(error) }, 'nats: no JetStream; live progress only, no replay');
  }
}
