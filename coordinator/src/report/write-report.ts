// The report's entry point: `writeReport(results, outDir)` computes the statistics, renders the
// figures and writes report.json, report.md, report.html and table1.tex. `ballast report` and
// `ballast run` (at the end of a sweep) both call it.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExperimentResults } from '../results/experiment-results.ts';
import { buildReport, type ReportOptions } from './analyze.ts';
import { taskPlots } from './plots.ts';
import { renderSvg } from './render-svg.ts';
import type { StabilityReport } from './report-model.ts';
import { renderHtml, type RenderedPlot } from './write-html.ts';
import { table1Latex } from './write-latex.ts';
import { renderMarkdown } from './write-markdown.ts';

export type { ReportOptions };

export interface WrittenReport {
  html: string;
  md: string;
  json: string;
  latex: string;
  report: StabilityReport;
}

/** JSON with a guard: a NaN or infinite number is a bug in the report, never written silently. */
export function reportJson(report: StabilityReport): string {
  return `${JSON.stringify(
    report,
    (key, value) => {
      if (typeof value === 'number' && !Number.isFinite(value)) throw new RangeError(`report.json: non-finite number at key '${key}'`);
      return value;
    },
    1,
  )}\n`;
}

export async function renderPlots(report: StabilityReport): Promise<Map<string, RenderedPlot[]>> {
  const out = new Map<string, RenderedPlot[]>();
  for (const task of report.tasks) {
    const rendered: RenderedPlot[] = [];
    for (const plot of taskPlots(task)) rendered.push({ plot, svg: plot.points > 0 ? await renderSvg(plot.spec) : null });
    out.set(task.task, rendered);
  }
  return out;
}

/** Writes each file whole (temp file + rename) so a reader never sees half a report. */
async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

export async function writeReport(results: ExperimentResults, outDir: string, options: ReportOptions = {}): Promise<WrittenReport> {
  const report = await buildReport(results, options);
  const plots = await renderPlots(report);
  await mkdir(outDir, { recursive: true });
  const paths = { html: join(outDir, 'report.html'), md: join(outDir, 'report.md'), json: join(outDir, 'report.json'), latex: join(outDir, 'table1.tex') };
  await writeAtomic(paths.json, reportJson(report));
  await writeAtomic(paths.md, renderMarkdown(report));
  await writeAtomic(paths.latex, table1Latex(report));
  await writeAtomic(paths.html, renderHtml(report, plots));
  return { ...paths, report };
}
