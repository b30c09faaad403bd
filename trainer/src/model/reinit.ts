// The paper's re-initialisation (Zhang et al. 2021, §5.2): the pooler and/or the top L transformer
// blocks get fresh values in BERT's own scheme (Linear weights N(0, initializer_range), biases 0,
// LayerNorm 1 and 0), drawn from the trial's init seed so that a seed names one starting point.
import { ConfigError } from '../config/trial-config.ts';
import { Rng } from '../util/rng.ts';
import type { BertConfig } from './bert-config.ts';
import { bertParamSpecs, initParam, paramLayerIndex } from './bert-params.ts';
import type { HostTensor } from './safetensors.ts';

export interface ReinitOptions {
  reinitPooler: boolean;
  reinitLayers: number;
}

/**
 * Fresh values for the re-initialised parameters only (Ballast layout), keyed by name; assign them
 * with `model.setWeights` or merge them into loaded weights. Each parameter draws from its own
 * stream, derived from (initSeed, name), so the values do not depend on which others are drawn.
 */
export function reinitWeights(config: BertConfig, options: ReinitOptions, initSeed: number): Map<string, HostTensor> {
  const L = config.numHiddenLayers;
  if (!Number.isInteger(options.reinitLayers) || options.reinitLayers < 0 || options.reinitLayers > L) {
    throw new ConfigError('reinit_layers', `must be an integer in [0, ${L}] (the model has num_hidden_layers ${L}), got ${options.reinitLayers}`);
  }
  const out = new Map<string, HostTensor>();
  for (const spec of bertParamSpecs(config)) {
    if (spec.name.startsWith('classifier.')) continue;
    const layer = paramLayerIndex(spec.name, L);
    const inTopBlocks = spec.name.startsWith('bert.encoder.') && layer > L - options.reinitLayers;
    const inPooler = options.reinitPooler && spec.name.startsWith('bert.pooler.');
    if (inTopBlocks || inPooler) out.set(spec.name, initParam(spec, config, Rng.derive(initSeed, `reinit:${spec.name}`)));
  }
  return out;
}

/** A fresh classifier head N(0, initializer_range), bias 0, from the init seed (Ballast layout). */
export function freshHead(config: BertConfig, initSeed: number): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const spec of bertParamSpecs(config)) {
    if (spec.name.startsWith('classifier.')) out.set(spec.name, initParam(spec, config, Rng.derive(initSeed, `head:${spec.name}`)));
  }
  return out;
}
