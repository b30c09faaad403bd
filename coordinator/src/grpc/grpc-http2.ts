// The gRPC protocol over HTTP/2, server side: what grpc-js's Server did for the coordinator, at a
// fraction of its CPU per unary call. The lease calls are thousands per second of small unary
// requests; on 2 cores grpc-js's per-call layers (call objects, interceptor chain, metadata
// objects, deadline timers, stream adapters) cost ~215 µs a call, the same reply written straight
// onto a node:http2 stream ~135 µs, and this server on its own HTTP/2 framing
// (http2-connection.ts) 69-95 µs with canned replies (bench/README.md, "Control plane"). Clients stay on grpc-js: they
// make one call every few seconds and the tests use them against this server.
//
// The contract kept (gRPC over HTTP/2, PROTOCOL-HTTP2.md): POST to /<service>/<method>,
// `content-type: application/grpc[+proto]`, length-prefixed messages (gzip and deflate accepted,
// replies never compressed), `grpc-timeout` as a deadline, the status in trailers (or a
// trailers-only response for a call that fails before replying), `grpc-message`
// percent-encoded, RST_STREAM as cancellation, GOAWAY on shutdown. What this file does not know:
// services, messages, tokens and TLS policy (grpc-server.ts), protobuf (grpc-bridge.ts).
import { createServer as createNetServer } from 'node:net';
import type { Server as NetServer, Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { gunzipSync, inflateSync } from 'node:zlib';
import { encodeHeaderBlock } from './hpack.ts';
import type { HeaderMap } from './hpack.ts';
import { Http2ServerConnection } from './http2-connection.ts';
import type { Http2ServerStream, StreamListener } from './http2-connection.ts';
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
  authorize?(path: string, headers: HeaderMap): void;
}

// Header blocks encoded once (hpack.ts: stateless, so the same bytes serve every connection).
const RESPONSE_HEADER_LIST: Array<[string, string]> = [
  [':status', '200'],
  ['content-type', 'application/grpc+proto'],
];
const RESPONSE_HEADERS = encodeHeaderBlock(RESPONSE_HEADER_LIST);
const OK_TRAILERS = encodeHeaderBlock([['grpc-status', '0']]);
const NOT_GRPC_HEADERS = encodeHeaderBlock([
  [':status', '415'],
  ['content-type', 'text/plain'],
]);
const NOT_GRPC_BODY = Buffer.from('this is a gRPC server: POST application/grpc\n');

function ignoreError(): void {}

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

type UnaryMethod = Extract<GrpcMethod, { kind: 'unary' | 'server_streaming' }>;
type BidiMethod = Extract<GrpcMethod, { kind: 'bidi_streaming' }>;

/**
 * One call: the handler's context, and the listener of its stream. The AbortSignal is made on
 * first use: most unary handlers never read it, and a controller with three sources (close,
 * deadline timer, shutdown) per call is measurable at thousands of calls per second.
 */
class Call implements CallContext, StreamListener {
  private controller: AbortController | undefined;
  /** Detaches the signal's sources (shutdown, deadline); set with the signal. */
  private detach: (() => void) | undefined;
  /** Set once the call has sent its status (or the stream is gone): nothing more is written. */
  done = false;
  /** Unary and server-streaming: the one request message, and a decoder if it came in pieces. */
  private request: Uint8Array | undefined;
  private decoder: MessageDecoder | undefined;
  /** The request was refused (a bad frame): the rest of it is ignored. */
  private refused = false;
  /** Bidi: the incoming messages. */
  private inbox: MessageQueue<unknown> | undefined;
  private drained: (() => void) | undefined;

  constructor(
    readonly stream: Http2ServerStream,
    private readonly path: string,
    private readonly method: GrpcMethod<any, any> | undefined,
    private readonly compression: string | undefined,
    private readonly maxBytes: number,
    private readonly deadline: number | undefined,
    private readonly shutdown: AbortSignal,
  ) {}

  get signal(): AbortSignal {
    if (this.controller) return this.controller.signal;
    const controller = new AbortController();
    this.controller = controller;
    const onShutdown = () => controller.abort(new RpcError(Code.UNAVAILABLE, 'the server is shutting down'));
    const onDeadline = () => {
      const error = new RpcError(Code.DEADLINE_EXCEEDED, 'the deadline passed');
      controller.abort(error);
      this.fail(error);
    };
    if (this.stream.closed && !this.done) controller.abort(new RpcError(Code.CANCELLED, 'the client cancelled the call'));
    const shutdown = this.shutdown;
    if (shutdown.aborted) onShutdown();
    else shutdown.addEventListener('abort', onShutdown, { once: true });
    const timer = this.deadline === undefined ? undefined : setTimeout(onDeadline, Math.max(0, this.deadline - performance.now()));
    timer?.unref();
    this.detach = () => {
      shutdown.removeEventListener('abort', onShutdown);
      if (timer) clearTimeout(timer);
    };
    return controller.signal;
  }

  get peer(): string {
    return this.stream.connection.peer;
  }

  header(key: string): string | undefined {
    const value = this.stream.headers[key];
    return value === undefined ? undefined : Array.isArray(value) ? value[0] : value;
  }

  /** Whether the handler's work can still reach the client. */
  get open(): boolean {
    return !this.done && !this.stream.closed;
  }

  onData(chunk: Buffer): void {
    if (this.refused || this.done) return;
    if (this.inbox !== undefined) {
      try {
        for (const message of this.decoder!.push(chunk)) this.inbox.push(this.method!.decode(message));
      } catch (error) {
        const rpcError = RpcError.from(error);
        this.inbox.end(rpcError);
        this.fail(rpcError);
      }
      return;
    }
    // The usual request, one uncompressed message in one chunk, needs no decoder.
    const maxBytes = this.maxBytes;
    if (this.decoder === undefined && this.request === undefined && chunk.length >= 5 && chunk[0] === 0 && chunk.readUInt32BE(1) === chunk.length - 5 && chunk.length - 5 <= maxBytes) {
      this.request = chunk.subarray(5);
      return;
    }
    this.decoder ??= new MessageDecoder(this.compression, maxBytes);
    try {
      for (const message of this.decoder.push(chunk)) {
        if (this.request !== undefined) throw new RpcError(Code.UNIMPLEMENTED, `${this.path} takes one request message, got more`);
        this.request = message;
      }
    } catch (error) {
      this.refused = true;
      this.fail(RpcError.from(error));
    }
  }

  onEnd(): void {
    if (this.inbox !== undefined) {
      const pending = this.decoder!.pending;
      return this.inbox.end(pending > 0 ? new RpcError(Code.INTERNAL, 'the request stream ended inside a message') : undefined);
    }
    if (this.refused || !this.open) return this.dispose();
    const method = this.method as UnaryMethod;
    const pending = this.decoder?.pending ?? 0;
    if (this.request === undefined || pending > 0) {
      const why = pending > 0 ? 'the request ended inside a message' : 'no request message';
      return this.fail(new RpcError(Code.INTERNAL, `${this.path}: ${why}`));
    }
    let decoded: unknown;
    try {
      decoded = method.decode(this.request);
    } catch (error) {
      return this.fail(new RpcError(Code.INTERNAL, `cannot decode the request: ${(error as Error).message}`));
    }
    this.request = undefined;
    if (method.kind === 'unary') {
      method.handle(decoded, this).then(
        (response) => {
          let bytes: Uint8Array;
          try {
            bytes = method.encode(response);
          } catch (error) {
            return this.fail(new RpcError(Code.INTERNAL, `cannot encode the reply: ${(error as Error).message}`));
          }
          this.succeed(bytes);
        },
        (error: unknown) => this.fail(RpcError.from(error)),
      );
    } else {
      void this.pump(() => method.handle(decoded, this));
    }
  }

  onClose(): void {
    this.inbox?.end(new RpcError(Code.CANCELLED, 'the client cancelled the call'));
    if (!this.done) this.controller?.abort(new RpcError(Code.CANCELLED, 'the client cancelled the call'));
    this.onDrain();
    if (this.done) this.dispose();
  }

  onDrain(): void {
    const drained = this.drained;
    this.drained = undefined;
    drained?.();
  }

  /** Runs a bidi handler on the incoming messages. */
  startBidi(): void {
    const method = this.method as BidiMethod;
    this.decoder = new MessageDecoder(this.compression, this.maxBytes);
    const inbox = new MessageQueue<unknown>();
    this.inbox = inbox;
    void this.pump(() => method.handle(inbox, this));
  }

  /** Ends the call with OK after `last` (a final message, or none). */
  succeed(last?: Uint8Array): void {
    if (!this.open) return this.dispose();
    this.done = true;
    const stream = this.stream;
    stream.respond(RESPONSE_HEADERS, false);
    if (last) stream.write(grpcFrame(last));
    stream.end(OK_TRAILERS);
    this.dispose();
  }

  /** Ends the call with an error status: in the trailers, or trailers-only before any reply. */
  fail(error: RpcError): void {
    if (!this.open) return this.dispose();
    this.done = true;
    const stream = this.stream;
    const status: Array<[string, string]> = [
      ['grpc-status', String(error.code)],
      ['grpc-message', encodeGrpcMessage(error.details)],
    ];
    if (!stream.headersSent) stream.respond(encodeHeaderBlock([...RESPONSE_HEADER_LIST, ...status]), true);
    else stream.end(encodeHeaderBlock(status));
    this.dispose();
  }

  /** Writes one message of a stream; resolves when the stream can take more (back-pressure). */
  async write(message: Uint8Array): Promise<void> {
    if (!this.open) return;
    const stream = this.stream;
    stream.respond(RESPONSE_HEADERS, false);
    if (stream.write(grpcFrame(message))) return;
    // Until the queue drains, or the call is cut short (shutdown, deadline): the pump then stops
    // writing instead of waiting on a client that does not read.
    const signal = this.signal;
    if (signal.aborted) return;
    await new Promise<void>((resolve) => {
      const release = () => {
        signal.removeEventListener('abort', release);
        this.drained = undefined;
        resolve();
      };
      this.drained = release;
      signal.addEventListener('abort', release, { once: true });
    });
  }

  /** Writes a handler's replies as they come, with back-pressure, then the status. */
  private async pump(replies: () => AsyncIterable<unknown>): Promise<void> {
    const encode = this.method!.encode;
    try {
      for await (const reply of replies()) {
        // Replies produced before a shutdown still go out (a health watcher's NOT_SERVING) before
        // its UNAVAILABLE; a cancelled or timed-out call is closed and takes no more.
        if (!this.open) break;
        await this.write(encode(reply));
      }
      const reason = this.open ? this.signal.reason : undefined;
      // A stream cut short by shutdown or its deadline says so (UNAVAILABLE: come back later).
      if (reason instanceof RpcError) this.fail(reason);
      else this.succeed();
    } catch (error) {
      this.fail(RpcError.from(error));
    }
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
  private readonly connections = new Set<Http2ServerConnection>();
  private readonly stopping = new AbortController();
  private server: NetServer | undefined;

  constructor(private readonly options: Http2GrpcServerOptions) {}

  /** Serves `method` at `path` (`/package.Service/Method`). */
  register(path: string, method: GrpcMethod<any, any>): void {
    if (this.methods.has(path)) throw new Error(`${path} is registered twice`);
    this.methods.set(path, method);
  }

  async listen(host: string, port: number): Promise<RunningHttp2GrpcServer> {
    const tls = this.options.tls;
    const accept = (socket: Socket) => {
      socket.setNoDelay(true);
      // A trainer whose machine vanished never closes its connection: TCP keepalive lets the
      // kernel find out, so that the connection and its streams are released.
      socket.setKeepAlive(true, 60_000);
      const connection = new Http2ServerConnection(socket, (stream) => this.onStream(stream));
      this.connections.add(connection);
      socket.once('close', () => this.connections.delete(connection));
      if (this.stopping.signal.aborted) connection.close();
    };
    const server: NetServer = tls
      ? createTlsServer(
          {
            cert: tls.cert,
            key: tls.key,
            ALPNProtocols: ['h2'],
            ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {}),
          },
          (socket: TLSSocket) => {
            // gRPC over TLS is HTTP/2 by ALPN; a client that did not ask for it is not speaking gRPC.
            if (socket.alpnProtocol !== 'h2') return void socket.destroy();
            accept(socket);
          },
        )
      : createNetServer(accept);
    // A TLS handshake that fails is the client's problem, not the server's.
    server.on('tlsClientError', ignoreError);
    this.server = server;
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
    for (const connection of this.connections) connection.close();
    const timer = setTimeout(() => {
      for (const connection of this.connections) connection.destroy();
    }, graceMs);
    await closed;
    clearTimeout(timer);
  }

  private onStream(stream: Http2ServerStream): void {
    const headers = stream.headers;
    const path = headers[':path'] as string;
    const contentType = headers['content-type'];
    if (headers[':method'] !== 'POST' || typeof contentType !== 'string' || !contentType.startsWith('application/grpc')) {
      // Not gRPC: the HTTP status tells a non-gRPC client what went wrong (PROTOCOL-HTTP2.md).
      stream.respond(NOT_GRPC_HEADERS, false);
      stream.write(NOT_GRPC_BODY);
      stream.end();
      return;
    }
    const timeout = parseGrpcTimeout(headers['grpc-timeout']);
    const encoding = headers['grpc-encoding'];
    const compression = typeof encoding === 'string' && encoding !== 'identity' ? encoding : undefined;
    const method = this.methods.get(path);
    const deadline = timeout === undefined ? undefined : performance.now() + timeout;
    const call = new Call(stream, path, method, compression, this.options.maxReceiveMessageBytes, deadline, this.stopping.signal);
    stream.listener = call;
    try {
      if (this.stopping.signal.aborted) throw new RpcError(Code.UNAVAILABLE, 'the server is shutting down');
      if (!method) throw new RpcError(Code.UNIMPLEMENTED, `unknown method ${path}`);
      this.options.authorize?.(path, headers);
    } catch (error) {
      call.fail(RpcError.from(error));
      return;
    }
    // Unary and server-streaming calls run from the call's onEnd, once their one message is in.
    if (method.kind === 'bidi_streaming') call.startBidi();
  }
}
