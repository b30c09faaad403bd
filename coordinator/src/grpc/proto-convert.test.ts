import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create, equals, fromBinary, toBinary } from '@bufbuild/protobuf';
import { TrialConfigSchema, TrialResultSchema, TrialSeedsSchema } from '../../../proto/gen/ballast/v1/trial_pb.ts';
import { TrialSchema } from '../../../proto/gen/ballast/v1/experiment_pb.ts';
import {
  experimentFromProto,
  experimentToProto,
  genericPlainFromMessage,
  plainFromMessage,
  summaryFromProto,
  summaryToProto,
  trialConfigFromProto,
  trialConfigToProto,
  trialConfigToProtoShared,
  trialSeedsToProto,
  trialFromProto,
  trialProgressFromProto,
  trialProgressToProto,
  trialResultFromProto,
  trialResultToProto,
  trialToProto,
} from './proto-convert.ts';
import { sampleConfig, sampleRecord, sampleResult } from './test-fixtures.ts';
import type { ExperimentInfo } from '../core/types.ts';

test('a trial config survives the wire, unset optionals stay unset', () => {
  const back = trialConfigFromProto(trialConfigToProto(sampleConfig));
  assert.deepEqual(back, sampleConfig);
  assert.equal('warmup_steps' in back, false);
  assert.equal('labels' in trialConfigFromProto(trialConfigToProto({ ...sampleConfig, task: { name: 'rte', split: 'standard', split_seed: 0 } })).task, false);
});

test('a trial result survives binary encoding, NaN and infinite losses included', () => {
  const bytes = toBinary(TrialResultSchema, trialResultToProto(sampleResult));
  const back = trialResultFromProto(fromBinary(TrialResultSchema, bytes));
  assert.deepEqual(back, sampleResult);
  assert.ok(Number.isNaN(back.diverged?.loss));
});

test('a trial record survives the wire with its state, metrics and errors', () => {
  const back = trialFromProto(fromBinary(TrialSchema, toBinary(TrialSchema, trialToProto(sampleRecord))));
  assert.deepEqual(back, sampleRecord);
  const running = {
    ...sampleRecord,
    state: 'running' as const,
    metrics: undefined,
    result: undefined,
    degenerate: undefined,
    degenerate_reason: undefined,
    finished_at: undefined,
    worker_id: 'pod-1/gpu0',
    progress: { kind: 'step' as const, step: 3, total_steps: 40, loss: 0.6, lr: 1e-5, examples_per_second: 80 },
  };
  assert.deepEqual(trialFromProto(trialToProto(running)), JSON.parse(JSON.stringify(running)));
  const queued = { ...running, state: 'queued' as const, worker_id: undefined, progress: undefined, started_at: undefined };
  const plain = JSON.parse(JSON.stringify(queued));
  assert.deepEqual(trialFromProto(trialToProto(queued)), plain);
});

test('a field the proto does not know fails loudly instead of being dropped', () => {
  assert.throws(() => trialResultToProto({ ...sampleResult, surprise: 1 } as never), /surprise/);
});

test('progress of both kinds round-trips', () => {
  const step = { kind: 'step' as const, step: 3, total_steps: 10, loss: 0.5, lr: 1e-5, examples_per_second: 99 };
  assert.deepEqual(trialProgressFromProto(trialProgressToProto(step)), step);
  const evalProgress = { kind: 'eval' as const, step: 4, total_steps: 10, validation: { loss: 0.4, accuracy: 0.8 } };
  assert.deepEqual(trialProgressFromProto(trialProgressToProto(evalProgress)), evalProgress);
  assert.equal(trialProgressFromProto(undefined), undefined);
});

test('experiments and summaries round-trip, null statistics included', () => {
  const info: ExperimentInfo = {
    id: 'exp-1',
    name: 'quick',
    state: 'running',
    created_at: '2026-11-26T20:51:00.123Z',
    source: 'quick.yaml',
    max_attempts: 3,
    configurations: 2,
    trials: 6,
    counts: { queued: 4, running: 1, succeeded: 1, failed: 0, cancelled: 0, degenerate: 1 },
  };
  assert.deepEqual(experimentFromProto(experimentToProto(info)), info);
  const summary = { configuration: 'c1', sweep_values: { optimizer: 'adamw' }, metric: 'accuracy', n: 0, mean: null, std: null, median: null, min: null, max: null, degenerate: 0, failed: 1 };
  assert.deepEqual(summaryFromProto(summaryToProto(summary)), summary);
});

test('the direct message-to-plain conversion gives what the JSON mapping gives, key order included', () => {
  // JSON.stringify would print NaN and Infinity as null; spell them out so that they are compared.
  const exact = (value: unknown) => JSON.stringify(value, (_key, item: unknown) => (typeof item === 'number' && !Number.isFinite(item) ? `number:${item}` : item));
  const cases = [
    [TrialResultSchema, trialResultToProto(sampleResult)],
    [TrialResultSchema, create(TrialResultSchema)],
    [TrialResultSchema, trialResultToProto({ ...sampleResult, evals: [], degenerate: false, degenerate_reason: undefined, checkpoint_dir: undefined })],
    [TrialConfigSchema, trialConfigToProto(sampleConfig)],
    [TrialConfigSchema, trialConfigToProto({ ...sampleConfig, task: { name: 'rte', split: 'standard', split_seed: 0 }, warmup_steps: 3, init_seed: 0 })],
    [TrialConfigSchema, create(TrialConfigSchema)],
  ] as const;
  for (const [schema, message] of cases) {
    const direct = plainFromMessage(schema, message);
    assert.equal(exact(direct), exact(genericPlainFromMessage(schema, message)));
  }
});

test('a lease config built from the shared configuration message equals the one converted whole', () => {
  const overrides = [{}, { seed: 7 }, { seed: 4, init_seed: 4, data_seed: 9 }, { data_seed: 0 }];
  for (const seedOverrides of overrides) {
    const shared = trialConfigToProtoShared(sampleConfig, seedOverrides);
    const whole = trialConfigToProto({ ...sampleConfig, ...seedOverrides });
    assert.ok(equals(TrialConfigSchema, shared, whole), JSON.stringify(seedOverrides));
    assert.deepEqual(toBinary(TrialConfigSchema, shared), toBinary(TrialConfigSchema, whole));
  }
  // The shared message is not changed by a trial's overrides.
  assert.equal(trialConfigToProtoShared(sampleConfig, {}).seed, sampleConfig.seed);
  // Seeds: built directly, the same message as the JSON mapping gives; a stray key still fails.
  const seeds = { seed: 1, init_seed: 2, data_seed: 3, dropout_seed: 4 };
  assert.ok(equals(TrialSeedsSchema, trialSeedsToProto(seeds), create(TrialSeedsSchema, { seed: 1, initSeed: 2, dataSeed: 3, dropoutSeed: 4 })));
  assert.throws(() => trialSeedsToProto({ ...seeds, stray: 1 } as never));
});
