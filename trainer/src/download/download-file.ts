// One file from the hub onto disk: resumable, checksummed, atomic.
//   - HEAD first, without following the redirect, as huggingface_hub does: an LFS file answers
//     302 with `X-Linked-Etag` (its sha256) and `X-Linked-Size`; a small git file answers 200 with
//     `ETag` (its git blob sha1). Both are checked after the download, so a truncated or altered
//     file never lands under its final name.
//   - The bytes go to `<dest>.part`; a later run continues it with `Range: bytes=N-`.
//   - On success the part file is fsynced and renamed to `dest`.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';

export type Checksum = { algorithm: 'sha256' | 'git-sha1'; hex: string };

export interface RemoteFile {
  url: string;
  /** Total size in bytes, when the hub said. */
  size?: number;
  /** What the file must hash to; absent when the hub's ETag is not a content hash. */
  checksum?: Checksum;
}

export interface DownloadProgress {
  file: string;
  received: number;
  total?: number;
}

export interface DownloadOptions {
  token?: string;
  onProgress?: (progress: DownloadProgress) => void;
  signal?: AbortSignal;
  /** Attempts per file when the connection drops (each resumes where the last stopped). Default 3. */
  attempts?: number;
}

export interface DownloadOutcome {
  path: string;
  bytes: number;
  /** Bytes already on disk from an earlier, interrupted run. */
  resumedFrom: number;
  /** False when the file was already there and verified (nothing fetched). */
  fetched: boolean;
  verified: boolean;
}

/** An HTTP failure, with what the user can do about it. */
export class DownloadError extends Error {
  override readonly name = 'DownloadError';
  constructor(
    readonly url: string,
    readonly status: number | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The bytes on disk do not hash to what the hub announced. */
export class ChecksumMismatchError extends Error {
  override readonly name = 'ChecksumMismatchError';
  constructor(
    readonly path: string,
    readonly expected: Checksum,
    readonly actual: string,
  ) {
    super(
      `${path}: ${expected.algorithm} is ${actual}, but the hub announced ${expected.hex}; the download was corrupted and has been deleted (run the command again)`,
    );
  }
}

function authHeaders(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** Strips `W/` and quotes, as huggingface_hub's `_normalize_etag`. */
export function normalizeEtag(etag: string | null): string | undefined {
  if (!etag) return undefined;
  return etag.replace(/^W\//, '').replace(/^"+|"+$/g, '');
}

export function checksumOf(etag: string | undefined): Checksum | undefined {
  if (!etag) return undefined;
  if (/^[0-9a-f]{64}$/i.test(etag)) return { algorithm: 'sha256', hex: etag.toLowerCase() };
  if (/^[0-9a-f]{40}$/i.test(etag)) return { algorithm: 'git-sha1', hex: etag.toLowerCase() };
  return undefined;
}

function explainStatus(url: string, status: number): DownloadError {
  if (status === 401 || status === 403) {
    return new DownloadError(url, status, `${url}: HTTP ${status}: the repository is gated or private; accept its terms on the hub and set HF_TOKEN`);
  }
  if (status === 404) return new DownloadError(url, status, `${url}: HTTP 404: no such repository, revision or file`);
  return new DownloadError(url, status, `${url}: HTTP ${status}`);
}

/** Where the file is and what it must hash to; null when the hub has no such file (404). */
export async function headFile(url: string, options: { token?: string; signal?: AbortSignal } = {}): Promise<RemoteFile | null> {
  let target = url;
  // Follow relative redirects only (a renamed repository); an absolute one is the LFS CDN, whose
  // headers we do not need: the hub put the file's sha256 on this response.
  for (let hops = 0; hops < 5; hops++) {
    let response: Response;
    try {
      response = await fetch(target, { method: 'HEAD', redirect: 'manual', headers: { ...authHeaders(options.token), 'accept-encoding': 'identity' }, ...(options.signal ? { signal: options.signal } : {}) });
    } catch (error) {
      throw new DownloadError(target, undefined, `${target}: ${(error as Error).message} (is the hub reachable? set HF_ENDPOINT for a mirror)`, { cause: error });
    }
    if (response.status === 404) return null;
    const linkedEtag = normalizeEtag(response.headers.get('x-linked-etag'));
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location && !linkedEtag && !/^[a-z]+:\/\//i.test(location)) {
      target = new URL(location, target).toString();
      continue;
    }
    if (response.status >= 400) throw explainStatus(target, response.status);
    const etag = linkedEtag ?? normalizeEtag(response.headers.get('etag'));
    const sizeHeader = response.headers.get('x-linked-size') ?? (response.status === 200 ? response.headers.get('content-length') : null);
    const size = sizeHeader !== null && /^\d+$/.test(sizeHeader) ? Number(sizeHeader) : undefined;
    const checksum = checksumOf(etag);
    return { url: target, ...(size !== undefined ? { size } : {}), ...(checksum ? { checksum } : {}) };
  }
  throw new DownloadError(url, undefined, `${url}: too many redirects`);
}

/** Hashes a file as the checksum demands: sha256 of the bytes, or git's `blob <size>\0` + bytes. */
async function hashFile(path: string, algorithm: Checksum['algorithm']): Promise<string> {
  const hash = createHash(algorithm === 'sha256' ? 'sha256' : 'sha1');
  if (algorithm === 'git-sha1') hash.update(`blob ${statSync(path).size}\0`);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function verify(path: string, checksum: Checksum | undefined): Promise<boolean> {
  if (!checksum) return false;
  const actual = await hashFile(path, checksum.algorithm);
  if (actual !== checksum.hex) {
    rmSync(path, { force: true });
    throw new ChecksumMismatchError(path, checksum, actual);
  }
  return true;
}

/**
 * Downloads `remote` to `dest`. A `dest` already there with the right size and hash is kept as it
 * is; a `<dest>.part` from an interrupted run is continued.
 */
export async function downloadFile(remote: RemoteFile, dest: string, options: DownloadOptions = {}): Promise<DownloadOutcome> {
  mkdirSync(dirname(dest), { recursive: true });
  if (existsSync(dest) && (remote.size === undefined || statSync(dest).size === remote.size)) {
    try {
      const verified = await verify(dest, remote.checksum);
      return { path: dest, bytes: statSync(dest).size, resumedFrom: 0, fetched: false, verified };
    } catch (error) {
      if (!(error instanceof ChecksumMismatchError)) throw error;
      // A stale or damaged copy: it was removed, fetch it again.
    }
  }
  const part = `${dest}.part`;
  const resumedFrom = existsSync(part) ? statSync(part).size : 0;
  const attempts = options.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      await fetchInto(remote, part, options);
      break;
    } catch (error) {
      const retry = error instanceof DownloadError && (error.status === undefined || error.status >= 500) && attempt < attempts && !options.signal?.aborted;
      if (!retry) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
  const bytes = statSync(part).size;
  if (remote.size !== undefined && bytes !== remote.size) {
    throw new DownloadError(remote.url, undefined, `${part}: got ${bytes} bytes of ${remote.size}; run the command again to resume`);
  }
  let verified: boolean;
  try {
    verified = await verify(part, remote.checksum);
  } catch (error) {
    if (error instanceof ChecksumMismatchError) throw new ChecksumMismatchError(dest, error.expected, error.actual);
    throw error;
  }
  renameSync(part, dest);
  return { path: dest, bytes, resumedFrom, fetched: true, verified };
}

/** Appends the missing bytes to `part` (from its current size). */
async function fetchInto(remote: RemoteFile, part: string, options: DownloadOptions): Promise<void> {
  let offset = existsSync(part) ? statSync(part).size : 0;
  if (remote.size !== undefined && offset === remote.size) return; // complete, not yet verified
  if (remote.size !== undefined && offset > remote.size) {
    rmSync(part);
    offset = 0;
  }
  const headers: Record<string, string> = { ...authHeaders(options.token), 'accept-encoding': 'identity' };
  if (offset > 0) headers.range = `bytes=${offset}-`;
  let response: Response;
  try {
    response = await fetch(remote.url, { headers, redirect: 'follow', ...(options.signal ? { signal: options.signal } : {}) });
  } catch (error) {
    throw new DownloadError(remote.url, undefined, `${remote.url}: ${(error as Error).message}`, { cause: error });
  }
  if (response.status === 416 && offset > 0) {
    // The server says our range starts at or past the end: the part file is complete.
    await response.body?.cancel();
    return;
  }
  if (response.status !== 200 && response.status !== 206) {
    await response.body?.cancel();
    throw explainStatus(remote.url, response.status);
  }
  const append = response.status === 206;
  if (append) {
    const range = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '');
    if (!range || Number(range[1]) !== offset) {
      await response.body?.cancel();
      throw new DownloadError(remote.url, 206, `${remote.url}: the server resumed at the wrong offset (${response.headers.get('content-range')}, wanted ${offset})`);
    }
  } else {
    offset = 0; // the server ignored the range: start over
  }
  const file = await open(part, append ? 'a' : 'w');
  let received = offset;
  try {
    if (!response.body) throw new DownloadError(remote.url, response.status, `${remote.url}: empty response`);
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      await file.write(chunk);
      received += chunk.byteLength;
      options.onProgress?.({ file: part, received, ...(remote.size !== undefined ? { total: remote.size } : {}) });
    }
    await file.sync();
  } catch (error) {
    if (error instanceof DownloadError) throw error;
    throw new DownloadError(remote.url, undefined, `${remote.url}: interrupted after ${received} bytes (${(error as Error).message}); kept ${part} to resume`, { cause: error });
  } finally {
    await file.close();
  }
}
