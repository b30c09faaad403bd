import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { DescMessage } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import {
  AcquireTrialResponseSchema,
  CompleteTrialRequestSchema,
  HeartbeatRequestSchema,
  HeartbeatResponseSchema,
} from '../../../proto/gen/ballast/v1/coordinator_service_pb.ts';
import { TrialSchema } from '../../../proto/gen/ballast/v1/experiment_pb.ts';
import { TaskConfigSchema, TrialProgressSchema, TrialResultSchema } from '../../../proto/gen/ballast/v1/trial_pb.ts';
import { decodeMessage } from './fast-decode.ts';
import { trialConfigToProto, trialProgressToProto, trialResultToProto, trialSeedsToProto, trialToProto } from './proto-convert.ts';
import { sampleConfig, sampleRecord, sampleResult, sampleSeeds } from './test-fixtures.ts';

function same(schema: DescMessage, bytes: Uint8Array): void {
  // deepStrictEqual: NaN equals NaN, and absent differs from present-but-undefined.
  assert.deepStrictEqual(decodeMessage(schema, bytes), fromBinary(schema, bytes));
}

test('decodes the lease rpcs exactly as fromBinary does', () => {
  const result = trialResultToProto(sampleResult);
  same(CompleteTrialRequestSchema, toBinary(CompleteTrialRequestSchema, create(CompleteTrialRequestSchema, { leaseId: 'l1', result })));
  same(CompleteTrialRequestSchema, new Uint8Array());
  same(TrialResultSchema, toBinary(TrialResultSchema, create(TrialResultSchema)));
  same(TrialResultSchema, toBinary(TrialResultSchema, trialResultToProto({ ...sampleResult, evals: [], degenerate: false, degenerate_reason: undefined })));
  same(HeartbeatRequestSchema, toBinary(HeartbeatRequestSchema, create(HeartbeatRequestSchema, { leaseId: 'l1', progress: trialProgressToProto({ kind: 'step', step: 3, total_steps: 9, loss: Number.NaN, lr: 1e-5, examples_per_second: 12 }) })));
  const lease = { leaseId: 'l', trialId: 't', experimentId: 'e', experimentName: 'n', attempt: 2, config: trialConfigToProto(sampleConfig), seeds: trialSeedsToProto(sampleSeeds), ttlMs: 30_000 };
  same(AcquireTrialResponseSchema, toBinary(AcquireTrialResponseSchema, create(AcquireTrialResponseSchema, { lease })));
  same(HeartbeatResponseSchema, toBinary(HeartbeatResponseSchema, create(HeartbeatResponseSchema, { cancel: true, cancelReason: 'x' })));
  same(TrialSchema, toBinary(TrialSchema, trialToProto(sampleRecord)));
});

test('merges repeated message fields, reads packed and unpacked lists, keeps unknown fields', () => {
  const first = toBinary(TrialResultSchema, trialResultToProto(sampleResult));
  const second = toBinary(TrialResultSchema, create(TrialResultSchema, { selected: { step: 9 }, evals: [{ step: 1 }] }));
  same(TrialResultSchema, new Uint8Array([...first, ...second]));
  // A string list written twice and an unknown field number (99): fromBinary keeps it in $unknown.
  const writer = new BinaryWriter();
  writer.tag(10, WireType.LengthDelimited).string('a').tag(10, WireType.LengthDelimited).string('b');
  same(TaskConfigSchema, writer.finish());
  writer.tag(99, WireType.Varint).uint32(5);
  const unknown = writer.finish();
  same(TaskConfigSchema, unknown);
  assert.equal(decodeMessage(TaskConfigSchema, unknown).$unknown?.length, 1);
});

test('malformed bytes fail as fromBinary fails', () => {
  const bytes = toBinary(CompleteTrialRequestSchema, create(CompleteTrialRequestSchema, { leaseId: 'l1', result: trialResultToProto(sampleResult) }));
  const cut = bytes.subarray(0, bytes.length - 7);
  assert.throws(() => fromBinary(CompleteTrialRequestSchema, cut));
  assert.throws(() => decodeMessage(CompleteTrialRequestSchema, cut));
});

test('oneofs: each member, a member repeated (merged), another member after it (replaced)', () => {
  const step = trialProgressToProto({ kind: 'step', step: 3, total_steps: 9, loss: 0.5, lr: 1e-5, examples_per_second: 12 });
  const evalProgress = trialProgressToProto({ kind: 'eval', step: 4, total_steps: 9, validation: { loss: 0.4, accuracy: 0.7, f1: 0.6 } });
  const bytes = (progress: unknown) => toBinary(TrialProgressSchema, create(TrialProgressSchema, progress as never));
  same(TrialProgressSchema, bytes(step));
  same(TrialProgressSchema, bytes(evalProgress));
  same(TrialProgressSchema, new Uint8Array());
  const partialStep = bytes({ kind: { case: 'step', value: { step: 8 } } });
  same(TrialProgressSchema, new Uint8Array([...bytes(step), ...partialStep]));
  same(TrialProgressSchema, new Uint8Array([...bytes(step), ...bytes(evalProgress)]));
  same(TrialProgressSchema, new Uint8Array([...bytes(evalProgress), ...partialStep]));
  same(HeartbeatRequestSchema, toBinary(HeartbeatRequestSchema, create(HeartbeatRequestSchema, { leaseId: 'l1', progress: evalProgress })));
  same(HeartbeatRequestSchema, toBinary(HeartbeatRequestSchema, create(HeartbeatRequestSchema, { leaseId: 'l1' })));
});

test('a field number 0 or a wire type above 5 fails as fromBinary fails', () => {
  for (const tag of [0x02, 0x0e, 0x0f]) {
    const bytes = new Uint8Array([tag, 0x00]);
    assert.throws(() => fromBinary(HeartbeatRequestSchema, bytes));
    assert.throws(() => decodeMessage(HeartbeatRequestSchema, bytes));
  }
});
