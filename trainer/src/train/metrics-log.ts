// `metrics.jsonl`: one JSON record per line, appended as training goes (a step line per update, an
// eval line per evaluation), so that a crashed or cancelled trial still leaves its history and a
// reader can tail the file. Writes are synchronous: one short line per update costs nothing next to
// a training step, and a line is on disk before the next step starts.
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { EvalMetrics } from './trial-result.ts';

export interface StepRecord {
  type: 'step';
  /** 1-based update number. */
  step: number;
  /** 0-based epoch the batch came from. */
  epoch: number;
  /** Mean loss of the batch, before this update. */
  loss: number;
  /** Learning rate of this update (the base rate; layer-wise decay scales it per layer). */
  lr: number;
  /** Global gradient norm before clipping. */
  grad_norm: number;
}

export interface EvalRecord {
  type: 'eval';
  step: number;
  validation: EvalMetrics;
  /** True when this evaluation became the selected model. */
  selected: boolean;
}

export type MetricsRecord = StepRecord | EvalRecord;

export class MetricsLog {
  private fd: number | undefined;

  /** Opens (truncating) `path`; without a path, records go nowhere. */
  constructor(readonly path?: string) {
    if (path === undefined) return;
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, 'w');
  }

  write(record: MetricsRecord): void {
    if (this.fd !== undefined) writeSync(this.fd, `${JSON.stringify(record)}\n`);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
