// `ballast status [ID]`: an experiment's state and its trials (or, without an id, every
// experiment). `--json` prints the ExperimentResults shape: `{experiment, trials, summary}`.
import type { Command } from 'commander';
import { addClientOptions, withClient } from './client-flags.ts';
import type { ClientFlags } from './client-flags.ts';
import { resultsText, textTable } from './results-table.ts';
import { countsText } from './watch-view.ts';

interface StatusFlags extends ClientFlags {
  json?: boolean;
}

export function register(program: Command): void {
  addClientOptions(
    program
      .command('status')
      .description('show an experiment and its trials (without an id: list experiments)')
      .argument('[experiment-id]')
      .option('--json', 'machine-readable: {experiment, trials: [{id, state, attempts, config, seeds, metrics, degenerate, ...}], summary}'),
  ).action(async (experimentId: string | undefined, flags: StatusFlags) =>
    withClient(flags, async (client) => {
      if (experimentId === undefined) {
        const experiments = await client.listExperiments();
        if (flags.json) process.stdout.write(`${JSON.stringify({ experiments }, null, 2)}\n`);
        else if (experiments.length === 0) process.stdout.write('no experiments\n');
        else process.stdout.write(`${textTable(['experiment', 'name', 'state', 'created', 'trials'], experiments.map((e) => [e.id, e.name, e.state, e.created_at, countsText(e)]))}\n`);
        return 0;
      }
      const results = await client.results(experimentId);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
      } else {
        const { experiment } = await client.getExperiment(experimentId);
        process.stdout.write(`${countsText(experiment)}\n`);
        process.stdout.write(resultsText(results));
      }
      return 0;
    }),
  );
}
