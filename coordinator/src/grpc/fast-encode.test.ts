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

test('strings of any length and script, long and deeply nested bodies, a message larger than the scratch buffer', () => {
  const texts = ['', 'a', 'é', '日本語', 'x\uD800y', '\uDC00', '😀'.repeat(40), 'a'.repeat(127), 'a'.repeat(128), `${'b'.repeat(200)}é`, 'c'.repeat(17_000), 'd'.repeat(40_000)];
  for (const text of texts) {
    same(CompleteTrialResponseSchema, { accepted: true, reason: text });
    same(AcquireTrialResponseSchema, { lease: { leaseId: text, experimentName: text, config: { model: text, task: { name: text, labels: [text, 'b'] } } } });
    same(AcquireTrialResponseSchema, { lease: { leaseId: 'l', config: { model: text } } });
  }
  // Bodies whose length prefix takes 1, 2 and 3 bytes, inside other bodies; past the 4 KB scratch.
  const trials = Array.from({ length: 300 }, (_, i) => trialToProto({ ...sampleRecord, id: `t${i}`.repeat(1 + (i % 7)) }));
  for (const n of [0, 1, 2, 5, 40, 300]) same(ListTrialsResponseSchema, { trials: trials.slice(0, n), nextPageToken: String(n) });
  // The scratch buffer is reused: a small message after a large one is still exact.
  same(CompleteTrialResponseSchema, { accepted: false, reason: 'r' });
});
