// The simulated trainers' lease requests and replies at the byte level (protobuf wire format in
// gRPC's length-prefixed framing), for bench/lease-throughput.ts.
//
// The bench's trainers make hundreds of calls per second per process on the cores the measured
// coordinator runs on, and protobuf-es's reflection (create, toBinary of the whole result per
// CompleteTrial, fromBinary of every reply) was about a fifth of their CPU per call. Nearly all of
// each request is the same on every call, so it is encoded once with protobuf-es and only the
// per-call fields (the lease id; the lease's config and seeds) are spliced in. The bytes are those
// toBinary writes for the message the bench built before (fields in number order, each message
// field as tag, varint length, bytes; lease-wire.test.ts decodes them with fromBinary and checks
// both): a real trainer's requests, not a cheaper imitation.
import { create, toBinary } from '@bufbuild/protobuf';
import { AcquireTrialRequestSchema } from '../proto/gen/ballast/v1/coordinator_service_pb.ts';
import { TrialProgressSchema, TrialResultSchema, type TrialProgress, type TrialResult } from '../proto/gen/ballast/v1/trial_pb.ts';
import { grpcFrame } from '../coordinator/src/grpc/grpc-http2.ts';

/** Wire type 2 (length-delimited) tags of fields 1 and 2, the only tags the requests are built from. */
const TAG_1 = 0x0a;
const TAG_2 = 0x12;

const varintSize = (n: number) => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);

function writeVarint(out: Buffer, pos: number, n: number): number {
  while (n >= 0x80) {
    out[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[pos++] = n;
  return pos;
}

/** A length-delimited field's size on the wire, tag included. */
const fieldSize = (length: number) => 1 + varintSize(length) + length;

/**
 * A lease as the AcquireTrial reply delivered it: its id, and where its config and seeds messages
 * lie in the reply's bytes (start -1: the field was absent), to be sent back as they came.
 */
export interface WireLease {
  leaseId: string;
  reply: Buffer;
  idStart: number;
  idEnd: number;
  configStart: number;
  configEnd: number;
  seedsStart: number;
  seedsEnd: number;
}

// The scanner's cursor: module state rather than a returned pair, so reading a varint allocates nothing.
let at = 0;

function readVarint(bytes: Buffer, end: number): number {
  let value = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (at >= end) throw new Error('lease reply: truncated varint');
    const byte = bytes[at++]!;
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return value;
  }
  throw new Error('lease reply: varint too long');
}

/** Moves the cursor past a field's value of `wireType`. */
function skip(bytes: Buffer, end: number, wireType: number): void {
  switch (wireType) {
    case 0:
      for (let n = 0; n < 10; n++) {
        if (at >= end) break;
        if (bytes[at++]! < 0x80) return;
      }
      throw new Error('lease reply: bad varint');
    case 1:
      at += 8;
      break;
    case 2: {
      // Not `at += readVarint(...)`: that adds to the cursor as it was before the length.
      const length = readVarint(bytes, end);
      at += length;
      break;
    }
    case 5:
      at += 4;
      break;
    default:
      // Groups (3, 4) are not in this proto3 schema.
      throw new Error(`lease reply: unexpected wire type ${wireType}`);
  }
  if (at > end) throw new Error('lease reply: field overruns its message');
}

/**
 * Reads an AcquireTrialResponse in gRPC framing (`reply`: the whole reply body): null when it holds
 * no lease. Only the fields a trainer needs are located (lease_id 1, config 6, seeds 7 of the
 * `lease` field 1); others are skipped as a decoder would. A field that appears twice (which
 * protobuf merges, and canonical encoders never write) is refused rather than guessed at.
 */
export function readLease(reply: Buffer): WireLease | null {
  const end = checkFrame(reply, 'AcquireTrial');
  let lease: WireLease | null = null;
  at = 5;
  while (at < end) {
    const tag = readVarint(reply, end);
    if (tag !== TAG_1) {
      skip(reply, end, tag & 7);
      continue;
    }
    if (lease !== null) throw new Error('lease reply: two lease fields');
    const leaseLength = readVarint(reply, end);
    const leaseEnd = at + leaseLength;
    if (leaseEnd > end) throw new Error('lease reply: lease overruns the message');
    lease = { leaseId: '', reply, idStart: -1, idEnd: -1, configStart: -1, configEnd: -1, seedsStart: -1, seedsEnd: -1 };
    while (at < leaseEnd) {
      // Tags of lease_id (1), config (6) and seeds (7), length-delimited: (number << 3) | 2.
      const field = readVarint(reply, leaseEnd);
      if (field !== 0x0a && field !== 0x32 && field !== 0x3a) {
        skip(reply, leaseEnd, field & 7);
        continue;
      }
      const length = readVarint(reply, leaseEnd);
      const start = at;
      at += length;
      if (at > leaseEnd) throw new Error('lease reply: field overruns the lease');
      if (field === 0x0a) {
        if (lease.idStart >= 0) throw new Error('lease reply: two lease ids');
        lease.idStart = start;
        lease.idEnd = at;
      } else if (field === 0x32) {
        if (lease.configStart >= 0) throw new Error('lease reply: two configs');
        lease.configStart = start;
        lease.configEnd = at;
      } else {
        if (lease.seedsStart >= 0) throw new Error('lease reply: two seeds');
        lease.seedsStart = start;
        lease.seedsEnd = at;
      }
    }
    lease.leaseId = lease.idStart < 0 ? '' : reply.toString('utf8', lease.idStart, lease.idEnd);
  }
  return lease;
}

/**
 * The requests of one simulated trainer's loop, from the constant parts encoded once: AcquireTrial
 * per worker id (no wait), Heartbeat with `progress`, CompleteTrial with `result` carrying the
 * lease's config and seeds in place of its own.
 */
export class LeaseRequests {
  private readonly progress: Uint8Array;
  /** The result's fields after config (1) and seeds (2), i.e. all but those two, in order. */
  private readonly resultTail: Uint8Array;

  constructor(progress: TrialProgress, result: TrialResult) {
    this.progress = toBinary(TrialProgressSchema, progress);
    this.resultTail = toBinary(TrialResultSchema, create(TrialResultSchema, { ...result, config: undefined, seeds: undefined }));
  }

  /** Once per worker: the request is the same on every call. */
  acquire(workerId: string): Buffer {
    return grpcFrame(toBinary(AcquireTrialRequestSchema, create(AcquireTrialRequestSchema, { workerId, waitMs: 0 })));
  }

  heartbeat(lease: WireLease): Buffer {
    const idLength = lease.idEnd - lease.idStart;
    const size = (idLength > 0 ? fieldSize(idLength) : 0) + fieldSize(this.progress.length);
    const frame = Buffer.allocUnsafe(5 + size);
    let pos = this.header(frame, size, lease, idLength);
    frame[pos++] = TAG_2;
    pos = writeVarint(frame, pos, this.progress.length);
    frame.set(this.progress, pos);
    return frame;
  }

  complete(lease: WireLease): Buffer {
    const idLength = lease.idEnd - lease.idStart;
    const configLength = lease.configEnd - lease.configStart;
    const seedsLength = lease.seedsEnd - lease.seedsStart;
    const resultSize =
      (lease.configStart >= 0 ? fieldSize(configLength) : 0) + (lease.seedsStart >= 0 ? fieldSize(seedsLength) : 0) + this.resultTail.length;
    const size = (idLength > 0 ? fieldSize(idLength) : 0) + fieldSize(resultSize);
    const frame = Buffer.allocUnsafe(5 + size);
    let pos = this.header(frame, size, lease, idLength);
    frame[pos++] = TAG_2;
    pos = writeVarint(frame, pos, resultSize);
    if (lease.configStart >= 0) {
      frame[pos++] = TAG_1;
      pos = writeVarint(frame, pos, configLength);
      pos += lease.reply.copy(frame, pos, lease.configStart, lease.configEnd);
    }
    if (lease.seedsStart >= 0) {
      frame[pos++] = TAG_2;
      pos = writeVarint(frame, pos, seedsLength);
      pos += lease.reply.copy(frame, pos, lease.seedsStart, lease.seedsEnd);
    }
    frame.set(this.resultTail, pos);
    return frame;
  }

  /** The gRPC prefix and field 1, the lease id (absent when empty, as proto3 writes it). */
  private header(frame: Buffer, size: number, lease: WireLease, idLength: number): number {
    frame[0] = 0;
    frame.writeUInt32BE(size, 1);
    let pos = 5;
    if (idLength > 0) {
      frame[pos++] = TAG_1;
      pos = writeVarint(frame, pos, idLength);
      pos += lease.reply.copy(frame, pos, lease.idStart, lease.idEnd);
    }
    return pos;
  }
}

/** Checks `reply` is exactly one uncompressed gRPC message and returns its end. */
export function checkFrame(reply: Buffer | undefined, method: string): number {
  if (reply === undefined || reply.length < 5) throw new Error(`${method}: reply without a message`);
  if (reply[0] !== 0) throw new Error(`${method}: compressed reply (this client asks for none)`);
  const end = 5 + reply.readUInt32BE(1);
  if (end !== reply.length) throw new Error(`${method}: reply of ${reply.length} bytes for a message of ${end - 5}`);
  return end;
}
