// The trials of a sweep nearly always share their task, so a trainer that loads and tokenizes it
// again for every trial spends the same seconds each time (MNLI's 393k pairs take several), and the
// device waits. A trainer process keeps the last task it loaded and the last encoding of it; one
// entry each, since a trainer runs one trial at a time and a sweep rarely alternates tasks.
// The keys are everything the values are computed from; the files themselves are assumed not to
// change under a running trainer (the data root is read-only in a cluster).
import type { TaskConfig } from '../config/trial-config.ts';
import { loadTask } from './load-task.ts';
import { prepareData, type PreparedData } from './prepare-data.ts';
import type { TaskData } from './task-data.ts';
import type { BertTokenizer } from './tokenizer.ts';

export class DataCache {
  private task: { key: string; value: TaskData } | undefined;
  private prepared: { key: string; value: PreparedData } | undefined;

  loadTask(config: TaskConfig, root: string): TaskData {
    const key = JSON.stringify([config, root]);
    if (this.task?.key !== key) this.task = { key, value: loadTask(config, { root }) };
    return this.task.value;
  }

  /** `tokenizerSource` names where the tokenizer came from (the checkpoint directory or builtin name). */
  prepare(task: TaskData, tokenizer: BertTokenizer, tokenizerSource: string, maxSeqLength: number): PreparedData {
    // The task is compared by identity: an equal config gives the same object from loadTask above.
    const key = JSON.stringify([tokenizerSource, maxSeqLength]);
    if (this.prepared?.key !== key || this.prepared.value.task !== task) {
      this.prepared = { key, value: prepareData(task, tokenizer, { maxSeqLength }) };
    }
    return this.prepared.value;
  }
}
