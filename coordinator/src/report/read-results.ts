// Reads and checks a results.json before the report trusts it: a bad file gets an error naming the
// file and the field (`trials[3].result.selected.validation`), never a crash deep in the statistics.
// Only what the report reads is checked; other fields pass through untouched.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ConfigError, configErrorFromZod } from '../../../trainer/src/config/trial-config.ts';
import type { ExperimentResults } from '../results/experiment-results.ts';

const metricValue = z.number().nullable().optional();
const evalMetrics = z.looseObject({
  loss: z.number().nullable().optional(),
  accuracy: metricValue,
  f1: metricValue,
  mcc: metricValue,
  pearson: metricValue,
  spearman: metricValue,
});
const selected = z.looseObject({ step: z.number(), validation: evalMetrics, test: evalMetrics.optional() });
const seeds = z.looseObject({ seed: z.number(), init_seed: z.number(), data_seed: z.number() });

const trialResult = z.looseObject({
  task: z.looseObject({
    name: z.string(),
    problem_type: z.enum(['classification', 'regression']),
    metric: z.enum(['accuracy', 'f1', 'mcc', 'pearson', 'spearman']),
    majority_baseline: z.number().optional(),
  }),
  evals: z.array(z.looseObject({ step: z.number(), validation: evalMetrics })),
  selected,
  degenerate: z.boolean(),
  degenerate_reason: z.string().optional(),
  diverged: z.looseObject({ step: z.number() }).optional(),
  timings: z.looseObject({ total_seconds: z.number() }),
  metrics_path: z.string().optional(),
  seeds: seeds.optional(),
});

const trialRecord = z.looseObject({
  id: z.string().min(1),
  configuration: z.string().min(1),
  sweep_values: z.record(z.string(), z.unknown()).default({}),
  state: z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']),
  config: z.looseObject({ task: z.looseObject({}).optional(), seed: z.number().optional() }).optional(),
  seeds: seeds.optional(),
  errors: z.array(z.string()).default([]),
  result: trialResult.optional(),
});

const resultsSchema = z.looseObject({
  experiment: z.looseObject({ id: z.string(), name: z.string().default(''), state: z.string().default('unknown'), created_at: z.string().default('') }),
  trials: z.array(trialRecord),
  summary: z.array(z.unknown()).default([]),
});

/** Validates an ExperimentResults object (from JSON); throws ConfigError naming the field. */
export function parseExperimentResults(input: unknown, source?: string): ExperimentResults {
  const parsed = resultsSchema.safeParse(input);
  if (!parsed.success) throw configErrorFromZod(parsed.error, [], source);
  const results = parsed.data as unknown as ExperimentResults;
  results.trials.forEach((t, i) => {
    if (t.state === 'succeeded' && !t.result) throw new ConfigError(`trials[${i}].result`, `trial ${t.id} succeeded but has no result`, source);
  });
  return results;
}

export async function readResultsFile(path: string): Promise<ExperimentResults> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError('', `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, path);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError('', `not valid JSON: ${error instanceof Error ? error.message : String(error)}`, path);
  }
  return parseExperimentResults(json, path);
}
