// Dropout and mixout masks drawn on the host from Ballast's seeded generator, as a pure function of
// (dropout seed, update step, site). Two reasons not to use tf.dropout's own randomness: the same
// seeds must give the same masks on every backend, and activation recomputation in the backward
// pass must redraw exactly the masks of the forward pass.
import * as tf from '@tensorflow/tfjs-core';
import { dropoutMaskFrom } from '../ops/dropout-mask.ts';
import { Rng } from '../util/rng.ts';

export interface MaskSeed {
  seed: number;
  step: number;
}

function siteRng(at: MaskSeed, site: string): Rng {
  return Rng.derive(at.seed, `${at.step}:${site}`);
}

/** Inverted dropout mask: 0 with probability `rate`, else 1/(1-rate) (torch's semantics). */
export function dropoutMask(shape: number[], rate: number, at: MaskSeed, site: string): tf.Tensor {
  return dropoutMaskFrom(siteRng(at, site), shape, rate);
}

/** Applies inverted dropout with a seeded mask; identity when the rate is 0. */
export function seededDropout<T extends tf.Tensor>(x: T, rate: number, at: MaskSeed | undefined, site: string): T {
  if (rate === 0 || at === undefined) return x;
  return tf.mul(x, dropoutMask(x.shape, rate, at, site)) as T;
}

/**
 * Mixout (Lee et al. 2020) of a Linear weight stored [in, out] with its target W0: one Bernoulli
 * draw per input feature (per row here; per column of torch's [out, in]) keeps W with probability
 * 1 - p, else takes W0, and the result is rescaled so that its expectation is W:
 *   mix = ((1 - M)·W0 + M·W − p·W0) / (1 − p),  M ~ Bernoulli(1 − p).
 */
export function mixoutWeight(w: tf.Tensor, w0: tf.Tensor, p: number, at: MaskSeed, site: string): tf.Tensor {
  const rows = w.shape[0] as number;
  const keep = new Float32Array(rows);
  const rng = siteRng(at, `mixout:${site}`);
  for (let i = 0; i < rows; i++) keep[i] = rng.nextFloat() < 1 - p ? 1 : 0;
  const m = tf.tensor2d(keep, [rows, 1]); // [in, 1]
  // M·W + (1 − M − p)·W0, over (1 − p)
  return tf.div(tf.add(tf.mul(m, w), tf.mul(tf.sub(1 - p, m), w0)), 1 - p);
}
