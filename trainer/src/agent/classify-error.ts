// Turns whatever a trial threw into the FailTrial report: a short kind and whether another attempt
// can help. Bad configs, data and checkpoints fail the same way on every machine, so retrying them
// only burns attempts; everything else (out of memory, a crashed backend, a bug that depends on the
// machine) gets another attempt, up to the experiment's max_attempts.
import { ConfigError } from '../config/trial-config.ts';
import { DataError } from '../data/data-error.ts';
import { CheckpointError } from '../model/checkpoint-error.ts';

export interface FailureReport {
  kind: string;
  message: string;
  retryable: boolean;
}

export function classifyError(error: unknown): FailureReport {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof ConfigError) return { kind: 'config_error', message, retryable: false };
  if (error instanceof DataError) return { kind: 'data_error', message, retryable: false };
  if (error instanceof CheckpointError) return { kind: 'checkpoint_error', message, retryable: false };
  if (/out of memory|allocation failed|Cannot allocate|OOM/i.test(message)) return { kind: 'out_of_memory', message, retryable: true };
  // An error that says it itself (the data layer's convention).
  const own = (error as { retryable?: unknown } | null)?.retryable;
  if (typeof own === 'boolean') return { kind: own ? 'error' : 'permanent_error', message, retryable: own };
  return { kind: 'internal', message, retryable: true };
}
