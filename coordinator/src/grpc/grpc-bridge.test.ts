import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoordinatorService } from '../../../proto/gen/ballast/v1/coordinator_service_pb.ts';
import type { ServiceImpl } from './grpc-bridge.ts';
import { createCoordinatorService } from './coordinator-service.ts';

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
