// safetensors, read and written by hand (the format is tiny and no usable npm package exists):
// 8 bytes little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets}, …,
// "__metadata__": {…}}, then the raw little-endian data, offsets relative to the end of the header.
// Every check names the file and tensor: a truncated download must say so, not crash in tfjs.
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../util/write-file-atomic.ts';
import { CheckpointError } from './checkpoint-error.ts';

/** One tensor as Ballast holds it on the host: row-major float32, whatever the file's dtype. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  /** Byte range in the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsFile {
  file: string;
  /** Every tensor in the header, validated (dtype known, offsets in range, size = shape × dtype). */
  entries: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
  /** Decodes one tensor to float32 (F32, F16, BF16); other dtypes are a CheckpointError. */
  read(name: string): HostTensor;
}

// Every dtype of the format, with its size, so that a file with, e.g., an I64 `position_ids`
// buffer parses; only the float dtypes below can be read as weights.
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1, I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};
const READABLE = new Set(['F32', 'F16', 'BF16']);
// Headers beyond this are corrupt, not big: bert-large's header is about 40 KB. (The reference
// implementation caps at 100 MB as well.)
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export function readSafetensors(path: string): SafetensorsFile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (cause) {
    throw new CheckpointError(path, `cannot read: ${(cause as Error).message}`, undefined, { cause });
  }
  return parseSafetensors(bytes, path);
}

/** Parses a whole safetensors file held in memory. `file` names it in errors. */
export function parseSafetensors(bytes: Uint8Array, file: string): SafetensorsFile {
  if (bytes.byteLength < 8) {
    throw new CheckpointError(file, `truncated: ${bytes.byteLength} bytes, shorter than the 8-byte header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(Math.min(MAX_HEADER_BYTES, bytes.byteLength - 8))) {
    throw new CheckpointError(file, `header length ${headerLen} exceeds the file's ${bytes.byteLength} bytes (truncated or not safetensors)`);
  }
  const dataStart = 8 + Number(headerLen);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart)));
  } catch (cause) {
    throw new CheckpointError(file, `header is not valid JSON: ${(cause as Error).message}`, undefined, { cause });
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new CheckpointError(file, 'header is not a JSON object');
  }
  const dataLen = bytes.byteLength - dataStart;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = (entry ?? {}) as Record<string, string>;
      continue;
    }
    entries.set(name, checkEntry(entry, file, name, dataLen));
  }
  const read = (name: string): HostTensor => {
    const e = entries.get(name);
    if (!e) throw new CheckpointError(file, 'no such tensor', name);
    if (!READABLE.has(e.dtype)) throw new CheckpointError(file, `dtype ${e.dtype} cannot be read as weights (F32, F16 and BF16 can)`, name);
    const count = e.shape.reduce((a, b) => a * b, 1);
    return { shape: [...e.shape], data: decode(bytes, dataStart + e.begin, count, e.dtype) };
  };
  return { file, entries, metadata, read };
}

function checkEntry(entry: unknown, file: string, name: string, dataLen: number): SafetensorsEntry {
  if (typeof entry !== 'object' || entry === null) throw new CheckpointError(file, 'header entry is not an object', name);
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
    throw new CheckpointError(file, `unknown dtype ${JSON.stringify(dtype)}`, name);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new CheckpointError(file, `bad shape ${JSON.stringify(shape)}`, name);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
    throw new CheckpointError(file, `bad data_offsets ${JSON.stringify(offsets)}`, name);
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataLen) {
    throw new CheckpointError(file, `data ends at byte ${end} of the data section, which has only ${dataLen} bytes (truncated file?)`, name);
  }
  const bytes = (shape as number[]).reduce((a, b) => a * b, 1) * (DTYPE_BYTES[dtype] as number);
  if (end - begin !== bytes) {
    throw new CheckpointError(file, `shape [${shape}] of ${dtype} needs ${bytes} bytes, data_offsets give ${end - begin}`, name);
  }
  return { dtype, shape: shape as number[], begin, end };
}

// Float32Array needs a 4-byte-aligned offset; a Buffer from readFileSync shares a pool and the
// header length is arbitrary, so the data is usually unaligned: copy in that case (a view when
// aligned would alias the file buffer, so copy always — the caller owns the result).
function decode(bytes: Uint8Array, offset: number, count: number, dtype: string): Float32Array {
  const out = new Float32Array(count);
  if (dtype === 'F32') {
    new Uint8Array(out.buffer).set(bytes.subarray(offset, offset + 4 * count));
    if (!LITTLE_ENDIAN) byteSwap32(out);
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, 2 * count);
  if (dtype === 'BF16') {
    // bfloat16 is the top half of a float32.
    const u32 = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) u32[i] = view.getUint16(2 * i, true) << 16;
    return out;
  }
  for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function byteSwap32(a: Float32Array): void {
  const v = new DataView(a.buffer);
  for (let i = 0; i < a.length; i++) v.setUint32(4 * i, v.getUint32(4 * i, true), false);
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // subnormal
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * Encodes F32 tensors. The header is padded with spaces so that the data starts at a multiple of
 * 8 bytes, as the reference writer does, which lets readers map the data without copying.
 */
export function encodeSafetensors(tensors: ReadonlyMap<string, HostTensor>, metadata: Record<string, string> = {}): Buffer {
  // The bytes of a Float32Array are the file's little-endian F32 only on a little-endian host.
  if (!LITTLE_ENDIAN) throw new Error('encodeSafetensors: big-endian hosts are not supported');
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`encodeSafetensors: tensor '${name}' has shape [${t.shape}] but ${t.data.length} values`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * count] };
    offset += 4 * count;
  }
  let json = JSON.stringify(header);
  const jsonBytes = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - ((8 + jsonBytes) % 8)) % 8);
  const headerLen = Buffer.byteLength(json, 'utf8');
  const out = Buffer.alloc(8 + headerLen + offset);
  out.writeBigUInt64LE(BigInt(headerLen), 0);
  out.write(json, 8, 'utf8');
  let pos = 8 + headerLen;
  for (const t of tensors.values()) {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(bytes, pos);
    pos += t.data.byteLength;
  }
  return out;
}

/** Writes atomically (temp file + rename), so a crash never leaves a half-written checkpoint. */
export function writeSafetensors(path: string, tensors: ReadonlyMap<string, HostTensor>, metadata: Record<string, string> = { format: 'pt' }): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}
