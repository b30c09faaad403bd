// The Hugging Face hub's URL layout, as `huggingface_hub` builds it: files of a revision at
// `{endpoint}/{repo}/resolve/{revision}/{path}` (datasets under `{endpoint}/datasets/…`), the
// endpoint overridable with HF_ENDPOINT (mirrors, and the tests' local server), the token from
// HF_TOKEN sent as a bearer token.
export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

export type RepoType = 'model' | 'dataset';

export interface HubOptions {
  endpoint?: string;
  token?: string;
}

export function hubEndpoint(options: HubOptions = {}): string {
  return (options.endpoint ?? process.env.HF_ENDPOINT ?? DEFAULT_HUB_ENDPOINT).replace(/\/+$/, '');
}

export function hubToken(options: HubOptions = {}): string | undefined {
  const token = options.token ?? process.env.HF_TOKEN ?? process.env.HUGGING_FACE_HUB_TOKEN;
  return token && token.trim() ? token.trim() : undefined;
}

/** `revision` may contain a slash (`refs/convert/parquet`), so it is encoded as one path segment. */
export function resolveUrl(repo: string, revision: string, path: string, type: RepoType, options: HubOptions = {}): string {
  const prefix = type === 'dataset' ? 'datasets/' : '';
  const file = path.split('/').map(encodeURIComponent).join('/');
  return `${hubEndpoint(options)}/${prefix}${repo}/resolve/${encodeURIComponent(revision)}/${file}`;
}
