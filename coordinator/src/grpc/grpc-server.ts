// A grpc-js server as Ballast runs it: where it may listen, TLS (server and mutual), the bearer
// token checked on every call, the standard health service and server reflection. With
// grpc-bridge.ts, the only code that touches @grpc/grpc-js; services are added through the bridge.
import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, service as healthService } from 'grpc-health-check';
import { toBinary } from '@bufbuild/protobuf';
import type { DescFile } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { ClientTransportOptions } from './grpc-bridge.ts';
import { parseHostPort } from '../../../trainer/src/util/host-port.ts';

export interface ServerTlsOptions {
  /** PEM certificate chain and private key of the server. */
  cert: Buffer;
  key: Buffer;
  /** PEM CA bundle: when given, clients must present a certificate signed by it (mutual TLS). */
  ca?: Buffer;
}

export interface GrpcServerOptions {
  /** `HOST:PORT`; port 0 picks a free port. */
  listen: string;
  tls?: ServerTlsOptions;
  /** Every call must carry `authorization: Bearer <token>` (except health checks). */
  token?: string;
  /** Allow a non-loopback address without TLS or token. */
  insecure?: boolean;
  /**
   * Registers the application services on the server (through the bridge's addService);
   * `shutdown` aborts when the server starts shutting down (pass it to addService).
   */
  register(server: grpc.Server, shutdown: AbortSignal): void;
  /** Files whose services and messages server reflection describes. */
  reflectionFiles: DescFile[];
  /** Service names reported by the health service besides the overall status (""). */
  healthServices: string[];
}

export interface RunningGrpcServer {
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  /** `host:port` to dial. */
  readonly address: string;
  /** Health goes NOT_SERVING, in-flight calls get `graceMs` to finish, then the rest are cut. */
  shutdown(graceMs: number): Promise<void>;
}

/** Thrown for a listen address or credential setup that must not be used. */
export class ListenError extends Error {
  override readonly name = 'ListenError';
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

// Kubernetes' gRPC probes cannot send metadata, so health checks are exempt from the token; they
// reveal only SERVING / NOT_SERVING. Reflection is not exempt: it needs the token like any call.
const TOKEN_EXEMPT_PREFIX = '/grpc.health.v1.Health/';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** A server interceptor refusing calls without the bearer token (constant-time comparison). */
function tokenInterceptor(token: string): grpc.ServerInterceptor {
  const expected = digest(token);
  return (method, call) => {
    if (method.path.startsWith(TOKEN_EXEMPT_PREFIX)) return new grpc.ServerInterceptingCall(call);
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const header = metadata.get('authorization')[0];
        const presented = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
        // Hashing first makes the comparison constant-time regardless of the presented length.
        if (presented !== undefined && timingSafeEqual(digest(presented), expected)) {
          next(metadata);
        } else {
          call.sendStatus({
            code: grpc.status.UNAUTHENTICATED,
            details: presented === undefined ? 'missing bearer token (authorization: Bearer <token>)' : 'wrong bearer token',
          });
        }
      })
      .build();
    return new grpc.ServerInterceptingCall(call, new grpc.ResponderBuilder().withStart((next) => next(listener)).build());
  };
}

/** @grpc/reflection reads only `fileDescriptorProtos` of a proto-loader package definition. */
function reflectionPackage(files: DescFile[]): ConstructorParameters<typeof ReflectionService>[0] {
  const seen = new Map<string, Uint8Array>();
  const visit = (file: DescFile) => {
    if (seen.has(file.proto.name)) return;
    seen.set(file.proto.name, toBinary(FileDescriptorProtoSchema, file.proto));
    file.dependencies.forEach(visit);
  };
  files.forEach(visit);
  const fileDescriptorProtos = [...seen.values()].map((bytes) => Buffer.from(bytes));
  return { ballast: { format: 'Protocol Buffer 3 DescriptorProto', type: {}, fileDescriptorProtos } } as never;
}

/** Refuses to serve on a non-loopback address with neither TLS nor a token, unless insecure. */
export function checkListenPolicy(options: Pick<GrpcServerOptions, 'listen' | 'tls' | 'token' | 'insecure'>): void {
  const { host } = parseHostPort(options.listen, '--listen');
  if (isLoopback(host) || options.tls || options.token !== undefined || options.insecure) return;
  throw new ListenError(
    `refusing to listen on ${options.listen} without TLS or a token: anyone who can reach it could submit, cancel or ` +
      'complete trials. Give --tls-cert/--tls-key and/or --token-file, or --insecure if the network is trusted.',
  );
}

export async function startGrpcServer(options: GrpcServerOptions): Promise<RunningGrpcServer> {
  checkListenPolicy(options);
  if (options.token !== undefined && options.token.length === 0) throw new ListenError('the token is empty');
  const server = new grpc.Server({
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    // Channelz (grpc-js's call and socket tracking for a channelz service, which this server does
    // not offer) costs per-call closures and counters: a few percent of a lease call's CPU.
    'grpc.enable_channelz': 0,
    interceptors: options.token !== undefined ? [tokenInterceptor(options.token)] : [],
  });
  const stopping = new AbortController();
  options.register(server, stopping.signal);
  const health = new HealthImplementation(Object.fromEntries(['', ...options.healthServices].map((name) => [name, 'SERVING'])));
  health.addToServer(server);
  new ReflectionService(reflectionPackage(options.reflectionFiles)).addToServer(server);

  const credentials = options.tls
    ? grpc.ServerCredentials.createSsl(options.tls.ca ?? null, [{ cert_chain: options.tls.cert, private_key: options.tls.key }], options.tls.ca !== undefined)
    : grpc.ServerCredentials.createInsecure();
  const { host } = parseHostPort(options.listen, '--listen');
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(options.listen, credentials, (error, bound) => (error ? reject(new ListenError(`cannot listen on ${options.listen}: ${error.message}`)) : resolve(bound))),
  );
  const dialHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return {
    port,
    address: `${dialHost.includes(':') ? `[${dialHost}]` : dialHost}:${port}`,
    async shutdown(graceMs) {
      for (const name of ['', ...options.healthServices]) health.setStatus(name, 'NOT_SERVING');
      // Streams and long polls would otherwise hold tryShutdown for the whole grace period.
      stopping.abort();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

/** Asks a server's `grpc.health.v1` service for a status (`SERVING`, `NOT_SERVING`, ...). */
export async function checkHealth(target: string, transport: ClientTransportOptions = {}, timeoutMs = 2000, service = ''): Promise<string> {
  const tls = transport.tlsCa !== undefined || transport.tlsCert !== undefined;
  const credentials = tls
    ? grpc.credentials.createSsl(transport.tlsCa ?? null, transport.tlsKey ?? null, transport.tlsCert ?? null)
    : grpc.credentials.createInsecure();
  const Client = grpc.makeGenericClientConstructor(healthService as grpc.ServiceDefinition, 'grpc.health.v1.Health');
  const client = new Client(target, credentials, transport.tlsServerName ? { 'grpc.ssl_target_name_override': transport.tlsServerName } : {});
  try {
    return await new Promise<string>((resolve, reject) => {
      (client as unknown as { check: (...args: unknown[]) => void }).check(
        { service },
        { deadline: new Date(Date.now() + timeoutMs) },
        (error: Error | null, response: { status: string }) => (error ? reject(error) : resolve(response.status)),
      );
    });
  } finally {
    client.close();
  }
}
