// The learning-rate schedule of the paper's code (Hugging Face's `get_linear_schedule_with_warmup`
// stepped once after every optimizer step): linear warmup from 0, then linear decay to 0.
// Update k (0-based) uses the factor the scheduler holds *before* its k-th `step()`, so the very
// first update has learning rate 0, exactly as the paper's runs did.

/** The learning rate of update k (k = 0 … T−1) for base rate `lr`, `total` updates, `warmup` of them warming up. */
export function learningRateAt(k: number, lr: number, total: number, warmup: number): number {
  // HF divides by max(1, ·) so that W = 0 or W = T never divides by zero; we do the same.
  if (k < warmup) return (lr * k) / Math.max(1, warmup);
  return lr * Math.max(0, (total - k) / Math.max(1, total - warmup));
}

export interface ScheduleLength {
  /** T: the number of optimizer updates. */
  totalSteps: number;
  /** W: the number of warmup updates. */
  warmupSteps: number;
  /** Batches per pass over the training set, the last one possibly partial. */
  stepsPerEpoch: number;
}

/**
 * T and W as the paper's code derives them. Without `max_steps`, T = len(dataloader) · epochs
 * where len(dataloader) = ceil(num_train / batch_size): a partial last batch counts as a full
 * update (the dataloader does not drop it). A fractional `epochs` rounds T up, so that 0.5 epochs of
 * 3 batches is 2 updates. `max_steps` wins over `epochs`; `warmup_steps` wins over `warmup_ratio`,
 * and W = floor(warmup_ratio · T).
 */
export function scheduleLength(opts: {
  numTrain: number;
  batchSize: number;
  epochs: number;
  maxSteps?: number | undefined;
  warmupRatio: number;
  warmupSteps?: number | undefined;
}): ScheduleLength {
  const stepsPerEpoch = Math.ceil(opts.numTrain / opts.batchSize);
  const totalSteps = opts.maxSteps ?? Math.ceil(stepsPerEpoch * opts.epochs - 1e-9);
  const warmupSteps = opts.warmupSteps ?? Math.floor(opts.warmupRatio * totalSteps + 1e-9);
  return { totalSteps, warmupSteps, stepsPerEpoch };
}
