// The gRPC server as Ballast runs it: where it may listen, TLS (server and mutual), the bearer
// token checked on every call, the standard health service and server reflection. The protocol is
// grpc-http2.ts; services are added through the bridge (grpc-bridge.ts), the health and reflection
// libraries through grpc-js-handlers.ts. `checkHealth` is a grpc-js client.
import * as grpc from '@grpc/grpc-js';
import type { HeaderMap } from './hpack.ts';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, service as healthService } from 'grpc-health-check';
import { toBinary } from '@bufbuild/protobuf';
import type { DescFile } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { ClientTransportOptions } from './grpc-bridge.ts';
import { addGrpcJsService } from './grpc-js-handlers.ts';
import { Http2GrpcServer } from './grpc-http2.ts';
import { Code, RpcError } from './rpc-error.ts';
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
  /** Registers the application services on the server (through the bridge's addService). */
  register(server: Http2GrpcServer): void;
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

/** Refuses calls without the bearer token (constant-time comparison); health checks are exempt. */
function tokenCheck(token: string): (path: string, headers: HeaderMap) => void {
  const expected = digest(token);
  return (path, headers) => {
    if (path.startsWith(TOKEN_EXEMPT_PREFIX)) return;
    const header = headers.authorization;
    const presented = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
    // Hashing first makes the comparison constant-time regardless of the presented length.
    if (presented !== undefined && timingSafeEqual(digest(presented), expected)) return;
    throw new RpcError(Code.UNAUTHENTICATED, presented === undefined ? 'missing bearer token (authorization: Bearer <token>)' : 'wrong bearer token');
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
  const server = new Http2GrpcServer({
    maxReceiveMessageBytes: 64 * 1024 * 1024,
    ...(options.tls ? { tls: options.tls } : {}),
    ...(options.token !== undefined ? { authorize: tokenCheck(options.token) } : {}),
  });
  options.register(server);
  // The libraries add themselves to anything with grpc-js's addService.
  const grpcJsServer = { addService: (definition: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation) => addGrpcJsService(server, definition, impl) };
  const health = new HealthImplementation(Object.fromEntries(['', ...options.healthServices].map((name) => [name, 'SERVING'])));
  health.addToServer(grpcJsServer as never);
  new ReflectionService(reflectionPackage(options.reflectionFiles)).addToServer(grpcJsServer);

  const { host, port } = parseHostPort(options.listen, '--listen');
  let running: Awaited<ReturnType<Http2GrpcServer['listen']>>;
  try {
    running = await server.listen(host, port);
  } catch (error) {
    throw new ListenError(`cannot listen on ${options.listen}: ${(error as Error).message}`);
  }
  const dialHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return {
    port: running.port,
    address: `${dialHost.includes(':') ? `[${dialHost}]` : dialHost}:${running.port}`,
    async shutdown(graceMs) {
      for (const name of ['', ...options.healthServices]) health.setStatus(name, 'NOT_SERVING');
      await running.shutdown(graceMs);
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
