// `ballast report` as users run it: a results.json (or the run directory holding it) in, the four
// files out next to it; bad input exits 2 with the file and field named.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { syntheticResults } from '../coordinator/src/report/testing/synthetic-results.ts';

const BIN = fileURLToPath(new URL('../bin/ballast.mjs', import.meta.url));
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function ballast(...args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
}

test('ballast report RESULTS.json writes html, md, json and tex beside it; a run directory works too', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ballast-report-cli-'));
  dirs.push(dir);
  const results = await syntheticResults({
    configurations: [
      { label: 'bertadam', sweep_values: { optimizer: 'bertadam' }, mean: 0.66, std: 0.02, degenerateRate: 0.3 },
      { label: 'adamw', sweep_values: { optimizer: 'adamw' }, mean: 0.7, std: 0.015 },
    ],
    seeds: 5,
    metricsDir: dir,
    totalSteps: 40,
  });
  await writeFile(join(dir, 'results.json'), JSON.stringify(results));
  const run = ballast('report', join(dir, 'results.json'), '--json', '--bootstrap-repetitions', '100');
  assert.equal(run.status, 0, run.stderr);
  const paths = JSON.parse(run.stdout);
  assert.deepEqual(paths, { html: join(dir, 'report.html'), md: join(dir, 'report.md'), json: join(dir, 'report.json'), latex: join(dir, 'table1.tex') });
  const report = JSON.parse(await readFile(paths.json, 'utf8'));
  assert.equal(report.settings.bootstrap_repetitions, 100);
  assert.equal(report.tasks[0].configurations[0].training_loss.trials_with_metrics, 5, 'relative metrics paths resolved against the results file');

  const fromDir = ballast('report', dir, '--json', '--bootstrap-repetitions', '100');
  assert.equal(fromDir.status, 0, fromDir.stderr);
  assert.equal(JSON.parse(fromDir.stdout).html, join(dir, 'report', 'report.html'), 'a run directory gets RUN_DIR/report, as `ballast run --report` writes it');

  const out = join(dir, 'elsewhere');
  const again = ballast('report', dir, '--out', out, '--baseline', 'optimizer=adamw');
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /10\/10 trials succeeded/);
  assert.ok(existsSync(join(out, 'report.html')));
  assert.match(await readFile(join(out, 'report.md'), 'utf8'), /against optimizer=adamw/);
});

test('bad input: exit 2, naming the file and the field', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ballast-report-cli-'));
  dirs.push(dir);
  const bad = join(dir, 'results.json');
  await writeFile(bad, JSON.stringify({ experiment: { id: 'e' }, trials: [{ id: 't1', configuration: 'c', state: 'succeeded', result: { task: {} } }] }));
  const r1 = ballast('report', bad);
  assert.equal(r1.status, 2);
  assert.match(r1.stderr, new RegExp(`${bad}: trials\\[0\\]\\.result\\.task\\.name`));
  await writeFile(bad, '{"experiment": ');
  const r2 = ballast('report', bad);
  assert.equal(r2.status, 2);
  assert.match(r2.stderr, /not valid JSON/);
  const r3 = ballast('report', join(dir, 'missing.json'));
  assert.equal(r3.status, 2);
  assert.match(r3.stderr, /missing\.json: no such file/);
  const r4 = ballast('report', bad, '--seed', '-1');
  assert.equal(r4.status, 2);
  assert.match(r4.stderr, /--seed/);
});
