// `ballast submit SPEC`: validates an experiment spec locally (so that a typo fails with its line
// and key before any network), submits it and prints the experiment id. `--wait` follows it to
// the end, then prints the results and exits non-zero if any trial failed.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../../cli/main.ts';
import { ConfigError } from '../../../trainer/src/config/trial-config.ts';
import { parseYamlText, YamlSyntaxError } from '../../../trainer/src/config/yaml-text.ts';
import { parseExperimentSpec } from '../spec/experiment-spec.ts';
import { addClientOptions, withClient } from './client-flags.ts';
import type { ClientFlags } from './client-flags.ts';
import { resultsText } from './results-table.ts';
import { experimentExitCode, watchToEnd } from './watch-command.ts';

interface SubmitFlags extends ClientFlags {
  wait?: boolean;
  json?: boolean;
  id?: string;
}

/** Reads a spec file (YAML or JSON; `-` is stdin) into the object the coordinator validates. */
export async function readSpecFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = path === '-' ? await readStdin() : await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  const source = path === '-' ? '<stdin>' : path;
  let spec: unknown;
  try {
    spec = parseYamlText(text);
  } catch (error) {
    if (error instanceof YamlSyntaxError) throw new ConfigError('', error.message, source);
    throw error;
  }
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) throw new ConfigError('', 'an experiment spec is a mapping (name, base, sweep, seeds, ...)', source);
  parseExperimentSpec(spec, source); // the same validation the coordinator runs, before any network
  return spec as Record<string, unknown>;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function register(program: Command): void {
  addClientOptions(
    program
      .command('submit')
      .description('submit an experiment spec (YAML or JSON; - for stdin) and print its id')
      .argument('<spec>', 'experiment spec file')
      .option('--wait', 'follow it to the end, print the results, exit 1 if any trial failed')
      .option('--json', 'print {"experiment_id": ...} (with --wait, the results as JSON when done)')
      .option('--id <experiment-id>', 'submit under this id; resubmitting the same spec with it is a no-op'),
  ).action(async (specPath: string, flags: SubmitFlags) => {
    const spec = await readSpecFile(specPath);
    await withClient(flags, async (client) => {
      const { experimentId, trialCount } = await client.submitExperiment(spec, {
        source: specPath === '-' ? '<stdin>' : basename(specPath),
        ...(flags.id !== undefined ? { experimentId: flags.id } : {}),
      });
      if (flags.json && !flags.wait) process.stdout.write(`${JSON.stringify({ experiment_id: experimentId, trials: trialCount })}\n`);
      else if (!flags.json) process.stdout.write(`${experimentId}\n`);
      if (!flags.wait) {
        if (!flags.json) process.stderr.write(`submitted ${trialCount} trials; follow with: ballast watch ${experimentId}\n`);
        return 0;
      }
      const info = await watchToEnd(client, experimentId, process.stderr);
      if (info?.state === 'running') return 1; // stopped watching (Ctrl-C)
      const results = await client.results(experimentId);
      if (flags.json) process.stdout.write(`${JSON.stringify({ experiment_id: experimentId, ...results }, null, 2)}\n`);
      else process.stdout.write(resultsText(results, { trials: false }));
      return experimentExitCode(info);
    });
  });
}
