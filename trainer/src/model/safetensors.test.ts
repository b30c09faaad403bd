import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CheckpointError } from './checkpoint-error.ts';
import { encodeSafetensors, parseSafetensors, type HostTensor } from './safetensors.ts';

/** A safetensors file from a raw header object and data bytes (for malformed and non-F32 files). */
function rawFile(header: unknown, data: Uint8Array, headerPad = 0): Buffer {
  const json = Buffer.from(JSON.stringify(header) + ' '.repeat(headerPad));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

function throwsCheckpoint(fn: () => unknown, pattern: RegExp, item?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CheckpointError, `expected CheckpointError, got ${String(e)}`);
    assert.match(e.message, /^model\.safetensors: /);
    assert.match(e.message, pattern);
    if (item !== undefined) assert.equal(e.item, item);
    return true;
  });
}

test('F32 round trip keeps names, shapes, values and metadata; data is 8-byte aligned', () => {
  const tensors = new Map<string, HostTensor>([
    ['a.weight', { shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 4e-8, 5e30, -0]) }],
    ['b', { shape: [1], data: Float32Array.from([7]) }],
    ['scalar', { shape: [], data: Float32Array.from([0.25]) }],
  ]);
  const bytes = encodeSafetensors(tensors, { format: 'pt' });
  const headerLen = Number(bytes.readBigUInt64LE(0));
  assert.equal((8 + headerLen) % 8, 0);
  const file = parseSafetensors(bytes, 'model.safetensors');
  assert.deepEqual(file.metadata, { format: 'pt' });
  assert.deepEqual([...file.entries.keys()], ['a.weight', 'b', 'scalar']);
  for (const [name, t] of tensors) {
    const got = file.read(name);
    assert.deepEqual(got.shape, t.shape);
    assert.deepEqual(got.data, t.data);
  }
});

test('reads from an unaligned offset (Buffer views into a shared pool)', () => {
  const data = new Uint8Array(new Float32Array([1.5, -2.25, 3]).buffer);
  const file = rawFile({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 12] } }, data, 1); // odd header length
  const shifted = Buffer.concat([Buffer.from([0, 0, 0]), file]).subarray(3); // byteOffset 3
  const t = parseSafetensors(shifted, 'model.safetensors').read('x');
  assert.deepEqual([...t.data], [1.5, -2.25, 3]);
  // The result is a copy: changing the file bytes does not change it.
  shifted.fill(0);
  assert.equal(t.data[0], 1.5);
});

test('F16 and BF16 are converted to float32', () => {
  // F16: 1.0 = 0x3c00, -2.0 = 0xc000, 0.5 = 0x3800, smallest subnormal 0x0001 = 2^-24, inf 0x7c00
  const f16 = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x3800, 0x0001, 0x7c00]).buffer);
  // BF16: the top half of float32: 1.0 = 0x3f80, -3.0 = 0xc040, 0.15625 = 0x3e20
  const bf16 = new Uint8Array(new Uint16Array([0x3f80, 0xc040, 0x3e20]).buffer);
  const file = parseSafetensors(
    rawFile(
      { h: { dtype: 'F16', shape: [5], data_offsets: [0, 10] }, b: { dtype: 'BF16', shape: [3], data_offsets: [10, 16] } },
      Buffer.concat([f16, bf16]),
    ),
    'model.safetensors',
  );
  assert.deepEqual([...file.read('h').data], [1, -2, 0.5, 2 ** -24, Infinity]);
  assert.deepEqual([...file.read('b').data], [1, -3, 0.15625]);
});

test('a non-float tensor parses but cannot be read as weights', () => {
  const file = parseSafetensors(rawFile({ ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, new Uint8Array(16)), 'model.safetensors');
  assert.equal(file.entries.get('ids')?.dtype, 'I64');
  throwsCheckpoint(() => file.read('ids'), /dtype I64 cannot be read/, 'ids');
});

test('corrupt and truncated files give a CheckpointError naming the file and tensor', () => {
  const good = encodeSafetensors(new Map([['w', { shape: [4], data: new Float32Array(4) }]]));
  throwsCheckpoint(() => parseSafetensors(good.subarray(0, 5), 'model.safetensors'), /truncated: 5 bytes/);
  throwsCheckpoint(() => parseSafetensors(good.subarray(0, 20), 'model.safetensors'), /header length \d+ exceeds/);
  throwsCheckpoint(() => parseSafetensors(good.subarray(0, good.length - 1), 'model.safetensors'), /data ends at byte 16 .* only 15 bytes/, 'w');
  const huge = Buffer.from(good);
  huge.writeBigUInt64LE(2n ** 60n);
  throwsCheckpoint(() => parseSafetensors(huge, 'model.safetensors'), /header length/);
  const notJson = Buffer.from(good);
  notJson.write('#', 8);
  throwsCheckpoint(() => parseSafetensors(notJson, 'model.safetensors'), /header is not valid JSON/);
  throwsCheckpoint(() => parseSafetensors(rawFile([1, 2], new Uint8Array()), 'model.safetensors'), /not a JSON object/);
  throwsCheckpoint(() => parseSafetensors(rawFile({ w: { dtype: 'Q7', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), 'model.safetensors'), /unknown dtype "Q7"/, 'w');
  throwsCheckpoint(() => parseSafetensors(rawFile({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 16] } }, new Uint8Array(16)), 'model.safetensors'), /shape \[2,3\] of F32 needs 24 bytes, data_offsets give 16/, 'w');
  throwsCheckpoint(() => parseSafetensors(rawFile({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), 'model.safetensors'), /bad shape/, 'w');
  throwsCheckpoint(() => parseSafetensors(rawFile({ w: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, new Uint8Array(4)), 'model.safetensors'), /bad data_offsets/, 'w');
  throwsCheckpoint(() => parseSafetensors(good, 'model.safetensors').read('nope'), /no such tensor/, 'nope');
});

test('encoding refuses a shape that does not match the data', () => {
  assert.throws(() => encodeSafetensors(new Map([['w', { shape: [2, 2], data: new Float32Array(3) }]])), /'w' has shape \[2,2\] but 3 values/);
});
