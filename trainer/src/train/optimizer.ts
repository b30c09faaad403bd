// The two optimizers the paper compares, written out in tfjs ops so that every step is the same
// arithmetic PyTorch does (checked against torch by parity.test.ts):
//   adamw    – torch.optim.AdamW after torch.nn.utils.clip_grad_norm_ over all parameters:
//              p ← p·(1 − lr·wd); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
//              p ← p − (lr/(1−β1^t)) · m / (sqrt(v)/sqrt(1−β2^t) + ε)
//   bertadam – BertAdam of pytorch-pretrained-bert: every tensor's gradient clipped to
//              max_grad_norm on its own, the same m and v, no bias correction:
//              p ← p − lr·(m/(sqrt(v) + ε) + wd·p)
// The missing bias correction is the point of the paper: early BERTAdam steps are several times
// larger than Adam's and runs go degenerate.
//
// Pre-trained weight decay (p ← p − lr·λ·(p − p0) before each step) and the per-parameter
// learning-rate scale (layer-wise decay) live here too, because they act on the same update.
//
// On wasm the same arithmetic runs in one pass per tensor (fused-optimizer.ts); the tfjs ops here
// are the path of every other backend.
import * as tf from '@tensorflow/tfjs-core';
import { fusedAdamUpdate, hasFusedOptimizer, sumOfSquares } from './fused-optimizer.ts';

export type OptimizerKind = 'adamw' | 'bertadam';

export interface OptimizerSettings {
  kind: OptimizerKind;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** adamw: the global norm; bertadam: each tensor's own norm. */
  maxGradNorm: number;
  weightDecay: number;
  /** λ of pre-trained weight decay; 0 disables it (and then no copy of p0 is kept). */
  pretrainedWeightDecay: number;
}

/** How one parameter is treated: its learning-rate multiplier (llrd) and whether it decays. */
export interface ParamSpec {
  lrScale: number;
  decay: boolean;
}

interface Slot {
  name: string;
  param: tf.Variable;
  spec: ParamSpec;
  m: tf.Variable;
  v: tf.Variable;
  /** The starting value, for pre-trained weight decay. */
  p0?: tf.Tensor;
}

export interface OptimizerOptions {
  /** Use the fused wasm step where the backend has it (default true); false: the tfjs ops, to compare. */
  fused?: boolean;
}

export class Optimizer {
  private readonly slots: Slot[];
  /** Updates applied so far (t of the bias correction after the next step is t + 1). */
  private t = 0;
  private readonly fused: boolean;

  constructor(
    params: ReadonlyMap<string, tf.Variable>,
    specs: ReadonlyMap<string, ParamSpec>,
    readonly settings: OptimizerSettings,
    options: OptimizerOptions = {},
  ) {
    this.fused = options.fused ?? true;
    this.slots = [...params].map(([name, param]) => {
      const spec = specs.get(name);
      if (!spec) throw new Error(`optimizer: no parameter spec for '${name}'`);
      // State lives in non-trainable variables so that `assign` replaces it in place: the tensor
      // count stays flat from step to step (asserted in optimizer.test.ts).
      const slot: Slot = {
        name,
        param,
        spec,
        m: zeroState(param),
        v: zeroState(param),
      };
      // Only the decayed parameters are pulled towards their start (as the paper's PriorWD wrapper,
      // which takes each group's weight decay setting: biases and LayerNorm are left alone).
      if (settings.pretrainedWeightDecay > 0 && spec.decay) slot.p0 = param.clone();
      return slot;
    });
  }

  get stepsTaken(): number {
    return this.t;
  }

  /**
   * One update with base learning rate `lr` (already scheduled). `grads` are keyed like the
   * parameters; they are disposed here. Returns the global gradient norm before clipping (a scalar
   * the caller reads and disposes), which is what instability shows up in first.
   */
  step(grads: tf.NamedTensorMap, lr: number): tf.Scalar {
    this.t += 1;
    const { kind, beta1, beta2, epsilon, maxGradNorm, weightDecay, pretrainedWeightDecay } = this.settings;
    const bc1 = 1 - beta1 ** this.t;
    const bc2Sqrt = Math.sqrt(1 - beta2 ** this.t);
    const g = this.slots.map((s) => grads[s.name]);
    const scalars: tf.Tensor[] = [];
    try {
      const missing = this.slots.find((_, i) => g[i] === undefined);
      if (missing) throw new Error(`optimizer: no gradient for '${missing.name}'`);
      if (this.fused && hasFusedOptimizer()) return this.stepFused(g as tf.Tensor[], lr, bc1, bc2Sqrt);
      // Per-tensor squared norms first (scalars); then the parameters one by one, each freeing its
      // temporaries before the next: one tidy around everything would hold ~6 copies of the model
      // at once, 2.6 GB for bert-base.
      const sumSquares = g.map((x) => tf.tidy(() => tf.sum(tf.square(x as tf.Tensor))) as tf.Scalar);
      scalars.push(...sumSquares);
      const globalNorm = tf.tidy(() => tf.sqrt(tf.addN(sumSquares))) as tf.Scalar;
      // torch: clip_coef = max_norm / (total_norm + 1e-6), clamped to 1, always multiplied in.
      const globalCoef = kind === 'adamw' ? tf.tidy(() => tf.minimum(1, tf.div(maxGradNorm, tf.add(globalNorm, 1e-6)))) : undefined;
      if (globalCoef) scalars.push(globalCoef);

      this.slots.forEach((s, i) => {
        const grad = g[i] as tf.Tensor;
        const lrI = lr * s.spec.lrScale;
        const wdI = s.spec.decay ? weightDecay : 0;
        const p = s.param;
        // Every assignment gets its own tidy: each frees its temporaries (the clipped gradient,
        // sqrt(v), the update, …) before the next one allocates, which keeps the step's peak near
        // two extra copies of the largest tensor (the word embeddings) instead of about a dozen.
        if (s.p0 && lrI > 0) {
          const p0 = s.p0;
          assignTidy(p, () => tf.sub(p, tf.mul(tf.sub(p, p0), lrI * pretrainedWeightDecay)));
        }
        const gi = tf.tidy(() => tf.mul(grad, globalCoef ?? tf.minimum(1, tf.div(maxGradNorm, tf.add(tf.sqrt(sumSquares[i] as tf.Scalar), 1e-6)))));
        grad.dispose(); // as soon as it is used: the gradients are a full copy of the model
        assignTidy(s.m, () => tf.add(tf.mul(s.m, beta1), tf.mul(gi, 1 - beta1)));
        assignTidy(s.v, () => tf.add(tf.mul(s.v, beta2), tf.mul(tf.square(gi), 1 - beta2)));
        gi.dispose();

        if (kind === 'adamw') {
          if (wdI > 0) assignTidy(p, () => tf.mul(p, 1 - lrI * wdI));
          assignTidy(p, () => tf.sub(p, tf.mul(tf.div(s.m, tf.add(tf.div(tf.sqrt(s.v), bc2Sqrt), epsilon)), lrI / bc1)));
        } else {
          assignTidy(p, () => {
            let update = tf.div(s.m, tf.add(tf.sqrt(s.v), epsilon));
            if (wdI > 0) update = tf.add(update, tf.mul(p, wdI));
            return tf.sub(p, tf.mul(update, lrI));
          });
        }
      });
      return globalNorm;
    } finally {
      for (const grad of Object.values(grads)) grad.dispose();
      for (const x of scalars) x.dispose();
    }
  }

  /** step() in one kernel per tensor (fused-optimizer.ts); the caller disposes the gradients. */
  private stepFused(g: tf.Tensor[], lr: number, bc1: number, bc2Sqrt: number): tf.Scalar {
    const { kind, beta1, beta2, epsilon, maxGradNorm, weightDecay, pretrainedWeightDecay } = this.settings;
    // Float64 throughout, where the composed path rounds each tensor's sum (and their sum) to float32.
    const sumSquares = g.map(sumOfSquares);
    const globalNorm = Math.sqrt(sumSquares.reduce((a, x) => a + x, 0));
    const clip = (norm: number) => Math.min(1, maxGradNorm / (norm + 1e-6));
    this.slots.forEach((s, i) => {
      const lrI = lr * s.spec.lrScale;
      const prior = s.p0 && lrI > 0 ? s.p0 : undefined;
      fusedAdamUpdate(s.param, g[i] as tf.Tensor, s.m, s.v, prior, {
        kind,
        coef: kind === 'adamw' ? clip(globalNorm) : clip(Math.sqrt(sumSquares[i] as number)),
        beta1,
        beta2,
        epsilon,
        lr: lrI,
        weightDecay: s.spec.decay ? weightDecay : 0,
        prior: lrI * pretrainedWeightDecay,
        bc1,
        bc2Sqrt,
      });
      (g[i] as tf.Tensor).dispose(); // as soon as it is used, as in the composed path
    });
    return tf.scalar(globalNorm);
  }

  dispose(): void {
    for (const s of this.slots) {
      s.m.dispose();
      s.v.dispose();
      s.p0?.dispose();
    }
  }
}

// The variable takes its own reference to the new value's data, so the tensor the tidy returns can
// be disposed at once.
function assignTidy(variable: tf.Variable, value: () => tf.Tensor): void {
  const next = tf.tidy(value);
  variable.assign(next);
  next.dispose();
}

// A variable shares its initial value's buffer, so the temporary zeros are freed by the tidy while
// the variable keeps the data alive.
function zeroState(param: tf.Variable): tf.Variable {
  return tf.tidy(() => tf.variable(tf.zerosLike(param), false));
}
