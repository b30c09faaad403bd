// Turns a table's rows into examples: text columns as they are, labels checked against the task's
// label list (classification) or parsed as finite numbers (regression). A bad label stops the load
// with the file and line; no row is skipped.
import { DataError } from './data-error.ts';
import { labelCellText, readTable, requireColumns, textCell, type ReadTableOptions, type Table, type TableFormat } from './read-table.ts';
import type { Example, ProblemType } from './task-data.ts';

export interface ExampleColumns {
  text: string;
  textPair?: string | undefined;
  label: string;
}

export interface LabelScheme {
  problemType: ProblemType;
  /** Classification: label values in id order. */
  labels?: readonly string[] | undefined;
}

const NUMBER = /^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$/;

export function examplesFromTable(table: Table, columns: ExampleColumns, scheme: LabelScheme): Example[] {
  requireColumns(table, [columns.text, columns.textPair, columns.label]);
  const labelIds = new Map<string, number>();
  if (scheme.problemType === 'classification') {
    if (!scheme.labels || scheme.labels.length < 2) throw new Error('a classification task needs at least two labels');
    scheme.labels.forEach((label, id) => labelIds.set(label, id));
  }
  const examples: Example[] = [];
  for (const row of table.rows) {
    const textA = textCell(table, row, columns.text);
    const textB = columns.textPair !== undefined ? textCell(table, row, columns.textPair) : undefined;
    let label: number;
    if (scheme.problemType === 'classification') {
      const raw = labelCellText(table, row, columns.label);
      const id = labelIds.get(raw) ?? labelIds.get(raw.trim());
      if (id === undefined) {
        throw new DataError(table.file, row.line, `label ${JSON.stringify(raw)} in column '${columns.label}' is not one of ${[...labelIds.keys()].map((l) => JSON.stringify(l)).join(', ')}`);
      }
      label = id;
    } else {
      const cell = row.cells[columns.label];
      label = typeof cell === 'number' ? cell : typeof cell === 'string' && NUMBER.test(cell) ? Number(cell) : Number.NaN;
      if (!Number.isFinite(label)) {
        throw new DataError(table.file, row.line, `score ${JSON.stringify(cell)} in column '${columns.label}' is not a finite number`);
      }
    }
    examples.push(textB !== undefined ? { textA, textB, label, line: row.line } : { textA, label, line: row.line });
  }
  return examples;
}

export function readExamples(file: string, format: TableFormat, columns: ExampleColumns, scheme: LabelScheme, options: ReadTableOptions = {}): Example[] {
  const keep = [columns.text, columns.label, ...(columns.textPair !== undefined ? [columns.textPair] : [])];
  return examplesFromTable(readTable(file, format, { ...options, keep }), columns, scheme);
}
