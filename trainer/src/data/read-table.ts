// Reads a data file into rows of named cells, keeping the 1-based line where each row starts so that
// every later complaint (a bad label, an empty text) can point at it. Three formats:
// - tsv: split on `\n`, then on `\t`. No quote handling at all: GLUE's files contain bare `"` in
//   sentences, and a quote-aware reader silently merges rows (STS-B train 5711 instead of 5749).
// - csv: RFC 4180 (quoted fields, `""` escapes, newlines inside quotes) through csv-parse.
// - jsonl: one JSON object per line.
// All formats: a UTF-8 byte-order mark is stripped, CRLF is accepted, a missing final newline is
// fine, blank lines at the very end are ignored, and anything else that does not fit (a row with
// the wrong number of columns, a blank line in the middle, a line that is not a JSON object) is a
// DataError naming file and line. Nothing is ever dropped.
import { readFileSync } from 'node:fs';
import { parse as parseCsv } from 'csv-parse/sync';
import { DataError } from './data-error.ts';

export type TableFormat = 'tsv' | 'csv' | 'jsonl';

/** A cell as read: text for tsv and csv; any JSON value for jsonl. */
export type Cell = string | number | boolean | null | object;

export interface TableRow {
  /** 1-based line of the file where the row starts. */
  line: number;
  cells: Readonly<Record<string, Cell>>;
}

export interface Table {
  file: string;
  format: TableFormat;
  /** Header names; `0`, `1`, … for a file without a header; for jsonl, the first object's keys. */
  columns: readonly string[];
  rows: TableRow[];
}

export interface ReadTableOptions {
  /** tsv and csv: whether the first line names the columns (default true). */
  header?: boolean;
  /**
   * Keep only these columns' cells (every row is still checked in full). MNLI's train.tsv runs to
   * hundreds of megabytes, mostly parse trees nobody reads; projecting while reading keeps memory
   * to the texts.
   */
  keep?: readonly string[];
}

export function readTable(file: string, format: TableFormat, options: ReadTableOptions = {}): Table {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new DataError(file, undefined, code === 'ENOENT' ? 'no such file' : `cannot read: ${String(cause)}`, { cause });
  }
  // tsv and jsonl are decoded line by line, so a big file never exists as one giant string.
  if (format === 'csv') {
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch (cause) {
      throw new DataError(file, undefined, 'not valid UTF-8', { cause });
    }
    return parseTable(text, format, file, options);
  }
  return parseLines(bufferLines(bytes, file), format, file, options);
}

/** Parses a file's text; `file` is only used in errors. */
export function parseTable(text: string, format: TableFormat, file: string, options: ReadTableOptions = {}): Table {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (format === 'csv') return parseCsvTable(text, file, options);
  return parseLines(textLines(text), format, file, options);
}

function parseLines(lines: Iterable<string>, format: 'tsv' | 'jsonl', file: string, options: ReadTableOptions): Table {
  switch (format) {
    case 'tsv':
      return parseTsv(dropTrailingBlankLines(lines), file, options);
    case 'jsonl':
      return parseJsonl(dropTrailingBlankLines(lines), file, options);
    default: {
      const never: never = format;
      throw new DataError(file, undefined, `unknown format '${String(never)}'`);
    }
  }
}

/**
 * The lines of a UTF-8 buffer, BOM and line terminators (LF or CRLF) removed. Bytes that are not
 * UTF-8 are an error with their line (as Python's `open(encoding='utf-8')` would raise), not
 * silently replaced by U+FFFD, which the tokenizer would then delete.
 */
function* bufferLines(bytes: Buffer, file: string): Generator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let start = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  let line = 0;
  while (start <= bytes.length) {
    line++;
    let end = bytes.indexOf(10, start);
    if (end === -1) end = bytes.length;
    const stop = end > start && bytes[end - 1] === 13 ? end - 1 : end;
    try {
      yield decoder.decode(bytes.subarray(start, stop));
    } catch (cause) {
      throw new DataError(file, line, 'not valid UTF-8', { cause });
    }
    start = end + 1;
  }
}

function* textLines(text: string): Generator<string> {
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    yield text.slice(start, end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end);
    start = end + 1;
  }
}

/** Blank lines are held back until a non-blank line follows; those at the end of the file are dropped. */
function* dropTrailingBlankLines(lines: Iterable<string>): Generator<string> {
  const pending: string[] = [];
  for (const line of lines) {
    if (line.trim() === '') {
      pending.push(line);
      continue;
    }
    yield* pending;
    pending.length = 0;
    yield line;
  }
}

function headerColumns(names: string[], file: string): string[] {
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) throw new DataError(file, 1, `the header names column '${name}' twice`);
    seen.add(name);
  }
  return names;
}

function rowFromCells(columns: readonly string[], values: readonly string[], keep: ReadonlySet<string> | undefined): Record<string, Cell> {
  const cells: Record<string, Cell> = {};
  for (let c = 0; c < columns.length; c++) {
    const column = columns[c] as string;
    if (keep === undefined || keep.has(column)) cells[column] = values[c] as string;
  }
  return cells;
}

function parseTsv(lines: Iterable<string>, file: string, options: ReadTableOptions): Table {
  const header = options.header ?? true;
  const keep = options.keep ? new Set(options.keep) : undefined;
  let columns: string[] | undefined;
  const rows: TableRow[] = [];
  let line = 0;
  for (const text of lines) {
    line++;
    const values = text.split('\t');
    if (columns === undefined) {
      columns = header ? headerColumns(values, file) : values.map((_, c) => String(c));
      if (header) continue;
    }
    if (values.length !== columns.length) {
      throw new DataError(file, line, `expected ${columns.length} tab-separated columns${header ? ' (as the header)' : ' (as the first line)'}, found ${values.length}`);
    }
    rows.push({ line, cells: rowFromCells(columns, values, keep) });
  }
  if (columns === undefined) throw new DataError(file, undefined, 'the file is empty');
  return { file, format: 'tsv', columns, rows };
}

interface CsvRecord {
  record: string[];
  raw: string;
  info: { lines: number };
}

function parseCsvTable(text: string, file: string, options: ReadTableOptions): Table {
  const header = options.header ?? true;
  const keep = options.keep ? new Set(options.keep) : undefined;
  // Blank lines at the end carry no data; drop them before csv-parse sees them as empty records.
  text = text.replace(/(?:\r?\n[ \t]*)+$/, '\n');
  let records: CsvRecord[];
  try {
    records = parseCsv(text, {
      info: true,
      raw: true,
      record_delimiter: ['\r\n', '\n'],
      relax_column_count: true,
      skip_empty_lines: false,
    }) as unknown as CsvRecord[];
  } catch (cause) {
    const lines = (cause as { lines?: number }).lines;
    throw new DataError(file, typeof lines === 'number' ? lines : undefined, `invalid CSV: ${(cause as Error).message}`, { cause });
  }
  if (records.length === 0) throw new DataError(file, undefined, 'the file is empty');
  // csv-parse reports the line where a record ends; a quoted field may span lines.
  const startLine = (r: CsvRecord) => r.info.lines - (r.raw.replace(/\r?\n$/, '').match(/\n/g)?.length ?? 0);
  const first = records[0] as CsvRecord;
  const columns = header ? headerColumns(first.record, file) : first.record.map((_, c) => String(c));
  const rows: TableRow[] = [];
  for (let i = header ? 1 : 0; i < records.length; i++) {
    const r = records[i] as CsvRecord;
    const line = startLine(r);
    if (r.record.length !== columns.length) {
      throw new DataError(file, line, `expected ${columns.length} comma-separated columns${header ? ' (as the header)' : ' (as the first line)'}, found ${r.record.length}`);
    }
    rows.push({ line, cells: rowFromCells(columns, r.record, keep) });
  }
  return { file, format: 'csv', columns, rows };
}

function parseJsonl(lines: Iterable<string>, file: string, options: ReadTableOptions): Table {
  const keep = options.keep ? new Set(options.keep) : undefined;
  const rows: TableRow[] = [];
  let columns: string[] | undefined;
  let line = 0;
  for (const text of lines) {
    line++;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (cause) {
      throw new DataError(file, line, text.trim() === '' ? 'blank line' : `invalid JSON: ${(cause as Error).message}`, { cause });
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new DataError(file, line, 'expected a JSON object');
    }
    columns ??= Object.keys(value);
    let cells = value as Record<string, Cell>;
    if (keep !== undefined) {
      cells = {};
      for (const key of keep) if (Object.hasOwn(value, key)) cells[key] = (value as Record<string, Cell>)[key] as Cell;
    }
    rows.push({ line, cells });
  }
  if (columns === undefined) throw new DataError(file, undefined, 'the file is empty');
  return { file, format: 'jsonl', columns, rows };
}

/** A text cell; a missing key, null or non-string is a DataError naming the line and column. */
export function textCell(table: Table, row: TableRow, column: string): string {
  const cell = row.cells[column];
  if (typeof cell === 'string') return cell;
  if (cell === undefined) throw new DataError(table.file, row.line, `no column '${column}'`);
  throw new DataError(table.file, row.line, `column '${column}' should be text, found ${JSON.stringify(cell)}`);
}

/** A label cell as text, so that jsonl `1` and tsv `1` both match the label `'1'`. */
export function labelCellText(table: Table, row: TableRow, column: string): string {
  const cell = row.cells[column];
  if (typeof cell === 'string') return cell;
  if (typeof cell === 'number' || typeof cell === 'boolean') return String(cell);
  if (cell === undefined) throw new DataError(table.file, row.line, `no column '${column}'`);
  throw new DataError(table.file, row.line, `column '${column}' should be a label, found ${JSON.stringify(cell)}`);
}

/** Checks that every named column exists, before any row is read, so a typo fails with the list. */
export function requireColumns(table: Table, columns: ReadonlyArray<string | undefined>): void {
  if (table.format === 'jsonl') return; // keys are checked per line
  for (const column of columns) {
    if (column !== undefined && !table.columns.includes(column)) {
      throw new DataError(table.file, undefined, `no column '${column}' (columns: ${table.columns.join(', ')})`);
    }
  }
}
