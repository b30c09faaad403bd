// toBinary(create(...)) without protobuf-es's reflection, for the replies of the lease rpcs.
//
// The server's handlers return init objects; create() turned each into a message through the
// reflection API and toBinary walked it again the same way: together several percent of the
// coordinator's CPU per lease call. An encoder made once per schema from the descriptor writes an
// init object (or a message) straight to the wire, with the same BinaryWriter calls, so the bytes
// are toBinary's (fields by number, implicit zero values left out, numeric lists packed, the
// writer's range checks on every value). It covers proto3 messages of scalars other than bytes,
// nested messages (google.protobuf.Timestamp included) and lists of those; any other schema, and
// any value carrying unknown fields, goes through create and toBinary. fast-encode.test.ts
// compares both.
import { create, ScalarType, toBinary } from '@bufbuild/protobuf';
import type { DescField, DescMessage, MessageInitShape } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { Edition, FeatureSet_FieldPresence } from '@bufbuild/protobuf/wkt';

type Value = Record<string, unknown>;
/** Writes the fields of `value`; false when it cannot (the caller then uses toBinary). */
type Encoder = (writer: BinaryWriter, value: Value) => boolean;

const encoders = new Map<DescMessage, Encoder | null>();

function scalarWriter(scalar: ScalarType): [WireType, (writer: BinaryWriter, value: never) => void] | undefined {
  switch (scalar) {
    case ScalarType.DOUBLE:
      return [WireType.Bit64, (w, v: number) => w.double(v)];
    case ScalarType.FLOAT:
      return [WireType.Bit32, (w, v: number) => w.float(v)];
    case ScalarType.INT32:
      return [WireType.Varint, (w, v: number) => w.int32(v)];
    case ScalarType.UINT32:
      return [WireType.Varint, (w, v: number) => w.uint32(v)];
    case ScalarType.SINT32:
      return [WireType.Varint, (w, v: number) => w.sint32(v)];
    case ScalarType.FIXED32:
      return [WireType.Bit32, (w, v: number) => w.fixed32(v)];
    case ScalarType.SFIXED32:
      return [WireType.Bit32, (w, v: number) => w.sfixed32(v)];
    case ScalarType.INT64:
      return [WireType.Varint, (w, v: bigint | string | number) => w.int64(v)];
    case ScalarType.UINT64:
      return [WireType.Varint, (w, v: bigint | string | number) => w.uint64(v)];
    case ScalarType.BOOL:
      return [WireType.Varint, (w, v: boolean) => w.bool(v)];
    case ScalarType.STRING:
      return [WireType.LengthDelimited, (w, v: string) => w.string(v)];
    default:
      return undefined;
  }
}

/** protobuf-es's rule for an implicit-presence scalar being set (NaN is set, -0 is not). */
function isZero(value: unknown): boolean {
  return value === undefined || value === false || value === '' || (typeof value !== 'string' && typeof value !== 'boolean' && value == 0);
}

type FieldWriter = (writer: BinaryWriter, value: Value) => boolean;

function fieldWriter(field: DescField): FieldWriter | undefined {
  const key = field.localName;
  const number = field.number;
  switch (field.fieldKind) {
    case 'scalar': {
      const found = scalarWriter(field.scalar);
      if (!found) return undefined;
      const [wire, write] = found;
      const implicit = field.presence === FeatureSet_FieldPresence.IMPLICIT;
      return (writer, value) => {
        const item = value[key];
        if (implicit ? isZero(item) : item === undefined) return true;
        write(writer.tag(number, wire), item as never);
        return true;
      };
    }
    case 'message': {
      const inner = encoderFor(field.message);
      if (!inner) return undefined;
      return (writer, value) => {
        const item = value[key] as Value | undefined;
        if (item === undefined) return true;
        writer.tag(number, WireType.LengthDelimited).fork();
        const ok = inner(writer, item);
        writer.join();
        return ok;
      };
    }
    case 'list': {
      if (field.listKind === 'message') {
        const inner = encoderFor(field.message);
        if (!inner) return undefined;
        return (writer, value) => {
          for (const item of (value[key] as Value[] | undefined) ?? []) {
            writer.tag(number, WireType.LengthDelimited).fork();
            const ok = inner(writer, item);
            writer.join();
            if (!ok) return false;
          }
          return true;
        };
      }
      if (field.listKind !== 'scalar') return undefined;
      const found = scalarWriter(field.scalar);
      if (!found) return undefined;
      const [wire, write] = found;
      const packed = field.packed;
      return (writer, value) => {
        const list = (value[key] as unknown[] | undefined) ?? [];
        if (list.length === 0) return true;
        if (packed) {
          writer.tag(number, WireType.LengthDelimited).fork();
          for (const item of list) write(writer, item as never);
          writer.join();
        } else for (const item of list) write(writer.tag(number, wire), item as never);
        return true;
      };
    }
    default:
      return undefined;
  }
}

function encoderFor(schema: DescMessage): Encoder | undefined {
  const known = encoders.get(schema);
  if (known !== undefined) return known ?? undefined;
  // Marks the schema while its fields are compiled: a recursive schema takes the generic path.
  encoders.set(schema, null);
  const wellKnown = schema.typeName.startsWith('google.protobuf.') && schema.typeName !== 'google.protobuf.Timestamp';
  if (wellKnown || schema.oneofs.length > 0 || schema.file.edition !== Edition.EDITION_PROTO3) return undefined;
  const writers: FieldWriter[] = [];
  for (const field of [...schema.fields].sort((a, b) => a.number - b.number)) {
    const write = fieldWriter(field);
    if (!write) return undefined;
    writers.push(write);
  }
  const typeName = schema.typeName;
  const encoder: Encoder = (writer, value) => {
    // Unknown fields (a message decoded elsewhere) and messages of another type: toBinary's job.
    if (value.$unknown !== undefined || (value.$typeName !== undefined && value.$typeName !== typeName)) return false;
    for (const write of writers) if (!write(writer, value)) return false;
    return true;
  };
  encoders.set(schema, encoder);
  return encoder;
}

/** Same bytes as `toBinary(schema, create(schema, value))`; faster for the schemas it covers. */
export function encodeMessage<D extends DescMessage>(schema: D, value: MessageInitShape<D>): Uint8Array {
  const encoder = encoderFor(schema);
  if (encoder) {
    const writer = new BinaryWriter();
    if (encoder(writer, value as Value)) return writer.finish();
  }
  return toBinary(schema, create(schema, value));
}
