// The transport's floor: a gRPC server that answers the lease calls with canned replies (one real
// lease, encoded once; empty replies to anything else), so that `lease-throughput.ts --address`
// pointed at it measures the bench's client and the server's transport without the coordinator's
// work. Three servers, one at a time:
//   --mode raw      the reply written straight onto a node:http2 stream (no gRPC layer at all)
//   --mode ballast  Ballast's server (grpc-http2.ts) and bridge, with a stub service
//   --mode grpc-js  @grpc/grpc-js's Server with the same codecs and stub service
//
//   node --import tsx bench/canned-lease-server.ts --mode ballast --port 50941 &
//   node --import tsx bench/lease-throughput.ts --address 127.0.0.1:50941 --coordinator-pid $! \
//       --skip-reference --skip-saturation --seconds 8 --warmup 3
import { createServer } from 'node:http2';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { CoordinatorCore } from '../coordinator/src/core/coordinator-core.ts';
import { createCoordinatorService } from '../coordinator/src/grpc/coordinator-service.ts';
import { addService } from '../coordinator/src/grpc/grpc-bridge.ts';
import { grpcFrame, Http2GrpcServer } from '../coordinator/src/grpc/grpc-http2.ts';
import { decodeMessage } from '../coordinator/src/grpc/fast-decode.ts';
import { encodeMessage } from '../coordinator/src/grpc/fast-encode.ts';
import { AcquireTrialResponseSchema, CompleteTrialResponseSchema, CoordinatorService } from '../proto/gen/ballast/v1/coordinator_service_pb.ts';

const { values } = parseArgs({ options: { mode: { type: 'string', default: 'ballast' }, port: { type: 'string', default: '50941' } } });
const port = Number(values.port);

// One real lease, as the coordinator's service would send it.
const dir = mkdtempSync(join(tmpdir(), 'ballast-canned-'));
const core = await CoordinatorCore.open({ stateDir: dir, leaseTtlMs: 60_000 });
await core.submitExperiment({ name: 'canned', base: { model: 'builtin:bert-tiny', task: { name: 'synthetic' }, max_steps: 10 }, sweep: { optimizer: ['adamw', 'bertadam'] }, seeds: 1 });
const service = createCoordinatorService({ core, leaseTtlMs: 60_000 });
const acquireReply = await service.acquireTrial({ workerId: 'w', waitMs: 0 } as never, { signal: new AbortController().signal, peer: '', header: () => undefined });
await core.close();
rmSync(dir, { recursive: true, force: true });

/** The stub service: the canned lease, accepted completions, empty replies to the rest. */
const stub: Record<string, (...args: never[]) => Promise<unknown>> = {};
for (const method of CoordinatorService.methods) stub[method.localName] = async () => ({});
stub.acquireTrial = async () => acquireReply;
stub.completeTrial = async () => ({ accepted: true });

if (values.mode === 'raw') {
  const replies: Record<string, Uint8Array> = {
    AcquireTrial: encodeMessage(AcquireTrialResponseSchema, acquireReply as never),
    CompleteTrial: encodeMessage(CompleteTrialResponseSchema, { accepted: true }),
  };
  const server = createServer();
  server.on('stream', (stream, headers) => {
    const body = replies[String(headers[':path']).split('/')[2]!] ?? new Uint8Array(0);
    stream.on('error', () => {});
    stream.resume();
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(grpcFrame(body));
    });
  });
  server.listen(port, '127.0.0.1');
} else if (values.mode === 'ballast') {
  const server = new Http2GrpcServer({ maxReceiveMessageBytes: 64 << 20 });
  addService(server, CoordinatorService, stub as never);
  await server.listen('127.0.0.1', port);
} else if (values.mode === 'grpc-js') {
  const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const method of CoordinatorService.methods) {
    definition[method.localName] = {
      path: `/${CoordinatorService.typeName}/${method.name}`,
      requestStream: false,
      responseStream: method.methodKind === 'server_streaming',
      requestSerialize: () => Buffer.alloc(0),
      requestDeserialize: (bytes: Buffer) => decodeMessage(method.input, bytes),
      responseSerialize: (message: unknown) => Buffer.from(encodeMessage(method.output, message as never)),
      responseDeserialize: () => ({}),
    };
  }
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const [name, handle] of Object.entries(stub)) {
    handlers[name] = (_call: unknown, callback: grpc.sendUnaryData<unknown>) => void handle().then((reply) => callback(null, reply));
  }
  server.addService(definition, handlers);
  await new Promise<void>((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve())));
} else {
  throw new Error(`--mode: raw, ballast or grpc-js, got ${values.mode}`);
}
console.log(`canned lease server (${values.mode}) on 127.0.0.1:${port}, pid ${process.pid}`);
