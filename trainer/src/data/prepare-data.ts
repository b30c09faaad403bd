// Everything a trial needs from the data layer in one call: the task's splits after the protocol,
// encoded once with the model's tokenizer, plus the numbers the result reports (sizes, the
// majority-class baseline that the degenerate rule compares against).
import type { TaskConfig } from '../config/trial-config.ts';
import { majorityBaseline } from '../eval/metrics.ts';
import { encodeSplit, type EncodedSplit } from './batches.ts';
import { DataError } from './data-error.ts';
import { loadTask } from './load-task.ts';
import type { TaskData, TaskSpec } from './task-data.ts';
import type { BertTokenizer } from './tokenizer.ts';

export interface PreparedData {
  spec: TaskSpec;
  /** The examples as loaded (texts, labels, source lines), for reports and debugging. */
  task: TaskData;
  train: EncodedSplit;
  validation: EncodedSplit;
  test: EncodedSplit | undefined;
  /**
   * Classification: the validation score, in the selection metric, of always predicting the
   * training set's majority class. Undefined for regression.
   */
  majorityBaseline: number | undefined;
}

export interface PrepareDataOptions {
  root: string;
  maxSeqLength: number;
}

export function prepareData(taskConfig: TaskConfig, tokenizer: BertTokenizer, options: PrepareDataOptions): PreparedData {
  const task = loadTask(taskConfig, { root: options.root });
  for (const [name, split] of [['train', task.train], ['validation', task.validation], ['test', task.test]] as const) {
    if (split !== undefined && split.examples.length === 0) throw new DataError(split.source, undefined, `the ${name} split has no examples`);
  }
  const { spec } = task;
  const encode = (examples: TaskData['train']['examples']) => encodeSplit(tokenizer, examples, options.maxSeqLength, spec.problemType);
  const train = encode(task.train.examples);
  const validation = encode(task.validation.examples);
  const test = task.test ? encode(task.test.examples) : undefined;
  const baseline = spec.problemType === 'classification' ? majorityBaseline(spec.selectionMetric, train.labels, validation.labels).value : undefined;
  return { spec, task, train, validation, test, majorityBaseline: baseline };
}
