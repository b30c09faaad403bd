import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { aggregateSeries, locateMetricsFile, readLossFile } from './curves.ts';

test('aggregateSeries: mean, min, max and count per step; long curves averaged into windows', () => {
  const a = new Map([[1, 1], [2, 2], [3, 3]]);
  const b = new Map([[1, 3], [2, 4]]);
  assert.deepEqual(aggregateSeries([a, b]), [
    { step: 1, mean: 2, min: 1, max: 3, n: 2 },
    { step: 2, mean: 3, min: 2, max: 4, n: 2 },
    { step: 3, mean: 3, min: 3, max: 3, n: 1 },
  ]);
  const long = new Map(Array.from({ length: 1000 }, (_, i) => [i + 1, i + 1] as [number, number]));
  const points = aggregateSeries([long], 100);
  assert.equal(points.length, 100);
  assert.deepEqual(points[0], { step: 10, mean: 5.5, min: 1, max: 10, n: 1 });
});

test('readLossFile: step records only; a bad line mid-file is reported with its line number, a torn last line is not', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ballast-curves-'));
  try {
    const file = join(dir, 'metrics.jsonl');
    await writeFile(file, ['{"type":"step","step":1,"loss":0.7,"lr":0}', 'garbage', '', '{"type":"eval","step":1,"validation":{"loss":0.1}}', '{"step":2,"loss":0.5,"lr":0}', '{"step":3,"lo'].join('\n'));
    const read = await readLossFile(file);
    assert.deepEqual([...read.series], [[1, 0.7], [2, 0.5]]);
    assert.deepEqual(read.problems, [`${file}:2: not JSON`]);
    assert.equal(await locateMetricsFile('metrics.jsonl', dir), file);
    assert.equal(await locateMetricsFile(join(dir, 'nope.jsonl'), dir), null);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
