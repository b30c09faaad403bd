// The `ballast` command line: one program, one subcommand per module. Each module exports
// `register(program)`; keeping the table here is the one place that lists what Ballast can do.
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../trainer/src/config/trial-config.ts';

type Registrar = (program: Command) => void;

// Subcommand modules, in help order. Each adds its own options and action. Only the invoked
// command's module is loaded: they pull in very different dependencies (TensorFlow.js for the
// trainer, Vega for reports), and a long-lived `ballast coordinator` that loaded them all would
// carry some 40 MB more heap, which every full garbage collection has to mark.
const COMMANDS: ReadonlyArray<readonly [name: string, load: () => Promise<{ register: Registrar }>]> = [
  ['run', () => import('../coordinator/src/cli/run-command.ts')],
  ['train', () => import('../trainer/src/cli/train-command.ts')],
  ['coordinator', () => import('../coordinator/src/cli/coordinator-command.ts')],
  ['submit', () => import('../coordinator/src/cli/submit-command.ts')],
  ['status', () => import('../coordinator/src/cli/status-command.ts')],
  ['watch', () => import('../coordinator/src/cli/watch-command.ts')],
  ['cancel', () => import('../coordinator/src/cli/cancel-command.ts')],
  ['results', () => import('../coordinator/src/cli/results-command.ts')],
  ['report', () => import('../coordinator/src/cli/report-command.ts')],
  ['backend', () => import('../trainer/src/backend/backend-command.ts')],
  ['trainer', () => import('../trainer/src/cli/trainer-command.ts')],
  ['download', () => import('../trainer/src/cli/download-command.ts')],
];

/** A failure the user can fix (bad input): printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command('ballast')
    .description('Stable few-sample fine-tuning of BERT-style models')
    .exitOverride()
    .showHelpAfterError();
  // Help, a bare `ballast` and an unknown command get every command, for the listing.
  const invoked = COMMANDS.find(([name]) => name === argv[0]);
  for (const [, load] of invoked ? [invoked] : COMMANDS) (await load()).register(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    // Commander has already printed what was wrong with the arguments; that is a usage error (2).
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof ConfigError || error instanceof UsageError) {
      process.stderr.write(`ballast: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`ballast: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}
