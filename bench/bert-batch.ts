// The fixed batch the training benchmarks step on: random token ids (a fixed LCG, so every script
// and run trains on the same numbers), sentence B from mid-sequence, alternating labels.
import type { BertInputs } from '../trainer/src/model/bert-model.ts';

/** `batch` examples of `seq` tokens; the last `paddedTokens` tokens of the batch are padding. */
export function benchBatch(batch: number, seq: number, paddedTokens = 0): { inputs: BertInputs; labels: Int32Array } {
  const n = batch * seq;
  let x = 12345;
  const inputs: BertInputs = {
    size: batch,
    seqLength: seq,
    inputIds: Int32Array.from({ length: n }, () => 1000 + ((x = (x * 1103515245 + 12345) >>> 0) % 29000)),
    tokenTypeIds: Int32Array.from({ length: n }, (_, i) => (i % seq >= seq / 2 ? 1 : 0)),
    attentionMask: Int32Array.from({ length: n }, (_, i) => (i >= n - paddedTokens ? 0 : 1)),
  };
  return { inputs, labels: Int32Array.from({ length: batch }, (_, i) => i % 2) };
}
