// The gRPC protocol on node:http2, server side: what grpc-js's Server did for the coordinator, at
// about half its CPU per unary call. The lease calls are thousands per second of small unary
// requests; on 2 cores grpc-js's per-call layers (call objects, interceptor chain, metadata
// objects, deadline timers, stream adapters) cost ~215 µs a call against ~135 µs for the same
// reply written straight onto the HTTP/2 stream (bench/README.md, "Control plane"). Clients stay
// on grpc-js: they make one call every few seconds and the tests use them against this server.
//
// The contract kept (gRPC over HTTP/2, PROTOCOL-HTTP2.md): POST to /<service>/<method>,
// `content-type: application/grpc[+proto]`, length-prefixed messages (gzip and deflate accepted,
// replies never compressed), `grpc-timeout` as a deadline, the status in trailers (or a
// trailers-only response for a call that fails before replying), `grpc-message`
// percent-encoded, RST_STREAM as cancellation, GOAWAY on shutdown. What this file does not know:
// services, messages, tokens and TLS policy (grpc-server.ts), protobuf (grpc-bridge.ts).
import { createSecureServer, createServer, constants as h2 } from 'node:http2';
import type { Http2Server, Http2Session, IncomingHttpHeaders, SecureServerOptions, ServerHttp2Stream } from 'node:http2';
import { gunzipSync, inflateSync } from 'node:zlib';
import { Code, RpcError } from './rpc-error.ts';

/** What a handler knows about its call. */
export interface CallContext {
  /** Aborted when the client cancels, its deadline passes or the server shuts down. */
  readonly signal: AbortSignal;
  /** The client's address, e.g. `127.0.0.1:53412`. */
  readonly peer: string;
  /** The first value of a request header (metadata key, lower case), if sent. */
  header(key: string): string | undefined;
}

/** One rpc as the server runs it: its codecs and a handler of its kind. */
export type GrpcMethod<Req = unknown, Res = unknown> = {
  decode(bytes: Uint8Array): Req;
  encode(message: Res): Uint8Array;
} & (
  | { kind: 'unary'; handle(request: Req, context: CallContext): Promise<Res> }
  | { kind: 'server_streaming'; handle(request: Req, context: CallContext): AsyncIterable<Res> }
  | { kind: 'bidi_streaming'; handle(requests: AsyncIterable<Req>, context: CallContext): AsyncIterable<Res> }
);

export interface Http2GrpcServerOptions {
  /** PEM certificate, key and (for mutual TLS) CA; without it the server speaks h2c. */
  tls?: { cert: Buffer; key: Buffer; ca?: Buffer };
  /** Largest request message accepted (RESOURCE_EXHAUSTED beyond). */
  maxReceiveMessageBytes: number;
  /**
   * Runs before a call is dispatched (with the request headers and path); a thrown RpcError
   * refuses it with that status. The token check lives here.
   */
  authorize?(path: string, headers: IncomingHttpHeaders): void;
}

const RESPONSE_HEADERS = { [h2.HTTP2_HEADER_STATUS]: 200, [h2.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc+proto' };
const WAIT_FOR_TRAILERS = { waitForTrailers: true };
const OK_TRAILERS = { 'grpc-status': '0' };

// Shared listeners (no closure per call): `this` is the stream.
function ignoreError(): void {}
function sendOkTrailers(this: ServerHttp2Stream): void {
  if (!this.destroyed) this.sendTrailers(OK_TRAILERS);
}

/** `grpc-message` is percent-encoded: everything outside printable ASCII, and `%` itself. */
export function encodeGrpcMessage(message: string): string {
  let plain = true;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return message;
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte < 0x20 || byte > 0x7e || byte === 0x25 ? `%${byte.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(byte);
  }
  return out;
}

const TIMEOUT_UNITS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** A `grpc-timeout` value in milliseconds (up to 8 digits and a unit), or undefined when absent or malformed. */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  // Every call carries one, so no RegExp match array per call.
  if (typeof value !== 'string' || value.length < 2 || value.length > 9) return undefined;
  const unit = TIMEOUT_UNITS[value[value.length - 1]!];
  let amount = 0;
  for (let i = 0; i < value.length - 1; i++) {
    const digit = value.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return undefined;
    amount = amount * 10 + digit;
  }
  return unit === undefined ? undefined : amount * unit;
}

/** One gRPC message on the wire: the uncompressed flag, the length, then the message. */
export function grpcFrame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.byteLength);
  out[0] = 0;
  out.writeUInt32BE(message.byteLength, 1);
  out.set(message, 5);
  return out;
}

/** Splits a request body into its length-prefixed messages, across chunk boundaries. */
export class MessageDecoder {
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;

  constructor(
    private readonly encoding: string | undefined,
    private readonly maxBytes: number,
  ) {}

  /** The complete messages in `chunk` and what came before it; throws RpcError on a bad frame. */
  push(chunk: Buffer): Uint8Array[] {
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.length;
    const messages: Uint8Array[] = [];
    while (this.bufferedBytes >= 5) {
      const head = this.buffered[0]!.length >= 5 ? this.buffered[0]! : this.flatten();
      const compressed = head[0]!;
      const length = head.readUInt32BE(1);
      if (length > this.maxBytes) {
        throw new RpcError(Code.RESOURCE_EXHAUSTED, `request message of ${length} bytes is larger than the limit of ${this.maxBytes}`);
      }
      if (this.bufferedBytes < 5 + length) break;
      const all = this.flatten();
      const body = all.subarray(5, 5 + length);
      const rest = all.subarray(5 + length);
      this.buffered = rest.length > 0 ? [rest] : [];
      this.bufferedBytes = rest.length;
      messages.push(compressed === 0 ? body : this.decompress(compressed, body));
    }
    return messages;
  }

  /** Bytes of an incomplete message left at the end of the body. */
  get pending(): number {
    return this.bufferedBytes;
  }

  private flatten(): Buffer {
    if (this.buffered.length > 1) this.buffered = [Buffer.concat(this.buffered)];
    return this.buffered[0]!;
  }

  private decompress(flag: number, body: Buffer): Uint8Array {
    if (flag !== 1) throw new RpcError(Code.INTERNAL, `bad message flag ${flag}`);
    let out: Buffer;
    try {
      if (this.encoding === 'gzip') out = gunzipSync(body, { maxOutputLength: this.maxBytes });
      else if (this.encoding === 'deflate') out = inflateSync(body, { maxOutputLength: this.maxBytes });
      else throw new RpcError(Code.UNIMPLEMENTED, `compressed message with grpc-encoding ${this.encoding ?? '(none)'}: accepted are gzip and deflate`);
    } catch (error) {
      if (error instanceof RpcError) throw error;
      throw new RpcError(Code.INTERNAL, `cannot decompress the request message: ${(error as Error).message}`);
    }
    return out;
  }
}

/** A pull queue: a bidi handler's incoming messages, or replies pushed by callback-style handlers. */
export class MessageQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  push(item: T): void {
    this.items.push(item);
    this.wake?.();
  }
  end(error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = error;
    this.wake?.();
  }
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.items.length > 0) {
        yield this.items.shift()!;
        continue;
      }
      if (this.failure) throw this.failure;
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}

/**
 * The per-call context. The AbortSignal is made on first use: most unary handlers never read it,
 * and a controller with three listeners (close, deadline timer, shutdown) per call is measurable
 * at thousands of calls per second.
 */
class Call implements CallContext {
  private controller: AbortController | undefined;
  /** Detaches the signal's sources (close, shutdown, deadline); set with the signal. */
  private detach: (() => void) | undefined;
  /** Set once the call has sent its status (or the stream is gone): nothing more is written. */
  done = false;

  constructor(
    readonly stream: ServerHttp2Stream,
    private readonly headers: IncomingHttpHeaders,
    private readonly deadline: number | undefined,
    private readonly shutdown: AbortSignal,
  ) {}

  get signal(): AbortSignal {
    if (this.controller) return this.controller.signal;
    const controller = new AbortController();
    this.controller = controller;
    const onClose = () => {
      if (!this.done) controller.abort(new RpcError(Code.CANCELLED, 'the client cancelled the call'));
    };
    const onShutdown = () => controller.abort(new RpcError(Code.UNAVAILABLE, 'the server is shutting down'));
    const onDeadline = () => {
      const error = new RpcError(Code.DEADLINE_EXCEEDED, 'the deadline passed');
      controller.abort(error);
      this.fail(error);
    };
    const stream = this.stream;
    const shutdown = this.shutdown;
    if (stream.closed || stream.destroyed) onClose();
    else stream.once('close', onClose);
    if (shutdown.aborted) onShutdown();
    else shutdown.addEventListener('abort', onShutdown, { once: true });
    const timer = this.deadline === undefined ? undefined : setTimeout(onDeadline, Math.max(0, this.deadline - performance.now()));
    timer?.unref();
    this.detach = () => {
      stream.off('close', onClose);
      shutdown.removeEventListener('abort', onShutdown);
      if (timer) clearTimeout(timer);
    };
    return controller.signal;
  }

  get peer(): string {
    const socket = this.stream.session?.socket;
    return socket ? `${socket.remoteAddress}:${socket.remotePort}` : 'unknown';
  }

  header(key: string): string | undefined {
    const value = this.headers[key];
    return value === undefined ? undefined : Array.isArray(value) ? value[0] : String(value);
  }

  /** Whether the handler's work can still reach the client. */
  get open(): boolean {
    return !this.done && !this.stream.destroyed && !this.stream.closed;
  }

  /** Ends the call with OK after `last` (a final message, or none). */
  succeed(last?: Uint8Array): void {
    if (!this.open) return this.dispose();
    this.done = true;
    const stream = this.stream;
    if (!stream.headersSent) stream.respond(RESPONSE_HEADERS, WAIT_FOR_TRAILERS);
    // `on`, not `once` (no wrapper per call): a stream asks for its trailers once.
    stream.on('wantTrailers', sendOkTrailers);
    if (last) stream.end(grpcFrame(last));
    else stream.end();
    this.dispose();
  }

  /** Ends the call with an error status: in the trailers, or trailers-only before any reply. */
  fail(error: RpcError): void {
    if (!this.open) return this.dispose();
    this.done = true;
    const stream = this.stream;
    const status = { 'grpc-status': String(error.code), 'grpc-message': encodeGrpcMessage(error.details) };
    if (!stream.headersSent) {
      stream.respond({ ...RESPONSE_HEADERS, ...status }, { endStream: true });
    } else {
      stream.once('wantTrailers', function (this: ServerHttp2Stream) {
        if (!this.destroyed) this.sendTrailers(status);
      });
      stream.end();
    }
    this.dispose();
  }

  /** Writes one message of a stream; resolves when the stream can take more (back-pressure). */
  async write(message: Uint8Array): Promise<void> {
    if (!this.open) return;
    const stream = this.stream;
    if (!stream.headersSent) stream.respond(RESPONSE_HEADERS, WAIT_FOR_TRAILERS);
    if (stream.write(grpcFrame(message))) return;
    const signal = this.signal;
    await new Promise<void>((resolve) => {
      const done = () => {
        stream.off('drain', done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      stream.on('drain', done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  dispose(): void {
    this.detach?.();
    this.detach = undefined;
  }
}

export interface RunningHttp2GrpcServer {
  readonly port: number;
  /** New calls are refused with UNAVAILABLE, handlers' signals abort, sessions get GOAWAY; after `graceMs` the rest are cut. */
  shutdown(graceMs: number): Promise<void>;
}

/** A gRPC server: register methods by path, then `listen`. */
export class Http2GrpcServer {
  private readonly methods = new Map<string, GrpcMethod<any, any>>();
  private readonly sessions = new Set<Http2Session>();
  private readonly stopping = new AbortController();
  private server: Http2Server | undefined;

  constructor(private readonly options: Http2GrpcServerOptions) {}

  /** Serves `method` at `path` (`/package.Service/Method`). */
  register(path: string, method: GrpcMethod<any, any>): void {
    if (this.methods.has(path)) throw new Error(`${path} is registered twice`);
    this.methods.set(path, method);
  }

  async listen(host: string, port: number): Promise<RunningHttp2GrpcServer> {
    const common = {
      // As grpc-js: Node's per-session memory cap throttles large messages badly, so it is off.
      maxSessionMemory: Number.MAX_SAFE_INTEGER,
      maxSendHeaderBlockLength: Number.MAX_SAFE_INTEGER,
    };
    const tls = this.options.tls;
    const server: Http2Server = tls
      ? createSecureServer({
          ...common,
          cert: tls.cert,
          key: tls.key,
          ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {}),
        } satisfies SecureServerOptions)
      : createServer(common);
    this.server = server;
    server.setTimeout(0);
    // A TLS socket's errors must have a listener or they crash the process (nodejs/node#35824).
    server.on('secureConnection', (socket) => socket.on('error', ignoreError));
    server.on('session', (session) => {
      this.sessions.add(session);
      session.on('error', ignoreError);
      session.on('close', () => this.sessions.delete(session));
      if (this.stopping.signal.aborted) session.close();
    });
    server.on('stream', (stream, headers) => this.onStream(stream, headers));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    return {
      port: typeof address === 'object' && address ? address.port : port,
      shutdown: (graceMs) => this.shutdown(graceMs),
    };
  }

  private async shutdown(graceMs: number): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.stopping.abort();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // GOAWAY: clients finish their calls in flight here and open new ones elsewhere.
    for (const session of this.sessions) session.close();
    const timer = setTimeout(() => {
      for (const session of this.sessions) session.destroy();
    }, graceMs);
    await closed;
    clearTimeout(timer);
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on('error', ignoreError);
    const path = headers[h2.HTTP2_HEADER_PATH] as string;
    const contentType = headers[h2.HTTP2_HEADER_CONTENT_TYPE];
    if (headers[h2.HTTP2_HEADER_METHOD] !== 'POST' || typeof contentType !== 'string' || !contentType.startsWith('application/grpc')) {
      // Not gRPC: the HTTP status tells a non-gRPC client what went wrong (PROTOCOL-HTTP2.md).
      stream.respond({ [h2.HTTP2_HEADER_STATUS]: 415, [h2.HTTP2_HEADER_CONTENT_TYPE]: 'text/plain' }, { endStream: false });
      stream.end('this is a gRPC server: POST application/grpc\n');
      return;
    }
    const timeout = parseGrpcTimeout(headers['grpc-timeout']);
    const call = new Call(stream, headers, timeout === undefined ? undefined : performance.now() + timeout, this.stopping.signal);
    const method = this.methods.get(path);
    try {
      if (this.stopping.signal.aborted) throw new RpcError(Code.UNAVAILABLE, 'the server is shutting down');
      if (!method) throw new RpcError(Code.UNIMPLEMENTED, `unknown method ${path}`);
      this.options.authorize?.(path, headers);
    } catch (error) {
      call.fail(RpcError.from(error));
      stream.resume(); // discard the request body
      return;
    }
    const encoding = headers['grpc-encoding'];
    const compression = typeof encoding === 'string' && encoding !== 'identity' ? encoding : undefined;
    const maxBytes = this.options.maxReceiveMessageBytes;
    if (method.kind === 'bidi_streaming') return this.runBidi(call, method, new MessageDecoder(compression, maxBytes));

    // Unary and server-streaming: exactly one request message, handled once the body has ended.
    let request: Uint8Array | undefined;
    let decoder: MessageDecoder | undefined;
    let refused = false;
    stream.on('data', (chunk: Buffer) => {
      if (refused) return;
      // The usual request, one uncompressed message in one chunk, needs no decoder.
      if (decoder === undefined && request === undefined && chunk.length >= 5 && chunk[0] === 0 && chunk.readUInt32BE(1) === chunk.length - 5 && chunk.length - 5 <= maxBytes) {
        request = chunk.subarray(5);
        return;
      }
      decoder ??= new MessageDecoder(compression, maxBytes);
      try {
        for (const message of decoder.push(chunk)) {
          if (request !== undefined) throw new RpcError(Code.UNIMPLEMENTED, `${path} takes one request message, got more`);
          request = message;
        }
      } catch (error) {
        refused = true;
        call.fail(RpcError.from(error));
      }
    });
    stream.on('end', () => {
      if (refused || !call.open) return call.dispose();
      const pending = decoder?.pending ?? 0;
      if (request === undefined || pending > 0) {
        const why = pending > 0 ? 'the request ended inside a message' : 'no request message';
        return call.fail(new RpcError(Code.INTERNAL, `${path}: ${why}`));
      }
      let decoded: unknown;
      try {
        decoded = method.decode(request);
      } catch (error) {
        return call.fail(new RpcError(Code.INTERNAL, `cannot decode the request: ${(error as Error).message}`));
      }
      if (method.kind === 'unary') {
        method.handle(decoded, call).then(
          (response) => {
            let bytes: Uint8Array;
            try {
              bytes = method.encode(response);
            } catch (error) {
              return call.fail(new RpcError(Code.INTERNAL, `cannot encode the reply: ${(error as Error).message}`));
            }
            call.succeed(bytes);
          },
          (error: unknown) => call.fail(RpcError.from(error)),
        );
      } else {
        void this.pump(call, method.encode, () => method.handle(decoded, call));
      }
    });
  }

  private runBidi(call: Call, method: Extract<GrpcMethod, { kind: 'bidi_streaming' }>, decoder: MessageDecoder): void {
    const inbox = new MessageQueue<unknown>();
    const stream = call.stream;
    stream.on('data', (chunk: Buffer) => {
      try {
        for (const message of decoder.push(chunk)) inbox.push(method.decode(message));
      } catch (error) {
        const rpcError = RpcError.from(error);
        inbox.end(rpcError);
        call.fail(rpcError);
      }
    });
    stream.once('end', () => inbox.end(decoder.pending > 0 ? new RpcError(Code.INTERNAL, 'the request stream ended inside a message') : undefined));
    stream.once('close', () => inbox.end(new RpcError(Code.CANCELLED, 'the client cancelled the call')));
    void this.pump(call, method.encode, () => method.handle(inbox, call));
  }

  /** Writes a handler's replies as they come, with back-pressure, then the status. */
  private async pump(call: Call, encode: (message: unknown) => Uint8Array, replies: () => AsyncIterable<unknown>): Promise<void> {
    try {
      for await (const reply of replies()) {
        // Replies produced before a shutdown still go out (a health watcher's NOT_SERVING) before
        // its UNAVAILABLE; a cancelled or timed-out call is closed and takes no more.
        if (!call.open) break;
        await call.write(encode(reply));
      }
      const reason = call.open ? call.signal.reason : undefined;
      // A stream cut short by shutdown or its deadline says so (UNAVAILABLE: come back later).
      if (reason instanceof RpcError) call.fail(reason);
      else call.succeed();
    } catch (error) {
      call.fail(RpcError.from(error));
    }
  }
}
