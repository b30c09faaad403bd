// The trial config: the one contract that `ballast train`, experiment specs, the gRPC messages and
// every result share. Keys are snake_case and mirror the paper's command-line flags. Parsing
// validates everything up front and names the offending key by its path, so that a bad spec fails
// before any trainer spends a GPU-minute on it.
import { z } from 'zod';

export const GLUE_TASKS = ['rte', 'mrpc', 'cola', 'sts-b', 'sst-2', 'qnli', 'qqp', 'mnli', 'synthetic'] as const;
export type TaskName = (typeof GLUE_TASKS)[number];

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();
const seed = z.number().int().nonnegative().max(2 ** 31 - 1);
const probability = z.number().min(0).lt(1);

export const TaskConfigSchema = z
  .strictObject({
    /** A preset: reads the files as GLUE distributes them, with Hugging Face's label order. */
    name: z.enum(GLUE_TASKS).optional(),
    /** Directory holding a preset's train.tsv/dev.tsv (default: `<data root>/glue/<TASK>`). */
    data_dir: z.string().min(1).optional(),
    /** Custom tasks: the file format and the files. */
    format: z.enum(['tsv', 'csv', 'jsonl']).optional(),
    train: z.string().min(1).optional(),
    validation: z.string().min(1).optional(),
    test: z.string().min(1).optional(),
    /** Custom tasks: column (or JSON key) names. */
    text_column: z.string().min(1).optional(),
    text_pair_column: z.string().min(1).optional(),
    label_column: z.string().min(1).optional(),
    /** Custom classification tasks: label values in id order; absent for regression. */
    labels: z.array(z.string()).min(2).optional(),
    /** Custom tasks: `regression` for a float label (num_labels 1, MSE), as STS-B. */
    problem_type: z.enum(['classification', 'regression']).optional(),
    /**
     * `standard`: validate on the given validation file, test on the test file (if any).
     * `dev_halves`: the paper's protocol, the original dev set split in half per label value
     * into validation and test.
     */
    split: z.enum(['standard', 'dev_halves']).default('standard'),
    /** Seed of the dev_halves split and of downsampling; fixed so every trial sees one split. */
    split_seed: seed.default(0),
    /** The paper's 1k setting: N class-balanced training examples plus N held-out validation. */
    downsample: positiveInt.optional(),
  })
  .superRefine((task, ctx) => {
    if (task.name === undefined && task.format === undefined) {
      ctx.addIssue({ code: 'custom', message: 'give either a preset `name` or a custom `format`', path: [] });
    }
    if (task.name !== undefined && task.format !== undefined) {
      ctx.addIssue({ code: 'custom', message: '`format` is for custom tasks; presets know their format', path: ['format'] });
    }
    if (task.format !== undefined) {
      for (const key of ['train', 'text_column', 'label_column'] as const) {
        if (task[key] === undefined) ctx.addIssue({ code: 'custom', message: `a custom task needs \`${key}\``, path: [key] });
      }
      if (task.problem_type !== 'regression' && task.labels === undefined) {
        ctx.addIssue({ code: 'custom', message: 'a custom classification task needs `labels` (in id order)', path: ['labels'] });
      }
    }
  });
export type TaskConfig = z.infer<typeof TaskConfigSchema>;

export const TrialConfigSchema = z
  .strictObject({
    /**
     * A checkpoint directory in the Hugging Face layout, a model name downloaded with
     * `ballast download model` (resolved under the models directory), or `builtin:<name>` for a
     * model Ballast builds itself with random weights (used by the offline quickstart).
     */
    model: z.string().min(1),
    task: TaskConfigSchema,
    max_seq_length: positiveInt.max(4096).default(128),
    batch_size: positiveInt.default(32),
    learning_rate: z.number().positive().default(2e-5),
    /** Training length: `epochs` unless `max_steps` is given (then it wins, as in the paper's code). */
    epochs: z.number().positive().default(3),
    max_steps: nonNegativeInt.optional(),
    warmup_ratio: z.number().min(0).max(1).default(0.1),
    /** Overrides warmup_ratio when given. */
    warmup_steps: nonNegativeInt.optional(),
    weight_decay: z.number().min(0).default(0),
    /** Default: 1e-8 for adamw, 1e-6 for bertadam (resolved by `resolveTrialConfig`). */
    adam_epsilon: z.number().positive().optional(),
    max_grad_norm: z.number().positive().default(1.0),
    /** adamw: debiased Adam (torch.optim.AdamW). bertadam: the original BERTAdam, no bias correction. */
    optimizer: z.enum(['adamw', 'bertadam']).default('adamw'),
    reinit_pooler: z.boolean().default(false),
    reinit_layers: nonNegativeInt.default(0),
    /** Mixout probability (Lee et al.); 0 disables it. Turns dropout off when on. */
    mixout: probability.default(0),
    /** Layer-wise learning-rate decay factor; 1 disables it. */
    llrd: z.number().positive().max(1).default(1),
    /** Pre-trained weight decay λ: p ← p − lr·λ·(p − p0) before each step; 0 disables it. */
    pretrained_weight_decay: z.number().min(0).default(0),
    /** Start from this fine-tuned checkpoint (intermediate-task transfer) instead of `model`'s weights. */
    init_from: z.string().min(1).optional(),
    /** Overrides both hidden and attention dropout of the model config. */
    dropout: probability.optional(),
    shuffle: z.boolean().default(true),
    seed: seed.default(0),
    /** Seeds of the head and re-initialised layers, of the data order, and of dropout/mixout masks. */
    init_seed: seed.optional(),
    data_seed: seed.optional(),
    dropout_seed: seed.optional(),
    /** Evaluations on validation during training, plus one at the end (paper: 10). */
    num_evals: nonNegativeInt.default(10),
    /** Batch size for evaluation; defaults to 2 × batch_size. Does not change any metric. */
    eval_batch_size: positiveInt.optional(),
  })
  .superRefine((config, ctx) => {
    if (config.mixout > 0 && config.dropout !== undefined && config.dropout > 0) {
      ctx.addIssue({ code: 'custom', message: 'mixout replaces dropout; set `dropout: 0` or leave it unset', path: ['dropout'] });
    }
  });

/** What a user writes: defaults not yet applied. */
export type TrialConfigInput = z.input<typeof TrialConfigSchema>;
/** A parsed, validated trial config with defaults applied. Written verbatim into every result. */
export type TrialConfig = z.output<typeof TrialConfigSchema>;

export interface TrialSeeds {
  seed: number;
  init_seed: number;
  data_seed: number;
  dropout_seed: number;
}

/** A trial config with everything derived filled in: what the training loop actually runs. */
export interface ResolvedTrialConfig extends TrialConfig {
  adam_epsilon: number;
  seeds: TrialSeeds;
}

/** An invalid config; `path` names the key (`task.label_column`, `sweep.optimizer[1]`, …). */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly path: string,
    readonly reason: string,
    readonly source?: string,
  ) {
    super(`${source ? `${source}: ` : ''}${path || '(root)'}: ${reason}`);
  }
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

/** Turns zod's first issue into a ConfigError naming the key path (with `prefix` for nested specs). */
export function configErrorFromZod(error: z.ZodError, prefix: ReadonlyArray<PropertyKey> = [], source?: string): ConfigError {
  const issue = error.issues[0];
  if (!issue) return new ConfigError(formatPath(prefix), 'invalid', source);
  let path = [...prefix, ...issue.path];
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    path = [...path, issue.keys[0] ?? ''];
    message = `unknown key${issue.keys.length > 1 ? ` (also: ${issue.keys.slice(1).join(', ')})` : ''}`;
  }
  return new ConfigError(formatPath(path), message, source);
}

/** Parses and validates a trial config (an object from YAML/JSON). Throws ConfigError. */
export function parseTrialConfig(input: unknown, source?: string): TrialConfig {
  const parsed = TrialConfigSchema.safeParse(input);
  if (!parsed.success) throw configErrorFromZod(parsed.error, [], source);
  return parsed.data;
}

// Derived seeds are a fixed mix of the trial seed and the stream's name, so that `seed: 3` always
// means the same init, data order and dropout masks on every machine, and changing one explicit
// seed never moves the others.
export function deriveSeed(base: number, stream: 'init' | 'data' | 'dropout'): number {
  let h = 0x811c9dc5 ^ base;
  for (const ch of `${stream}:${base}`) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // A final avalanche (murmur3 fmix32) so that nearby bases give unrelated seeds.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h & 0x7fffffff;
}

export function resolveTrialConfig(config: TrialConfig): ResolvedTrialConfig {
  return {
    ...config,
    adam_epsilon: config.adam_epsilon ?? (config.optimizer === 'bertadam' ? 1e-6 : 1e-8),
    seeds: {
      seed: config.seed,
      init_seed: config.init_seed ?? deriveSeed(config.seed, 'init'),
      data_seed: config.data_seed ?? deriveSeed(config.seed, 'data'),
      dropout_seed: config.dropout_seed ?? deriveSeed(config.seed, 'dropout'),
    },
  };
}
