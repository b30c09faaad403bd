// `ballast watch ID`: live progress of an experiment until it ends (bars on a terminal, lines
// otherwise). Exits 0 when every trial succeeded, 1 when any failed or the experiment was cancelled.
import type { Command } from 'commander';
import type { CoordinatorClient } from '../client/coordinator-client.ts';
import type { ExperimentInfo } from '../core/types.ts';
import { addClientOptions, withClient } from './client-flags.ts';
import type { ClientFlags } from './client-flags.ts';
import { followExperiment } from './follow-experiment.ts';
import { WatchView } from './watch-view.ts';

/** The exit code an experiment's end deserves: non-zero when anything did not succeed. */
export function experimentExitCode(info: ExperimentInfo | undefined): number {
  if (!info || info.state === 'running') return 1;
  return info.state === 'cancelled' || info.counts.failed > 0 ? 1 : 0;
}

/** Follows the experiment to its end on `out`; Ctrl-C stops watching (the experiment goes on). */
export async function watchToEnd(client: CoordinatorClient, experimentId: string, out: NodeJS.WritableStream & { isTTY?: boolean }): Promise<ExperimentInfo | undefined> {
  const view = new WatchView({ out });
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  process.once('SIGINT', onSigint);
  try {
    for await (const event of followExperiment(client, experimentId, {
      signal: stop.signal,
      onRetry: (error, delayMs) => {
        view.reconnecting();
        process.stderr.write(`ballast: lost the coordinator (${error.message}); retrying in ${delayMs} ms\n`);
      },
    })) {
      view.handle(event);
    }
  } finally {
    process.off('SIGINT', onSigint);
    view.close();
  }
  if (stop.signal.aborted) process.stderr.write(`ballast: stopped watching; ${experimentId} goes on (ballast cancel ${experimentId} stops it)\n`);
  return view.info;
}

export function register(program: Command): void {
  addClientOptions(
    program
      .command('watch')
      .description('follow an experiment live until it ends (exit 1 if any trial failed or it was cancelled)')
      .argument('<experiment-id>'),
  ).action(async (experimentId: string, flags: ClientFlags) =>
    withClient(flags, async (client) => {
      const info = await watchToEnd(client, experimentId, process.stdout);
      return experimentExitCode(info);
    }),
  );
}
