// `ballast results ID`: every trial and, per configuration, n, mean ± std, median, min and max of
// the test metric and the degenerate count. `--json` prints the ExperimentResults shape (the
// same as `DIR/results.json` of `ballast run`, and the input of `ballast report`).
import type { Command } from 'commander';
import { addClientOptions, withClient } from './client-flags.ts';
import type { ClientFlags } from './client-flags.ts';
import { resultsText } from './results-table.ts';

interface ResultsFlags extends ClientFlags {
  json?: boolean;
}

export function register(program: Command): void {
  addClientOptions(
    program
      .command('results')
      .description('per-trial results and the per-configuration summary of an experiment')
      .argument('<experiment-id>')
      .option('--json', 'machine-readable: {experiment, trials, summary}'),
  ).action(async (experimentId: string, flags: ResultsFlags) =>
    withClient(flags, async (client) => {
      const results = await client.results(experimentId);
      process.stdout.write(flags.json ? `${JSON.stringify(results, null, 2)}\n` : resultsText(results));
      return 0;
    }),
  );
}
