// HPACK against nghttp2 (node:http2's codec), both ways: node's client encodes (Huffman, dynamic
// table, eviction) and HpackDecoder decodes; encodeHeaderBlock encodes and node's server decodes.
// Plus the decoder's refusals of malformed blocks.
import assert from 'node:assert/strict';
import { connect as connectTcp, createServer as createNetServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { connect, createServer } from 'node:http2';
import type { IncomingHttpHeaders } from 'node:http2';
import { test } from 'node:test';
import { HpackDecoder, HpackError, encodeHeaderBlock, huffmanDecode } from './hpack.ts';
import type { HeaderMap } from './hpack.ts';
import { Http2ServerConnection } from './http2-connection.ts';
import type { Http2ServerStream } from './http2-connection.ts';

const PRINTABLE = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).join('');

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

test("node:http2's client headers decode exactly, call after call on one connection (Huffman, dynamic table, eviction)", async () => {
  const received: HeaderMap[] = [];
  const server = createNetServer((socket) => {
    new Http2ServerConnection(socket, (stream: Http2ServerStream) => {
      received.push(stream.headers);
      stream.listener = { onData() {}, onEnd: () => (stream.respond(encodeHeaderBlock([[':status', '200']]), true)), onClose() {}, onDrain() {} };
    });
  });
  const port = await listen(server);
  const session = connect(`http://127.0.0.1:${port}`);
  const sent: Record<string, string | string[]>[] = [];
  try {
    for (let i = 0; i < 60; i++) {
      // Repeated headers (indexed after the first call), new large values every call (inserted,
      // then evicted as the 4 KiB table fills), every printable character, a repeated name.
      const headers = {
        ':method': 'POST',
        ':path': `/ballast.v1.CoordinatorService/Method${i % 3}`,
        'content-type': 'application/grpc',
        'x-printable': PRINTABLE,
        'x-big': `${i}-${'v'.repeat(900)}`,
        'x-repeated': ['one', `two-${i % 2}`],
        'grpc-timeout': `${30000 + i}m`,
      };
      sent.push(headers);
      await new Promise<void>((resolve, reject) => {
        const stream = session.request(headers, { endStream: true });
        stream.on('response', () => {});
        stream.on('error', reject);
        stream.on('close', resolve);
        stream.resume();
      });
    }
  } finally {
    session.close();
    server.close();
  }
  assert.equal(received.length, sent.length);
  received.forEach((headers, i) => {
    for (const [name, value] of Object.entries(sent[i]!)) assert.deepEqual(headers[name], value, `call ${i}: ${name}`);
  });
});

test("encodeHeaderBlock's blocks decode exactly in node:http2's server, every byte value through the Huffman code", async () => {
  // Every octet nghttp2 accepts in a header value (RFC 9113 §8.2.1: no control characters, no
  // whitespace at either end), and values Huffman-coding does not shorten.
  const allOctets = `x${Array.from({ length: 256 }, (_, i) => String.fromCharCode(i))
    .filter((c) => c.charCodeAt(0) >= 0x20 && c.charCodeAt(0) !== 0x7f)
    .join('')}x`;
  const headers: Array<[string, string]> = [
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', '/ballast.v1.CoordinatorService/AcquireTrial'],
    [':authority', 'localhost'],
    ['content-type', 'application/grpc+proto'],
    ['x-all', allOctets],
    ['x-rare', '\u00ff\u00fe\u00fd{}<>^`|~\\'],
    ['grpc-message', 'lease 4c6f expired (worker w-1); 100% done'],
  ];
  const got = new Promise<IncomingHttpHeaders>((resolve) => {
    const server = createServer();
    server.on('stream', (stream, received) => {
      resolve(received);
      stream.respond({ ':status': 200 }, { endStream: true });
      stream.session?.destroy();
      server.close();
    });
    server.listen(0, '127.0.0.1', () => {
      const socket = connectTcp((server.address() as AddressInfo).port, '127.0.0.1', () => {
        const block = encodeHeaderBlock(headers);
        const frame = Buffer.alloc(9);
        frame.writeUIntBE(block.length, 0, 3);
        frame[3] = 0x1; // HEADERS
        frame[4] = 0x5; // END_STREAM | END_HEADERS
        frame.writeUInt32BE(1, 5);
        socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]), frame, block]));
      });
      socket.on('error', () => {});
      socket.on('data', () => {});
    });
  });
  const received = await got;
  for (const [name, value] of headers) {
    // node gives header values as latin1 strings, which is how the encoder read them.
    assert.equal(received[name], value, name);
  }
});

test('the decoder refuses malformed blocks with HpackError', () => {
  const bad: Array<[string, number[]]> = [
    ['index 0', [0x80]],
    ['an index past the tables', [0xbe]],
    ['a truncated integer', [0xff]],
    ['a truncated string', [0x00, 0x05, 0x61]],
    ['a table size over the limit', [0x3f, 0xe2, 0x1f]],
    ['a table size update after a field', [0x82, 0x20]],
    ['Huffman padding of zeros', [0x00, 0x01, 0x61, 0x81, 0x00]],
  ];
  for (const [what, bytes] of bad) {
    assert.throws(() => new HpackDecoder().decode(Buffer.from(bytes)), HpackError, what);
  }
  // EOS inside a string: 30 one bits.
  assert.throws(() => huffmanDecode(Buffer.from([0xff, 0xff, 0xff, 0xff]), 0, 4), HpackError);
});

test('a table size update of 0 empties the dynamic table', () => {
  const decoder = new HpackDecoder();
  // Literal with incremental indexing, new name: x-a: 1; then the entry by index 62.
  assert.deepEqual({ ...decoder.decode(Buffer.from([0x40, 0x03, 0x78, 0x2d, 0x61, 0x01, 0x31, 0xbe])) }, { 'x-a': ['1', '1'] });
  assert.throws(() => decoder.decode(Buffer.from([0x20, 0xbe])), /beyond the table/);
});
