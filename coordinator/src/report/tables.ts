// The report's tables as plain data (header, rows of cells, footnotes), built once and rendered by
// both the Markdown and the HTML writer so that the two never disagree. A cell whose statistic does
// not apply shows "—" and points to a footnote saying why.
import type { Comparison, ConfigurationReport, StabilityReport, TaskReport } from './report-model.ts';
import type { Distribution } from './stats/descriptive.ts';

export interface Cell {
  text: string;
  /** Footnote number (1-based) explaining this cell. */
  note?: number;
}

export interface Table {
  title: string;
  header: string[];
  rows: Cell[][];
  footnotes: string[];
  /** Columns from this index on are numbers (right-aligned); absent: none. */
  numericFrom?: number;
}

/** Scores are shown × 100 (as the paper does); raw values are in report.json. */
export function pct(x: number): string {
  return (100 * x).toFixed(2);
}

export function pValue(p: number): string {
  if (p < 1e-4) return p.toExponential(1);
  return p.toFixed(4);
}

class Notes {
  readonly list: string[] = [];
  cell(text: string): Cell {
    let index = this.list.indexOf(text);
    if (index < 0) index = this.list.push(text) - 1;
    return { text: '—', note: index + 1 };
  }
}

const NEED_TWO = 'needs at least 2 scored trials';
const NO_TEST = 'no test set: this configuration has validation scores only';
const NO_SCORES = 'no succeeded trial with a score';

function stat(notes: Notes, value: number | null, why: string, format: (x: number) => string = pct): Cell {
  return value === null ? notes.cell(why) : { text: format(value) };
}

function meanStd(notes: Notes, d: Distribution | null, noTestReason = NO_TEST): Cell {
  if (!d) return notes.cell(noTestReason);
  if (d.mean === null) return notes.cell(NO_SCORES);
  if (d.std === null) return { text: `${pct(d.mean)} ± —`, note: notes.cell(NEED_TWO).note as number };
  return { text: `${pct(d.mean)} ± ${pct(d.std)}` };
}

function distributionRow(notes: Notes, c: ConfigurationReport, d: Distribution | null): Cell[] {
  const none = d === null ? NO_TEST : NO_SCORES;
  const get = (key: keyof Distribution) => (d ? (d[key] as number | null) : null);
  return [
    { text: c.column },
    { text: String(d?.n ?? 0) },
    meanStd(notes, d),
    stat(notes, get('median'), none),
    d && d.q1 !== null && d.q3 !== null ? { text: `${pct(d.q1)}–${pct(d.q3)} (${pct(d.iqr as number)})` } : notes.cell(none),
    stat(notes, get('min'), none),
    stat(notes, get('max'), none),
  ];
}

export function distributionTable(task: TaskReport, split: 'test' | 'validation'): Table {
  const notes = new Notes();
  const rows = task.configurations.map((c) => distributionRow(notes, c, split === 'test' ? c.test : c.validation));
  return {
    title: `${task.task}: ${split} ${task.metric ?? 'score'} (× 100) over seeds`,
    header: ['configuration', 'n', 'mean ± std', 'median', 'IQR: Q1–Q3 (width)', 'min', 'max'],
    rows,
    footnotes: notes.list,
    numericFrom: 1,
  };
}

export function runsTable(task: TaskReport): Table {
  const notes = new Notes();
  const rows = task.configurations.map((c) => [
    { text: c.column },
    { text: `${c.trials.succeeded} / ${c.trials.total}` },
    { text: String(c.trials.failed) },
    c.degenerate.rate === null ? { text: `${c.degenerate.count}`, note: notes.cell('no succeeded trial: no rate').note as number } : { text: `${c.degenerate.count} (${(100 * c.degenerate.rate).toFixed(0)}%)` },
    { text: c.degenerate.reasons.map((r) => `${r.reason} ×${r.count}`).join('; ') || 'none' },
    { text: String(c.diverged) },
    stat(notes, c.mean_trial_seconds, 'no timings: no succeeded trial', (s) => s.toFixed(1)),
  ]);
  return {
    title: `${task.task}: runs`,
    header: ['configuration', 'succeeded / trials', 'failed', 'degenerate (rate)', 'degenerate reasons', 'diverged', 'mean trial time (s)'],
    rows,
    footnotes: notes.list,
  };
}

/** k values shown in the text tables (all k are in report.json and the figure). */
export function shownK(n: number): number[] {
  return [...new Set([1, 2, 3, 5, 10, 20, 50, n])].filter((k) => k <= n).sort((a, b) => a - b);
}

export function expectedMaxTable(task: TaskReport): Table {
  const notes = new Notes();
  const n = Math.max(0, ...task.configurations.map((c) => c.expected_max.rows.length));
  const ks = shownK(n);
  const rows = task.configurations.flatMap((c) => {
    const missing = () => notes.cell(c.expected_max.rows.length === 0 ? NO_SCORES : `k above ${c.expected_max.rows.length}, this configuration's number of scored trials`);
    const scoredOn = c.expected_max.scored_on === 'test' ? 'test' : 'validation (no test set)';
    const boot: Cell[] = [{ text: c.column }, { text: `bootstrap, scored on ${scoredOn}` }];
    const dodge: Cell[] = [{ text: '' }, { text: 'closed form, validation' }];
    for (const k of ks) {
      const r = c.expected_max.rows.find((x) => x.k === k);
      if (!r) {
        boot.push(missing());
        dodge.push(missing());
        continue;
      }
      boot.push({ text: r.bootstrap_std === null ? pct(r.bootstrap_mean) : `${pct(r.bootstrap_mean)} ± ${pct(r.bootstrap_std)}` });
      dodge.push({ text: r.dodge_validation_std === null ? pct(r.dodge_validation_mean) : `${pct(r.dodge_validation_mean)} ± ${pct(r.dodge_validation_std)}` });
    }
    return [boot, dodge];
  });
  return {
    title: `${task.task}: expected best-of-k (× 100), mean ± std: the paper's bootstrap (best of k on validation, ${task.configurations[0]?.expected_max.repetitions ?? 0} repetitions) and Dodge et al. 2019's closed form`,
    header: ['configuration', 'estimate', ...ks.map((k) => `k = ${k}`)],
    rows,
    footnotes: notes.list,
    numericFrom: 2,
  };
}

function pCell(notes: Notes, p: { p: number; p_holm: number } | undefined, why: string): Cell {
  return p ? { text: `${pValue(p.p)} (${pValue(p.p_holm)})` } : notes.cell(why);
}

export function comparisonTable(task: TaskReport): Table {
  const notes = new Notes();
  const label = (id: string) => task.configurations.find((c) => c.configuration === id)?.column ?? id;
  const rows = task.comparisons.map((c: Comparison) => [
    { text: `${label(c.a)} vs ${label(c.b)}` },
    c.notes.some((n) => n.startsWith('compared on validation')) ? { text: c.split, note: notes.cell('compared on validation: one of the two has no test set').note as number } : { text: c.split },
    { text: `${pct(c.mean_difference)}${c.ci95 ? ` [${pct(c.ci95.low)}, ${pct(c.ci95.high)}]` : ''}` },
    c.welch ? { text: `${c.welch.t.toFixed(2)} (${c.welch.df.toFixed(1)})` } : notes.cell("Welch's t-test needs ≥ 2 trials per side and some spread"),
    pCell(notes, c.welch?.one_sided, "Welch's t-test needs ≥ 2 trials per side and some spread"),
    pCell(notes, c.welch?.two_sided, "Welch's t-test needs ≥ 2 trials per side and some spread"),
    pCell(notes, c.mann_whitney?.two_sided, 'needs a trial on each side'),
    c.wilcoxon ? { text: `${pValue(c.wilcoxon.two_sided.p)} (${pValue(c.wilcoxon.two_sided.p_holm)}), ${c.wilcoxon.pairs} pairs` } : notes.cell('not paired: fewer than 2 trials share their seeds, or every paired difference is 0'),
  ]);
  return {
    title: `${task.task}: comparisons (better mean first; Δ × 100 with a 95% bootstrap interval; p-values with Holm-adjusted values in parentheses)`,
    header: ['pair', 'split', 'Δ mean [95% CI]', 'Welch t (df)', 'Welch p one-tailed', 'Welch p two-tailed', 'Mann–Whitney p', 'Wilcoxon signed-rank p'],
    rows,
    footnotes: notes.list,
  };
}

export function varianceTable(task: TaskReport): Table {
  const notes = new Notes();
  const rows = task.configurations.map((c) => {
    const a = c.variance_by_factor.anova;
    if (!a) {
      const cell = notes.cell(`not an init × data factorial: ${c.variance_by_factor.reason}`);
      return [{ text: c.column }, cell, cell, cell, cell, cell];
    }
    const term = (s: string) => a.terms.find((t) => t.source === s);
    const share = (s: string) => {
      const t = term(s);
      return t && t.share !== null ? { text: `${(100 * t.share).toFixed(1)}%` } : notes.cell('no variance at all');
    };
    const p = (s: string) => {
      const t = term(s);
      return t && t.p !== null ? { text: pValue(t.p) } : notes.cell('no F-test: no residual variance or degrees of freedom');
    };
    const residual = a.residual_includes_interaction ? share('residual') : { text: `${share('interaction').text} + ${share('residual').text}` };
    return [{ text: `${c.column} (${a.levels.init} × ${a.levels.data}${a.levels.replicates > 1 ? ` × ${a.levels.replicates}` : ''})` }, share('init'), share('data'), residual, p('init'), p('data')];
  });
  return {
    title: `${task.task}: variance by factor (two-way ANOVA over init seed × data seed, Dodge et al. 2020)`,
    header: ['configuration (init × data)', 'init seed', 'data seed', 'interaction + residual', 'p (init)', 'p (data)'],
    rows,
    footnotes: notes.list,
  };
}

export function table1(report: StabilityReport): Table {
  const notes = new Notes();
  const t = report.table1;
  const rows = t.rows.map((row) => [
    { text: `${row.task}${row.metric ? ` (${row.metric})` : ''}` },
    ...row.cells.map((cell): Cell => {
      if (!cell) return notes.cell('configuration not run on this task');
      if (cell.mean === null) return notes.cell(NO_SCORES);
      const value = `${(100 * cell.mean).toFixed(1)} ± ${cell.std === null ? '—' : (100 * cell.std).toFixed(1)}${cell.mark}`;
      if (cell.std === null) return { text: value, note: notes.cell(NEED_TWO).note as number };
      if (cell.split === 'validation') return { text: value, note: notes.cell(NO_TEST).note as number };
      return { text: value };
    }),
  ]);
  const levels = report.settings.mark_levels.map((l) => `${l.mark} p < ${l.p}`).join(', ');
  return {
    title: `Table 1: mean ± std (× 100) over seeds; marks: one-tailed Welch's t-test against ${t.baseline ?? 'the baseline'} (${levels})`,
    header: ['task', ...t.columns],
    rows,
    footnotes: notes.list,
    numericFrom: 1,
  };
}

export function taskTables(task: TaskReport): Table[] {
  const tables = [runsTable(task)];
  if (task.configurations.some((c) => c.test)) tables.push(distributionTable(task, 'test'));
  tables.push(distributionTable(task, 'validation'), expectedMaxTable(task));
  if (task.comparisons.length > 0) tables.push(comparisonTable(task));
  if (varianceNote(task) === null) tables.push(varianceTable(task));
  return tables;
}

/** When no configuration of the task crossed init and data seeds, one sentence replaces the table. */
export function varianceNote(task: TaskReport): string | null {
  if (task.configurations.some((c) => c.variance_by_factor.anova)) return null;
  const first = task.configurations.find((c) => c.variance_by_factor.reason);
  const example = first ? ` (${first.column}: ${first.variance_by_factor.reason})` : '';
  return `Variance by factor (init seed × data seed, Dodge et al. 2020) does not apply: the trials do not cross every init seed with every data seed${example}. Give the spec init_seeds and data_seeds (instead of seeds) to get it.`;
}
