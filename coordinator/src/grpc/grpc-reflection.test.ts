// Server reflection describes CoordinatorService and its messages (what grpcurl and Postman
// use), and like every call but health it needs the token. This test talks to the reflection
// service with grpc-js directly: it is the one generic client no Ballast code needs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { CoordinatorCore } from '../core/coordinator-core.ts';
import { serveCoordinator } from './coordinator-server.ts';
import type { RunningGrpcServer } from './grpc-server.ts';

const require = createRequire(import.meta.url);
const reflectionProto = join(require.resolve('@grpc/reflection/package.json'), '..', 'build/proto/grpc/reflection/v1/reflection.proto');

interface ReflectionResponse {
  list_services_response?: { service: Array<{ name: string }> };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
}

function reflect(address: string, request: Record<string, string>, token?: string): Promise<ReflectionResponse> {
  const definition = protoLoader.loadSync(reflectionProto, { keepCase: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } };
  };
  const client = new pkg.grpc.reflection.v1.ServerReflection(address, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  const call = (client as unknown as { ServerReflectionInfo: (m: grpc.Metadata) => grpc.ClientDuplexStream<object, ReflectionResponse> }).ServerReflectionInfo(metadata);
  return new Promise((resolve, reject) => {
    call.on('data', (response: ReflectionResponse) => {
      resolve(response);
      call.end();
    });
    call.on('error', (error) => reject(error));
    call.on('end', () => client.close());
    call.write(request);
  });
}

describe('server reflection', () => {
  let dir: string;
  let core: CoordinatorCore;
  let server: RunningGrpcServer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ballast-reflection-'));
    core = await CoordinatorCore.open({ stateDir: dir });
    server = await serveCoordinator({ core, leaseTtlMs: 30_000, listen: '127.0.0.1:0', token: 'tok' });
  });

  after(async () => {
    await server.shutdown(1000);
    await core.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('lists CoordinatorService and serves its file with every dependency', async () => {
    const listed = await reflect(server.address, { list_services: '*' }, 'tok');
    const names = listed.list_services_response?.service.map((s) => s.name) ?? [];
    assert.ok(names.includes('ballast.v1.CoordinatorService'), names.join(', '));
    const files = await reflect(server.address, { file_containing_symbol: 'ballast.v1.CoordinatorService' }, 'tok');
    const protos = (files.file_descriptor_response?.file_descriptor_proto ?? []).map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
    const fileNames = protos.map((p) => p.name).sort();
    for (const expected of ['ballast/v1/coordinator_service.proto', 'ballast/v1/experiment.proto', 'ballast/v1/trial.proto', 'google/protobuf/timestamp.proto']) {
      assert.ok(fileNames.includes(expected), `${expected} in ${fileNames.join(', ')}`);
    }
    const service = protos.find((p) => p.name === 'ballast/v1/coordinator_service.proto')?.service[0];
    assert.ok(service?.method.some((m) => m.name === 'AcquireTrial'));
  });

  test('needs the token like any call', async () => {
    await assert.rejects(reflect(server.address, { list_services: '*' }), (error: grpc.ServiceError) => error.code === grpc.status.UNAUTHENTICATED);
  });
});
