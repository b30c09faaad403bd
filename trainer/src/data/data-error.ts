// The one error type of the data layer: a file (and, when it is about one row, the 1-based line
// where that row starts) plus what is wrong with it. Loaders throw it rather than skip a row, so
// that no example ever disappears without the user hearing about it. It is not retryable: the
// same file gives the same error on every machine.
export class DataError extends Error {
  override readonly name = 'DataError';
  readonly retryable = false;

  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${reason}`, options);
  }
}
