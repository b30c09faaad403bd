// The one adapter between protobuf-es service descriptors and the gRPC transport: server handlers
// typed against the descriptor (a misspelled or missing rpc fails `tsc`) served by
// Http2GrpcServer (grpc-http2.ts), and a typed grpc-js client from the same descriptor.
// Everything else speaks protobuf-es messages, `RpcError` and `AbortSignal`; the transport stays
// behind this file and grpc-server.ts (listening, credentials, health, reflection).
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import type { DescMessage, DescMethod, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2';
import { decodeMessage } from './fast-decode.ts';
import { encodeMessage } from './fast-encode.ts';
import type { CallContext, Http2GrpcServer } from './grpc-http2.ts';
import { Code, RpcError } from './rpc-error.ts';

type Method = GenServiceMethods[string];

/** What a handler knows about its call. */
export type HandlerContext = CallContext;

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
    deserialize: (bytes: Uint8Array) => decodeMessage(schema, bytes),
  };
}

/** How a handler's failure becomes a status: the service's one error-mapping function. */
export type ErrorMapper = (error: unknown) => RpcError;

/** Hooks for observing calls (the Prometheus metrics plug in here). */
export interface CallObserver {
  /** Called once per finished call with its rpc, status code and duration. */
  onCallEnd(rpc: string, code: Code, durationMs: number): void;
}

/** Serves a protobuf-es service, with handlers typed against its descriptor. */
export function addService<T extends GenServiceMethods>(
  server: Http2GrpcServer,
  service: GenService<T>,
  impl: ServiceImpl<T>,
  options: {
    mapError?: ErrorMapper;
    observer?: CallObserver;
  } = {},
): void {
  const mapError = options.mapError ?? RpcError.from;
  const observer = options.observer;
  for (const method of service.methods) {
    const handler = (impl as Record<string, unknown>)[method.localName];
    if (typeof handler !== 'function') throw new Error(`no handler for ${methodPath(method)}`);
    const input = codec(method.input);
    const output = codec(method.output);
    const codecs = { decode: input.deserialize, encode: output.serialize };
    const name = method.name;
    if (method.methodKind === 'unary') {
      const unary = handler as UnaryHandler<Method>;
      server.register(methodPath(method), {
        ...codecs,
        kind: 'unary',
        async handle(request, context) {
          const started = performance.now();
          try {
            const response = await unary(request as never, context);
            observer?.onCallEnd(name, Code.OK, performance.now() - started);
            return response;
          } catch (error) {
            const rpcError = mapError(error);
            observer?.onCallEnd(name, rpcError.code, performance.now() - started);
            throw rpcError;
          }
        },
      });
    } else if (method.methodKind === 'server_streaming') {
      const streaming = handler as ServerStreamingHandler<Method>;
      server.register(methodPath(method), {
        ...codecs,
        kind: 'server_streaming',
        async *handle(request, context) {
          const started = performance.now();
          let code: Code = Code.OK;
          try {
            yield* streaming(request as never, context);
            // Ended by shutdown or the deadline: the server sends the signal's reason as the status.
            const reason: unknown = context.signal.aborted ? context.signal.reason : undefined;
            if (reason instanceof RpcError) code = reason.code;
          } catch (error) {
            const rpcError = mapError(error);
            code = rpcError.code;
            throw rpcError;
          } finally {
            observer?.onCallEnd(name, code, performance.now() - started);
          }
        },
      });
    } else {
      throw new Error(`${methodPath(method)}: ${method.methodKind} rpcs are not supported by the bridge`);
    }
  }
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
