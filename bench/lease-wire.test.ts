import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import {
  AcquireTrialRequestSchema,
  AcquireTrialResponseSchema,
  CompleteTrialRequestSchema,
  HeartbeatRequestSchema,
  LeaseSchema,
} from '../proto/gen/ballast/v1/coordinator_service_pb.ts';
import { trialConfigToProtoShared, trialProgressToProto, trialResultToProto, trialSeedsToProto } from '../coordinator/src/grpc/proto-convert.ts';
import { sampleConfig, sampleResult, sampleSeeds } from '../coordinator/src/grpc/test-fixtures.ts';
import { grpcFrame } from '../coordinator/src/grpc/grpc-http2.ts';
import { LeaseRequests, readLease } from './lease-wire.ts';

const progress = trialProgressToProto({ kind: 'step', step: 5, total_steps: 10, loss: 0.5, lr: 1e-5, examples_per_second: 100 });
const result = trialResultToProto(sampleResult);
const requests = new LeaseRequests(progress, result);

const lease = (init: Partial<MessageInitShape<typeof LeaseSchema>> = {}) => ({
  leaseId: '0f7d1c52-8a3e-4a0e-9d55-6a2f0e8c1b2a',
  trialId: 'bench-0/c1-s4',
  experimentId: 'exp-1',
  experimentName: 'bench-0',
  attempt: 1,
  config: trialConfigToProtoShared(sampleConfig, { seed: 4, data_seed: 0 }),
  seeds: trialSeedsToProto(sampleSeeds),
  deadline: timestampFromMs(1_800_000_000_000),
  ttlMs: 60_000,
  ...init,
});

const reply = (init: MessageInitShape<typeof AcquireTrialResponseSchema>) => grpcFrame(toBinary(AcquireTrialResponseSchema, create(AcquireTrialResponseSchema, init)));

// An absent message field, `{ seeds: undefined }`, is what fromBinary leaves out altogether.
const withoutUndefined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

/** What the bench sent before: the reply decoded with fromBinary, the requests built from its messages. */
function oldRequests(frame: Buffer) {
  const decoded = fromBinary(AcquireTrialResponseSchema, frame.subarray(5)).lease!;
  const { leaseId, config, seeds } = decoded;
  return {
    heartbeat: create(HeartbeatRequestSchema, { leaseId, progress }),
    complete: create(CompleteTrialRequestSchema, { leaseId, result: withoutUndefined({ ...result, config, seeds }) }),
  };
}

function assertSame(frame: Buffer) {
  const wire = readLease(frame);
  assert.ok(wire);
  const old = oldRequests(frame);
  assert.equal(wire.leaseId, old.heartbeat.leaseId);
  const heartbeat = requests.heartbeat(wire);
  const complete = requests.complete(wire);
  // The same bytes as toBinary writes for the old messages (so the same frames on the wire) ...
  assert.deepEqual(heartbeat, grpcFrame(toBinary(HeartbeatRequestSchema, old.heartbeat)));
  assert.deepEqual(complete, grpcFrame(toBinary(CompleteTrialRequestSchema, old.complete)));
  // ... which decode to exactly those messages.
  assert.deepStrictEqual(fromBinary(HeartbeatRequestSchema, heartbeat.subarray(5)), old.heartbeat);
  assert.deepStrictEqual(fromBinary(CompleteTrialRequestSchema, complete.subarray(5)), old.complete);
  assert.equal(heartbeat.readUInt32BE(1), heartbeat.length - 5);
  assert.equal(complete.readUInt32BE(1), complete.length - 5);
}

test('spliced Heartbeat and CompleteTrial requests are the messages (and bytes) the bench built with protobuf-es', () => {
  assertSame(reply({ lease: lease() }));
  // Multi-byte utf-8 in the id, a config over 127 bytes (two-byte length), fields absent.
  assertSame(reply({ lease: lease({ leaseId: 'lease-é-✓-'.repeat(20) }) }));
  assertSame(reply({ lease: lease({ seeds: undefined }) }));
  assertSame(reply({ lease: lease({ config: undefined, seeds: undefined, leaseId: '' }) }));
  // The result's own config and seeds are replaced, not sent beside the lease's.
  const wire = readLease(reply({ lease: lease({ seeds: trialSeedsToProto({ ...sampleSeeds, seed: 99 }) }) }))!;
  const sent = fromBinary(CompleteTrialRequestSchema, requests.complete(wire).subarray(5));
  assert.equal(sent.result?.seeds?.seed, 99);
});

test('AcquireTrial request per worker, and a reply without a lease', () => {
  assert.deepEqual(
    requests.acquire('sim-17'),
    grpcFrame(toBinary(AcquireTrialRequestSchema, create(AcquireTrialRequestSchema, { workerId: 'sim-17', waitMs: 0 }))),
  );
  assert.equal(readLease(reply({})), null);
});

test('the lease scanner skips unknown fields and refuses what it cannot read exactly', () => {
  const body = toBinary(AcquireTrialResponseSchema, create(AcquireTrialResponseSchema, { lease: lease() }));
  // An unknown top-level field (number 15, varint) before the lease, as a newer coordinator might send.
  assertSame(grpcFrame(Buffer.concat([Buffer.from([0x78, 0x96, 0x01]), body])));
  // The lease twice (protobuf would merge them), a truncated reply, a wrong length prefix, a compressed flag.
  assert.throws(() => readLease(grpcFrame(Buffer.concat([body, body]))), /two lease/);
  assert.throws(() => readLease(grpcFrame(body.subarray(0, body.length - 3))), /overruns/);
  const frame = grpcFrame(body);
  assert.throws(() => readLease(frame.subarray(0, frame.length - 1)), /bytes for a message/);
  const compressed = Buffer.from(frame);
  compressed[0] = 1;
  assert.throws(() => readLease(compressed), /compressed/);
});
