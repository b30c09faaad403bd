// Time to write the stability report of a large sweep: tasks × configurations × seeds synthetic
// trials, each with a metrics.jsonl of --steps lines. Prints each stage and its ratio to the
// reference measured in the same process: reading and JSON-parsing the same results.json, the
// floor any report pays.
//
//   node --import tsx bench/report-generation.ts [--tasks 4] [--configs 8] [--seeds 50] [--steps 2000]
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildReport } from '../coordinator/src/report/analyze.ts';
import { syntheticResults } from '../coordinator/src/report/testing/synthetic-results.ts';
import { renderPlots, writeReport } from '../coordinator/src/report/write-report.ts';
import type { TaskName } from '../trainer/src/config/trial-config.ts';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '4' },
    configs: { type: 'string', default: '8' },
    seeds: { type: 'string', default: '50' },
    steps: { type: 'string', default: '2000' },
  },
});
const taskNames: TaskName[] = ['rte', 'mrpc', 'cola', 'sts-b'];
const tasks = taskNames.slice(0, Number(values.tasks)).map((name) => ({ name }));
const configurations = Array.from({ length: Number(values.configs) }, (_, i) => ({ label: `c${i}`, sweep_values: { reinit_layers: i }, mean: 0.65 + 0.005 * i, std: 0.02, degenerateRate: 0.1 }));

const dir = await mkdtemp(join(tmpdir(), 'ballast-bench-report-'));
try {
  const results = await syntheticResults({ tasks, configurations, seeds: Number(values.seeds), metricsDir: dir, totalSteps: Number(values.steps) });
  const file = join(dir, 'results.json');
  await writeFile(file, JSON.stringify(results));
  const time = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
    const t0 = performance.now();
    const value = await fn();
    return [value, performance.now() - t0];
  };
  const [, loadMs] = await time(async () => JSON.parse(await readFile(file, 'utf8')));
  const [report, buildMs] = await time(() => buildReport(results, { baseDir: dir }));
  const [, noLossMs] = await time(() => buildReport({ ...results, trials: results.trials.map((t) => (t.result ? { ...t, result: { ...t.result, metrics_path: undefined } } : t)) }));
  const [, plotMs] = await time(() => renderPlots(report));
  const [, totalMs] = await time(() => writeReport(results, join(dir, 'out'), { baseDir: dir }));
  const lines = results.trials.length * Number(values.steps);
  const row = (name: string, ms: number) => console.log(`${name.padEnd(44)} ${ms.toFixed(0).padStart(7)} ms  ${(ms / loadMs).toFixed(1).padStart(6)}× reference`);
  console.log(`${results.trials.length} trials (${tasks.length} tasks × ${configurations.length} configurations × ${values.seeds} seeds), ${lines} metrics.jsonl lines`);
  row('reference: read + parse results.json', loadMs);
  row('statistics without loss curves', noLossMs);
  row('statistics + reading every metrics.jsonl', buildMs);
  row(`render ${tasks.length * 4} figures (Vega-Lite → SVG)`, plotMs);
  row('writeReport end to end', totalMs);
} finally {
  await rm(dir, { recursive: true, force: true });
}
