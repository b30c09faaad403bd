import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { CoordinatorService, HeartbeatRequestSchema } from '../../../proto/gen/ballast/v1/coordinator_service_pb.ts';
import { serviceDefinition } from './grpc-bridge.ts';
import type { ServiceImpl } from './grpc-bridge.ts';
import { createCoordinatorService } from './coordinator-service.ts';

test('the grpc-js definition has every rpc with its path and streaming flags', () => {
  const definition = serviceDefinition(CoordinatorService);
  assert.deepEqual(Object.keys(definition).sort(), CoordinatorService.methods.map((m) => m.localName).sort());
  assert.equal(definition.acquireTrial?.path, '/ballast.v1.CoordinatorService/AcquireTrial');
  assert.equal(definition.watchExperiment?.responseStream, true);
  assert.equal(definition.watchExperiment?.requestStream, false);
  assert.equal(definition.heartbeat?.responseStream, false);
});

test('messages round-trip through the definition codecs', () => {
  const heartbeat = serviceDefinition(CoordinatorService).heartbeat!;
  const request = create(HeartbeatRequestSchema, {
    leaseId: 'lease-1',
    progress: { kind: { case: 'step', value: { step: 7, totalSteps: 10, loss: 0.25, lr: 2e-5, examplesPerSecond: 31.5 } } },
  });
  const bytes = heartbeat.requestSerialize(request);
  assert.ok(Buffer.isBuffer(bytes));
  assert.deepEqual(heartbeat.requestDeserialize(bytes), request);
});

test('handlers are typed against the descriptor (checked by tsc)', () => {
  type Impl = ServiceImpl<typeof CoordinatorService.method>;
  const real: Impl = createCoordinatorService({ core: {} as never, leaseTtlMs: 1000 });
  const { acquireTrial: _, ...withoutAcquire } = real;
  // @ts-expect-error a missing rpc does not type-check
  const missing: Impl = withoutAcquire;
  // @ts-expect-error a misspelled rpc does not type-check
  const misspelled: Impl = { ...withoutAcquire, aquireTrial: real.acquireTrial };
  // @ts-expect-error a unary handler cannot stand in for a streaming one
  const wrongKind: Impl = { ...real, watchExperiment: real.getExperiment };
  assert.ok(missing && misspelled && wrongKind);
});
