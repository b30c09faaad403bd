// Serves services written for grpc-js's Server on Http2GrpcServer: the standard health service
// (grpc-health-check) and server reflection (@grpc/reflection) come as a grpc-js service
// definition (paths and codecs) plus handlers in grpc-js's call style. This adapter gives those
// handlers the part of grpc-js's call objects they use (request, write, end, the 'data', 'end'
// and 'cancelled' events, the callback of a unary call), so the libraries are used as they are.
import { EventEmitter } from 'node:events';
import type { ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { MessageQueue } from './grpc-http2.ts';
import type { CallContext, GrpcMethod, Http2GrpcServer } from './grpc-http2.ts';
import { Code, RpcError } from './rpc-error.ts';

type Callback = (error: { code?: number; details?: string; message?: string } | null, value?: unknown) => void;

/** A grpc-js call object: an EventEmitter with the request and the writing half. */
function callObject(context: CallContext, request: unknown, replies?: MessageQueue<unknown>) {
  return Object.assign(new EventEmitter(), {
    request,
    cancelled: false,
    getPeer: () => context.peer,
    write(message: unknown) {
      replies?.push(message);
      return true;
    },
    end() {
      replies?.end();
    },
  });
}

/**
 * Starts a streaming handler on a call object whose writes become the replies; a cancelled call
 * (by the client, its deadline or shutdown) ends the replies and says so to the handler.
 */
function startStream(handler: (call: unknown) => void, context: CallContext, request: unknown) {
  const replies = new MessageQueue<unknown>();
  const call = callObject(context, request, replies);
  const cancel = () => {
    call.cancelled = true;
    call.emit('cancelled');
    replies.end();
  };
  if (context.signal.aborted) cancel();
  else context.signal.addEventListener('abort', cancel, { once: true });
  handler(call);
  return { call, replies };
}

export function addGrpcJsService(server: Http2GrpcServer, definition: ServiceDefinition, impl: UntypedServiceImplementation): void {
  for (const [name, method] of Object.entries(definition)) {
    const handler = (impl[name] ?? (method.originalName !== undefined ? impl[method.originalName] : undefined)) as ((...args: unknown[]) => void) | undefined;
    if (!handler) throw new Error(`no handler for ${method.path}`);
    const codecs = {
      decode: (bytes: Uint8Array) => method.requestDeserialize(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)),
      encode: (message: unknown) => method.responseSerialize(message) as Uint8Array,
    };
    let grpcMethod: GrpcMethod;
    if (!method.requestStream && !method.responseStream) {
      grpcMethod = {
        ...codecs,
        kind: 'unary',
        handle: (request, context) =>
          new Promise((resolve, reject) => {
            const callback: Callback = (error, value) =>
              error ? reject(new RpcError((error.code ?? Code.UNKNOWN) as Code, error.details ?? error.message ?? 'error')) : resolve(value);
            handler(callObject(context, request), callback);
          }),
      };
    } else if (!method.requestStream) {
      grpcMethod = {
        ...codecs,
        kind: 'server_streaming',
        handle: (request, context) => startStream(handler, context, request).replies,
      };
    } else if (method.responseStream) {
      grpcMethod = {
        ...codecs,
        kind: 'bidi_streaming',
        handle(requests, context) {
          const { call, replies } = startStream(handler, context, undefined);
          void (async () => {
            try {
              for await (const request of requests) call.emit('data', request);
              call.emit('end');
            } catch {
              // Cancelled or a bad frame: onCancel or the server's status covers it.
            }
          })();
          return replies;
        },
      };
    } else {
      throw new Error(`${method.path}: client-streaming rpcs are not supported`);
    }
    server.register(method.path, grpcMethod);
  }
}
