// The experiment spec: one base trial (exactly what `ballast train` takes), a sweep over trial keys,
// and seeds. `expandExperiment` turns it into the trial plans the coordinator queues. Every error
// is a ConfigError naming its path in the spec (`sweep.optimizer[1]`, `base.task.label_column`),
// because a bad spec must fail at submission, not on a trainer an hour later.
//
// Spec keys:
//   name            required, any text (the experiment id is a slug of it plus a random suffix)
//   description     optional text
//   base            a trial spec; may omit keys that the sweep supplies
//   sweep           {key: [values…]}; dotted keys reach nested trial keys (`task.downsample`)
//   sweep_mode      `grid` (default: every combination) or `zip` (the i-th values together)
//   seeds           N (seeds 1..N) or a list of seeds; each trial sets `seed`
//   init_seeds, data_seeds
//                   N or a list each: the factorial of Dodge et al. (2020); each trial sets
//                   `init_seed` and `data_seed` explicitly, and `seed` (hence dropout) to the init seed
//   max_attempts    failed attempts allowed per trial before it is `failed` (default 3)
//   parallelism     cap on running trials of this experiment (default: no cap)
// Without any seeds key each configuration runs once with the base's seeds.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import {
  ConfigError,
  TrialConfigSchema,
  configErrorFromZod,
  formatPath,
  resolveTrialConfig,
  type TrialConfig,
  type TrialSeeds,
} from '../../../trainer/src/config/trial-config.ts';
import { parseYamlText, YamlSyntaxError } from '../../../trainer/src/config/yaml-text.ts';

/** Beyond this a spec is almost surely a typo (a grid over a long list) and would bloat the journal. */
export const MAX_TRIALS_PER_EXPERIMENT = 100_000;

const seedValue = z.number().int().nonnegative().max(2 ** 31 - 1);
const seedSet = z.union([z.number().int().positive().max(10_000), z.array(seedValue).min(1)]);

const ExperimentSpecSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  description: z.string().optional(),
  base: z.record(z.string(), z.unknown()),
  sweep: z.record(z.string(), z.array(z.unknown()).min(1, 'give at least one value')).optional(),
  sweep_mode: z.enum(['grid', 'zip']).default('grid'),
  seeds: seedSet.optional(),
  init_seeds: seedSet.optional(),
  data_seeds: seedSet.optional(),
  max_attempts: z.number().int().positive().max(100).default(3),
  parallelism: z.number().int().positive().optional(),
});

/** What a user writes. */
export type ExperimentSpecInput = z.input<typeof ExperimentSpecSchema>;

export interface SweepAxis {
  /** As written in the spec, e.g. `task.downsample`. */
  key: string;
  /** The key split at dots: where the value goes in the trial config. */
  path: string[];
  values: unknown[];
}

export type SeedPlan =
  | { kind: 'base' }
  | { kind: 'list'; seeds: number[] }
  | { kind: 'factorial'; init_seeds: number[]; data_seeds: number[] };

/** A parsed spec: valid as a whole (every sweep point is a valid trial config). */
export interface ExperimentSpec {
  name: string;
  description?: string;
  base: Record<string, unknown>;
  sweep: SweepAxis[];
  sweep_mode: 'grid' | 'zip';
  seeds: SeedPlan;
  max_attempts: number;
  parallelism?: number;
}

/** One trial to run: a configuration (sweep point) with one seed assignment. */
export interface TrialPlan {
  /** `c<configuration index>-s<seed label>`, e.g. `c1-s3` or `c0-s2x5`; NATS-subject-safe. */
  id: string;
  /** 0-based index of the configuration in grid (or zip) order. */
  config_index: number;
  /** `optimizer=bertadam,reinit_layers=5`, or `base` without a sweep. */
  configuration: string;
  sweep_values: Record<string, unknown>;
  /** `3` for seed 3, `2x5` for init seed 2 × data seed 5. */
  seed_label: string;
  /** The seed keys set on the configuration's config (empty when the base's seeds are used). */
  seed_overrides: Partial<Pick<TrialConfig, 'seed' | 'init_seed' | 'data_seed'>>;
  /** The trial's full config (built on each read). */
  readonly config: TrialConfig;
  seeds: TrialSeeds;
}

const SEED_KEYS = new Set(['seed', 'init_seed', 'data_seed']);

/** Parses and validates an experiment spec (an object from YAML/JSON). Throws ConfigError. */
export function parseExperimentSpec(input: unknown, source?: string): ExperimentSpec {
  const parsed = ExperimentSpecSchema.safeParse(input);
  if (!parsed.success) throw configErrorFromZod(parsed.error, [], source);
  const raw = parsed.data;
  const fail = (path: ReadonlyArray<PropertyKey>, reason: string): never => {
    throw new ConfigError(formatPath(path), reason, source);
  };

  const sweep: SweepAxis[] = [];
  for (const [key, values] of Object.entries(raw.sweep ?? {})) {
    const path = key.split('.');
    if (path.some((part) => part === '')) fail(['sweep', key], 'empty part in a dotted key');
    if (path.length === 1 && SEED_KEYS.has(key)) {
      fail(['sweep', key], 'seeds are set by `seeds` (or `init_seeds` × `data_seeds`), not swept');
    }
    const seen = new Map<string, number>();
    values.forEach((value, i) => {
      const canonical = JSON.stringify(value);
      if (value === undefined || value === null) fail(['sweep', key, i], 'null is not a value');
      const first = seen.get(canonical);
      if (first !== undefined) fail(['sweep', key, i], `duplicate of sweep.${key}[${first}]`);
      seen.set(canonical, i);
    });
    sweep.push({ key, path, values });
  }
  // Two axes where one is inside the other (`task` and `task.name`) would overwrite each other.
  for (const a of sweep) {
    for (const b of sweep) {
      if (a !== b && b.path.length > a.path.length && a.path.every((part, i) => b.path[i] === part)) {
        fail(['sweep', b.key], `overlaps sweep.${a.key}`);
      }
    }
  }
  if (raw.sweep_mode === 'zip' && sweep.length > 0) {
    const length = sweep[0]!.values.length;
    for (const axis of sweep) {
      if (axis.values.length !== length) {
        fail(['sweep', axis.key], `zip needs lists of one length: ${axis.values.length} values here, ${length} in sweep.${sweep[0]!.key}`);
      }
    }
  }

  let seeds: SeedPlan = { kind: 'base' };
  const seedList = (value: number | number[], key: string): number[] => {
    if (typeof value === 'number') return Array.from({ length: value }, (_, i) => i + 1);
    const seen = new Map<number, number>();
    value.forEach((seed, i) => {
      const first = seen.get(seed);
      if (first !== undefined) fail([key, i], `duplicate of ${key}[${first}]`);
      seen.set(seed, i);
    });
    return value;
  };
  if (raw.seeds !== undefined) {
    if (raw.init_seeds !== undefined) fail(['init_seeds'], 'give either `seeds` or `init_seeds` × `data_seeds`, not both');
    if (raw.data_seeds !== undefined) fail(['data_seeds'], 'give either `seeds` or `init_seeds` × `data_seeds`, not both');
    seeds = { kind: 'list', seeds: seedList(raw.seeds, 'seeds') };
  } else if (raw.init_seeds !== undefined || raw.data_seeds !== undefined) {
    if (raw.init_seeds === undefined) fail(['init_seeds'], 'required with `data_seeds` (the factorial needs both)');
    if (raw.data_seeds === undefined) fail(['data_seeds'], 'required with `init_seeds` (the factorial needs both)');
    for (const key of ['init_seed', 'data_seed'] as const) {
      if (raw.base[key] !== undefined) fail(['base', key], '`init_seeds` × `data_seeds` sets it for every trial; remove it here');
    }
    seeds = { kind: 'factorial', init_seeds: seedList(raw.init_seeds!, 'init_seeds'), data_seeds: seedList(raw.data_seeds!, 'data_seeds') };
  }

  const spec: ExperimentSpec = {
    name: raw.name,
    ...(raw.description !== undefined ? { description: raw.description } : {}),
    base: raw.base,
    sweep,
    sweep_mode: raw.sweep_mode,
    seeds,
    max_attempts: raw.max_attempts,
    ...(raw.parallelism !== undefined ? { parallelism: raw.parallelism } : {}),
  };
  const total = countConfigurations(spec) * countSeeds(seeds);
  if (total > MAX_TRIALS_PER_EXPERIMENT) {
    fail([spec.sweep.length > 0 ? 'sweep' : 'seeds'], `expands to ${total} trials, over the limit of ${MAX_TRIALS_PER_EXPERIMENT}`);
  }
  // Validate every configuration now, so that submission fails rather than a trial later.
  expandConfigurations(spec, source);
  return spec;
}

/** Parses spec text (YAML, of which JSON is a subset). Syntax errors name the line. */
export function parseExperimentSpecText(text: string, source?: string): ExperimentSpec {
  let value: unknown;
  try {
    value = parseYamlText(text);
  } catch (error) {
    if (error instanceof YamlSyntaxError) throw new ConfigError('', error.message, source);
    throw error;
  }
  return parseExperimentSpec(value, source);
}

function countConfigurations(spec: ExperimentSpec): number {
  if (spec.sweep.length === 0) return 1;
  if (spec.sweep_mode === 'zip') return spec.sweep[0]!.values.length;
  return spec.sweep.reduce((n, axis) => n * axis.values.length, 1);
}

function countSeeds(seeds: SeedPlan): number {
  switch (seeds.kind) {
    case 'base':
      return 1;
    case 'list':
      return seeds.seeds.length;
    case 'factorial':
      return seeds.init_seeds.length * seeds.data_seeds.length;
    default: {
      const _: never = seeds;
      return _;
    }
  }
}

/** One configuration (sweep point), validated, before seeds are assigned. */
export interface ConfigurationPlan {
  index: number;
  /** `optimizer=bertadam,reinit_layers=5`, or `base` without a sweep. */
  label: string;
  sweep_values: Record<string, unknown>;
  config: TrialConfig;
}

interface Configuration {
  index: number;
  label: string;
  sweep_values: Record<string, unknown>;
  /** Index into each axis' values, in axis order (for error paths). */
  value_indices: number[];
  /** The trial input with the sweep point applied, before seeds. */
  input: Record<string, unknown>;
}

/** The sweep points in order: grid with the last axis varying fastest, or zip. */
function sweepPoints(spec: ExperimentSpec): number[][] {
  const axes = spec.sweep;
  if (axes.length === 0) return [[]];
  if (spec.sweep_mode === 'zip') return axes[0]!.values.map((_, i) => axes.map(() => i));
  let points: number[][] = [[]];
  for (const axis of axes) points = points.flatMap((point) => axis.values.map((_, i) => [...point, i]));
  return points;
}

function formatValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown, axisKey: string, source?: string): void {
  let node = target;
  for (let i = 0; i < path.length - 1; i++) {
    const part = path[i]!;
    const child = node[part];
    if (child === undefined) {
      node[part] = {};
    } else if (typeof child !== 'object' || child === null || Array.isArray(child)) {
      throw new ConfigError(`sweep.${axisKey}`, `base.${path.slice(0, i + 1).join('.')} is not an object`, source);
    }
    node = node[part] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = structuredClone(value);
}

/** The configurations of a spec, in grid (or zip) order. */
export function planConfigurations(spec: ExperimentSpec): ConfigurationPlan[] {
  return expandConfigurations(spec).map(({ index, label, sweep_values, config }) => ({ index, label, sweep_values, config }));
}

function expandConfigurations(spec: ExperimentSpec, source?: string): Array<Configuration & { config: TrialConfig }> {
  return sweepPoints(spec).map((point, index) => {
    const input = structuredClone(spec.base);
    const sweep_values: Record<string, unknown> = {};
    spec.sweep.forEach((axis, a) => {
      const value = axis.values[point[a]!];
      setPath(input, axis.path, value, axis.key, source);
      sweep_values[axis.key] = value;
    });
    const label = spec.sweep.length === 0 ? 'base' : spec.sweep.map((axis) => `${axis.key}=${formatValue(sweep_values[axis.key])}`).join(',');
    const configuration = { index, label, sweep_values, value_indices: point, input };
    return { ...configuration, config: validatePoint(spec, configuration, source) };
  });
}

/** Validates one sweep point; the error names the sweep value that caused it, or the base key. */
function validatePoint(spec: ExperimentSpec, configuration: Configuration, source?: string): TrialConfig {
  const parsed = TrialConfigSchema.safeParse(configuration.input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const issuePath = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0] ?? ''] : issue.path;
  for (const [a, axis] of spec.sweep.entries()) {
    const fromAxis = axis.path.every((part, i) => issuePath[i] === part);
    if (!fromAxis) continue;
    const rest = issuePath.slice(axis.path.length);
    const reason = issue.code === 'unrecognized_keys' && rest.length === 0 ? 'unknown trial key' : issue.message;
    throw new ConfigError(formatPath(['sweep', axis.key, configuration.value_indices[a]!, ...rest]), reason, source);
  }
  const error = configErrorFromZod(parsed.error, ['base'], source);
  if (spec.sweep.length === 0) throw error;
  throw new ConfigError(error.path, `${error.reason} (in configuration ${configuration.label})`, source);
}

/**
 * The trials of an experiment, seed-major (every configuration with the first seed, then the next
 * seed, …), so that a partly run experiment has a balanced sample of every configuration.
 */
export function expandExperiment(spec: ExperimentSpec): TrialPlan[] {
  const configurations = expandConfigurations(spec);
  const assignments: Array<{ label: string; set: TrialPlan['seed_overrides'] }> = [];
  switch (spec.seeds.kind) {
    case 'base':
      break;
    case 'list':
      for (const seed of spec.seeds.seeds) assignments.push({ label: String(seed), set: { seed } });
      break;
    case 'factorial':
      for (const init of spec.seeds.init_seeds) {
        for (const data of spec.seeds.data_seeds) {
          assignments.push({ label: `${init}x${data}`, set: { seed: init, init_seed: init, data_seed: data } });
        }
      }
      break;
    default: {
      const _: never = spec.seeds;
      throw new Error(`unknown seed plan ${JSON.stringify(_)}`);
    }
  }
  const plans: TrialPlan[] = [];
  if (assignments.length === 0) {
    for (const c of configurations) plans.push(plan(c, String(c.config.seed), {}));
    return plans;
  }
  for (const assignment of assignments) {
    for (const c of configurations) plans.push(plan(c, assignment.label, assignment.set));
  }
  return plans;
}

// A 10,000-trial sweep is expanded while lease calls wait, so a plan copies nothing per trial:
// copying each trial's whole config (30-odd keys, twice: the plan's and resolveTrialConfig's) was
// most of the time of a submission.
function plan(c: Configuration & { config: TrialConfig }, seedLabel: string, seedOverrides: TrialPlan['seed_overrides']): TrialPlan {
  return {
    id: `c${c.index}-s${seedLabel}`,
    config_index: c.index,
    configuration: c.label,
    sweep_values: c.sweep_values,
    seed_label: seedLabel,
    seed_overrides: seedOverrides,
    get config() {
      return Object.keys(seedOverrides).length === 0 ? c.config : { ...c.config, ...seedOverrides };
    },
    seeds: trialSeeds(c.config, seedOverrides),
  };
}

/**
 * The seeds of the config with `overrides` set, by the trainer's own rule (resolveTrialConfig),
 * which reads only the seed keys for them: those are all it is given.
 */
function trialSeeds(config: TrialConfig, overrides: TrialPlan['seed_overrides']): TrialSeeds {
  const seedKeys = { seed: config.seed, init_seed: config.init_seed, data_seed: config.data_seed, dropout_seed: config.dropout_seed, ...overrides };
  return resolveTrialConfig(seedKeys as TrialConfig).seeds;
}

/** A new experiment id: a slug of the name and a random suffix; NATS-subject-safe ([a-z0-9-]). */
export function newExperimentId(name: string): string {
  const slug =
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40)
      .replace(/-+$/, '') || 'experiment';
  return `${slug}-${randomBytes(4).toString('hex')}`;
}

/** Ids the core accepts from outside: what `newExperimentId` and trial plans produce. */
export const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/;
