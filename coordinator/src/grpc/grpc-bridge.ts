// The one adapter between protobuf-es service descriptors and @grpc/grpc-js: a grpc-js service
// definition from a `GenService`, server handlers typed against the descriptor (a misspelled or
// missing rpc fails `tsc`), and a typed client from the same descriptor. Everything else speaks
// protobuf-es messages, `RpcError` and `AbortSignal`; grpc-js stays behind this file and
// grpc-server.ts (listening, credentials, health, reflection).
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import type { DescMessage, DescMethod, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2';
import { decodeMessage } from './fast-decode.ts';
import { encodeMessage } from './fast-encode.ts';
import { Code, RpcError } from './rpc-error.ts';

type Method = GenServiceMethods[string];

/** What a handler knows about its call. */
export interface HandlerContext {
  /** Aborted when the client cancels, its deadline passes or the server shuts down. */
  readonly signal: AbortSignal;
  /** The client's address, e.g. `ipv4:127.0.0.1:53412`. */
  readonly peer: string;
  /** The first value of a request metadata key (lower case), if sent. */
  header(key: string): string | undefined;
}

type UnaryHandler<M extends Method> = (
  request: MessageShape<M['input']>,
  context: HandlerContext,
) => Promise<MessageInitShape<M['output']>>;
type ServerStreamingHandler<M extends Method> = (
  request: MessageShape<M['input']>,
  context: HandlerContext,
) => AsyncIterable<MessageInitShape<M['output']>>;

type Handler<M extends Method> = M['methodKind'] extends 'unary'
  ? UnaryHandler<M>
  : M['methodKind'] extends 'server_streaming'
    ? ServerStreamingHandler<M>
    : never;

/** A service implementation: one handler per rpc, keyed by the rpc's local (camelCase) name. */
export type ServiceImpl<T extends GenServiceMethods> = { [K in keyof T]: Handler<T[K]> };

function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

function codec<D extends DescMessage>(schema: D) {
  return {
    // Takes a message or an init object (handlers return init objects; no create() per reply).
    serialize: (message: MessageInitShape<D>) => {
      const bytes = encodeMessage(schema, message);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    deserialize: (bytes: Buffer) => decodeMessage(schema, bytes),
  };
}

/** The grpc-js definition of a protobuf-es service: paths, codecs and streaming flags. */
export function serviceDefinition(service: GenService<GenServiceMethods>): grpc.ServiceDefinition {
  const definition: Record<string, grpc.MethodDefinition<MessageShape<DescMessage>, MessageShape<DescMessage>>> = {};
  for (const method of service.methods) {
    const input = codec(method.input);
    const output = codec(method.output);
    definition[method.localName] = {
      path: methodPath(method),
      requestStream: method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
      responseStream: method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
      requestSerialize: input.serialize,
      requestDeserialize: input.deserialize,
      responseSerialize: output.serialize,
      responseDeserialize: output.deserialize,
      originalName: method.name,
    };
  }
  return definition;
}

function handlerContext(
  call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>,
  shutdown: AbortSignal | undefined,
): HandlerContext & { dispose(): void } {
  // The signal is made on first use: most unary handlers never look at it, and an
  // AbortController plus listeners per call is measurable at thousands of calls per second.
  let abort: AbortController | undefined;
  let stop: (() => void) | undefined;
  return {
    dispose() {
      // Drop the listener with the call, or a long-lived server would collect one per call.
      if (stop) shutdown?.removeEventListener('abort', stop);
    },
    get signal() {
      if (!abort) {
        const controller = new AbortController();
        abort = controller;
        const cancel = () => controller.abort(new RpcError(Code.CANCELLED, 'the client cancelled the call'));
        stop = () => controller.abort(new RpcError(Code.UNAVAILABLE, 'the server is shutting down'));
        if (call.cancelled) cancel();
        else call.once('cancelled', cancel);
        if (shutdown?.aborted) stop();
        else shutdown?.addEventListener('abort', stop, { once: true });
      }
      return abort.signal;
    },
    get peer() {
      return call.getPeer();
    },
    header(key) {
      const value = call.metadata.get(key)[0];
      return value === undefined ? undefined : String(value);
    },
  };
}

function toStatus(error: RpcError): Partial<grpc.StatusObject> {
  return { code: error.code as number as grpc.status, details: error.details };
}

/** How a handler's failure becomes a status: the service's one error-mapping function. */
export type ErrorMapper = (error: unknown) => RpcError;

/** Hooks for observing calls (the Prometheus metrics plug in here). */
export interface CallObserver {
  /** Called once per finished call with its rpc, status code and duration. */
  onCallEnd(rpc: string, code: Code, durationMs: number): void;
}

/** Adds a protobuf-es service to a grpc-js server, with handlers typed against its descriptor. */
export function addService<T extends GenServiceMethods>(
  server: grpc.Server,
  service: GenService<T>,
  impl: ServiceImpl<T>,
  options: {
    mapError?: ErrorMapper;
    observer?: CallObserver;
    /** Aborted when the server starts shutting down: streams end with UNAVAILABLE, long polls return. */
    shutdown?: AbortSignal;
  } = {},
): void {
  const mapError = options.mapError ?? RpcError.from;
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const method of service.methods) {
    const handler = (impl as Record<string, unknown>)[method.localName];
    if (typeof handler !== 'function') throw new Error(`no handler for ${methodPath(method)}`);
    const finish = (started: number, code: Code) => options.observer?.onCallEnd(method.name, code, performance.now() - started);
    if (method.methodKind === 'unary') {
      const unary = handler as UnaryHandler<Method>;
      handlers[method.localName] = (call: grpc.ServerUnaryCall<MessageShape<DescMessage>, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        const started = performance.now();
        const context = handlerContext(call, options.shutdown);
        unary(call.request as never, context).then(
          (response) => {
            context.dispose();
            finish(started, Code.OK);
            callback(null, response);
          },
          (error: unknown) => {
            context.dispose();
            const rpcError = mapError(error);
            finish(started, rpcError.code);
            callback(toStatus(rpcError));
          },
        );
      };
    } else if (method.methodKind === 'server_streaming') {
      const streaming = handler as ServerStreamingHandler<Method>;
      handlers[method.localName] = (call: grpc.ServerWritableStream<MessageShape<DescMessage>, unknown>) => {
        const started = performance.now();
        const context = handlerContext(call, options.shutdown);
        void (async () => {
          try {
            for await (const response of streaming(call.request as never, context)) {
              if (context.signal.aborted) break;
              // Respect back-pressure: a slow watcher must not make the server buffer without bound.
              if (!call.write(response)) {
                await new Promise<void>((resolve) => {
                  const done = () => {
                    call.off('drain', done);
                    context.signal.removeEventListener('abort', done);
                    resolve();
                  };
                  call.on('drain', done);
                  context.signal.addEventListener('abort', done);
                });
              }
            }
            if (options.shutdown?.aborted && !call.cancelled) {
              // Tell the client to come back (to this server restarted, or another): UNAVAILABLE is
              // what clients retry.
              finish(started, Code.UNAVAILABLE);
              call.emit('error', Object.assign(new Error('the server is shutting down'), { code: grpc.status.UNAVAILABLE, details: 'the server is shutting down' }));
              return;
            }
            finish(started, context.signal.aborted ? Code.CANCELLED : Code.OK);
            if (!context.signal.aborted) call.end();
          } catch (error) {
            const rpcError = mapError(error);
            finish(started, rpcError.code);
            // 'error' is how grpc-js takes a status for a stream (destroy() would skip sending it).
            if (!context.signal.aborted) call.emit('error', Object.assign(new Error(rpcError.details), toStatus(rpcError)));
          } finally {
            context.dispose();
          }
        })();
      };
    } else {
      throw new Error(`${methodPath(method)}: ${method.methodKind} rpcs are not supported by the bridge`);
    }
  }
  server.addService(serviceDefinition(service), handlers);
}

// ---- client ----------------------------------------------------------------------------------

/** Per-call options of a client method. */
export interface CallOptions {
  /** Cancels the call (the promise rejects with CANCELLED). */
  signal?: AbortSignal;
  /** Fails the call with DEADLINE_EXCEEDED after this many milliseconds. */
  timeoutMs?: number;
}

type UnaryCall<M extends Method> = (
  request: MessageInitShape<M['input']>,
  options?: CallOptions,
) => Promise<MessageShape<M['output']>>;
type ServerStreamingCall<M extends Method> = (
  request: MessageInitShape<M['input']>,
  options?: CallOptions,
) => AsyncIterable<MessageShape<M['output']>>;

/** A client with one async method per rpc, keyed by the rpc's local (camelCase) name. */
export type ServiceClient<T extends GenServiceMethods> = {
  [K in keyof T]: T[K]['methodKind'] extends 'unary'
    ? UnaryCall<T[K]>
    : T[K]['methodKind'] extends 'server_streaming'
      ? ServerStreamingCall<T[K]>
      : never;
} & { close(): void };

/** How a client reaches and authenticates to the server. */
export interface ClientTransportOptions {
  /** PEM CA bundle to verify the server with; its presence turns TLS on. */
  tlsCa?: Buffer;
  /** PEM client certificate and key, for servers that require mutual TLS. */
  tlsCert?: Buffer;
  tlsKey?: Buffer;
  /** Verify the server certificate against this name instead of the target's host. */
  tlsServerName?: string;
  /** Sent as `authorization: Bearer <token>` on every call. */
  token?: string;
}

function fromServiceError(error: grpc.ServiceError | Error): RpcError {
  const code = (error as Partial<grpc.ServiceError>).code;
  const details = (error as Partial<grpc.ServiceError>).details ?? error.message;
  if (typeof code === 'number') return new RpcError(code as Code, details, { cause: error });
  return RpcError.from(error);
}

function callMetadata(token: string | undefined): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

function grpcCallOptions(options: CallOptions | undefined): grpc.CallOptions {
  return options?.timeoutMs !== undefined ? { deadline: new Date(Date.now() + options.timeoutMs) } : {};
}

/** A typed client of a protobuf-es service over one grpc-js channel. */
export function createClient<T extends GenServiceMethods>(
  service: GenService<T>,
  target: string,
  transport: ClientTransportOptions = {},
): ServiceClient<T> {
  const tls = transport.tlsCa !== undefined || transport.tlsCert !== undefined;
  const credentials = tls
    ? grpc.credentials.createSsl(transport.tlsCa ?? null, transport.tlsKey ?? null, transport.tlsCert ?? null)
    : grpc.credentials.createInsecure();
  const channelOptions: grpc.ChannelOptions = {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.keepalive_time_ms': 30_000,
    ...(transport.tlsServerName !== undefined ? { 'grpc.ssl_target_name_override': transport.tlsServerName } : {}),
  };
  const client = new grpc.Client(target, credentials, channelOptions);
  const methods: Record<string, unknown> = { close: () => client.close() };
  for (const method of service.methods) {
    const path = methodPath(method);
    const input = codec(method.input);
    const output = codec(method.output);
    if (method.methodKind === 'unary') {
      methods[method.localName] = (request: MessageInitShape<DescMessage>, options?: CallOptions) =>
        new Promise((resolve, reject) => {
          if (options?.signal?.aborted) return reject(new RpcError(Code.CANCELLED, 'aborted before the call'));
          const call = client.makeUnaryRequest(
            path,
            input.serialize,
            output.deserialize,
            create(method.input, request),
            callMetadata(transport.token),
            grpcCallOptions(options),
            (error, response) => {
              options?.signal?.removeEventListener('abort', onAbort);
              if (error) reject(fromServiceError(error));
              else resolve(response);
            },
          );
          const onAbort = () => call.cancel();
          options?.signal?.addEventListener('abort', onAbort, { once: true });
        });
    } else if (method.methodKind === 'server_streaming') {
      methods[method.localName] = (request: MessageInitShape<DescMessage>, options?: CallOptions) => ({
        async *[Symbol.asyncIterator]() {
          if (options?.signal?.aborted) throw new RpcError(Code.CANCELLED, 'aborted before the call');
          const call = client.makeServerStreamRequest(
            path,
            input.serialize,
            output.deserialize,
            create(method.input, request),
            callMetadata(transport.token),
            grpcCallOptions(options),
          );
          const onAbort = () => call.cancel();
          options?.signal?.addEventListener('abort', onAbort, { once: true });
          try {
            for await (const message of call) yield message;
          } catch (error) {
            throw fromServiceError(error as grpc.ServiceError);
          } finally {
            options?.signal?.removeEventListener('abort', onAbort);
            call.cancel();
          }
        },
      });
    }
  }
  return methods as ServiceClient<T>;
}
