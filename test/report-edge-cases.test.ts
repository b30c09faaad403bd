// The report on awkward sweeps: one seed, every trial degenerate, failed trials, no test set,
// regression, no metrics files, a sweep still running, a factorial of seeds, nothing at all.
// Each must give a complete report: no crash, and no NaN/undefined/Infinity anywhere.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { ExperimentResults } from '../coordinator/src/results/experiment-results.ts';
import { syntheticResults, type SyntheticOptions } from '../coordinator/src/report/testing/synthetic-results.ts';
import { writeReport, type WrittenReport } from '../coordinator/src/report/write-report.ts';
import type { ReportOptions } from '../coordinator/src/report/analyze.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const NOW = () => new Date('2026-11-26T12:00:00.000Z');
const TWO_CONFIGS: SyntheticOptions['configurations'] = [
  { label: 'bertadam', sweep_values: { optimizer: 'bertadam' }, mean: 0.66, std: 0.02, degenerateRate: 0.3 },
  { label: 'adamw', sweep_values: { optimizer: 'adamw' }, mean: 0.7, std: 0.015 },
];

async function report(results: ExperimentResults, options: ReportOptions = {}): Promise<WrittenReport & { md: string; html: string; jsonText: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'ballast-report-edge-'));
  dirs.push(dir);
  const written = await writeReport(results, dir, { now: NOW, bootstrapRepetitions: 200, ciRepetitions: 500, ...options });
  const md = await readFile(written.md, 'utf8');
  const html = await readFile(written.html, 'utf8');
  const jsonText = await readFile(written.json, 'utf8');
  // Reasons and errors are the trainer's free text ("diverged: loss NaN at step 12") and are shown
  // verbatim; every other word of the report must be free of NaN/undefined/Infinity.
  const freeText = results.trials.flatMap((t) => [t.result?.degenerate_reason ?? '', ...t.errors]).filter(Boolean);
  for (const [name, raw] of [['report.md', md], ['report.html', html], ['report.json', jsonText], ['table1.tex', await readFile(written.latex, 'utf8')]] as const) {
    const text = freeText.reduce((acc, reason) => acc.split(reason).join(''), raw);
    assert.doesNotMatch(text, /\bNaN\b|\bundefined\b|Infinity/, `${name} has no NaN/undefined/Infinity`);
  }
  // Every Markdown table row has as many cells as its header.
  const lines = md.split('\n');
  lines.forEach((line, i) => {
    if (!line.startsWith('| ') || !lines[i + 1]?.startsWith('|')) return;
    if (!/^\|( ---:? \|)+$/.test(lines[i + 1] as string)) return;
    const width = line.split(' | ').length;
    for (let j = i + 2; j < lines.length && lines[j]?.startsWith('| '); j++) {
      assert.equal((lines[j] as string).replace(/\\\|/g, '').split(' | ').length, width, `table row width at report.md:${j + 1}: ${lines[j]}`);
    }
  });
  return { ...written, md, html, jsonText };
}

test('one seed: statistics that need two trials show "—" with a footnote', async () => {
  const r = await report(await syntheticResults({ configurations: TWO_CONFIGS.map((c) => ({ ...c, degenerateRate: 0 })), seeds: 1 }));
  const c = r.report.tasks[0]?.configurations[0];
  assert.equal(c?.test?.n, 1);
  assert.equal(c?.test?.std, null);
  assert.equal(c?.expected_max.rows.length, 1);
  const cmp = r.report.tasks[0]?.comparisons[0];
  assert.equal(cmp?.welch, null);
  assert.ok(cmp?.mann_whitney, 'Mann–Whitney still defined');
  assert.match(r.md, /± — \[\d\]/);
  assert.match(r.md, /needs at least 2 scored trials/);
});

test('every trial degenerate: rate 100%, zero spread, tests undefined rather than NaN', async () => {
  const r = await report(await syntheticResults({ configurations: TWO_CONFIGS.map((c) => ({ ...c, degenerateRate: 1 })), seeds: 6 }));
  for (const c of r.report.tasks[0]?.configurations ?? []) {
    assert.equal(c.degenerate.count, 6);
    assert.equal(c.degenerate.rate, 1);
    assert.equal(c.test?.std, 0);
    assert.deepEqual(c.degenerate.reasons, [{ reason: 'predicts the majority class only', count: 6 }]);
  }
  const cmp = r.report.tasks[0]?.comparisons[0];
  assert.equal(cmp?.welch, null, 'no spread on either side');
  assert.equal(cmp?.mann_whitney?.two_sided.p, 1);
  assert.equal(cmp?.wilcoxon, null, 'every paired difference is zero');
  assert.match(r.md, /6 \(100%\)/);
});

test('failed trials are counted, listed with their error, and left out of the statistics', async () => {
  const r = await report(await syntheticResults({ configurations: TWO_CONFIGS, seeds: 5, failed: ['rte/adamw-s2', 'rte/adamw-s4'] }));
  const adamw = r.report.tasks[0]?.configurations.find((c) => c.configuration === 'adamw');
  assert.equal(adamw?.trials.failed, 2);
  assert.equal(adamw?.test?.n, 3);
  assert.equal(r.report.trials.failed, 2);
  assert.match(r.md, /rte\/adamw-s2 \(optimizer=adamw\): out of memory/);
  assert.match(r.html, /rte\/adamw-s4/);
  assert.ok(r.report.notes.some((n) => n.includes('2 trial(s) failed')));
});

test('no test set: validation only, footnoted; mixed test/no-test pairs compare on validation', async () => {
  const r = await report(await syntheticResults({ tasks: [{ name: 'rte', hasTest: false }], configurations: TWO_CONFIGS, seeds: 5 }));
  const c = r.report.tasks[0]?.configurations[0];
  assert.equal(c?.test, null);
  assert.equal(c?.expected_max.scored_on, 'validation');
  assert.equal(r.report.tasks[0]?.comparisons[0]?.split, 'validation');
  assert.match(r.md, /no test set/);
  assert.doesNotMatch(r.md, /test accuracy \(× 100\) over seeds/, 'no empty test table');

  const mixed = await syntheticResults({ configurations: TWO_CONFIGS, seeds: 5 });
  for (const t of mixed.trials) if (t.configuration === 'adamw' && t.result) delete t.result.selected.test;
  const m = await report(mixed);
  const cmp = m.report.tasks[0]?.comparisons[0];
  assert.equal(cmp?.split, 'validation');
  assert.ok(cmp?.notes.some((n) => n.includes('no test set')));
  assert.equal(m.report.table1.rows[0]?.cells[1]?.split, 'validation');
});

test('regression (STS-B Spearman): negative and near-zero scores, constant-prediction degenerate runs', async () => {
  const r = await report(
    await syntheticResults({ tasks: [{ name: 'sts-b' }], configurations: [{ label: 'bertadam', mean: 0.05, std: 0.2, degenerateRate: 0.4 }, { label: 'adamw', mean: 0.86, std: 0.01 }], seeds: 8 }),
  );
  const task = r.report.tasks[0];
  assert.equal(task?.metric, 'spearman');
  assert.equal(task?.problem_type, 'regression');
  assert.equal(task?.configurations[0]?.majority_baseline, null);
  assert.ok((task?.configurations[0]?.test?.min ?? 0) < 0, 'negative correlations are kept');
  assert.match(r.md, /sts-b \(spearman, regression\)/);
});

test('missing metrics.jsonl: the loss figure says why instead of drawing nothing', async () => {
  const r = await report(await syntheticResults({ configurations: TWO_CONFIGS, seeds: 3 }));
  const c = r.report.tasks[0]?.configurations[0];
  assert.equal(c?.training_loss.points.length, 0);
  assert.match(c?.training_loss.note ?? '', /no per-step metrics \(metrics.jsonl\) found for any of the 3 completed trials/);
  assert.match(r.html, /data-plot="rte-training-loss" data-points="0">\n<p class="empty">No data to plot: /);
});

test('metrics.jsonl as the trainer writes it (step and eval records, a torn last line) gives the loss curve', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ballast-report-metrics-'));
  dirs.push(dir);
  const results = await syntheticResults({ configurations: TWO_CONFIGS.slice(1), seeds: 2, metricsDir: dir, totalSteps: 5 });
  const { writeFile } = await import('node:fs/promises');
  const trial = results.trials[0];
  assert.ok(trial?.result?.metrics_path);
  await writeFile(
    join(dir, trial.result.metrics_path),
    [
      { type: 'step', step: 1, epoch: 0, loss: 0.7, lr: 1e-5, grad_norm: 1 },
      { type: 'step', step: 2, epoch: 0, loss: 0.6, lr: 2e-5, grad_norm: 1 },
      { type: 'eval', step: 2, validation: { loss: 0.5, accuracy: 0.6 }, selected: true },
      { type: 'step', step: 3, epoch: 0, loss: null, lr: 2e-5, grad_norm: 1 },
    ]
      .map((x) => JSON.stringify(x))
      .join('\n') + '\n{"type":"step","st',
  );
  const r = await report(results, { baseDir: dir });
  const loss = r.report.tasks[0]?.configurations[0]?.training_loss;
  assert.equal(loss?.trials_with_metrics, 2);
  assert.deepEqual(loss?.points.slice(0, 2).map((p) => p.n), [2, 2]);
  assert.equal(loss?.note, null, 'a torn last line is tolerated silently');
});

test('a sweep still running: pending trials are counted and noted', async () => {
  const results = await syntheticResults({ configurations: TWO_CONFIGS, seeds: 4 });
  for (const t of results.trials.slice(0, 3)) {
    t.state = 'running';
    delete t.result;
  }
  const r = await report(results);
  assert.equal(r.report.trials.pending, 3);
  assert.ok(r.report.notes[0]?.includes('3 of 8 trials were still queued or running'));
});

test('init × data factorial: two-way ANOVA shares add up to 1', async () => {
  const r = await report(await syntheticResults({ configurations: TWO_CONFIGS.slice(1), factorial: { init: [1, 2, 3, 4], data: [11, 12, 13] } }));
  const v = r.report.tasks[0]?.configurations[0]?.variance_by_factor;
  assert.ok(v?.anova, v?.reason ?? '');
  assert.deepEqual(v.anova.levels, { init: 4, data: 3, replicates: 1 });
  const total = v.anova.terms.reduce((s, t) => s + (t.share ?? 0), 0);
  assert.ok(Math.abs(total - 1) < 1e-9, `shares sum to ${total}`);
  assert.match(r.md, /variance by factor/);
});

test('nothing to report: no trials, or every trial failed, still writes a complete report', async () => {
  const empty = await report({ experiment: { id: 'e0', name: '', state: 'queued', created_at: '' }, trials: [], summary: [] });
  assert.equal(empty.report.tasks.length, 0);
  const failed = await syntheticResults({ configurations: TWO_CONFIGS, seeds: 2, failed: ['rte/bertadam-s1', 'rte/bertadam-s2', 'rte/adamw-s1', 'rte/adamw-s2'] });
  const r = await report(failed);
  assert.equal(r.report.tasks[0]?.metric, null);
  assert.match(r.md, /no trial of this task completed/);
});

test('the same results and seed give the same report; another seed moves only the bootstraps', async () => {
  const results = await syntheticResults({ configurations: TWO_CONFIGS, seeds: 8 });
  const a = await report(results);
  const b = await report(results);
  assert.equal(a.jsonText, b.jsonText);
  assert.equal(a.md, b.md);
  const c = await report(results, { seed: 5 });
  assert.notEqual(c.jsonText, a.jsonText);
  assert.deepEqual(c.report.tasks[0]?.configurations[0]?.test, a.report.tasks[0]?.configurations[0]?.test);
});

test('an unknown --baseline is a clear error', async () => {
  await assert.rejects(report(await syntheticResults({ configurations: TWO_CONFIGS, seeds: 2 }), { baseline: 'sgd' }), /baseline 'sgd' is not a configuration column/);
});

test('a succeeded trial without a finite score is left out and named in a note', async () => {
  const results = await syntheticResults({ configurations: TWO_CONFIGS, seeds: 4 });
  const trial = results.trials[1];
  assert.ok(trial?.result);
  delete trial.result.selected.validation.accuracy;
  const r = await report(results);
  assert.equal(r.report.tasks[0]?.configurations[0]?.validation.n, 3);
  assert.match(r.report.tasks[0]?.notes[0] ?? '', new RegExp(`1 succeeded trial\\(s\\) have no finite validation accuracy.*${trial.id}`));
});

test('a diverged trial is counted as diverged and degenerate; a null score (NaN on the wire) is left out', async () => {
  const results = await syntheticResults({ configurations: TWO_CONFIGS.slice(1), seeds: 4 });
  const [first, second] = results.trials;
  assert.ok(first?.result && second?.result);
  first.result.diverged = { step: 12, loss: Number.NaN };
  first.result.degenerate = true;
  first.result.degenerate_reason = 'diverged: loss NaN at step 12';
  second.result.diverged = { step: 30, loss: Number.POSITIVE_INFINITY };
  second.result.degenerate = true;
  second.result.degenerate_reason = 'diverged: loss Infinity at step 30';
  (second.result.selected.validation as unknown as Record<string, unknown>).accuracy = null;
  // Through JSON as results.json carries it: NaN and Infinity become null.
  const { parseExperimentResults } = await import('../coordinator/src/report/read-results.ts');
  const r = await report(parseExperimentResults(JSON.parse(JSON.stringify(results)), 'results.json'));
  const c = r.report.tasks[0]?.configurations[0];
  assert.equal(c?.diverged, 2);
  assert.equal(c?.degenerate.count, 2);
  assert.equal(c?.validation.n, 3);
  assert.match(r.md, /diverged: loss NaN at step 12 ×1/);
});
