// A TrialContext without a coordinator: what `ballast train` and the tests run the loop with. The
// trainer agent builds its own, backed by a lease; the loop cannot tell them apart.
import { pino, type Logger } from 'pino';
import type { TrialContext } from './trial-context.ts';
import type { TrialProgress } from './trial-result.ts';

export interface LocalContextOptions {
  trialId?: string;
  signal?: AbortSignal;
  log?: Logger;
  onProgress?: (progress: TrialProgress) => void;
}

export function localTrialContext(options: LocalContextOptions = {}): TrialContext {
  const onProgress = options.onProgress;
  return {
    trialId: options.trialId ?? 'local',
    signal: options.signal ?? new AbortController().signal,
    log: options.log ?? pino({ level: 'silent' }),
    heartbeat: (progress) => onProgress?.(progress),
  };
}
