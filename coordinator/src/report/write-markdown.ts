// report.md: the same tables as the HTML page, readable in a terminal or a pull request, with
// Table 1 in Markdown and its LaTeX source.
import type { StabilityReport } from './report-model.ts';
import { table1, taskTables, varianceNote, type Table } from './tables.ts';
import { table1Latex } from './write-latex.ts';

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function markdownTable(table: Table): string {
  const lines = [`**${table.title}**`, ''];
  lines.push(`| ${table.header.map(escapeCell).join(' | ')} |`);
  lines.push(`|${table.header.map((_, i) => (table.numericFrom !== undefined && i >= table.numericFrom ? ' ---: ' : ' --- ')).join('|')}|`);
  for (const row of table.rows) lines.push(`| ${row.map((c) => escapeCell(c.note ? `${c.text} [${c.note}]` : c.text)).join(' | ')} |`);
  if (table.footnotes.length > 0) {
    lines.push('');
    table.footnotes.forEach((note, i) => lines.push(`[${i + 1}] ${note}`));
  }
  return lines.join('\n');
}

export function renderMarkdown(report: StabilityReport): string {
  const e = report.experiment;
  const out: string[] = [];
  out.push(`# Stability report: ${e.name || e.id}`, '');
  out.push(`Experiment \`${e.id}\` (${e.state}), created ${e.created_at}; report generated ${report.generated_at}.`);
  const c = report.trials;
  out.push(`Trials: ${c.total} (${c.succeeded} succeeded, ${c.failed} failed, ${c.cancelled} cancelled, ${c.pending} pending).`);
  out.push(`Bootstraps seeded with ${report.settings.seed}: ${report.settings.bootstrap_repetitions} repetitions for expected best-of-k, ${report.settings.ci_repetitions} for intervals. Scores are shown × 100.`);
  for (const note of report.notes) out.push('', `> ${note}`);
  out.push('', '## Table 1', '', markdownTable(table1(report)), '', '```latex', table1Latex(report).trimEnd(), '```');
  for (const task of report.tasks) {
    out.push('', `## ${task.task}${task.metric ? ` (${task.metric}${task.problem_type === 'regression' ? ', regression' : ''})` : ''}`);
    for (const note of task.notes) out.push('', `> ${note}`);
    for (const table of taskTables(task)) out.push('', markdownTable(table));
    const variance = varianceNote(task);
    if (variance) out.push('', variance);
    const lossNotes = task.configurations.flatMap((cfg) => (cfg.training_loss.note ? [`- ${cfg.column}: ${cfg.training_loss.note}`] : []));
    if (lossNotes.length > 0) out.push('', 'Training-loss curves:', ...lossNotes);
    const failures = task.configurations.flatMap((cfg) => cfg.trial_scores.filter((s) => s.state === 'failed').map((s) => `- ${s.trial_id} (${cfg.column}): ${s.error ?? 'no error recorded'}`));
    if (failures.length > 0) out.push('', 'Failed trials (left out of every statistic):', ...failures);
  }
  out.push('', 'Figures (distribution, training loss, expected best-of-k, validation curves) are in report.html; every number is in report.json.', '');
  return out.join('\n');
}
