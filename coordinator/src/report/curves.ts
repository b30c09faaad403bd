// Curves over training steps: per-step training loss from each trial's metrics.jsonl (Figure 3) and
// validation scores from its evals, aggregated over the trials of a configuration as mean and range.
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { CurvePoint } from './report-model.ts';

/** At most this many points per curve: beyond it steps are averaged in equal windows. */
export const MAX_CURVE_POINTS = 300;

export type Series = Map<number, number>;

export interface LossFile {
  series: Series;
  /** Lines that were not `{step, loss}` records, as `file:line: why` (a torn last line is not one). */
  problems: string[];
}

/** Resolves a trial's metrics_path: absolute as is, else relative to the results file's directory. */
export async function locateMetricsFile(path: string, baseDir: string | undefined): Promise<string | null> {
  const candidates = isAbsolute(path) ? [path] : [resolve(baseDir ?? process.cwd(), path), resolve(path)];
  for (const candidate of candidates) {
    try {
      await access(candidate);
      return candidate;
    } catch {
      // try the next candidate
    }
  }
  return null;
}

/** Reads `{step, loss, lr}` lines; other record kinds are skipped, malformed lines reported. */
export async function readLossFile(file: string): Promise<LossFile> {
  const series: Series = new Map();
  const problems: string[] = [];
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let lineNo = 0;
  let pendingTorn: string | null = null;
  for await (const line of lines) {
    lineNo++;
    if (line.trim() === '') continue;
    if (pendingTorn) problems.push(pendingTorn);
    pendingTorn = null;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      // Only the last line may be torn (a trainer killed mid-write); decide once we know it is last.
      pendingTorn = `${file}:${lineNo}: not JSON`;
      continue;
    }
    if (typeof record !== 'object' || record === null) {
      problems.push(`${file}:${lineNo}: not an object`);
      continue;
    }
    const { type, step, loss } = record as { type?: unknown; step?: unknown; loss?: unknown };
    if (type !== undefined && type !== 'step') continue; // eval records carry validation, not training loss
    if (typeof step !== 'number' || loss === undefined) continue; // another record kind (e.g. eval)
    if (typeof loss !== 'number' || !Number.isFinite(loss)) continue; // a diverged step: no point to draw
    series.set(step, loss);
  }
  return { series, problems };
}

/** Mean, min and max over trials at each step, averaged into at most `maxPoints` step windows. */
export function aggregateSeries(all: readonly Series[], maxPoints = MAX_CURVE_POINTS): CurvePoint[] {
  const byStep = new Map<number, number[]>();
  for (const series of all) {
    for (const [step, value] of series) {
      if (!Number.isFinite(value)) continue;
      const bucket = byStep.get(step);
      if (bucket) bucket.push(value);
      else byStep.set(step, [value]);
    }
  }
  const points: CurvePoint[] = [...byStep]
    .sort((x, y) => x[0] - y[0])
    .map(([step, values]) => ({
      step,
      mean: values.reduce((s, v) => s + v, 0) / values.length,
      min: Math.min(...values),
      max: Math.max(...values),
      n: values.length,
    }));
  if (points.length <= maxPoints) return points;
  const window = Math.ceil(points.length / maxPoints);
  const out: CurvePoint[] = [];
  for (let i = 0; i < points.length; i += window) {
    const chunk = points.slice(i, i + window);
    out.push({
      step: (chunk[chunk.length - 1] as CurvePoint).step,
      mean: chunk.reduce((s, p) => s + p.mean, 0) / chunk.length,
      min: Math.min(...chunk.map((p) => p.min)),
      max: Math.max(...chunk.map((p) => p.max)),
      n: Math.min(...chunk.map((p) => p.n)),
    });
  }
  return out;
}
