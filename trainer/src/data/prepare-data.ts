// Everything a trial needs from the data layer in one call: the task's splits after the protocol,
// encoded once with the model's tokenizer, plus the numbers the result reports (sizes, the
// majority-class baseline that the degenerate rule compares against).
import { majorityBaseline } from '../eval/metrics.ts';
import { encodeSplit, type EncodedSplit } from './batches.ts';
import { DataError } from './data-error.ts';
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
  maxSeqLength: number;
}

/**
 * `task` comes from `loadTask` (the caller needs its labels before it can load the model, and so
 * the tokenizer, that this encodes with).
 */
export function prepareData(task: TaskData, tokenizer: BertTokenizer, options: PrepareDataOptions): PreparedData {
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
