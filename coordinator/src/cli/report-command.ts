// `ballast report EXPERIMENT_ID | RESULTS.json [--out DIR]`: the stability report of a sweep, from
// a results file or fetched from the coordinator.
import { stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../../cli/main.ts';
import { parseExperimentResults, readResultsFile } from '../report/read-results.ts';
import { writeReport } from '../report/write-report.ts';
import type { ExperimentResults } from '../results/experiment-results.ts';

interface ReportFlags {
  out?: string;
  coordinator?: string;
  seed: string;
  bootstrapRepetitions: string;
  ciRepetitions: string;
  baseline?: string;
  json?: boolean;
}

async function isFile(path: string): Promise<'file' | 'dir' | null> {
  try {
    const s = await stat(path);
    return s.isDirectory() ? 'dir' : 'file';
  } catch {
    return null;
  }
}

function nonNegativeInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag}: expected a non-negative integer, got '${value}'`);
  return n;
}

/** A results file, a directory holding results.json (what `ballast run` writes), or an experiment id. */
async function loadResults(target: string, coordinator: string | undefined): Promise<{ results: ExperimentResults; baseDir?: string; defaultOut: string }> {
  const kind = await isFile(target);
  if (kind === 'dir') {
    const file = join(target, 'results.json');
    if ((await isFile(file)) !== 'file') throw new UsageError(`${target} is a directory without results.json`);
    // The layout `ballast run --report` writes: RUN_DIR/results.json and RUN_DIR/report/.
    return { results: await readResultsFile(file), baseDir: resolve(target), defaultOut: join(target, 'report') };
  }
  if (kind === 'file') return { results: await readResultsFile(target), baseDir: dirname(resolve(target)), defaultOut: dirname(target) };
  if (target.endsWith('.json') || target.includes('/')) throw new UsageError(`${target}: no such file`);
  const { Code, CoordinatorClient, DEFAULT_COORDINATOR, RpcError } = await import('../client/coordinator-client.ts');
  const address = coordinator ?? process.env.BALLAST_COORDINATOR ?? DEFAULT_COORDINATOR;
  const client = new CoordinatorClient({ address });
  try {
    return { results: parseExperimentResults(await client.results(target), `coordinator ${address}`), defaultOut: `report-${target}` };
  } catch (error) {
    if (error instanceof RpcError && error.code === Code.NOT_FOUND) throw new UsageError(`experiment '${target}' not found at ${address} (and no file of that name here)`);
    if (error instanceof RpcError && error.code === Code.UNAVAILABLE) {
      throw new UsageError(`no coordinator answering at ${address} (give --coordinator HOST:PORT, or a results.json path): ${error.message}`);
    }
    throw new Error(`could not fetch results of '${target}' from the coordinator at ${address}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  } finally {
    client.close();
  }
}

export function register(program: Command): void {
  program
    .command('report')
    .description('Write the stability report (report.html, report.md, report.json, table1.tex) of an experiment')
    .argument('<target>', 'EXPERIMENT_ID (fetched from the coordinator), RESULTS.json, or a run directory holding results.json')
    .option('--out <dir>', 'output directory (default: next to RESULTS.json, RUN_DIR/report, or ./report-<id>)')
    .option('--coordinator <host:port>', 'coordinator address when TARGET is an experiment id (default $BALLAST_COORDINATOR or 127.0.0.1:7070)')
    .option('--seed <n>', 'seed of every bootstrap (same seed, same report)', '0')
    .option('--bootstrap-repetitions <n>', 'repetitions of the expected best-of-k bootstrap', '1000')
    .option('--ci-repetitions <n>', 'resamples of the 95% interval of each difference of means', '10000')
    .option('--baseline <column>', 'Table 1 column the significance marks compare against (default: the first)')
    .option('--json', 'print the written paths as JSON')
    .action(async (target: string, flags: ReportFlags) => {
      const seed = nonNegativeInt('--seed', flags.seed);
      const bootstrapRepetitions = nonNegativeInt('--bootstrap-repetitions', flags.bootstrapRepetitions);
      if (bootstrapRepetitions < 2) throw new UsageError('--bootstrap-repetitions: at least 2');
      const ciRepetitions = nonNegativeInt('--ci-repetitions', flags.ciRepetitions);
      if (ciRepetitions < 100) throw new UsageError('--ci-repetitions: at least 100 (the interval is read off the 2.5% and 97.5% quantiles)');
      const { results, baseDir, defaultOut } = await loadResults(target, flags.coordinator);
      const outDir = flags.out ?? defaultOut;
      let written;
      try {
        written = await writeReport(results, outDir, { seed, bootstrapRepetitions, ciRepetitions, ...(flags.baseline !== undefined ? { baseline: flags.baseline } : {}), ...(baseDir ? { baseDir } : {}) });
      } catch (error) {
        if (error instanceof RangeError && error.message.startsWith('baseline')) throw new UsageError(`--baseline: ${error.message}`);
        throw error;
      }
      const paths = { html: written.html, md: written.md, json: written.json, latex: written.latex };
      if (flags.json) process.stdout.write(`${JSON.stringify(paths)}\n`);
      else {
        const r = written.report;
        process.stdout.write(`report of ${r.experiment.id}: ${r.trials.succeeded}/${r.trials.total} trials succeeded, ${r.tasks.length} task(s)\n`);
        for (const [kind, path] of Object.entries(paths)) process.stdout.write(`  ${kind.padEnd(5)} ${path}\n`);
      }
    });
}
