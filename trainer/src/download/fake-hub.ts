// A local stand-in for the Hugging Face hub, for tests: the same URL layout and headers as the
// real one (resolve URLs; LFS files answer with a 302 to a CDN URL plus `X-Linked-Etag` and
// `X-Linked-Size`; git files with their blob sha1 as ETag; Range requests; the tree API), and
// knobs to break it: cut a response after N bytes, serve altered bytes, require a token.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface HostedFile {
  data: Buffer;
  lfs: boolean;
}

export interface FakeHub {
  endpoint: string;
  /** `model` files live at `<repo>/<path>`, dataset files at `datasets/<repo>/<path>`. */
  add(type: 'model' | 'dataset', repo: string, path: string, data: Buffer | string, options?: { lfs?: boolean }): void;
  /** The next GET of a file sends only this many bytes, then drops the connection. */
  interruptNextAfter(bytes: number): void;
  /** Serve these bytes instead of the file's (the announced checksum stays the true one). */
  corrupt(type: 'model' | 'dataset', repo: string, path: string, data: Buffer): void;
  requireToken(token: string | undefined): void;
  readonly requests: Array<{ method: string; url: string; range?: string; authorization?: string }>;
  close(): Promise<void>;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function gitBlobSha1(data: Buffer): string {
  return createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
}

export async function startFakeHub(): Promise<FakeHub> {
  const files = new Map<string, HostedFile>();
  const corrupted = new Map<string, Buffer>();
  const bySha = new Map<string, string>();
  const requests: FakeHub['requests'] = [];
  let interruptAfter: number | undefined;
  let token: string | undefined;

  function serveBytes(req: IncomingMessage, res: ServerResponse, data: Buffer, headers: Record<string, string>): void {
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    let start = 0;
    if (range) {
      start = Number(range[1]);
      if (start >= data.length) {
        res.writeHead(416, { 'content-range': `bytes */${data.length}` }).end();
        return;
      }
      res.writeHead(206, { ...headers, 'content-length': String(data.length - start), 'content-range': `bytes ${start}-${data.length - 1}/${data.length}` });
    } else {
      res.writeHead(200, { ...headers, 'content-length': String(data.length) });
    }
    if (req.method === 'HEAD') return void res.end();
    const body = data.subarray(start);
    if (interruptAfter !== undefined) {
      const cut = interruptAfter;
      interruptAfter = undefined;
      res.write(body.subarray(0, cut), () => res.socket?.destroy());
      return;
    }
    res.end(body);
  }

  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', ...(req.headers.range ? { range: req.headers.range } : {}), ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    const url = new URL(req.url ?? '/', 'http://hub');
    const path = decodeURIComponent(url.pathname);
    if (token !== undefined && !path.startsWith('/cdn/') && req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401).end('unauthorized');
      return;
    }
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(path);
    if (cdn) {
      const key = bySha.get(cdn[1]!);
      if (!key) return void res.writeHead(404).end();
      return serveBytes(req, res, corrupted.get(key) ?? files.get(key)!.data, { 'content-type': 'application/octet-stream' });
    }
    const tree = /^\/api\/datasets\/(.+?\/.+?)\/tree\/([^/]+)\/(.+)$/.exec(path);
    if (tree) {
      const prefix = `datasets/${tree[1]}/${tree[3]}/`;
      const listing = [...files.entries()]
        .filter(([key]) => key.startsWith(prefix))
        .map(([key, file]) => {
          const relative = key.slice(`datasets/${tree[1]}/`.length);
          return file.lfs
            ? { type: 'file', path: relative, size: file.data.length, oid: gitBlobSha1(Buffer.from('pointer')), lfs: { oid: sha256(file.data), size: file.data.length, pointerSize: 130 } }
            : { type: 'file', path: relative, size: file.data.length, oid: gitBlobSha1(file.data) };
        });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(listing));
      return;
    }
    const resolve = /^\/((?:datasets\/)?.+?)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    const file = resolve ? files.get(`${resolve[1]}/${resolve[3]}`) : undefined;
    if (!resolve || !file) return void res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end();
    const key = `${resolve[1]}/${resolve[3]}`;
    if (file.lfs) {
      const sha = sha256(file.data);
      const port = (server.address() as AddressInfo).port;
      res.writeHead(302, { location: `http://127.0.0.1:${port}/cdn/${sha}`, 'x-linked-etag': `"${sha}"`, 'x-linked-size': String(file.data.length), etag: `"${sha}"` }).end();
      return;
    }
    serveBytes(req, res, corrupted.get(key) ?? file.data, { etag: `"${gitBlobSha1(file.data)}"`, 'content-type': 'text/plain' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const keyOf = (type: 'model' | 'dataset', repo: string, path: string) => `${type === 'dataset' ? 'datasets/' : ''}${repo}/${path}`;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    add(type, repo, path, data, options = {}) {
      const buffer = Buffer.isBuffer(data) ? data : Buffer.from(data);
      const key = keyOf(type, repo, path);
      files.set(key, { data: buffer, lfs: options.lfs ?? false });
      bySha.set(sha256(buffer), key);
    },
    interruptNextAfter(bytes) {
      interruptAfter = bytes;
    },
    corrupt(type, repo, path, data) {
      corrupted.set(keyOf(type, repo, path), data);
    },
    requireToken(value) {
      token = value;
    },
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
