// Checkpoints in the Hugging Face layout: a directory with `config.json`, `model.safetensors` and
// the vocabulary files. Loading accepts what the hub holds (names with or without `bert.`,
// `LayerNorm.gamma/beta`, pre-training heads, F16/BF16) and reports what it did by name; saving
// writes what transformers loads as BertForSequenceClassification (F32, `bert.*` + `classifier.*`).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILTIN_PREFIX } from '../config/data-paths.ts';
import { bertConfigToJson, readBertConfig, withHead, type BertConfig } from './bert-config.ts';
import { bertParamSpecs, initBertParams, transpose2d, type ParamSpec } from './bert-params.ts';
import { builtinModel } from './builtin-models.ts';
import { CheckpointError } from './checkpoint-error.ts';
import { freshHead, reinitWeights } from './reinit.ts';
import { readSafetensors, writeSafetensors, type HostTensor, type SafetensorsFile } from './safetensors.ts';

/** Files copied from the source checkpoint into every saved one (when present). */
export const VOCAB_FILES = ['vocab.txt', 'tokenizer_config.json', 'tokenizer.json', 'special_tokens_map.json'] as const;

export interface LoadModelOptions {
  /** The task's head: number of outputs (1 = regression) and label names in id order. */
  numLabels: number;
  labels?: readonly string[];
  /** Seed of a fresh head, and of all weights of a builtin model. */
  initSeed: number;
}

/** What loading did, by tensor name; the training loop logs it. */
export interface LoadReport {
  source: string;
  /** Model parameters loaded from the checkpoint (Hugging Face names). */
  loaded: string[];
  /** Checkpoint names that were mapped: `encoder.x → bert.encoder.x`, `LayerNorm.gamma → .weight`. */
  renamed: string[];
  /** Model parameters absent from the checkpoint and freshly initialised (pooler, head). */
  missing: string[];
  /** Checkpoint tensors not used and not a known pre-training head. */
  unexpected: string[];
  /** Known pre-training heads and buffers that were skipped (`cls.*`, `position_ids`). */
  ignored: string[];
  head: 'loaded' | 'fresh';
  /** Why the head is fresh. */
  headReason?: string;
  /** Tensor count per file dtype (F32, F16, BF16). */
  dtypes: Record<string, number>;
}

export interface LoadedModel {
  /** The checkpoint's architecture with the task's head. */
  config: BertConfig;
  /** Weights in Ballast's layout (Linear [in, out]), ready for `new BertForSequenceClassification`. */
  weights: Map<string, HostTensor>;
  report: LoadReport;
  /** Vocabulary files to copy into saved checkpoints (VOCAB_FILES that exist). */
  vocabFiles: Map<string, Buffer>;
  /** The checkpoint directory (where the tokenizer is); undefined for builtin models. */
  dir?: string;
}

/** `builtin:<name>` or a checkpoint directory (already resolved with resolveModelPath). */
export function loadModel(model: string, options: LoadModelOptions): LoadedModel {
  if (model.startsWith(BUILTIN_PREFIX)) {
    const { config: base, vocabFiles } = builtinModel(model.slice(BUILTIN_PREFIX.length));
    const config = withHead(base, options.numLabels, options.labels ? [...options.labels] : undefined);
    const weights = initBertParams(config, options.initSeed);
    // Nothing is "missing": every weight is random by design, which the head reason says once.
    return {
      config,
      weights,
      vocabFiles,
      report: { source: model, loaded: [], renamed: [], missing: [], unexpected: [], ignored: [], head: 'fresh', headReason: 'builtin model: all weights random from the init seed', dtypes: {} },
    };
  }
  return loadCheckpointDir(model, options);
}

/** Loads `config.json` + `model.safetensors` from a directory, with the task's head. */
export function loadCheckpointDir(dir: string, options: LoadModelOptions): LoadedModel {
  if (!existsSync(dir)) throw new CheckpointError(dir, 'no such checkpoint directory');
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) throw new CheckpointError(dir, 'no config.json in the checkpoint directory');
  const fileConfig = readBertConfig(configPath);
  // Label names: the task's when given, else the checkpoint's when its head has the same size.
  const labels = options.labels ? [...options.labels] : fileConfig.numLabels === options.numLabels ? fileConfig.id2label : undefined;
  const config = withHead(fileConfig, options.numLabels, labels);
  const weightsPath = join(dir, 'model.safetensors');
  if (!existsSync(weightsPath)) {
    const hint = existsSync(join(dir, 'pytorch_model.bin')) ? ' (pytorch_model.bin is not read: convert it to safetensors)' : '';
    throw new CheckpointError(dir, `no model.safetensors in the checkpoint directory${hint}`);
  }
  const file = readSafetensors(weightsPath);
  const { weights, report } = mapCheckpointWeights(file, config, options.initSeed);
  report.source = dir;
  const vocabFiles = new Map<string, Buffer>();
  for (const name of VOCAB_FILES) {
    const path = join(dir, name);
    if (existsSync(path)) vocabFiles.set(name, readFileSync(path));
  }
  return { config, weights, report, vocabFiles, dir };
}

/** A checkpoint name in Hugging Face's current spelling, or undefined for a known skippable tensor. */
export function canonicalName(name: string): { name: string; ignored: boolean } {
  if (name.startsWith('cls.') || name.endsWith('embeddings.position_ids')) return { name, ignored: true };
  let out = name;
  if (/^(embeddings|encoder|pooler)\./.test(out)) out = `bert.${out}`;
  out = out.replace(/LayerNorm\.gamma$/, 'LayerNorm.weight').replace(/LayerNorm\.beta$/, 'LayerNorm.bias');
  return { name: out, ignored: false };
}

/**
 * Maps a safetensors file onto the model's parameters: every backbone tensor must be present with
 * its shape (a missing one means the wrong checkpoint, not something to paper over with random
 * values); a missing pooler is initialised fresh (as transformers does); the head is loaded when
 * its shape fits the task, else fresh from the init seed.
 */
export function mapCheckpointWeights(file: SafetensorsFile, config: BertConfig, initSeed: number): { weights: Map<string, HostTensor>; report: LoadReport } {
  const report: LoadReport = { source: file.file, loaded: [], renamed: [], missing: [], unexpected: [], ignored: [], head: 'loaded', dtypes: {} };
  const byCanonical = new Map<string, string>();
  for (const raw of file.entries.keys()) {
    const { name, ignored } = canonicalName(raw);
    if (ignored) {
      report.ignored.push(raw);
      continue;
    }
    if (byCanonical.has(name)) throw new CheckpointError(file.file, `appears twice (as '${byCanonical.get(name)}' and '${raw}')`, name);
    byCanonical.set(name, raw);
  }
  const specs = bertParamSpecs(config);
  const wanted = new Set(specs.map((s) => s.name));
  for (const [name, raw] of byCanonical) if (!wanted.has(name)) report.unexpected.push(raw);

  const weights = new Map<string, HostTensor>();
  const missingBackbone: string[] = [];
  const headSpecs = specs.filter((s) => s.name.startsWith('classifier.'));
  for (const spec of specs) {
    if (spec.name.startsWith('classifier.')) continue;
    const raw = byCanonical.get(spec.name);
    if (raw === undefined) {
      if (spec.name.startsWith('bert.pooler.')) report.missing.push(spec.name);
      else missingBackbone.push(spec.name);
      continue;
    }
    weights.set(spec.name, readParam(file, raw, spec, report));
  }
  if (missingBackbone.length > 0) {
    const shown = missingBackbone.slice(0, 8).join(', ');
    throw new CheckpointError(file.file, `missing ${missingBackbone.length} model tensor(s): ${shown}${missingBackbone.length > 8 ? ', …' : ''} (is this a BERT checkpoint of this config?)`);
  }
  if (report.missing.length > 0) {
    // A checkpoint without a pooler (e.g. trained without NSP): fresh, as transformers does.
    for (const [name, t] of freshPooler(config, initSeed)) weights.set(name, t);
  }

  const headReason = headMismatch(file, byCanonical, headSpecs);
  if (headReason === undefined) {
    for (const spec of headSpecs) weights.set(spec.name, readParam(file, byCanonical.get(spec.name) as string, spec, report));
  } else {
    report.head = 'fresh';
    report.headReason = headReason;
    for (const spec of headSpecs) report.missing.push(spec.name);
    for (const [name, t] of freshHead(config, initSeed)) weights.set(name, t);
  }
  return { weights, report };
}

function headMismatch(file: SafetensorsFile, byCanonical: Map<string, string>, headSpecs: ParamSpec[]): string | undefined {
  for (const spec of headSpecs) {
    const raw = byCanonical.get(spec.name);
    if (raw === undefined) return `no '${spec.name}' in the checkpoint`;
    const entry = file.entries.get(raw);
    const want = hfShape(spec);
    if (!entry || entry.shape.length !== want.length || entry.shape.some((d, i) => d !== want[i])) {
      return `the checkpoint's '${spec.name}' has shape [${entry?.shape}], the task needs [${want}]`;
    }
  }
  return undefined;
}

function freshPooler(config: BertConfig, initSeed: number): Map<string, HostTensor> {
  // The same values as `reinit_pooler` would draw.
  return reinitWeights(config, { reinitPooler: true, reinitLayers: 0 }, initSeed);
}

/** Hugging Face's shape of a parameter (Linear weights [out, in]). */
function hfShape(spec: ParamSpec): number[] {
  return spec.kind === 'linear-weight' ? [spec.shape[1] as number, spec.shape[0] as number] : spec.shape;
}

function readParam(file: SafetensorsFile, raw: string, spec: ParamSpec, report: LoadReport): HostTensor {
  const entry = file.entries.get(raw);
  const want = hfShape(spec);
  if (!entry || entry.shape.length !== want.length || entry.shape.some((d, i) => d !== want[i])) {
    throw new CheckpointError(file.file, `has shape [${entry?.shape}], the config needs [${want}]`, raw);
  }
  const t = file.read(raw);
  report.loaded.push(spec.name);
  if (raw !== spec.name) report.renamed.push(`${raw} → ${spec.name}`);
  report.dtypes[entry.dtype] = (report.dtypes[entry.dtype] ?? 0) + 1;
  return spec.kind === 'linear-weight' ? transpose2d(t) : t;
}

export interface SaveCheckpointOptions {
  /** Vocabulary files to write beside the weights (from LoadedModel.vocabFiles). */
  vocabFiles: ReadonlyMap<string, Uint8Array>;
  /** Written as `ballast.json`: the trial config, seeds, step and metric this model came from. */
  info?: Record<string, unknown>;
}

/**
 * Saves weights (Ballast layout) as a Hugging Face checkpoint that transformers loads as
 * BertForSequenceClassification. The safetensors file is written last-but-atomically, so an
 * interrupted save leaves no half-written weights under the final name.
 */
export function saveCheckpoint(dir: string, config: BertConfig, weights: ReadonlyMap<string, HostTensor>, options: SaveCheckpointOptions): void {
  mkdirSync(dir, { recursive: true });
  const out = new Map<string, HostTensor>();
  for (const spec of bertParamSpecs(config)) {
    const t = weights.get(spec.name);
    if (!t) throw new Error(`saveCheckpoint: no weights for '${spec.name}'`);
    out.set(spec.name, spec.kind === 'linear-weight' ? transpose2d(t) : t);
  }
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(bertConfigToJson(config), null, 2)}\n`);
  for (const [name, bytes] of options.vocabFiles) writeFileSync(join(dir, name), bytes);
  if (options.info !== undefined) writeFileSync(join(dir, 'ballast.json'), `${JSON.stringify(options.info, null, 2)}\n`);
  writeSafetensors(join(dir, 'model.safetensors'), out, { format: 'pt' });
}
