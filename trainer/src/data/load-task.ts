// The data layer's front door: a trial's `task` config in, three splits and the task's description
// out. Presets read GLUE's files (or generate the synthetic task); custom tasks read the files the
// config names. The protocol (`split`, `downsample`) is then applied the same way to both.
import { ConfigError, type TaskConfig } from '../config/trial-config.ts';
import { gluePresetDir, resolveDataPath } from '../config/data-paths.ts';
import { glueTaskSpec, isGluePreset, readGlueTask } from './glue-tasks.ts';
import { readExamples } from './read-examples.ts';
import { devHalves, downsample } from './splits.ts';
import { generateSyntheticTask, SYNTHETIC_PRESET, syntheticTaskSpec } from './synthetic-task.ts';
import { selectionMetricOf, type Split, type TaskData, type TaskSpec } from './task-data.ts';
import type { MetricName } from '../train/trial-result.ts';

export interface LoadTaskOptions {
  /** Data root for relative paths and preset directories (see config/data-paths.ts). */
  root: string;
}

/** The task's splits after the protocol. Throws DataError (bad file or row) or ConfigError. */
export function loadTask(task: TaskConfig, options: LoadTaskOptions): TaskData {
  const { spec, train, dev, test } = readSource(task, options.root);
  if (task.downsample !== undefined) {
    if (task.split === 'dev_halves') {
      throw new ConfigError('task.split', 'downsample already holds validation out of train and tests on the original dev set; use split: standard with it');
    }
    const sampled = downsample(train.examples, task.downsample, spec.problemType, task.split_seed, spec.numLabels);
    return {
      spec,
      train: { examples: sampled.train, source: `${train.source} (downsampled to ${task.downsample}, split_seed ${task.split_seed})` },
      validation: { examples: sampled.validation, source: `${train.source} (${task.downsample} held out, split_seed ${task.split_seed})` },
      test: dev,
    };
  }
  if (dev === undefined) throw new ConfigError('task.validation', 'a custom task needs a validation file (or `downsample` to hold validation out of train)');
  if (task.split === 'dev_halves') {
    const halves = devHalves(dev.examples, spec.problemType, task.split_seed);
    return {
      spec,
      train,
      validation: { examples: halves.validation, source: `${dev.source} (first half, split_seed ${task.split_seed})` },
      test: { examples: halves.test, source: `${dev.source} (second half, split_seed ${task.split_seed})` },
    };
  }
  return { spec, train, validation: dev, test };
}

interface Source {
  spec: TaskSpec;
  train: Split;
  /** The original dev set (or the custom validation file; absent only with `downsample`). */
  dev: Split | undefined;
  test: Split | undefined;
}

function readSource(task: TaskConfig, root: string): Source {
  if (task.name === 'synthetic') {
    const generated = generateSyntheticTask(SYNTHETIC_PRESET.seed, SYNTHETIC_PRESET);
    return { spec: syntheticTaskSpec(), train: generated.train, dev: generated.validation, test: generated.test };
  }
  if (task.name !== undefined) {
    if (!isGluePreset(task.name)) throw new ConfigError('task.name', `unknown preset '${task.name}'`);
    const dir = task.data_dir !== undefined ? resolveDataPath(task.data_dir, root) : gluePresetDir(task.name, root);
    const files = readGlueTask(task.name, dir);
    return {
      spec: glueTaskSpec(task.name),
      train: { examples: files.train, source: files.trainFile },
      dev: { examples: files.dev, source: files.devFile },
      test: undefined,
    };
  }
  return readCustom(task, root);
}

function readCustom(task: TaskConfig, root: string): Source {
  const format = task.format;
  const need = (key: 'train' | 'text_column' | 'label_column'): string => {
    const value = task[key];
    if (value === undefined) throw new ConfigError(`task.${key}`, 'required for a custom task');
    return value;
  };
  if (format === undefined) throw new ConfigError('task', 'give either a preset `name` or a custom `format`');
  const problemType = task.problem_type ?? 'classification';
  if (problemType === 'classification') {
    if (task.labels === undefined) throw new ConfigError('task.labels', 'a custom classification task needs `labels` (in id order)');
    const duplicate = task.labels.find((label, i) => task.labels?.indexOf(label) !== i);
    if (duplicate !== undefined) throw new ConfigError('task.labels', `label '${duplicate}' appears twice`);
  } else if (task.labels !== undefined) {
    throw new ConfigError('task.labels', 'a regression task has no labels');
  }
  const columns = { text: need('text_column'), textPair: task.text_pair_column, label: need('label_column') };
  const scheme = { problemType, labels: task.labels };
  const read = (file: string): Split => {
    const path = resolveDataPath(file, root);
    return { examples: readExamples(path, format, columns, scheme), source: path };
  };
  if (task.validation === undefined && task.downsample === undefined) {
    throw new ConfigError('task.validation', 'a custom task needs a validation file (or `downsample` to hold validation out of train)');
  }
  const train = read(need('train'));
  const dev = task.validation !== undefined ? read(task.validation) : undefined;
  const test = task.test !== undefined ? read(task.test) : undefined;
  const labels = problemType === 'classification' ? task.labels : undefined;
  const metrics: MetricName[] =
    problemType === 'regression' ? ['pearson', 'spearman'] : (labels?.length ?? 0) === 2 ? ['accuracy', 'f1', 'mcc'] : ['accuracy'];
  const spec: TaskSpec = {
    name: 'custom',
    problemType,
    labels,
    numLabels: labels?.length ?? 1,
    metrics,
    metric: problemType === 'regression' ? 'spearman' : 'accuracy',
    selectionMetric: selectionMetricOf(metrics),
  };
  if (task.downsample !== undefined && test !== undefined) {
    throw new ConfigError('task.test', 'with downsample the validation file becomes the test set; leave `test` unset');
  }
  return { spec, train, dev, test };
}
