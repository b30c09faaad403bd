// `ballast cancel ID`: queued trials are cancelled at once; running ones stop at their next
// heartbeat. Cancelling a finished experiment changes nothing.
import type { Command } from 'commander';
import { addClientOptions, withClient } from './client-flags.ts';
import type { ClientFlags } from './client-flags.ts';
import { countsText } from './watch-view.ts';

interface CancelFlags extends ClientFlags {
  reason?: string;
}

export function register(program: Command): void {
  addClientOptions(
    program
      .command('cancel')
      .description('cancel an experiment (queued trials at once, running ones at their next heartbeat)')
      .argument('<experiment-id>')
      .option('--reason <text>', 'recorded with the experiment', 'cancelled by user'),
  ).action(async (experimentId: string, flags: CancelFlags) =>
    withClient(flags, async (client) => {
      const info = await client.cancelExperiment(experimentId, flags.reason ?? '');
      process.stdout.write(`${info.id} ${info.state}: ${countsText(info)}\n`);
      return 0;
    }),
  );
}
