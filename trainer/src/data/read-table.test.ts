import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DataError } from './data-error.ts';
import { labelCellText, parseTable, readTable, requireColumns, textCell } from './read-table.ts';

const isDataError = (line: number | undefined, pattern: RegExp) => (e: unknown) =>
  e instanceof DataError && e.file === 'f' && e.line === line && pattern.test(e.message) && e.message.startsWith(`f${line !== undefined ? `:${line}` : ''}: `);

describe('tsv', () => {
  test('header, rows, line numbers', () => {
    const t = parseTable('a\tb\n1\tx\n2\ty\n', 'tsv', 'f');
    assert.deepEqual(t.columns, ['a', 'b']);
    assert.deepEqual(t.rows, [
      { line: 2, cells: { a: '1', b: 'x' } },
      { line: 3, cells: { a: '2', b: 'y' } },
    ]);
  });

  test('quotes are plain characters: no row is merged or dropped', () => {
    const t = parseTable('s\tl\n" The pie\t1\nsaid " 100 percent\t0\n"\t1\n', 'tsv', 'f');
    assert.deepEqual(t.rows.map((r) => r.cells.s), ['" The pie', 'said " 100 percent', '"']);
  });

  test('BOM, CRLF, no trailing newline, trailing blank lines', () => {
    const t = parseTable('\ufeffQuality\tx\r\n1\ta\r\n0\tb', 'tsv', 'f');
    assert.deepEqual(t.columns, ['Quality', 'x']);
    assert.deepEqual(t.rows.map((r) => [r.line, r.cells.Quality, r.cells.x]), [[2, '1', 'a'], [3, '0', 'b']]);
    assert.equal(parseTable('a\n1\n\n\n', 'tsv', 'f').rows.length, 1);
  });

  test('no header: columns are numbered, every line is a row', () => {
    const t = parseTable('gj04\t1\t\tA sentence.\ngj04\t0\t*\tAnother.', 'tsv', 'f', { header: false });
    assert.deepEqual(t.columns, ['0', '1', '2', '3']);
    assert.deepEqual(t.rows.map((r) => [r.line, r.cells['1'], r.cells['3']]), [[1, '1', 'A sentence.'], [2, '0', 'Another.']]);
  });

  test('a row with the wrong number of columns is an error naming the line', () => {
    assert.throws(() => parseTable('a\tb\n1\tx\n2\n', 'tsv', 'f'), isDataError(3, /expected 2 tab-separated columns \(as the header\), found 1/));
    assert.throws(() => parseTable('a\tb\n1\tx\ty\n', 'tsv', 'f'), isDataError(2, /found 3/));
    assert.throws(() => parseTable('a\tb\n1\tx\n\n2\ty\n', 'tsv', 'f'), isDataError(3, /found 1/)); // blank line in the middle
    assert.throws(() => parseTable('1\tx\n2\n', 'tsv', 'f', { header: false }), isDataError(2, /as the first line/));
  });

  test('empty file, duplicate header', () => {
    assert.throws(() => parseTable('', 'tsv', 'f'), isDataError(undefined, /empty/));
    assert.throws(() => parseTable('\ufeff\n\n', 'tsv', 'f'), isDataError(undefined, /empty/));
    assert.throws(() => parseTable('a\ta\n1\t2\n', 'tsv', 'f'), isDataError(1, /column 'a' twice/));
  });
});

describe('csv', () => {
  test('RFC 4180: quoted commas, doubled quotes, newlines inside quotes; lines of multi-line rows', () => {
    const t = parseTable('text,label\n"a, b",1\n"he said ""hi""",0\n"two\nlines",1\nplain,0\n', 'csv', 'f');
    assert.deepEqual(t.rows.map((r) => [r.line, r.cells.text, r.cells.label]), [
      [2, 'a, b', '1'],
      [3, 'he said "hi"', '0'],
      [4, 'two\nlines', '1'],
      [6, 'plain', '0'],
    ]);
  });

  test('BOM, CRLF (also mixed), no trailing newline, trailing blank lines', () => {
    const t = parseTable('\ufefftext,label\r\nx,1\ny,0\r\n\r\n', 'csv', 'f');
    assert.deepEqual(t.columns, ['text', 'label']);
    assert.deepEqual(t.rows.map((r) => [r.line, r.cells.text]), [[2, 'x'], [3, 'y']]);
    assert.equal(parseTable('t,l\nx,1', 'csv', 'f').rows.length, 1);
  });

  test('wrong column count, blank line, unclosed quote, stray quote are errors with lines', () => {
    assert.throws(() => parseTable('t,l\nx,1\ny\n', 'csv', 'f'), isDataError(3, /expected 2 comma-separated columns/));
    assert.throws(() => parseTable('t,l\nx,1\n\ny,0\n', 'csv', 'f'), isDataError(3, /found 1/));
    assert.throws(() => parseTable('t,l\nx,1\n"y,0\n', 'csv', 'f'), (e: unknown) => e instanceof DataError && /invalid CSV: Quote Not Closed/.test(e.message));
    assert.throws(() => parseTable('t,l\nx,1\ny"z",0\n', 'csv', 'f'), isDataError(3, /invalid CSV/));
  });
});

describe('jsonl', () => {
  test('objects with any values, line numbers, CRLF, BOM', () => {
    const t = parseTable('\ufeff{"text": "a", "label": 1}\r\n{"text": "b\\tc", "label": "neg", "extra": null}\n', 'jsonl', 'f');
    assert.deepEqual(t.columns, ['text', 'label']);
    assert.deepEqual(t.rows, [
      { line: 1, cells: { text: 'a', label: 1 } },
      { line: 2, cells: { text: 'b\tc', label: 'neg', extra: null } },
    ]);
  });

  test('invalid JSON, non-objects and blank lines in the middle are errors with lines', () => {
    assert.throws(() => parseTable('{"a":1}\n{"a":\n', 'jsonl', 'f'), isDataError(2, /invalid JSON/));
    assert.throws(() => parseTable('{"a":1}\n[1]\n', 'jsonl', 'f'), isDataError(2, /expected a JSON object/));
    assert.throws(() => parseTable('{"a":1}\n\n{"a":2}\n', 'jsonl', 'f'), isDataError(2, /blank line/));
  });
});

describe('cells', () => {
  test('textCell and labelCellText check type and presence', () => {
    const t = parseTable('{"text": "a", "label": 1, "n": null, "o": {"x": 1}, "flag": true}\n{"label": 0}', 'jsonl', 'f');
    const [r1, r2] = t.rows;
    assert.ok(r1 && r2);
    assert.equal(textCell(t, r1, 'text'), 'a');
    assert.equal(labelCellText(t, r1, 'label'), '1');
    assert.equal(labelCellText(t, r1, 'flag'), 'true');
    assert.throws(() => textCell(t, r2, 'text'), isDataError(2, /no column 'text'/));
    assert.throws(() => textCell(t, r1, 'label'), isDataError(1, /should be text, found 1/));
    assert.throws(() => labelCellText(t, r1, 'n'), isDataError(1, /should be a label, found null/));
    assert.throws(() => labelCellText(t, r1, 'o'), isDataError(1, /should be a label/));
  });

  test('requireColumns lists the columns there are', () => {
    const t = parseTable('sentence\tlabel\nx\t1\n', 'tsv', 'f');
    assert.throws(() => requireColumns(t, ['sentence', 'lable']), isDataError(undefined, /no column 'lable' \(columns: sentence, label\)/));
    requireColumns(t, ['sentence', undefined, 'label']);
  });
});

describe('readTable', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-table-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('reads a file and names it in errors', () => {
    const file = join(dir, 'x.tsv');
    writeFileSync(file, 'a\tb\n1\t2\n3\n');
    assert.throws(() => readTable(file, 'tsv'), (e: unknown) => e instanceof DataError && e.file === file && e.line === 3);
    assert.throws(() => readTable(join(dir, 'missing.tsv'), 'tsv'), (e: unknown) => e instanceof DataError && /no such file/.test(e.message));
  });

  test('reading a file line by line gives what parsing its text gives (BOM, CRLF, blanks, UTF-8)', () => {
    const texts = {
      tsv: '\ufeffa\tb\r\nCafé 東京 😀\t1\r\n\t\n"q\t2\n\n \n',
      jsonl: '\ufeff{"t": "é"}\r\n{"t": "x"}\n\n',
    };
    for (const format of ['tsv', 'jsonl'] as const) {
      const file = join(dir, `same.${format}`);
      writeFileSync(file, texts[format]);
      assert.deepEqual(readTable(file, format), parseTable(texts[format], format, file), format);
    }
    const tsv = readTable(join(dir, 'same.tsv'), 'tsv');
    assert.deepEqual(tsv.rows.map((r) => [r.line, r.cells.a]), [[2, 'Café 東京 😀'], [3, ''], [4, '"q']]);
    const middle = join(dir, 'middle.tsv');
    writeFileSync(middle, 'a\tb\n1\t2\n\n3\t4\n');
    assert.throws(() => readTable(middle, 'tsv'), (e: unknown) => e instanceof DataError && e.line === 3);
  });

  test('bytes that are not UTF-8 are an error with the line, not replaced', () => {
    const file = join(dir, 'latin1.tsv');
    writeFileSync(file, Buffer.concat([Buffer.from('a\tb\nok\t1\ncaf'), Buffer.from([0xe9]), Buffer.from('\t0\n')]));
    assert.throws(() => readTable(file, 'tsv'), (e: unknown) => e instanceof DataError && e.file === file && e.line === 3 && /not valid UTF-8/.test(e.message));
    const csv = join(dir, 'latin1.csv');
    writeFileSync(csv, Buffer.concat([Buffer.from('a,b\ncaf'), Buffer.from([0xe9]), Buffer.from(',0\n')]));
    assert.throws(() => readTable(csv, 'csv'), /not valid UTF-8/);
  });

  test('keep: only the named cells are held, every row is still checked in full', () => {
    const file = join(dir, 'wide.tsv');
    writeFileSync(file, 'id\tparse\ttext\tlabel\n1\t(S (NP x))\tx\tyes\n');
    assert.deepEqual(readTable(file, 'tsv', { keep: ['text', 'label'] }).rows, [{ line: 2, cells: { text: 'x', label: 'yes' } }]);
    writeFileSync(file, 'id\tparse\ttext\tlabel\n1\t(S (NP x))\tx\n');
    assert.throws(() => readTable(file, 'tsv', { keep: ['text'] }), (e: unknown) => e instanceof DataError && e.line === 2);
    const jsonl = join(dir, 'wide.jsonl');
    writeFileSync(jsonl, '{"text": "x", "tree": "(S)", "label": 1}\n');
    assert.deepEqual(readTable(jsonl, 'jsonl', { keep: ['text', 'label'] }).rows[0]?.cells, { text: 'x', label: 1 });
    assert.deepEqual(parseTable('text,tree\nx,y\n', 'csv', 'f', { keep: ['text'] }).rows[0]?.cells, { text: 'x' });
  });
});
