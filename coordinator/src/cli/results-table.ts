// Plain-text tables of an experiment's results for the terminal: every trial, and per
// configuration the distribution of the test metric over seeds. `ballast results`, `status`,
// `submit --wait` and `ballast run` print these; `--json` prints the ExperimentResults instead.
import type { ConfigurationSummary, ExperimentResults, TrialRecord } from '../results/experiment-results.ts';

/** Columns padded to their widest cell; numbers (and "±" cells) right-aligned. */
export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((row) => /^[-+]?[\d.]+(e[-+]?\d+)?( ± [\d.]+)?$|^[-–]$|^$/.test(row[i] ?? '')));
  const render = (cells: string[]) =>
    cells
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [render(header), render(widths.map((w) => '-'.repeat(w))), ...rows.map(render)].join('\n');
}

const num = (x: number | null | undefined, digits = 4) => (x === null || x === undefined ? '–' : x.toFixed(digits));

export function sweepText(values: Record<string, unknown>): string {
  const entries = Object.entries(values);
  return entries.length === 0 ? '(base)' : entries.map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`).join(' ');
}

function trialMetric(trial: TrialRecord, metric: string): string {
  const value = trial.metrics?.[metric];
  return value === undefined ? '' : value.toFixed(4);
}

function runningText(trial: TrialRecord): string {
  const where = trial.worker_id ? `on ${trial.worker_id}` : '';
  const p = trial.progress;
  return [p ? `step ${p.step}/${p.total_steps}` : 'starting', where].filter(Boolean).join(' ');
}

export function trialsTable(results: ExperimentResults): string {
  const metric = results.summary.find((s) => s.metric)?.metric || 'metric';
  const rows = results.trials.map((trial) => [
    trial.id,
    trial.configuration,
    trial.state,
    String(trial.attempts),
    String(trial.seeds.seed),
    trialMetric(trial, metric),
    trial.degenerate ? `yes${trial.degenerate_reason ? ` (${trial.degenerate_reason})` : ''}` : '',
    trial.state === 'running' ? runningText(trial) : trial.state === 'failed' || trial.state === 'queued' ? (trial.errors.at(-1) ?? '') : '',
  ]);
  return textTable(['trial', 'config', 'state', 'attempts', 'seed', metric, 'degenerate', 'progress / last error'], rows);
}

export function summaryTable(summary: readonly ConfigurationSummary[]): string {
  // Configuration ids usually spell out their sweep values already; show the values only if not.
  const showSweep = summary.some((s) => s.configuration !== sweepText(s.sweep_values));
  const rows = summary.map((s) => [
    s.configuration,
    ...(showSweep ? [sweepText(s.sweep_values)] : []),
    `${s.metric || '–'}${s.split === 'validation' ? ' (val)' : ''}`,
    String(s.n),
    s.mean === null ? '–' : `${num(s.mean)} ± ${num(s.std ?? 0)}`,
    num(s.median),
    num(s.min),
    num(s.max),
    String(s.degenerate),
    String(s.failed),
  ]);
  return textTable(['config', ...(showSweep ? ['sweep'] : []), 'metric', 'n', 'mean ± std', 'median', 'min', 'max', 'degenerate', 'failed'], rows);
}

/** The experiment line, every trial, then the per-configuration summary. */
export function resultsText(results: ExperimentResults, options: { trials?: boolean } = {}): string {
  const { experiment } = results;
  const parts = [`experiment ${experiment.id} (${experiment.name}): ${experiment.state}, created ${experiment.created_at}`];
  if (options.trials !== false) parts.push('', trialsTable(results));
  parts.push('', summaryTable(results.summary));
  return `${parts.join('\n')}\n`;
}
