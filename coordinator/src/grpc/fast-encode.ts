// toBinary(create(...)) without protobuf-es's reflection, for the replies of the lease rpcs.
//
// The server's handlers return init objects; create() turned each into a message through the
// reflection API and toBinary walked it again the same way: together several percent of the
// coordinator's CPU per lease call. An encoder made once per schema from the descriptor writes an
// init object (or a message) straight to the wire, with the same writer calls, so the bytes
// are toBinary's (fields by number, implicit zero values left out, numeric lists packed, the
// writer's range checks on every value). It covers proto3 messages of scalars other than bytes,
// nested messages (google.protobuf.Timestamp included) and lists of those; any other schema, and
// any value carrying unknown fields, goes through create and toBinary. fast-encode.test.ts
// compares both.
//
// The bytes go into one scratch buffer, copied out once per message: protobuf-es's BinaryWriter
// keeps bytes in a JS array and allocates a chunk per string, double and nested message (a fork),
// and encoding one AcquireTrial reply (the lease's whole config) allocated about 20 KB that way,
// a quarter of everything the coordinator allocated per lease call. A nested message's length
// prefix is reserved as one byte and the body moved along in the rare case it needs more.
import { create, protoInt64, ScalarType, toBinary } from '@bufbuild/protobuf';
import type { DescField, DescMessage, MessageInitShape } from '@bufbuild/protobuf';
import { FLOAT32_MAX, FLOAT32_MIN, INT32_MAX, INT32_MIN, UINT32_MAX, WireType } from '@bufbuild/protobuf/wire';
import { Edition, FeatureSet_FieldPresence } from '@bufbuild/protobuf/wkt';

// BinaryWriter's checks, with its messages: the same values are rejected the same way.
function assertInt32(arg: unknown): void {
  const value = typeof arg === 'string' ? Number(arg) : arg;
  if (typeof value !== 'number') throw new Error(`invalid int32: ${typeof arg}`);
  if (!Number.isInteger(value) || value > INT32_MAX || value < INT32_MIN) throw new Error(`invalid int32: ${value}`);
}
function assertUInt32(arg: unknown): void {
  const value = typeof arg === 'string' ? Number(arg) : arg;
  if (typeof value !== 'number') throw new Error(`invalid uint32: ${typeof arg}`);
  if (!Number.isInteger(value) || value > UINT32_MAX || value < 0) throw new Error(`invalid uint32: ${value}`);
}
function assertFloat32(arg: unknown): void {
  let value = arg;
  if (typeof arg === 'string') {
    value = Number(arg);
    if (Number.isNaN(value) && arg !== 'NaN') throw new Error(`invalid float32: ${arg}`);
  } else if (typeof arg !== 'number') throw new Error(`invalid float32: ${typeof arg}`);
  if (Number.isFinite(value) && ((value as number) > FLOAT32_MAX || (value as number) < FLOAT32_MIN)) throw new Error(`invalid float32: ${String(arg)}`);
}

const textEncoder = new TextEncoder();
function buffer(size: number): [Buffer, DataView] {
  const buf = Buffer.allocUnsafeSlow(size);
  return [buf, new DataView(buf.buffer, buf.byteOffset, buf.byteLength)];
}
let [scratch, scratchView] = buffer(4096);
let scratchBusy = false;

/** BinaryWriter's methods (those the encoders use), over one growing buffer. */
class Writer {
  private pos = 0;
  private readonly forks: number[] = [];

  constructor(
    private buf: Buffer,
    private view: DataView,
  ) {}

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const [grown, view] = buffer(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
    this.view = view;
  }

  /** Unsigned varint of a number in [0, 2^32). */
  private varint(value: number): void {
    this.ensure(5);
    const buf = this.buf;
    let pos = this.pos;
    while (value > 0x7f) {
      buf[pos++] = (value & 0x7f) | 0x80;
      value = value >>> 7;
    }
    buf[pos++] = value;
    this.pos = pos;
  }

  private varint64(lo: number, hi: number): void {
    this.ensure(10);
    const buf = this.buf;
    // protobuf-es's varint64write.
    for (let i = 0; i < 28; i = i + 7) {
      const shift = lo >>> i;
      const hasNext = !(shift >>> 7 === 0 && hi === 0);
      buf[this.pos++] = (hasNext ? shift | 0x80 : shift) & 0xff;
      if (!hasNext) return;
    }
    const splitBits = ((lo >>> 28) & 0x0f) | ((hi & 0x07) << 4);
    const hasMoreBits = !(hi >> 3 === 0);
    buf[this.pos++] = (hasMoreBits ? splitBits | 0x80 : splitBits) & 0xff;
    if (!hasMoreBits) return;
    for (let i = 3; i < 31; i = i + 7) {
      const shift = hi >>> i;
      const hasNext = !(shift >>> 7 === 0);
      buf[this.pos++] = (hasNext ? shift | 0x80 : shift) & 0xff;
      if (!hasNext) return;
    }
    buf[this.pos++] = (hi >>> 31) & 0x01;
  }

  tag(fieldNo: number, type: WireType): this {
    return this.uint32(((fieldNo << 3) | type) >>> 0);
  }

  uint32(value: number): this {
    assertUInt32(value);
    this.varint(Number(value));
    return this;
  }

  int32(value: number): this {
    assertInt32(value);
    let v = Number(value);
    if (v >= 0) this.varint(v);
    else {
      this.ensure(10);
      for (let i = 0; i < 9; i++) {
        this.buf[this.pos++] = (v & 127) | 128;
        v = v >> 7;
      }
      this.buf[this.pos++] = 1;
    }
    return this;
  }

  sint32(value: number): this {
    assertInt32(value);
    const v = Number(value);
    this.varint(((v << 1) ^ (v >> 31)) >>> 0);
    return this;
  }

  bool(value: boolean): this {
    this.ensure(1);
    this.buf[this.pos++] = value ? 1 : 0;
    return this;
  }

  string(value: string): this {
    if (typeof value !== 'string') return this.bytes(textEncoder.encode(value));
    const length = value.length;
    // Short ASCII strings (ids, names, config keys) byte by byte; the rest through Buffer.write,
    // which encodes as TextEncoder does (lone surrogates as U+FFFD).
    if (length < 128) {
      this.ensure(1 + length);
      const buf = this.buf;
      const start = this.pos + 1;
      let i = 0;
      for (; i < length; i++) {
        const code = value.charCodeAt(i);
        if (code >= 0x80) break;
        buf[start + i] = code;
      }
      if (i === length) {
        buf[this.pos] = length;
        this.pos = start + length;
        return this;
      }
    }
    const n = Buffer.byteLength(value, 'utf8');
    this.varint(n);
    this.ensure(n);
    this.buf.write(value, this.pos, n, 'utf8');
    this.pos += n;
    return this;
  }

  bytes(value: Uint8Array): this {
    this.varint(value.byteLength);
    this.ensure(value.byteLength);
    this.buf.set(value, this.pos);
    this.pos += value.byteLength;
    return this;
  }

  float(value: number): this {
    assertFloat32(value);
    this.ensure(4);
    this.view.setFloat32(this.pos, value, true);
    this.pos += 4;
    return this;
  }

  double(value: number): this {
    this.ensure(8);
    this.view.setFloat64(this.pos, value, true);
    this.pos += 8;
    return this;
  }

  fixed32(value: number): this {
    assertUInt32(value);
    this.ensure(4);
    this.view.setUint32(this.pos, value, true);
    this.pos += 4;
    return this;
  }

  sfixed32(value: number): this {
    assertInt32(value);
    this.ensure(4);
    this.view.setInt32(this.pos, value, true);
    this.pos += 4;
    return this;
  }

  int64(value: bigint | string | number): this {
    const { lo, hi } = protoInt64.enc(value);
    this.varint64(lo, hi);
    return this;
  }

  uint64(value: bigint | string | number): this {
    const { lo, hi } = protoInt64.uEnc(value);
    this.varint64(lo, hi);
    return this;
  }

  /** Starts a length-delimited body, with one byte reserved for its length. */
  fork(): this {
    this.ensure(1);
    this.pos++;
    this.forks.push(this.pos);
    return this;
  }

  join(): this {
    const start = this.forks.pop();
    if (start === undefined) throw new Error('invalid state, fork stack empty');
    const length = this.pos - start;
    if (length < 0x80) {
      this.buf[start - 1] = length;
      return this;
    }
    let extra = 0;
    for (let rest = length >>> 7; rest > 0x7f; rest >>>= 7) extra++;
    extra++;
    this.ensure(extra);
    this.buf.copyWithin(start + extra, start, this.pos);
    const end = this.pos + extra;
    this.pos = start - 1;
    this.varint(length);
    this.pos = end;
    return this;
  }

  /** The bytes written, as a new array the caller owns; and the scratch buffer back. */
  finish(): Uint8Array {
    const bytes = new Uint8Array(this.pos);
    bytes.set(this.buf.subarray(0, this.pos));
    return bytes;
  }

  /** The (possibly grown) buffer, for the next message. */
  release(): [Buffer, DataView] {
    return [this.buf, this.view];
  }
}

type Value = Record<string, unknown>;
/** Writes the fields of `value`; false when it cannot (the caller then uses toBinary). */
type Encoder = (writer: Writer, value: Value) => boolean;

const encoders = new Map<DescMessage, Encoder | null>();

function scalarWriter(scalar: ScalarType): [WireType, (writer: Writer, value: never) => void] | undefined {
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

type FieldWriter = (writer: Writer, value: Value) => boolean;

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
    // A value's toString (a string field given a non-string) could encode a message meanwhile.
    const reentrant = scratchBusy;
    const writer = reentrant ? new Writer(...buffer(256)) : new Writer(scratch, scratchView);
    scratchBusy = true;
    try {
      if (encoder(writer, value as Value)) return writer.finish();
    } finally {
      if (!reentrant) {
        scratchBusy = false;
        [scratch, scratchView] = writer.release();
      }
    }
  }
  return toBinary(schema, create(schema, value));
}
