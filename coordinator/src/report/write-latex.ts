// Table 1 in LaTeX (booktabs), laid out as the paper's: rows tasks, columns configurations,
// mean ± std × 100 with significance marks. Paste into a paper with \usepackage{booktabs}.
import type { StabilityReport } from './report-model.ts';

export function latexEscape(text: string): string {
  return text.replace(/[\\&%$#_{}~^]/g, (ch) => {
    switch (ch) {
      case '\\':
        return '\\textbackslash{}';
      case '~':
        return '\\textasciitilde{}';
      case '^':
        return '\\textasciicircum{}';
      default:
        return `\\${ch}`;
    }
  });
}

export function table1Latex(report: StabilityReport): string {
  const t = report.table1;
  const notes: string[] = [];
  const note = (text: string) => {
    let i = notes.indexOf(text);
    if (i < 0) i = notes.push(text) - 1;
    return `\\textsuperscript{${String.fromCharCode(97 + i)}}`;
  };
  const lines: string[] = [];
  lines.push('\\begin{table}[t]', '\\centering', `\\begin{tabular}{l${'c'.repeat(t.columns.length)}}`, '\\toprule');
  lines.push(`Task & ${t.columns.map(latexEscape).join(' & ')} \\\\`, '\\midrule');
  for (const row of t.rows) {
    const cells = row.cells.map((cell) => {
      if (!cell) return `---${note('not run on this task')}`;
      if (cell.mean === null) return `---${note('no succeeded trial with a score')}`;
      const std = cell.std === null ? `---${note('needs at least 2 scored trials')}` : (100 * cell.std).toFixed(1);
      const mark = cell.mark ? `$^{${cell.mark}}$` : '';
      const split = cell.split === 'validation' ? note('validation scores: no test set') : '';
      return `${(100 * cell.mean).toFixed(1)} $\\pm$ ${std}${mark}${split}`;
    });
    lines.push(`${latexEscape(row.task)}${row.metric ? ` (${latexEscape(row.metric)})` : ''} & ${cells.join(' & ')} \\\\`);
  }
  lines.push('\\bottomrule', '\\end{tabular}');
  const levels = report.settings.mark_levels.map((l) => `$^{${l.mark}}$~$p<${l.p}$`).join(', ');
  const footnotes = notes.map((text, i) => ` \\textsuperscript{${String.fromCharCode(97 + i)}}~${latexEscape(text)}.`).join('');
  lines.push(
    `\\caption{Mean $\\pm$ standard deviation ($\\times 100$) over seeds, experiment ${latexEscape(report.experiment.name || report.experiment.id)}. ` +
      `Marks: one-tailed Welch's $t$-test against ${latexEscape(t.baseline ?? 'the baseline')} (${levels}).${footnotes}}`,
    '\\label{tab:ballast-stability}',
    '\\end{table}',
  );
  return `${lines.join('\n')}\n`;
}
