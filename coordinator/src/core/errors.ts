// The errors the coordinator core throws at its callers. Each transport maps them once (the gRPC
// adapter to status codes, the CLI to exit codes); nothing else inspects error messages.
import { ConfigError } from '../../../trainer/src/config/trial-config.ts';
import { StateDirLockedError } from '../state/state-dir-lock.ts';

export type CoordinatorErrorCode = 'not_found' | 'invalid_argument' | 'failed_precondition' | 'unavailable' | 'internal';

export class CoordinatorError extends Error {
  override readonly name: string = 'CoordinatorError';
  constructor(
    readonly code: CoordinatorErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** No experiment, trial or lease with that id. */
export class NotFoundError extends CoordinatorError {
  override readonly name = 'NotFoundError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('not_found', message, options);
  }
}

/** A malformed spec or request; `path` names the field (`sweep.optimizer[1]`, `base.task.label_column`). */
export class InvalidArgumentError extends CoordinatorError {
  override readonly name = 'InvalidArgumentError';
  constructor(
    readonly path: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super('invalid_argument', `${path || '(root)'}: ${reason}`, options);
  }
}

/** The request is well formed but the state does not allow it. */
export class FailedPreconditionError extends CoordinatorError {
  override readonly name = 'FailedPreconditionError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('failed_precondition', message, options);
  }
}

/**
 * The core cannot serve: it is closed, or a journal write failed, after which memory may be ahead
 * of the disk and the only safe move is to restart and replay (as PostgreSQL does after a failed
 * fsync). Retrying against a restarted coordinator can help.
 */
export class UnavailableError extends CoordinatorError {
  override readonly name = 'UnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('unavailable', message, options);
  }
}

/** A bug or an unexpected failure. */
export class InternalError extends CoordinatorError {
  override readonly name = 'InternalError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('internal', message, options);
  }
}

/** Normalises anything thrown into a CoordinatorError (a ConfigError becomes InvalidArgumentError). */
export function toCoordinatorError(error: unknown): CoordinatorError {
  if (error instanceof CoordinatorError) return error;
  if (error instanceof ConfigError) return new InvalidArgumentError(error.path, error.reason, { cause: error });
  if (error instanceof StateDirLockedError) return new FailedPreconditionError(error.message, { cause: error });
  if (error instanceof Error) return new InternalError(error.message, { cause: error });
  return new InternalError(String(error), { cause: error });
}
