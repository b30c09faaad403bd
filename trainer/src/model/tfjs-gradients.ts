// Registers tfjs-core's gradient functions and chained ops (tensor.reshape(), …), which training
// needs and which tfjs-core's Node entry point leaves out (the @tensorflow/tfjs bundle adds them;
// we use tfjs-core and the backends directly, see issue 2). They exist only in tfjs-core's ES
// module build, so that build is loaded beside the CommonJS one; both share one engine, kernel
// registry, gradient registry and Tensor class, because tfjs keeps those on the global object
// (and Tensor's instanceof is structural) precisely so that two copies of tfjs-core cooperate.
// Import this module for its side effect; importing it again is free.
import { register } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';

if (tf.getGradient('Neg') === undefined) {
  register('./tfjs-esm-resolve.mjs', import.meta.url);
  await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  await import('@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js');
}
