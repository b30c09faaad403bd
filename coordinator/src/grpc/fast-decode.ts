// fromBinary without protobuf-es's reflection, for the message shapes the lease rpcs carry.
//
// fromBinary decodes through a reflection object per message and a descriptor lookup per field:
// on the coordinator, decoding CompleteTrial requests (a whole trial result) was about a tenth of
// its CPU under the lease benchmark. A decoder made once per schema from the descriptor reads the
// same wire format straight into the same plain message objects that fromBinary builds
// (`$typeName`, implicit fields at their zero value, unset optional and message fields absent).
// It covers proto3 messages of 32-bit integers, doubles, floats, bools, strings, nested messages,
// lists of those and oneofs of them (a Heartbeat's progress); a schema with anything else (64-bit
// integers, bytes, enums, maps, well-known types), and any message with an unknown field or an
// unexpected wire type, is handed to fromBinary, so nothing is decoded differently or dropped.
// fast-decode.test.ts compares both.
import { fromBinary, ScalarType } from '@bufbuild/protobuf';
import type { DescField, DescMessage, MessageShape } from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { Edition, FeatureSet_FieldPresence } from '@bufbuild/protobuf/wkt';

type Message = Record<string, unknown>;
interface Decoder {
  zero(): Message;
  /** Reads fields until `end` into `message` (merging, as the wire format wants for repeats). */
  read(reader: BinaryReader, end: number, message: Message): void;
}

/** Thrown inside a decoder for what it does not handle; the caller falls back to fromBinary. */
const FALLBACK = Symbol('fallback to fromBinary');

const decoders = new Map<DescMessage, Decoder | null>();

function scalarReader(scalar: ScalarType): ((reader: BinaryReader) => unknown) | undefined {
  switch (scalar) {
    case ScalarType.DOUBLE:
      return (r) => r.double();
    case ScalarType.FLOAT:
      return (r) => r.float();
    case ScalarType.INT32:
      return (r) => r.int32();
    case ScalarType.UINT32:
      return (r) => r.uint32();
    case ScalarType.SINT32:
      return (r) => r.sint32();
    case ScalarType.FIXED32:
      return (r) => r.fixed32();
    case ScalarType.SFIXED32:
      return (r) => r.sfixed32();
    case ScalarType.BOOL:
      return (r) => r.bool();
    case ScalarType.STRING:
      return (r) => r.string();
    default:
      return undefined;
  }
}

function scalarWireType(scalar: ScalarType): WireType {
  switch (scalar) {
    case ScalarType.DOUBLE:
      return WireType.Bit64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return WireType.Bit32;
    case ScalarType.STRING:
      return WireType.LengthDelimited;
    default:
      return WireType.Varint;
  }
}

function zeroScalar(scalar: ScalarType): unknown {
  if (scalar === ScalarType.STRING) return '';
  if (scalar === ScalarType.BOOL) return false;
  return 0;
}

type FieldReader = (reader: BinaryReader, wireType: WireType, message: Message) => void;

interface OneofValue {
  case: string | undefined;
  value?: unknown;
}

/** A member of a oneof: the oneof's property becomes `{ case, value }`, as fromBinary sets it. */
function oneofFieldReader(field: DescField, oneof: string): FieldReader | undefined {
  const key = field.localName;
  switch (field.fieldKind) {
    case 'scalar': {
      const read = scalarReader(field.scalar);
      if (!read) return undefined;
      const wire = scalarWireType(field.scalar);
      return (reader, wireType, message) => {
        if (wireType !== wire) throw FALLBACK;
        message[oneof] = { case: key, value: read(reader) };
      };
    }
    case 'message': {
      const inner = decoderFor(field.message);
      if (!inner) return undefined;
      return (reader, wireType, message) => {
        if (wireType !== WireType.LengthDelimited) throw FALLBACK;
        const end = reader.uint32() + reader.pos;
        // The same member again merges into it; another member replaces it.
        const current = message[oneof] as OneofValue;
        const target = current.case === key ? (current.value as Message) : inner.zero();
        inner.read(reader, end, target);
        if (current.case !== key) message[oneof] = { case: key, value: target };
      };
    }
    default:
      return undefined;
  }
}

function fieldReader(field: DescField): FieldReader | undefined {
  const key = field.localName;
  if (field.oneof !== undefined) return oneofFieldReader(field, field.oneof.localName);
  switch (field.fieldKind) {
    case 'scalar': {
      const read = scalarReader(field.scalar);
      if (!read) return undefined;
      const wire = scalarWireType(field.scalar);
      return (reader, wireType, message) => {
        if (wireType !== wire) throw FALLBACK;
        message[key] = read(reader);
      };
    }
    case 'message': {
      const inner = decoderFor(field.message);
      if (!inner) return undefined;
      return (reader, wireType, message) => {
        if (wireType !== WireType.LengthDelimited) throw FALLBACK;
        const end = reader.uint32() + reader.pos;
        // A repeated occurrence of a singular message field merges into the first.
        const target = (message[key] as Message | undefined) ?? (message[key] = inner.zero());
        inner.read(reader, end, target);
      };
    }
    case 'list': {
      if (field.listKind === 'message') {
        const inner = decoderFor(field.message);
        if (!inner) return undefined;
        return (reader, wireType, message) => {
          if (wireType !== WireType.LengthDelimited) throw FALLBACK;
          const end = reader.uint32() + reader.pos;
          const item = inner.zero();
          inner.read(reader, end, item);
          (message[key] as Message[]).push(item);
        };
      }
      if (field.listKind !== 'scalar') return undefined;
      const read = scalarReader(field.scalar);
      if (!read) return undefined;
      const wire = scalarWireType(field.scalar);
      const packable = field.scalar !== ScalarType.STRING;
      return (reader, wireType, message) => {
        const list = message[key] as unknown[];
        // Parsers must accept packed and unpacked encodings of a packable field alike.
        if (packable && wireType === WireType.LengthDelimited) {
          const end = reader.uint32() + reader.pos;
          while (reader.pos < end) list.push(read(reader));
        } else if (wireType === wire) list.push(read(reader));
        else throw FALLBACK;
      };
    }
    default:
      return undefined;
  }
}

function decoderFor(schema: DescMessage): Decoder | undefined {
  const known = decoders.get(schema);
  if (known !== undefined) return known ?? undefined;
  // Marks the schema while its fields are compiled: a recursive schema takes the generic path.
  decoders.set(schema, null);
  if (schema.typeName.startsWith('google.protobuf.') || schema.file.edition !== Edition.EDITION_PROTO3) return undefined;
  const readers: Array<FieldReader | undefined> = [];
  const zeros: Array<[string, () => unknown]> = [];
  for (const oneof of schema.oneofs) zeros.push([oneof.localName, () => ({ case: undefined })]);
  for (const field of schema.fields) {
    const reader = fieldReader(field);
    if (!reader) return undefined;
    readers[field.number] = reader;
    if (field.oneof !== undefined) continue;
    if (field.fieldKind === 'list') zeros.push([field.localName, () => []]);
    else if (field.fieldKind === 'scalar' && field.presence === FeatureSet_FieldPresence.IMPLICIT) {
      const zero = zeroScalar(field.scalar);
      zeros.push([field.localName, () => zero]);
    }
  }
  const typeName = schema.typeName;
  const decoder: Decoder = {
    zero() {
      const message: Message = { $typeName: typeName };
      for (const [key, zero] of zeros) message[key] = zero();
      return message;
    },
    read(reader, end, message) {
      while (reader.pos < end) {
        // reader.tag() without its [number, wireType] array per field; a bad tag is fromBinary's to report.
        const tag = reader.uint32();
        const number = tag >>> 3;
        const wireType = (tag & 7) as WireType;
        if (number <= 0 || wireType > 5) throw FALLBACK;
        const read = readers[number];
        // Unknown fields are kept by fromBinary (in $unknown): let it do this message.
        if (read === undefined) throw FALLBACK;
        read(reader, wireType, message);
      }
      if (reader.pos !== end) throw FALLBACK;
    },
  };
  decoders.set(schema, decoder);
  return decoder;
}

/** Same result as `fromBinary(schema, bytes)`; faster for the schemas it covers. */
export function decodeMessage<D extends DescMessage>(schema: D, bytes: Uint8Array): MessageShape<D> {
  const decoder = decoderFor(schema);
  if (decoder) {
    try {
      const reader = new BinaryReader(bytes);
      const message = decoder.zero();
      decoder.read(reader, bytes.length, message);
      return message as MessageShape<D>;
    } catch (error) {
      // Malformed input included: fromBinary then reports it as it always did.
      if (error !== FALLBACK && !(error instanceof Error)) throw error;
    }
  }
  return fromBinary(schema, bytes);
}
