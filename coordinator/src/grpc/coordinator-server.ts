// The coordinator's gRPC endpoint: CoordinatorService on the core, plus health and reflection,
// behind the listen policy, TLS and token of grpc-server.ts. `ballast coordinator` and the
// embedded coordinator of `ballast run` both start it through here.
import type { Logger } from 'pino';
import { CoordinatorService, file_ballast_v1_coordinator_service } from '../../../proto/gen/ballast/v1/coordinator_service_pb.ts';
import { addService } from './grpc-bridge.ts';
import type { CallObserver } from './grpc-bridge.ts';
import { createCoordinatorService, toRpcError } from './coordinator-service.ts';
import type { CoordinatorCoreApi } from './coordinator-service.ts';
import { startGrpcServer } from './grpc-server.ts';
import type { RunningGrpcServer, ServerTlsOptions } from './grpc-server.ts';
import { Code } from './rpc-error.ts';

export interface CoordinatorServerOptions {
  core: CoordinatorCoreApi;
  /** The core's lease TTL (told to trainers with each lease). */
  leaseTtlMs: number;
  /** `HOST:PORT`; port 0 picks a free port (see `address` of the result). */
  listen: string;
  tls?: ServerTlsOptions;
  token?: string;
  insecure?: boolean;
  log?: Logger;
  /** Sees every finished call (rpc, code, duration): the Prometheus metrics plug in here. */
  observer?: CallObserver;
}

export async function serveCoordinator(options: CoordinatorServerOptions): Promise<RunningGrpcServer> {
  const { log } = options;
  const mapError = (error: unknown) => {
    const rpcError = toRpcError(error);
    if (rpcError.code === Code.INTERNAL || rpcError.code === Code.UNKNOWN) log?.error({ err: error }, 'rpc failed');
    return rpcError;
  };
  const server = await startGrpcServer({
    listen: options.listen,
    ...(options.tls ? { tls: options.tls } : {}),
    ...(options.token !== undefined ? { token: options.token } : {}),
    ...(options.insecure ? { insecure: true } : {}),
    register: (grpcServer) =>
      addService(grpcServer, CoordinatorService, createCoordinatorService({ core: options.core, leaseTtlMs: options.leaseTtlMs, ...(log ? { log } : {}) }), {
        mapError,
        ...(options.observer ? { observer: options.observer } : {}),
      }),
    reflectionFiles: [file_ballast_v1_coordinator_service],
    healthServices: [CoordinatorService.typeName],
  });
  log?.info({ address: server.address, tls: options.tls !== undefined, mutualTls: options.tls?.ca !== undefined, token: options.token !== undefined }, 'coordinator listening');
  return server;
}
