// `ballast download glue TASK`: a GLUE task from the hub's `nyu-mll/glue` dataset into
// `<data root>/glue/<TASK>/` as the tsv files the GLUE presets read (train.tsv, dev.tsv; MNLI:
// dev_matched.tsv and dev_mismatched.tsv).
//
// The hub distributes GLUE as parquet (`<config>/<split>-0000i-of-0000n.parquet`, listed by the
// tree API), with integer labels in the order of its `ClassLabel` features. They are read with
// hyparquet (pure JS) and written back in the original GLUE column layout and label spelling, so a
// task downloaded here and one from `download_glue_data.py` give the same examples. What cannot
// come back: columns the parquet does not carry (MRPC's sentence ids, STS-B's genre and source
// files, CoLA's source code) are filled with the row index or `-`; the presets do not read them.
// The unlabeled test splits are not converted. The parquet files are kept beside the tsv
// (`hub/`), with `SOURCE.json` recording the repository, revision, checksums and row counts.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { gluePresetDir } from '../config/data-paths.ts';
import { GLUE_PRESETS, readGlueTask } from '../data/glue-tasks.ts';
import type { GluePresetName } from '../data/glue-tasks.ts';
import { DownloadError, checksumOf, downloadFile } from './download-file.ts';
import type { DownloadOptions, DownloadOutcome } from './download-file.ts';
import { hubEndpoint, hubToken, resolveUrl } from './hub-endpoint.ts';
import type { HubOptions } from './hub-endpoint.ts';
import { writeFileAtomic } from '../util/write-file-atomic.ts';

export const GLUE_REPO = 'nyu-mll/glue';

type Row = Record<string, unknown>;

interface GlueSource {
  /** The config (subdirectory) of the hub dataset. */
  config: string;
  /** tsv file name per hub split. */
  splits: Record<string, string>;
  header: string[] | null;
  /** One tsv row from one parquet row (its index in the split, for the id columns). */
  row(r: Row, index: number, text: (key: string) => string, label: (names?: readonly string[]) => string): string[];
}

const NLI2 = ['entailment', 'not_entailment'] as const;
const MNLI = ['entailment', 'neutral', 'contradiction'] as const; // the hub's ClassLabel order

const SOURCES: Record<GluePresetName, GlueSource> = {
  rte: {
    config: 'rte', splits: { train: 'train.tsv', validation: 'dev.tsv' },
    header: ['index', 'sentence1', 'sentence2', 'label'],
    row: (r, i, text, label) => [String(r.idx ?? i), text('sentence1'), text('sentence2'), label(NLI2)],
  },
  mrpc: {
    config: 'mrpc', splits: { train: 'train.tsv', validation: 'dev.tsv' },
    header: ['Quality', '#1 ID', '#2 ID', '#1 String', '#2 String'],
    row: (r, i, text, label) => [label(), String(r.idx ?? i), String(r.idx ?? i), text('sentence1'), text('sentence2')],
  },
  cola: {
    config: 'cola', splits: { train: 'train.tsv', validation: 'dev.tsv' },
    header: null,
    // The third column is the author's mark: `*` on unacceptable sentences.
    row: (_r, _i, text, label) => {
      const l = label();
      return ['hub', l, l === '0' ? '*' : '', text('sentence')];
    },
  },
  'sts-b': {
    config: 'stsb', splits: { train: 'train.tsv', validation: 'dev.tsv' },
    header: ['index', 'genre', 'filename', 'year', 'old_index', 'source1', 'source2', 'sentence1', 'sentence2', 'score'],
    row: (r, i, text, label) => [String(r.idx ?? i), '-', '-', '-', String(r.idx ?? i), '-', '-', text('sentence1'), text('sentence2'), label()],
  },
  'sst-2': {
    config: 'sst2', splits: { train: 'train.tsv', validation: 'dev.tsv' },
    header: ['sentence', 'label'],
    row: (_r, _i, text, label) => [text('sentence'), label()],
  },
  qnli: {
    config: 'qnli', splits: { train: 'train.tsv', validation: 'dev.tsv' },
    header: ['index', 'question', 'sentence', 'label'],
    row: (r, i, text, label) => [String(r.idx ?? i), text('question'), text('sentence'), label(NLI2)],
  },
  qqp: {
    config: 'qqp', splits: { train: 'train.tsv', validation: 'dev.tsv' },
    header: ['id', 'qid1', 'qid2', 'question1', 'question2', 'is_duplicate'],
    row: (r, i, text, label) => [String(r.idx ?? i), '-', '-', text('question1'), text('question2'), label()],
  },
  mnli: {
    config: 'mnli', splits: { train: 'train.tsv', validation_matched: 'dev_matched.tsv', validation_mismatched: 'dev_mismatched.tsv' },
    header: ['index', 'sentence1', 'sentence2', 'gold_label'],
    row: (r, i, text, label) => [String(r.idx ?? i), text('premise'), text('hypothesis'), label(MNLI)],
  },
};

/** Ballast's preset names, plus the hub's spellings (`stsb`, `sst2`). */
export function glueTaskName(input: string): GluePresetName {
  const name = input.toLowerCase();
  const aliases: Record<string, GluePresetName> = { stsb: 'sts-b', sst2: 'sst-2' };
  const preset = aliases[name] ?? name;
  if (!Object.hasOwn(SOURCES, preset)) {
    throw new DownloadError('', undefined, `unknown GLUE task '${input}'; one of ${Object.keys(SOURCES).join(', ')}`);
  }
  return preset as GluePresetName;
}

/** The shortest decimal that reads back as the same float32 (STS-B scores are float32 on the hub). */
export function formatScore(value: number): string {
  const f32 = Math.fround(value);
  if (value !== f32) return String(value); // a float64 column: JS's own shortest round trip
  for (let digits = 1; digits <= 9; digits++) {
    const text = Number(value.toPrecision(digits)).toString();
    if (Math.fround(Number(text)) === f32) return text;
  }
  return String(value);
}

interface TreeEntry {
  type: string;
  path: string;
  size?: number;
  oid?: string;
  lfs?: { oid: string; size: number };
}

/** The hub's tree API: the files of one directory of a revision. */
async function listTree(repo: string, revision: string, dir: string, hub: HubOptions | undefined, token: string | undefined): Promise<TreeEntry[]> {
  const url = `${hubEndpoint(hub)}/api/datasets/${repo}/tree/${encodeURIComponent(revision)}/${dir}`;
  let response: Response;
  try {
    response = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  } catch (error) {
    throw new DownloadError(url, undefined, `${url}: ${(error as Error).message} (is the hub reachable? set HF_ENDPOINT for a mirror)`, { cause: error });
  }
  if (!response.ok) throw new DownloadError(url, response.status, `${url}: HTTP ${response.status} listing the dataset's files`);
  return (await response.json()) as TreeEntry[];
}

export interface GlueDownload {
  task: GluePresetName;
  dir: string;
  files: DownloadOutcome[];
  rows: Record<string, number>;
  /** Text cells whose tabs or line breaks were replaced by spaces (a tsv cannot hold them). */
  sanitized: number;
}

export async function downloadGlue(
  task: string,
  options: { revision?: string; root: string; hub?: HubOptions } & Omit<DownloadOptions, 'token'>,
): Promise<GlueDownload> {
  const name = glueTaskName(task);
  const source = SOURCES[name];
  const revision = options.revision ?? 'main';
  const token = hubToken(options.hub);
  const dir = gluePresetDir(name, options.root);
  const hubDir = join(dir, 'hub');
  const entries = (await listTree(GLUE_REPO, revision, source.config, options.hub, token)).filter((e) => e.type === 'file' && e.path.endsWith('.parquet'));

  const files: DownloadOutcome[] = [];
  const rows: Record<string, number> = {};
  const provenance: Array<{ path: string; sha256?: string; bytes: number }> = [];
  let sanitized = 0;
  for (const [split, tsvName] of Object.entries(source.splits)) {
    const shards = entries
      .filter((e) => e.path.startsWith(`${source.config}/${split}-`))
      .sort((a, b) => a.path.localeCompare(b.path));
    if (shards.length === 0) throw new DownloadError(GLUE_REPO, 404, `${GLUE_REPO}@${revision}: no parquet files for ${source.config}/${split}`);
    const lines: string[] = [];
    if (source.header) lines.push(source.header.join('\t'));
    for (const shard of shards) {
      const checksum = checksumOf(shard.lfs?.oid ?? shard.oid);
      const size = shard.lfs?.size ?? shard.size;
      const dest = join(hubDir, shard.path.slice(source.config.length + 1));
      const outcome = await downloadFile(
        { url: resolveUrl(GLUE_REPO, revision, shard.path, 'dataset', options.hub), ...(size !== undefined ? { size } : {}), ...(checksum ? { checksum } : {}) },
        dest,
        { ...options, ...(token ? { token } : {}) },
      );
      files.push(outcome);
      provenance.push({ path: shard.path, ...(checksum?.algorithm === 'sha256' ? { sha256: checksum.hex } : {}), bytes: outcome.bytes });
      const records = (await parquetReadObjects({ file: await asyncBufferFromFile(dest) })) as Row[];
      records.forEach((record, index) => {
        const text = (key: string) => {
          const value = record[key];
          if (typeof value !== 'string') throw new DownloadError(dest, undefined, `${dest}: row ${index}: column '${key}' is ${value === undefined ? 'missing' : typeof value}`);
          const clean = value.replace(/[\t\r\n]+/g, ' ');
          if (clean !== value) sanitized++;
          return clean;
        };
        const label = (names?: readonly string[]) => {
          const value = record.label;
          if (typeof value !== 'number' && typeof value !== 'bigint') throw new DownloadError(dest, undefined, `${dest}: row ${index}: label is ${typeof value}`);
          const n = Number(value);
          if (name === 'sts-b') return formatScore(n);
          if (!Number.isInteger(n) || n < 0) throw new DownloadError(dest, undefined, `${dest}: row ${index}: label ${n} (an unlabeled split?)`);
          if (!names) return String(n);
          const spelled = names[n];
          if (spelled === undefined) throw new DownloadError(dest, undefined, `${dest}: row ${index}: label ${n} has no name (expected 0..${names.length - 1})`);
          return spelled;
        };
        lines.push(source.row(record, index, text, label).join('\t'));
      });
    }
    rows[tsvName] = lines.length - (source.header ? 1 : 0);
    const path = join(dir, tsvName);
    mkdirSync(dir, { recursive: true });
    writeFileAtomic(path, `${lines.join('\n')}\n`);
  }

  // Read the result back with the preset itself: what was written is what training will see.
  const check = readGlueTask(name, dir);
  const preset = GLUE_PRESETS[name];
  if (check.train.length !== rows[preset.trainFile] || check.dev.length !== rows[preset.devFile]) {
    throw new DownloadError(dir, undefined, `${dir}: the preset read ${check.train.length}/${check.dev.length} examples, but ${rows[preset.trainFile]}/${rows[preset.devFile]} were written`);
  }
  const manifest = { repo: GLUE_REPO, revision, config: source.config, converted_at: new Date().toISOString(), files: provenance, rows, sanitized_cells: sanitized };
  writeFileSync(join(dir, 'SOURCE.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return { task: name, dir, files, rows, sanitized };
}
