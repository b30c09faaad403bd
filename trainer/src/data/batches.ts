// Encodes a split once (token ids cached per example) and cuts it into batches of plain typed
// arrays that the training loop turns into tensors. A batch is padded to its own longest sequence,
// not to max_seq_length: attention masks the padding, so no result changes, and short-sentence
// tasks (SST-2 averages ~13 tokens) run several times faster.
//
// The training order of an epoch is a pure function of (data_seed, epoch): a resumed or retried
// trial sees the same batches, and no generator state has to be saved with a checkpoint.
import { Rng } from '../util/rng.ts';
import type { BertTokenizer } from './tokenizer.ts';
import type { Example, ProblemType } from './task-data.ts';

export interface EncodedSplit {
  size: number;
  problemType: ProblemType;
  // Token ids of all examples in one flat array (MNLI's 393k examples would otherwise be 786k
  // small typed arrays, ~100 bytes of overhead each): example i is ids[offsets[i] .. offsets[i+1]),
  // [CLS] … [SEP] (… [SEP]), truncated to max_seq_length, not padded.
  ids: Int32Array;
  offsets: Int32Array; // [size + 1]
  /** Per example, how many leading positions have token type 0 ([CLS] a [SEP]); the rest are 1. */
  segmentA: Int32Array;
  /** Class ids (classification) or scores (regression). */
  labels: Int32Array | Float32Array;
  padId: number;
  /** Examples whose texts were cut to fit max_seq_length. */
  truncated: number;
  /** Length of the longest encoded example. */
  maxLength: number;
  /** Total tokens over all examples (before padding). */
  tokens: number;
}

export interface Batch {
  /** Number of examples. */
  size: number;
  /** Padded sequence length (the longest in the batch). */
  seqLength: number;
  inputIds: Int32Array; // [size, seqLength], row-major
  tokenTypeIds: Int32Array; // [size, seqLength]
  attentionMask: Int32Array; // [size, seqLength], 1 for tokens, 0 for padding
  labels: Int32Array | Float32Array; // [size]
  /** Indices of the examples in the split, in batch order. */
  indices: Int32Array;
}

export function encodeSplit(tokenizer: BertTokenizer, examples: readonly Example[], maxSeqLength: number, problemType: ProblemType): EncodedSplit {
  const size = examples.length;
  let ids = new Int32Array(Math.max(16, size * 32));
  const offsets = new Int32Array(size + 1);
  const segmentA = new Int32Array(size);
  const labels = problemType === 'classification' ? new Int32Array(size) : new Float32Array(size);
  let truncated = 0;
  let maxLength = 0;
  let used = 0;
  examples.forEach((example, i) => {
    const a = tokenizer.tokenIds(example.textA);
    const b = example.textB === undefined ? undefined : tokenizer.tokenIds(example.textB);
    const encoded = tokenizer.assemble(a, b, maxSeqLength);
    const length = encoded.inputIds.length;
    if (length < a.length + (b?.length ?? 0) + (b === undefined ? 2 : 3)) truncated++;
    if (used + length > ids.length) {
      const grown = new Int32Array(Math.max(ids.length * 2, used + length));
      grown.set(ids.subarray(0, used));
      ids = grown;
    }
    ids.set(encoded.inputIds, used);
    used += length;
    offsets[i + 1] = used;
    segmentA[i] = encoded.tokenTypeIds.indexOf(1) === -1 ? length : encoded.tokenTypeIds.indexOf(1);
    maxLength = Math.max(maxLength, length);
    labels[i] = example.label;
  });
  return { size, problemType, ids: ids.slice(0, used), offsets, segmentA, labels, padId: tokenizer.specialIds.pad, truncated, maxLength, tokens: used };
}

/** Example i's token ids (a view into the split). */
export function exampleIds(split: EncodedSplit, i: number): Int32Array {
  return split.ids.subarray(split.offsets[i] as number, split.offsets[i + 1] as number);
}

/** The example order of one training epoch: shuffled from (dataSeed, epoch), or file order. */
export function epochOrder(size: number, dataSeed: number, epoch: number, shuffle: boolean): Int32Array {
  const order = Array.from({ length: size }, (_, i) => i);
  if (shuffle) Rng.derive(dataSeed, `epoch:${epoch}`).shuffle(order);
  return Int32Array.from(order);
}

/** Batches per epoch; the last batch is kept even when short, as PyTorch's DataLoader does. */
export function batchesPerEpoch(size: number, batchSize: number): number {
  return Math.ceil(size / batchSize);
}

/** Padded arrays for the examples at `indices` of the split. */
export function makeBatch(split: EncodedSplit, indices: ArrayLike<number>): Batch {
  const size = indices.length;
  let seqLength = 0;
  for (let r = 0; r < size; r++) {
    const i = indices[r] as number;
    if (!(i >= 0 && i < split.size)) throw new RangeError(`example ${i} is outside the split (${split.size} examples)`);
    seqLength = Math.max(seqLength, (split.offsets[i + 1] as number) - (split.offsets[i] as number));
  }
  const inputIds = new Int32Array(size * seqLength).fill(split.padId);
  const tokenTypeIds = new Int32Array(size * seqLength);
  const attentionMask = new Int32Array(size * seqLength);
  const labels = split.problemType === 'classification' ? new Int32Array(size) : new Float32Array(size);
  for (let r = 0; r < size; r++) {
    const index = indices[r] as number;
    const ids = exampleIds(split, index);
    const row = r * seqLength;
    inputIds.set(ids, row);
    tokenTypeIds.fill(1, row + (split.segmentA[index] as number), row + ids.length);
    attentionMask.fill(1, row, row + ids.length);
    labels[r] = split.labels[index] as number;
  }
  return { size, seqLength, inputIds, tokenTypeIds, attentionMask, labels, indices: Int32Array.from(indices) };
}

export interface TrainBatchOptions {
  batchSize: number;
  dataSeed: number;
  /** 0-based epoch number. */
  epoch: number;
  shuffle: boolean;
}

/** The batches of one training epoch, in the order `epochOrder` gives. */
export function* trainBatches(split: EncodedSplit, options: TrainBatchOptions): Generator<Batch> {
  const order = epochOrder(split.size, options.dataSeed, options.epoch, options.shuffle);
  for (let start = 0; start < order.length; start += options.batchSize) {
    yield makeBatch(split, order.subarray(start, start + options.batchSize));
  }
}

/**
 * Batch number `step` (0-based, counted across epochs) of training: what a resumed trial
 * needs to continue exactly where it stopped.
 */
export function trainBatchAt(split: EncodedSplit, step: number, options: Omit<TrainBatchOptions, 'epoch'>): Batch {
  const perEpoch = batchesPerEpoch(split.size, options.batchSize);
  if (perEpoch === 0) throw new RangeError('the training split is empty');
  const epoch = Math.floor(step / perEpoch);
  const start = (step % perEpoch) * options.batchSize;
  const order = epochOrder(split.size, options.dataSeed, epoch, options.shuffle);
  return makeBatch(split, order.subarray(start, start + options.batchSize));
}

/** Evaluation batches in file order. */
export function* evalBatches(split: EncodedSplit, batchSize: number): Generator<Batch> {
  for (let start = 0; start < split.size; start += batchSize) {
    const end = Math.min(split.size, start + batchSize);
    yield makeBatch(split, Int32Array.from({ length: end - start }, (_, i) => start + i));
  }
}
