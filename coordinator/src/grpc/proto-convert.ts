// Conversions between the wire messages and Ballast's TypeScript contracts (trial config and
// result, trial records, experiment info). The proto field names are the contracts' snake_case
// keys, so most of it is protobuf-es's JSON mapping with proto names; what differs is spelled out
// here: enums, oneofs, timestamps and non-finite numbers (a diverged trial's loss is NaN, which
// JSON cannot hold but protobuf's JSON mapping writes as the string "NaN").
import { create, fromJson, toJson } from '@bufbuild/protobuf';
import type { DescMessage, JsonObject, JsonValue, MessageShape } from '@bufbuild/protobuf';
import { ScalarType } from '@bufbuild/protobuf';
import { FeatureSet_FieldPresence } from '@bufbuild/protobuf/wkt';
import { timestampDate, timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { TrialConfig, TrialSeeds } from '../../../trainer/src/config/trial-config.ts';
import type { TrialProgress, TrialResult } from '../../../trainer/src/train/trial-result.ts';
import type { ConfigurationSummary, TrialRecord, TrialState } from '../results/experiment-results.ts';
import type { ExperimentInfo, ExperimentState, TrialFailure as CoreTrialFailure } from '../core/types.ts';
import {
  ConfigurationSummarySchema,
  ExperimentSchema,
  ExperimentState as ExperimentStateProto,
  TrialSchema,
  TrialState as TrialStateProto,
} from '../../../proto/gen/ballast/v1/experiment_pb.ts';
import type { Experiment, Trial } from '../../../proto/gen/ballast/v1/experiment_pb.ts';
import {
  TrialConfigSchema,
  TrialFailureSchema,
  TrialProgressSchema,
  TrialResultSchema,
  TrialSeedsSchema,
  EvalMetricsSchema,
} from '../../../proto/gen/ballast/v1/trial_pb.ts';
import type { TrialProgress as TrialProgressProto } from '../../../proto/gen/ballast/v1/trial_pb.ts';
import type { Lease as LeaseProto } from '../../../proto/gen/ballast/v1/coordinator_service_pb.ts';

// ---- generic: plain objects <-> messages via the JSON mapping with proto field names ----------

/** A deep copy that JSON (and protobuf's JSON mapping) accepts: no undefined, non-finite as strings. */
function jsonSafe(value: unknown): JsonValue {
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value); // "NaN", "Infinity", "-Infinity"
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value !== null && typeof value === 'object') {
    const out: JsonObject = {};
    for (const [key, item] of Object.entries(value)) if (item !== undefined) out[key] = jsonSafe(item);
    return out;
  }
  return value as JsonValue;
}

const isFloat = (scalar: ScalarType) => scalar === ScalarType.DOUBLE || scalar === ScalarType.FLOAT;
const isWellKnown = (schema: DescMessage) => schema.typeName.startsWith('google.protobuf.');

/** "NaN", "Infinity", "-Infinity" back to numbers (only called for float fields). */
function fix(item: JsonValue): JsonValue {
  return typeof item === 'string' ? Number(item) : item;
}

/** Undoes the JSON mapping's string form of non-finite doubles, guided by the schema. */
function restoreNonFinite(schema: DescMessage, json: JsonObject): void {
  for (const field of schema.fields) {
    const value = json[field.name];
    if (value === undefined) continue;
    switch (field.fieldKind) {
      case 'scalar':
        if (isFloat(field.scalar)) json[field.name] = fix(value);
        break;
      case 'message':
        if (!isWellKnown(field.message)) restoreNonFinite(field.message, value as JsonObject);
        break;
      case 'list':
        if (field.listKind === 'scalar' && isFloat(field.scalar)) json[field.name] = (value as JsonValue[]).map(fix);
        if (field.listKind === 'message' && !isWellKnown(field.message)) for (const item of value as JsonObject[]) restoreNonFinite(field.message, item);
        break;
      case 'map': {
        const map = value as JsonObject;
        for (const key of Object.keys(map)) {
          if (field.mapKind === 'scalar' && isFloat(field.scalar)) map[key] = fix(map[key] as JsonValue);
          if (field.mapKind === 'message' && !isWellKnown(field.message)) restoreNonFinite(field.message, map[key] as JsonObject);
        }
        break;
      }
      case 'enum':
        break;
    }
  }
}

/**
 * A plain contract object as a message. Unknown keys fail loudly: the proto must mirror the
 * contract field for field, and a silently dropped field would be lost data.
 */
export function messageFromPlain<D extends DescMessage>(schema: D, plain: unknown): MessageShape<D> {
  return fromJson(schema, jsonSafe(plain));
}

/** A message as a plain contract object: unset optional fields are absent, numbers are numbers. */
export function plainFromMessage(schema: DescMessage, message: MessageShape<DescMessage>, emitImplicit = true): JsonObject {
  const direct = emitImplicit ? directConverter(schema) : undefined;
  if (direct) return direct(message as unknown as Record<string, unknown>);
  return genericPlainFromMessage(schema, message, emitImplicit);
}

/** The reference mapping: protobuf-es's JSON mapping, then non-finite numbers restored. */
export function genericPlainFromMessage(schema: DescMessage, message: MessageShape<DescMessage>, emitImplicit = true): JsonObject {
  const json = toJson(schema, message, { useProtoFieldName: true, alwaysEmitImplicit: emitImplicit }) as JsonObject;
  restoreNonFinite(schema, json);
  return json;
}

// toJson walks every field through protobuf-es's reflection API and then restoreNonFinite walks the
// JSON again: on the coordinator that was a few percent of a CompleteTrial's CPU and much of its
// garbage. For the schemas the lease path carries (plain scalars, nested messages and lists of
// them: trial config, seeds, result) a converter made once per schema from the descriptor reads
// the message's properties directly and gives the same object (keys in field-number order, as
// toJson; proto-convert.test.ts compares the two). Anything else (64-bit integers, bytes, enums,
// maps, oneofs, well-known types) keeps the generic path.
type DirectConverter = (message: Record<string, unknown>) => JsonObject;
const directConverters = new Map<DescMessage, DirectConverter | null>();

function directScalar(scalar: ScalarType): boolean {
  switch (scalar) {
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
    case ScalarType.INT32:
    case ScalarType.UINT32:
    case ScalarType.SINT32:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
    case ScalarType.BOOL:
    case ScalarType.STRING:
      return true;
    default:
      return false;
  }
}

function directConverter(schema: DescMessage): DirectConverter | undefined {
  const known = directConverters.get(schema);
  if (known !== undefined) return known ?? undefined;
  // Marks the schema while its fields are compiled: a recursive schema takes the generic path.
  directConverters.set(schema, null);
  if (isWellKnown(schema) || schema.oneofs.length > 0) return undefined;
  type Step = (message: Record<string, unknown>, out: JsonObject) => void;
  const steps: Step[] = [];
  for (const field of [...schema.fields].sort((a, b) => a.number - b.number)) {
    const key = field.localName;
    const name = field.name;
    switch (field.fieldKind) {
      case 'scalar': {
        if (!directScalar(field.scalar)) return undefined;
        // Explicit presence (`optional`): absent when unset; implicit: always written.
        if (field.presence === FeatureSet_FieldPresence.IMPLICIT) steps.push((m, out) => void (out[name] = m[key] as JsonValue));
        else steps.push((m, out) => {
          const value = m[key];
          if (value !== undefined) out[name] = value as JsonValue;
        });
        break;
      }
      case 'message': {
        const inner = directConverter(field.message);
        if (!inner) return undefined;
        steps.push((m, out) => {
          const value = m[key];
          if (value !== undefined) out[name] = inner(value as Record<string, unknown>);
        });
        break;
      }
      case 'list': {
        if (field.listKind === 'scalar') {
          if (!directScalar(field.scalar)) return undefined;
          steps.push((m, out) => void (out[name] = (m[key] as JsonValue[]).slice()));
        } else if (field.listKind === 'message') {
          const inner = directConverter(field.message);
          if (!inner) return undefined;
          steps.push((m, out) => void (out[name] = (m[key] as Record<string, unknown>[]).map(inner)));
        } else return undefined;
        break;
      }
      default:
        return undefined;
    }
  }
  const convert: DirectConverter = (message) => {
    const out: JsonObject = {};
    for (const step of steps) step(message, out);
    return out;
  };
  directConverters.set(schema, convert);
  return convert;
}

// ---- trial config, seeds, result, progress -----------------------------------------------------

export const trialConfigToProto = (config: TrialConfig) => messageFromPlain(TrialConfigSchema, config);

export function trialConfigFromProto(message: MessageShape<typeof TrialConfigSchema>): TrialConfig {
  return trialConfigFromPlain(plainFromMessage(TrialConfigSchema, message));
}

function trialConfigFromPlain(plain: JsonObject): TrialConfig {
  const task = plain.task as JsonObject | undefined;
  // `labels` is optional in the contract; an empty repeated field means "not given".
  if (task && Array.isArray(task.labels) && task.labels.length === 0) delete task.labels;
  return plain as unknown as TrialConfig;
}

const SEED_KEYS = ['seed', 'init_seed', 'data_seed', 'dropout_seed'];

export function trialSeedsToProto(seeds: TrialSeeds): MessageShape<typeof TrialSeedsSchema> {
  // Four numbers, on every lease: built directly. Anything but exactly these keys takes the strict
  // generic path, which names an unknown key.
  const keys = Object.keys(seeds);
  if (keys.length !== SEED_KEYS.length || !SEED_KEYS.every((key) => Number.isInteger(seeds[key as keyof TrialSeeds]))) {
    return messageFromPlain(TrialSeedsSchema, seeds);
  }
  return create(TrialSeedsSchema, { seed: seeds.seed, initSeed: seeds.init_seed, dataSeed: seeds.data_seed, dropoutSeed: seeds.dropout_seed });
}

const sharedConfigMessages = new WeakMap<TrialConfig, MessageShape<typeof TrialConfigSchema>>();

/**
 * `{ ...shared, ...seedOverrides }` as a message, converting `shared` (a configuration's config,
 * the same object for every trial of it, never mutated) once. The message returned may be shared:
 * callers must not mutate it.
 */
export function trialConfigToProtoShared(
  shared: TrialConfig,
  seedOverrides: Readonly<Partial<Pick<TrialConfig, 'seed' | 'init_seed' | 'data_seed'>>>,
): MessageShape<typeof TrialConfigSchema> {
  const { seed, init_seed: initSeed, data_seed: dataSeed, ...other } = seedOverrides;
  // An explicitly undefined key would unset the field, and any other key is not a seed override:
  // both take the generic path, which handles (or rejects) them as it always did.
  if (Object.keys(other).length > 0 || Object.values(seedOverrides).some((value) => value === undefined)) {
    return trialConfigToProto({ ...shared, ...seedOverrides });
  }
  let base = sharedConfigMessages.get(shared);
  if (base === undefined) sharedConfigMessages.set(shared, (base = trialConfigToProto(shared)));
  if (seed === undefined && initSeed === undefined && dataSeed === undefined) return base;
  // Only top-level scalars change, so a shallow copy shares the (immutable) task message.
  const message = { ...base };
  if (seed !== undefined) message.seed = seed;
  if (initSeed !== undefined) message.initSeed = initSeed;
  if (dataSeed !== undefined) message.dataSeed = dataSeed;
  return message;
}
export const trialSeedsFromProto = (message: MessageShape<typeof TrialSeedsSchema>) =>
  plainFromMessage(TrialSeedsSchema, message) as unknown as TrialSeeds;

export const trialResultToProto = (result: TrialResult) => messageFromPlain(TrialResultSchema, result);

export function trialResultFromProto(message: MessageShape<typeof TrialResultSchema>): TrialResult {
  // Implicit fields are emitted so that e.g. `degenerate: false` and `steps_completed: 0` appear.
  const plain = plainFromMessage(TrialResultSchema, message);
  // The config inside is already converted; only the contract's own rules remain.
  if (plain.config !== undefined) trialConfigFromPlain(plain.config as JsonObject);
  return plain as unknown as TrialResult;
}

export function trialProgressToProto(progress: TrialProgress): TrialProgressProto {
  switch (progress.kind) {
    case 'step': {
      const { kind: _, ...step } = progress;
      return create(TrialProgressSchema, { kind: { case: 'step', value: jsonSafeStep(step) } });
    }
    case 'eval':
      return create(TrialProgressSchema, {
        kind: {
          case: 'eval',
          value: { step: progress.step, totalSteps: progress.total_steps, validation: messageFromPlain(EvalMetricsSchema, progress.validation) },
        },
      });
    default: {
      const unreachable: never = progress;
      throw new Error(`unknown progress kind ${JSON.stringify(unreachable)}`);
    }
  }
}

function jsonSafeStep(step: { step: number; total_steps: number; loss: number; lr: number; examples_per_second: number }) {
  return { step: step.step, totalSteps: step.total_steps, loss: step.loss, lr: step.lr, examplesPerSecond: step.examples_per_second };
}

/** Undefined when the message carries no progress (an empty oneof). */
export function trialProgressFromProto(message: TrialProgressProto | undefined): TrialProgress | undefined {
  switch (message?.kind.case) {
    case 'step': {
      const s = message.kind.value;
      return { kind: 'step', step: s.step, total_steps: s.totalSteps, loss: s.loss, lr: s.lr, examples_per_second: s.examplesPerSecond };
    }
    case 'eval': {
      const e = message.kind.value;
      const validation = e.validation ? plainFromMessage(EvalMetricsSchema, e.validation) : { loss: Number.NaN };
      return { kind: 'eval', step: e.step, total_steps: e.totalSteps, validation: validation as unknown as { loss: number } };
    }
    default:
      return undefined;
  }
}

export const trialFailureToProto = (failure: CoreTrialFailure) => messageFromPlain(TrialFailureSchema, failure);

// ---- states --------------------------------------------------------------------------------------

const trialStates: Record<TrialState, TrialStateProto> = {
  queued: TrialStateProto.QUEUED,
  running: TrialStateProto.RUNNING,
  succeeded: TrialStateProto.SUCCEEDED,
  failed: TrialStateProto.FAILED,
  cancelled: TrialStateProto.CANCELLED,
};

export const trialStateToProto = (state: TrialState): TrialStateProto => trialStates[state];

/** Throws on UNSPECIFIED or an unknown number (the caller names the field). */
export function trialStateFromProto(state: TrialStateProto): TrialState {
  const found = (Object.keys(trialStates) as TrialState[]).find((key) => trialStates[key] === state);
  if (found === undefined) throw new RangeError(`not a trial state: ${state}`);
  return found;
}

const experimentStates: Record<ExperimentState, ExperimentStateProto> = {
  running: ExperimentStateProto.RUNNING,
  succeeded: ExperimentStateProto.SUCCEEDED,
  cancelled: ExperimentStateProto.CANCELLED,
};

export function experimentStateFromProto(state: ExperimentStateProto): ExperimentState {
  const found = (Object.keys(experimentStates) as ExperimentState[]).find((key) => experimentStates[key] === state);
  if (found === undefined) throw new RangeError(`not an experiment state: ${state}`);
  return found;
}

// ---- trial records, experiments, summaries -------------------------------------------------------

export function trialToProto(record: TrialRecord): Trial {
  const { state, config, result, progress, ...rest } = record;
  const message = messageFromPlain(TrialSchema, { ...rest, state: `TRIAL_STATE_${state.toUpperCase()}` });
  message.config = trialConfigToProto(config);
  if (result) message.result = trialResultToProto(result);
  if (progress) message.progress = trialProgressToProto(progress);
  return message;
}

export function trialFromProto(message: Trial): TrialRecord {
  const plain = plainFromMessage(TrialSchema, { ...message, config: undefined, result: undefined, progress: undefined } as Trial);
  const record = { ...plain, state: trialStateFromProto(message.state) } as unknown as TrialRecord;
  record.config = message.config ? trialConfigFromProto(message.config) : (undefined as never);
  if (message.result) record.result = trialResultFromProto(message.result);
  const progress = trialProgressFromProto(message.progress);
  if (progress) record.progress = progress;
  if (record.metrics && Object.keys(record.metrics).length === 0) delete record.metrics;
  // Timestamps come back in RFC 3339 as protobuf writes them; normalise to Date#toISOString.
  if (message.startedAt) record.started_at = timestampDate(message.startedAt).toISOString();
  if (message.finishedAt) record.finished_at = timestampDate(message.finishedAt).toISOString();
  return record;
}

export function experimentToProto(info: ExperimentInfo): Experiment {
  return messageFromPlain(ExperimentSchema, { ...info, state: `EXPERIMENT_STATE_${info.state.toUpperCase()}` });
}

export function experimentFromProto(message: Experiment): ExperimentInfo {
  const plain = plainFromMessage(ExperimentSchema, message);
  const info = { ...plain, state: experimentStateFromProto(message.state) } as unknown as ExperimentInfo;
  // Timestamps come back in RFC 3339 as protobuf writes them; normalise to Date#toISOString.
  if (message.createdAt) info.created_at = timestampDate(message.createdAt).toISOString();
  if (message.finishedAt) info.finished_at = timestampDate(message.finishedAt).toISOString();
  return info;
}

export const summaryToProto = (summary: ConfigurationSummary) =>
  // null statistics (n = 0) are unset optionals on the wire.
  messageFromPlain(
    ConfigurationSummarySchema,
    Object.fromEntries(Object.entries(summary).filter(([, value]) => value !== null)),
  );

export function summaryFromProto(message: MessageShape<typeof ConfigurationSummarySchema>): ConfigurationSummary {
  const plain = plainFromMessage(ConfigurationSummarySchema, message);
  for (const key of ['mean', 'std', 'median', 'min', 'max'] as const) if (plain[key] === undefined) plain[key] = null;
  return plain as unknown as ConfigurationSummary;
}

// ---- leases ---------------------------------------------------------------------------------------

/** A lease as the trainer agent sees it. */
export interface LeaseGrant {
  leaseId: string;
  trialId: string;
  experimentId: string;
  experimentName: string;
  attempt: number;
  config: TrialConfig;
  seeds: TrialSeeds;
  /** Heartbeat before this time or lose the lease. */
  deadline: Date;
  /** The lease time-to-live; heartbeat at a fraction of it. */
  ttlMs: number;
}

export function leaseFromProto(message: LeaseProto): LeaseGrant {
  if (!message.config || !message.seeds || !message.deadline) throw new Error(`lease ${message.leaseId} lacks its config, seeds or deadline`);
  return {
    leaseId: message.leaseId,
    trialId: message.trialId,
    experimentId: message.experimentId,
    experimentName: message.experimentName,
    attempt: message.attempt,
    config: trialConfigFromProto(message.config),
    seeds: trialSeedsFromProto(message.seeds),
    deadline: timestampDate(message.deadline),
    ttlMs: message.ttlMs,
  };
}

export { timestampFromMs };
