// The one error type of the model boundary: a checkpoint, config or safetensors file that cannot be
// used. It names the file and, where one is at fault, the tensor or config key, so that a user sees
// "model.safetensors: tensor 'bert.pooler.dense.weight': data ends at byte 9000 beyond the file's
// 4096 bytes" instead of a stack from deep inside tfjs. Never retryable: the same file fails again.
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
  readonly retryable = false;
  constructor(
    /** The file (or directory) at fault. */
    readonly file: string,
    readonly reason: string,
    /** The tensor or config key at fault, when there is one. */
    readonly item?: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${item !== undefined ? `${item}: ` : ''}${reason}`, options);
  }
}
