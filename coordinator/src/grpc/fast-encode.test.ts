import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { DescMessage, MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import {
  AcquireTrialResponseSchema,
  CompleteTrialRequestSchema,
  CompleteTrialResponseSchema,
  HeartbeatResponseSchema,
  ListTrialsResponseSchema,
} from '../../../proto/gen/ballast/v1/coordinator_service_pb.ts';
import { TrialResultSchema } from '../../../proto/gen/ballast/v1/trial_pb.ts';
import { encodeMessage } from './fast-encode.ts';
import { trialConfigToProtoShared, trialResultToProto, trialSeedsToProto, trialToProto } from './proto-convert.ts';
import { sampleConfig, sampleRecord, sampleResult, sampleSeeds } from './test-fixtures.ts';

function same<D extends DescMessage>(schema: D, value: MessageInitShape<D>): void {
  assert.deepEqual(encodeMessage(schema, value), toBinary(schema, create(schema, value)));
}

test('encodes init objects and messages to the bytes toBinary(create()) gives', () => {
  const lease = {
    leaseId: 'l',
    trialId: 't',
    experimentId: 'e',
    experimentName: 'n',
    attempt: 2,
    config: trialConfigToProtoShared(sampleConfig, { seed: 4, data_seed: 0 }),
    seeds: trialSeedsToProto(sampleSeeds),
    deadline: timestampFromMs(1_795_740_463_697),
    ttlMs: 30_000,
  };
  same(AcquireTrialResponseSchema, { lease });
  same(AcquireTrialResponseSchema, {});
  same(HeartbeatResponseSchema, { cancel: false, cancelReason: '', deadline: timestampFromMs(5) });
  same(HeartbeatResponseSchema, { cancel: true, leaseLost: true, cancelReason: 'gone' });
  same(CompleteTrialResponseSchema, { accepted: true, reason: '' });
  same(TrialResultSchema, trialResultToProto(sampleResult));
  same(TrialResultSchema, { degenerate: false, totalSteps: 0, evals: [{ step: 1, validation: { loss: Number.NaN, accuracy: -0 } }] });
  same(ListTrialsResponseSchema, { trials: [trialToProto(sampleRecord)], nextPageToken: '3' });
  // A message with unknown fields keeps them, through toBinary.
  const withUnknown = fromBinary(CompleteTrialRequestSchema, new Uint8Array([...toBinary(CompleteTrialRequestSchema, create(CompleteTrialRequestSchema, { leaseId: 'x' })), 0xf8, 0x06, 0x05]));
  assert.equal(withUnknown.$unknown?.length, 1);
  same(CompleteTrialRequestSchema, withUnknown);
});

test('out-of-range values fail as toBinary fails', () => {
  assert.throws(() => encodeMessage(AcquireTrialResponseSchema, { lease: { attempt: -1 } }));
  assert.throws(() => toBinary(AcquireTrialResponseSchema, create(AcquireTrialResponseSchema, { lease: { attempt: -1 } })));
});
