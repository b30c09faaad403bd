// `ballast download model NAME`: a BERT checkpoint from the hub into `<data root>/models/NAME/`,
// the layout the trainer loads (config.json, model.safetensors, vocab.txt, tokenizer files).
//
// Only safetensors weights are supported. `pytorch_model.bin` is a Python pickle: reading it
// safely needs a pickle interpreter and it can run code on load, so a repository that has only
// that file is refused with a message saying how to convert it. Sharded checkpoints
// (`model.safetensors.index.json`) are not supported either; BERT models up to bert-large fit
// one file.
import { join, resolve } from 'node:path';
import { downloadFile, headFile } from './download-file.ts';
import type { DownloadOptions, DownloadOutcome } from './download-file.ts';
import { hubToken, resolveUrl } from './hub-endpoint.ts';
import type { HubOptions } from './hub-endpoint.ts';

export const REQUIRED_MODEL_FILES = ['config.json', 'model.safetensors'] as const;
/** Tokenizer files: at least one of vocab.txt and tokenizer.json must exist. */
export const OPTIONAL_MODEL_FILES = ['vocab.txt', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'] as const;

export interface ModelDownload {
  repo: string;
  revision: string;
  dir: string;
  files: DownloadOutcome[];
}

export class UnsupportedCheckpointError extends Error {
  override readonly name = 'UnsupportedCheckpointError';
}

/** `<root>/models/<repo>`: what `model: <repo>` in a spec resolves to. */
export function modelDir(repo: string, root: string): string {
  return resolve(root, 'models', repo);
}

export async function downloadModel(
  repo: string,
  options: { revision?: string; root: string; hub?: HubOptions } & Omit<DownloadOptions, 'token'>,
): Promise<ModelDownload> {
  if (!/^[\w.-]+(\/[\w.-]+)?$/.test(repo) || repo.includes('..')) {
    throw new UnsupportedCheckpointError(`'${repo}' is not a hub repository id (like bert-large-uncased or google-bert/bert-large-uncased)`);
  }
  const revision = options.revision ?? 'main';
  const token = hubToken(options.hub);
  const url = (file: string) => resolveUrl(repo, revision, file, 'model', options.hub);
  const dir = modelDir(repo, options.root);

  const heads = new Map<string, Awaited<ReturnType<typeof headFile>>>();
  for (const file of [...REQUIRED_MODEL_FILES, ...OPTIONAL_MODEL_FILES]) {
    heads.set(file, await headFile(url(file), { ...(token ? { token } : {}), ...(options.signal ? { signal: options.signal } : {}) }));
  }
  if (!heads.get('config.json')) throw new UnsupportedCheckpointError(`${repo}@${revision}: no config.json; is this a model repository?`);
  if (!heads.get('model.safetensors')) {
    const sharded = await headFile(url('model.safetensors.index.json'), token ? { token } : {});
    if (sharded) throw new UnsupportedCheckpointError(`${repo}@${revision}: sharded safetensors (model.safetensors.index.json) are not supported`);
    const pickle = await headFile(url('pytorch_model.bin'), token ? { token } : {});
    throw new UnsupportedCheckpointError(
      pickle
        ? `${repo}@${revision} has only pytorch_model.bin, which Ballast does not read (a Python pickle). Convert it once with transformers: ` +
            `AutoModel.from_pretrained(dir).save_pretrained(dir, safe_serialization=True), or pick a revision with model.safetensors`
        : `${repo}@${revision}: no model.safetensors`,
    );
  }
  if (!heads.get('vocab.txt') && !heads.get('tokenizer.json')) {
    throw new UnsupportedCheckpointError(`${repo}@${revision}: neither vocab.txt nor tokenizer.json; Ballast needs one to tokenize`);
  }

  const files: DownloadOutcome[] = [];
  for (const [file, remote] of heads) {
    if (!remote) continue;
    files.push(await downloadFile(remote, join(dir, file), { ...options, ...(token ? { token } : {}) }));
  }
  return { repo, revision, dir, files };
}
