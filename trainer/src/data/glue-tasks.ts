// The GLUE presets: how each task's files look as `download_glue_data.py` distributes them, the
// label order of Hugging Face's GLUE processors (so that a head's class ids mean what they mean in
// transformers), and the metrics of Hugging Face's `glue_compute_metrics`. The reported metric is
// the paper's (RTE accuracy, MRPC F1, CoLA MCC, STS-B Spearman).
//
// One deliberate difference from Hugging Face's processors: they skip QQP rows that have too few
// columns; here every malformed row is an error with its line, because a silently shorter
// training set changes results without anyone knowing.
import { join } from 'node:path';
import type { MetricName } from '../train/trial-result.ts';
import { readExamples } from './read-examples.ts';
import { selectionMetricOf, type Example, type TaskSpec } from './task-data.ts';

export type GluePresetName = 'rte' | 'mrpc' | 'cola' | 'sts-b' | 'sst-2' | 'qnli' | 'qqp' | 'mnli';

export interface GluePreset {
  name: GluePresetName;
  trainFile: string;
  devFile: string;
  /** CoLA's files have no header row; its columns are then named `0`, `1`, …. */
  header: boolean;
  text: string;
  textPair?: string;
  label: string;
  /** Label values in Hugging Face's id order; undefined for STS-B (a float score). */
  labels?: readonly string[];
  metrics: readonly MetricName[];
  metric: MetricName;
}

export const GLUE_PRESETS: Readonly<Record<GluePresetName, GluePreset>> = {
  rte: {
    name: 'rte', trainFile: 'train.tsv', devFile: 'dev.tsv', header: true,
    text: 'sentence1', textPair: 'sentence2', label: 'label',
    labels: ['entailment', 'not_entailment'], metrics: ['accuracy'], metric: 'accuracy',
  },
  mrpc: {
    // The header is `Quality  #1 ID  #2 ID  #1 String  #2 String`, after a byte-order mark.
    name: 'mrpc', trainFile: 'train.tsv', devFile: 'dev.tsv', header: true,
    text: '#1 String', textPair: '#2 String', label: 'Quality',
    labels: ['0', '1'], metrics: ['accuracy', 'f1'], metric: 'f1',
  },
  cola: {
    // No header: source, label, original annotation (blank), sentence.
    name: 'cola', trainFile: 'train.tsv', devFile: 'dev.tsv', header: false,
    text: '3', label: '1', labels: ['0', '1'], metrics: ['mcc'], metric: 'mcc',
  },
  'sts-b': {
    name: 'sts-b', trainFile: 'train.tsv', devFile: 'dev.tsv', header: true,
    text: 'sentence1', textPair: 'sentence2', label: 'score',
    metrics: ['pearson', 'spearman'], metric: 'spearman',
  },
  'sst-2': {
    name: 'sst-2', trainFile: 'train.tsv', devFile: 'dev.tsv', header: true,
    text: 'sentence', label: 'label', labels: ['0', '1'], metrics: ['accuracy'], metric: 'accuracy',
  },
  qnli: {
    name: 'qnli', trainFile: 'train.tsv', devFile: 'dev.tsv', header: true,
    text: 'question', textPair: 'sentence', label: 'label',
    labels: ['entailment', 'not_entailment'], metrics: ['accuracy'], metric: 'accuracy',
  },
  qqp: {
    name: 'qqp', trainFile: 'train.tsv', devFile: 'dev.tsv', header: true,
    text: 'question1', textPair: 'question2', label: 'is_duplicate',
    labels: ['0', '1'], metrics: ['accuracy', 'f1'], metric: 'accuracy',
  },
  mnli: {
    // train.tsv has 12 columns and dev_matched.tsv 16; both name these three.
    name: 'mnli', trainFile: 'train.tsv', devFile: 'dev_matched.tsv', header: true,
    text: 'sentence1', textPair: 'sentence2', label: 'gold_label',
    labels: ['contradiction', 'entailment', 'neutral'], metrics: ['accuracy'], metric: 'accuracy',
  },
};

export function isGluePreset(name: string): name is GluePresetName {
  return Object.hasOwn(GLUE_PRESETS, name);
}

export function glueTaskSpec(name: GluePresetName): TaskSpec {
  const preset = GLUE_PRESETS[name];
  return {
    name,
    problemType: preset.labels ? 'classification' : 'regression',
    labels: preset.labels,
    numLabels: preset.labels ? preset.labels.length : 1,
    metrics: preset.metrics,
    metric: preset.metric,
    selectionMetric: selectionMetricOf(preset.metrics),
  };
}

export interface GlueFiles {
  trainFile: string;
  devFile: string;
  train: Example[];
  dev: Example[];
}

/** Reads a preset's train and dev files from `dir` (e.g. `<data root>/glue/RTE`). */
export function readGlueTask(name: GluePresetName, dir: string): GlueFiles {
  const preset = GLUE_PRESETS[name];
  const columns = { text: preset.text, textPair: preset.textPair, label: preset.label };
  const scheme = { problemType: preset.labels ? ('classification' as const) : ('regression' as const), labels: preset.labels };
  const trainFile = join(dir, preset.trainFile);
  const devFile = join(dir, preset.devFile);
  return {
    trainFile,
    devFile,
    train: readExamples(trainFile, 'tsv', columns, scheme, { header: preset.header }),
    dev: readExamples(devFile, 'tsv', columns, scheme, { header: preset.header }),
  };
}
