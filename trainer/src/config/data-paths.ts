// Where a trial's files live. Specs name models and tasks, not machine paths, so that one spec runs
// on a laptop and in a cluster: everything relative resolves under the data root
// (`--data-root`, else BALLAST_DATA_ROOT, else the working directory), laid out as
// `ballast download` writes it:
//   <root>/models/<name>/{config.json,model.safetensors,vocab.txt,…}
//   <root>/glue/<TASK>/{train.tsv,dev.tsv}
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';

export function dataRoot(explicit?: string): string {
  return resolve(explicit ?? process.env.BALLAST_DATA_ROOT ?? process.cwd());
}

/** A file or directory named in a spec: absolute as given, relative to the data root otherwise. */
export function resolveDataPath(path: string, root: string): string {
  return isAbsolute(path) ? path : resolve(root, path);
}

export const BUILTIN_PREFIX = 'builtin:';

/**
 * A spec's `model`: `builtin:<name>` stays as it is (Ballast builds it), an existing directory
 * (absolute or relative to the root) is used as it is, and anything else is a model name as
 * `ballast download model` stores it under `<root>/models/`.
 */
export function resolveModelPath(model: string, root: string): string {
  if (model.startsWith(BUILTIN_PREFIX)) return model;
  const direct = resolveDataPath(model, root);
  if (existsSync(direct) && statSync(direct).isDirectory()) return direct;
  return resolve(root, 'models', model);
}

/** GLUE's directory names (as `download_glue_data.py` writes them) for Ballast's preset names. */
export const GLUE_DIR_NAMES: Record<string, string> = {
  rte: 'RTE',
  mrpc: 'MRPC',
  cola: 'CoLA',
  'sts-b': 'STS-B',
  'sst-2': 'SST-2',
  qnli: 'QNLI',
  qqp: 'QQP',
  mnli: 'MNLI',
};

export function gluePresetDir(task: string, root: string): string {
  const dir = GLUE_DIR_NAMES[task];
  if (!dir) throw new Error(`no GLUE directory for task '${task}'`);
  return resolve(root, 'glue', dir);
}
