// The one error type that crosses the gRPC boundary, in both directions: handlers throw it (the
// service maps core errors into it), the client turns every failed call into it. The codes are
// gRPC's status numbers, kept here so that nothing outside the bridge needs @grpc/grpc-js.

export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type Code = (typeof Code)[keyof typeof Code];

const codeNames = new Map<number, string>(Object.entries(Code).map(([name, code]) => [code, name]));

export function codeName(code: number): string {
  return codeNames.get(code) ?? `CODE_${code}`;
}

/** A failed call: a gRPC status code and a message for humans. */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  constructor(
    readonly code: Code,
    readonly details: string,
    options?: { cause?: unknown },
  ) {
    super(`${codeName(code)}: ${details}`, options);
  }

  /** Normalises anything thrown into an RpcError; unknown errors become INTERNAL. */
  static from(error: unknown): RpcError {
    if (error instanceof RpcError) return error;
    if (error instanceof Error && error.name === 'AbortError') return new RpcError(Code.CANCELLED, error.message, { cause: error });
    const message = error instanceof Error ? error.message : String(error);
    return new RpcError(Code.INTERNAL, message, { cause: error });
  }

  /** Whether calling again later can succeed (the server or network was briefly unavailable). */
  get retryable(): boolean {
    return this.code === Code.UNAVAILABLE || this.code === Code.DEADLINE_EXCEEDED || this.code === Code.RESOURCE_EXHAUSTED;
  }
}
