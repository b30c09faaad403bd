// `ballast download model NAME` and `ballast download glue TASK`: fetch from the Hugging Face hub
// into the data root, where specs find them by name (`model: bert-large-uncased`,
// `task: {name: rte}`). HF_ENDPOINT points at a mirror, HF_TOKEN authorises gated repositories.
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { UsageError } from '../../../cli/main.ts';
import { dataRoot } from '../config/data-paths.ts';
import { ChecksumMismatchError, DownloadError } from '../download/download-file.ts';
import type { DownloadOutcome, DownloadProgress } from '../download/download-file.ts';
import { downloadGlue } from '../download/download-glue.ts';
import { downloadModel, UnsupportedCheckpointError } from '../download/download-model.ts';
import { hubEndpoint } from '../download/hub-endpoint.ts';

interface DownloadFlags {
  revision: string;
  dataRoot?: string;
}

/** A bar per file on a terminal; otherwise a line per file and every 10% of a large one. */
function progressReporter(): { onProgress: (p: DownloadProgress) => void; done: () => void } {
  if (process.stderr.isTTY) {
    const bars = new cliProgress.MultiBar({ stream: process.stderr, format: '{file} |{bar}| {percentage}% {value}/{total} bytes', hideCursor: true, clearOnComplete: false }, cliProgress.Presets.shades_classic);
    const byFile = new Map<string, cliProgress.SingleBar>();
    return {
      onProgress(p) {
        const name = p.file.replace(/\.part$/, '').split('/').slice(-2).join('/');
        let bar = byFile.get(name);
        if (!bar) byFile.set(name, (bar = bars.create(p.total ?? 0, 0, { file: name })));
        bar.update(p.received, { file: name });
      },
      done: () => bars.stop(),
    };
  }
  const lastTenth = new Map<string, number>();
  return {
    onProgress(p) {
      if (!p.total) return;
      const tenth = Math.floor((10 * p.received) / p.total);
      if (tenth === lastTenth.get(p.file)) return;
      lastTenth.set(p.file, tenth);
      process.stderr.write(`${p.file.replace(/\.part$/, '')}: ${tenth * 10}% of ${p.total} bytes\n`);
    },
    done() {},
  };
}

function describe(files: DownloadOutcome[]): string {
  return files
    .map((f) => `  ${f.path} (${f.bytes} bytes${f.fetched ? (f.resumedFrom > 0 ? `, resumed at ${f.resumedFrom}` : '') : ', already there'}${f.verified ? ', checksum ok' : ', no checksum from the hub'})`)
    .join('\n');
}

async function guarded<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof UnsupportedCheckpointError) throw new UsageError(error.message);
    if (error instanceof DownloadError && (error.status === 401 || error.status === 403 || error.status === 404 || error.url === '')) throw new UsageError(error.message);
    if (error instanceof ChecksumMismatchError || error instanceof DownloadError) {
      process.stderr.write(`ballast: ${error.message}\n`);
      process.exitCode = 1;
      return undefined as T;
    }
    throw error;
  }
}

export function register(program: Command): void {
  const download = program
    .command('download')
    .summary('fetch a model or a GLUE task from the Hugging Face hub')
    .description(`Fetch from the Hugging Face hub (${hubEndpoint()}; HF_ENDPOINT for a mirror, HF_TOKEN for gated repositories) into the data root. Resumable and checksummed.`);
  download
    .command('model')
    .description('a BERT checkpoint (config.json, model.safetensors, vocabulary) into <data root>/models/<name>; safetensors only')
    .argument('<name>', 'hub repository id, e.g. bert-large-uncased or google-bert/bert-large-uncased')
    .option('--revision <rev>', 'branch, tag or commit', 'main')
    .option('--data-root <dir>', 'default: $BALLAST_DATA_ROOT, else the working directory')
    .action(async (name: string, flags: DownloadFlags) => {
      const progress = progressReporter();
      const result = await guarded(() => downloadModel(name, { revision: flags.revision, root: dataRoot(flags.dataRoot), onProgress: progress.onProgress }).finally(progress.done));
      if (result) process.stdout.write(`${result.repo}@${result.revision} -> ${result.dir}\n${describe(result.files)}\nuse it with: model: ${result.repo}\n`);
    });
  download
    .command('glue')
    .description('a GLUE task from the hub dataset nyu-mll/glue, written as the tsv files the presets read, into <data root>/glue/<TASK>')
    .argument('<task>', 'rte, mrpc, cola, sts-b, sst-2, qnli, qqp or mnli')
    .option('--revision <rev>', 'dataset revision', 'main')
    .option('--data-root <dir>', 'default: $BALLAST_DATA_ROOT, else the working directory')
    .action(async (task: string, flags: DownloadFlags) => {
      const progress = progressReporter();
      const result = await guarded(() => downloadGlue(task, { revision: flags.revision, root: dataRoot(flags.dataRoot), onProgress: progress.onProgress }).finally(progress.done));
      if (!result) return;
      const rows = Object.entries(result.rows).map(([file, n]) => `${file} ${n} rows`).join(', ');
      process.stdout.write(`${result.task} -> ${result.dir}: ${rows}${result.sanitized ? ` (${result.sanitized} cells had tabs or line breaks, replaced by spaces)` : ''}\nuse it with: task: {name: ${result.task}}\n`);
    });
}
