// report.html: one self-contained page (inline CSS and SVG, no script, no network) that opens
// offline in any browser and can be mailed or archived as a single file.
import type { PlotSpec } from './plots.ts';
import type { StabilityReport } from './report-model.ts';
import { table1, taskTables, varianceNote, type Table } from './tables.ts';
import { table1Latex } from './write-latex.ts';

export interface RenderedPlot {
  plot: PlotSpec;
  /** Null when the plot has no data (plot.empty_reason says why). */
  svg: string | null;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] as string);
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

function htmlTable(table: Table): string {
  const head = `<tr>${table.header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>`;
  const rows = table.rows
    .map((row) => `<tr>${row.map((c, i) => `<td${table.numericFrom !== undefined && i >= table.numericFrom ? ' class="num"' : ''}>${escapeHtml(c.text)}${c.note ? `<sup>${c.note}</sup>` : ''}</td>`).join('')}</tr>`)
    .join('\n');
  const notes = table.footnotes.length
    ? `<ol class="notes">${table.footnotes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ol>`
    : '';
  return `<div class="table"><table><caption>${escapeHtml(table.title)}</caption>\n<thead>${head}</thead>\n<tbody>\n${rows}\n</tbody></table>${notes}</div>`;
}

function figure(p: RenderedPlot): string {
  const body = p.svg ?? `<p class="empty">No data to plot: ${escapeHtml(p.plot.empty_reason ?? 'nothing recorded')}.</p>`;
  return `<figure class="plot${p.svg ? '' : ' empty'}" id="${escapeHtml(p.plot.id)}" data-plot="${escapeHtml(p.plot.id)}" data-points="${p.plot.points}">\n${body}\n<figcaption>${escapeHtml(p.plot.caption)}</figcaption></figure>`;
}

const CSS = `
body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222; margin: 0 auto; max-width: 1180px; padding: 24px; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 20px; margin-top: 36px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.meta { color: #555; } .note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 6px 10px; margin: 8px 0; }
nav ul { padding-left: 18px; } nav li { display: inline; margin-right: 14px; }
.figures { display: flex; flex-wrap: wrap; gap: 18px; }
figure.plot { margin: 0; border: 1px solid #e4e4e4; border-radius: 4px; padding: 8px; background: #fff; max-width: 100%; overflow-x: auto; }
figure.plot svg { display: block; } figcaption { color: #555; font-size: 12px; max-width: 520px; margin-top: 4px; }
figure.empty { min-width: 300px; } p.empty { color: #8a6d3b; }
.table { overflow-x: auto; margin: 18px 0; }
table { border-collapse: collapse; font-size: 13px; } caption { text-align: left; font-weight: 600; padding: 4px 0; caption-side: top; }
th, td { border-bottom: 1px solid #e6e6e6; padding: 4px 10px; text-align: left; vertical-align: top; white-space: nowrap; }
th { background: #f6f6f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
ol.notes { font-size: 12px; color: #555; margin: 4px 0 0 0; }
pre { background: #f6f6f6; padding: 10px; overflow-x: auto; font-size: 12px; }
`;

export function renderHtml(report: StabilityReport, plots: ReadonlyMap<string, RenderedPlot[]>): string {
  const e = report.experiment;
  const c = report.trials;
  const parts: string[] = [];
  parts.push(`<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`);
  parts.push(`<title>Stability report: ${escapeHtml(e.name || e.id)}</title><style>${CSS}</style></head><body>`);
  parts.push(`<h1>Stability report: ${escapeHtml(e.name || e.id)}</h1>`);
  parts.push(`<p class="meta">Experiment <code>${escapeHtml(e.id)}</code> (${escapeHtml(e.state)}), created ${escapeHtml(e.created_at)}; report generated ${escapeHtml(report.generated_at)}.<br>`);
  parts.push(`Trials: ${c.total} (${c.succeeded} succeeded, ${c.failed} failed, ${c.cancelled} cancelled, ${c.pending} pending). Bootstraps seeded with ${report.settings.seed}: ${report.settings.bootstrap_repetitions} repetitions for expected best-of-k, ${report.settings.ci_repetitions} for intervals. Scores × 100.</p>`);
  for (const note of report.notes) parts.push(`<p class="note">${escapeHtml(note)}</p>`);
  parts.push(`<nav><ul><li><a href="#table-1">Table 1</a></li>${report.tasks.map((t) => `<li><a href="#task-${slug(t.task)}">${escapeHtml(t.task)}</a></li>`).join('')}</ul></nav>`);
  parts.push(`<h2 id="table-1">Table 1</h2>`, htmlTable(table1(report)));
  parts.push(`<details><summary>LaTeX</summary><pre>${escapeHtml(table1Latex(report))}</pre></details>`);
  for (const task of report.tasks) {
    parts.push(`<section id="task-${slug(task.task)}"><h2>${escapeHtml(task.task)}${task.metric ? ` <small>(${escapeHtml(task.metric)}${task.problem_type === 'regression' ? ', regression' : ''})</small>` : ''}</h2>`);
    for (const note of task.notes) parts.push(`<p class="note">${escapeHtml(note)}</p>`);
    parts.push(`<div class="figures">${(plots.get(task.task) ?? []).map(figure).join('\n')}</div>`);
    for (const table of taskTables(task)) parts.push(htmlTable(table));
    const variance = varianceNote(task);
    if (variance) parts.push(`<p class="meta">${escapeHtml(variance)}</p>`);
    const failures = task.configurations.flatMap((cfg) => cfg.trial_scores.filter((s) => s.state === 'failed').map((s) => `<li><code>${escapeHtml(s.trial_id)}</code> (${escapeHtml(cfg.column)}): ${escapeHtml(s.error ?? 'no error recorded')}</li>`));
    if (failures.length > 0) parts.push(`<p>Failed trials (left out of every statistic):</p><ul>${failures.join('')}</ul>`);
    parts.push('</section>');
  }
  parts.push(`<p class="meta">Every number is in report.json next to this page.</p></body></html>\n`);
  return parts.join('\n');
}
