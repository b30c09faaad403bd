// Follows an experiment to its end over WatchExperiment, reconnecting when the coordinator is
// briefly unreachable (a restart replays its journal and carries on, so the watcher should too).
// Each reconnection starts with a fresh snapshot, which the consumer treats as replacing state.
import type { CoordinatorClient, WatchEvent } from '../client/coordinator-client.ts';
import { Code, RpcError } from '../grpc/rpc-error.ts';
import { sleep } from '../../../trainer/src/util/sleep.ts';

export interface FollowOptions {
  signal?: AbortSignal;
  /** Give up after this long without reaching the coordinator (default 10 minutes). */
  giveUpAfterMs?: number;
  /** Told about each lost connection before the retry. */
  onRetry?: (error: RpcError, delayMs: number) => void;
}

export async function* followExperiment(client: CoordinatorClient, experimentId: string, options: FollowOptions = {}): AsyncGenerator<WatchEvent> {
  const giveUpAfterMs = options.giveUpAfterMs ?? 10 * 60_000;
  let lastContact = Date.now();
  let delayMs = 250;
  for (;;) {
    let ended = false;
    try {
      for await (const event of client.watchExperiment(experimentId, options.signal ? { signal: options.signal } : {})) {
        lastContact = Date.now();
        delayMs = 250;
        if (event.type === 'experiment' && event.experiment.state !== 'running') ended = true;
        yield event;
      }
      if (ended || options.signal?.aborted) return;
      // The stream closed cleanly without the end (the server shut down): reconnect.
    } catch (error) {
      const rpcError = RpcError.from(error);
      if (options.signal?.aborted) return;
      const transient = rpcError.retryable || rpcError.code === Code.CANCELLED;
      if (!transient || Date.now() - lastContact > giveUpAfterMs) throw rpcError;
      options.onRetry?.(rpcError, delayMs);
    }
    await sleep(delayMs, options.signal);
    delayMs = Math.min(delayMs * 2, 5000);
  }
}
