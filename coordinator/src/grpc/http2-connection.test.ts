// The HTTP/2 connection against node:http2's client (nghttp2) where a client can be made to do it,
// and raw frames where it cannot: flow control both ways, CONTINUATION, PING, resets, GOAWAY,
// and the connection errors.
import assert from 'node:assert/strict';
import { connect as connectTcp, createServer as createNetServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { connect } from 'node:http2';
import type { ClientHttp2Session } from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { encodeHeaderBlock } from './hpack.ts';
import { H2Error, Http2ServerConnection } from './http2-connection.ts';
import type { Http2ServerStream } from './http2-connection.ts';

const OK = encodeHeaderBlock([[':status', '200']]);
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/**
 * A test server: `/echo` answers with the request body once it has ended, `/big?n` with n bytes,
 * `/hold` never answers; every stream's events are recorded.
 */
function testServer() {
  const events: string[] = [];
  const connections: Http2ServerConnection[] = [];
  const server: Server = createNetServer((socket) => {
    const connection = new Http2ServerConnection(socket, (stream: Http2ServerStream) => {
      const path = String(stream.headers[':path']);
      const chunks: Buffer[] = [];
      stream.listener = {
        onData: (chunk) => chunks.push(Buffer.from(chunk)),
        onEnd() {
          events.push(`end ${path}`);
          if (path === '/echo') {
            stream.respond(OK, false);
            stream.write(Buffer.concat(chunks));
            stream.end(encodeHeaderBlock([['x-bytes', String(Buffer.concat(chunks).length)]]));
          } else if (path.startsWith('/big')) {
            stream.respond(OK, false);
            stream.write(Buffer.alloc(Number(path.split('?')[1]), 7));
            stream.end();
          } else if (path === '/long-header') {
            stream.respond(encodeHeaderBlock([[':status', '200'], ['x-long', 'h'.repeat(40_000)]]), true);
          }
        },
        onClose: () => events.push(`close ${path}`),
        onDrain() {},
      };
    });
    connections.push(connection);
  });
  return { server, events, connections };
}

function request(session: ClientHttp2Session, path: string, body?: Buffer, extraHeaders: Record<string, string> = {}) {
  return new Promise<{ body: Buffer; headers: Record<string, unknown>; trailers: Record<string, unknown> }>((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', ':path': path, ...extraHeaders });
    const chunks: Buffer[] = [];
    let headers: Record<string, unknown> = {};
    let trailers: Record<string, unknown> = {};
    stream.on('response', (h) => (headers = h));
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', reject);
    stream.on('close', () => resolve({ body: Buffer.concat(chunks), headers, trailers }));
    stream.end(body);
  });
}

/** Raw frames to a fresh connection; resolves with every frame the server sent until it closed. */
async function rawExchange(port: number, frames: Buffer[], waitMs = 300): Promise<Array<{ type: number; flags: number; stream: number; payload: Buffer }>> {
  const socket: Socket = connectTcp(port, '127.0.0.1');
  const received: Buffer[] = [];
  socket.on('data', (chunk) => received.push(chunk));
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write(Buffer.concat([PREFACE, frame(0x4, 0, 0, Buffer.alloc(0)), ...frames]));
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, waitMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  socket.destroy();
  const all = Buffer.concat(received);
  const out = [];
  for (let pos = 0; pos + 9 <= all.length; ) {
    const length = all.readUIntBE(pos, 3);
    out.push({ type: all[pos + 3]!, flags: all[pos + 4]!, stream: all.readUInt32BE(pos + 5), payload: all.subarray(pos + 9, pos + 9 + length) });
    pos += 9 + length;
  }
  return out;
}

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(stream, 5);
  return Buffer.concat([header, payload]);
}

const requestBlock = (path: string) => encodeHeaderBlock([[':method', 'POST'], [':scheme', 'http'], [':path', path], [':authority', 'x']]);
const goawayCode = (frames: Array<{ type: number; payload: Buffer }>) => frames.find((f) => f.type === 0x7)?.payload.readUInt32BE(4);

describe('Http2ServerConnection', () => {
  const { server, events, connections } = testServer();
  let port = 0;
  let session: ClientHttp2Session;
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    session = connect(`http://127.0.0.1:${port}`);
  });
  after(() => {
    session.close();
    for (const connection of connections) connection.destroy();
    server.close();
  });

  test('a request larger than the receive windows arrives whole (window updates), and its echo past the client window', async () => {
    const body = Buffer.alloc(5 << 20);
    for (let i = 0; i < body.length; i++) body[i] = i % 251;
    const reply = await request(session, '/echo', body);
    assert.equal(reply.body.length, body.length);
    assert.ok(reply.body.equals(body));
    assert.equal(reply.trailers['x-bytes'], String(body.length));
  });

  test('a reply waits for a small client window (SETTINGS_INITIAL_WINDOW_SIZE), and many replies share the connection window', async () => {
    const small = connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: 1000 } });
    try {
      const replies = await Promise.all(Array.from({ length: 8 }, () => request(small, '/big?200000')));
      for (const reply of replies) {
        assert.equal(reply.body.length, 200_000);
        assert.ok(reply.body.every((b) => b === 7));
      }
    } finally {
      small.close();
    }
  });

  test('header blocks over a frame go in CONTINUATION frames, both ways', async () => {
    const reply = await request(session, '/long-header', undefined, { 'x-request-long': 'r'.repeat(40_000) });
    assert.equal(reply.headers['x-long'], 'h'.repeat(40_000));
    assert.ok(events.includes('end /long-header'));
  });

  test('a client reset closes the stream on the server', async () => {
    const stream = session.request({ ':method': 'POST', ':path': '/hold' });
    stream.write('partial');
    await new Promise((resolve) => setTimeout(resolve, 50));
    stream.close(0x8);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(events.includes('close /hold'));
  });

  test('PING is answered with its payload', async () => {
    const frames = await rawExchange(port, [frame(0x6, 0, 0, Buffer.from('12345678'))], 100);
    const ack = frames.find((f) => f.type === 0x6);
    assert.equal(ack?.flags, 0x1);
    assert.equal(ack?.payload.toString(), '12345678');
  });

  test('protocol errors end the connection with GOAWAY and their code', async () => {
    assert.equal(goawayCode(await rawExchange(port, [frame(0x0, 0, 0, Buffer.alloc(16_385))])), H2Error.FRAME_SIZE_ERROR);
    assert.equal(goawayCode(await rawExchange(port, [frame(0x1, 0x4, 2, requestBlock('/x'))])), H2Error.PROTOCOL_ERROR);
    assert.equal(goawayCode(await rawExchange(port, [frame(0x1, 0x4, 1, Buffer.from([0x80]))])), H2Error.COMPRESSION_ERROR);
    assert.equal(goawayCode(await rawExchange(port, [frame(0x1, 0x0, 1, requestBlock('/x')), frame(0x6, 0, 0, Buffer.alloc(8))])), H2Error.PROTOCOL_ERROR);
    assert.equal(goawayCode(await rawExchange(port, [frame(0x8, 0, 0, Buffer.alloc(4))])), H2Error.PROTOCOL_ERROR);
    assert.equal(goawayCode(await rawExchange(port, [frame(0x0, 0x1, 5, Buffer.from('x'))])), H2Error.PROTOCOL_ERROR);
    const overflow = Buffer.alloc(4);
    overflow.writeUInt32BE(2 ** 31 - 1);
    assert.equal(goawayCode(await rawExchange(port, [frame(0x8, 0, 0, overflow)])), H2Error.FLOW_CONTROL_ERROR);
  });

  test('a request without :method or :path is reset with PROTOCOL_ERROR, and the connection lives on', async () => {
    const frames = await rawExchange(port, [frame(0x1, 0x5, 1, encodeHeaderBlock([[':method', 'POST']])), frame(0x6, 0, 0, Buffer.alloc(8))], 100);
    const reset = frames.find((f) => f.type === 0x3);
    assert.equal(reset?.stream, 1);
    assert.equal(reset?.payload.readUInt32BE(0), H2Error.PROTOCOL_ERROR);
    assert.ok(frames.some((f) => f.type === 0x6), 'the PING after it is still answered');
  });

  test('an HTTP/1.1 request gets a 505 in HTTP/1.1', async () => {
    const socket = connectTcp(port, '127.0.0.1');
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    await new Promise((resolve) => socket.on('close', resolve));
    assert.match(Buffer.concat(chunks).toString(), /^HTTP\/1\.1 505 /);
  });

  test('GOAWAY: a stream in flight finishes, then the connection ends', async () => {
    const client = connect(`http://127.0.0.1:${port}`);
    const held = client.request({ ':method': 'POST', ':path': '/echo' });
    held.write('before');
    const goaway = new Promise<number>((resolve) => client.once('goaway', (code: number) => resolve(code)));
    await new Promise((resolve) => setTimeout(resolve, 50));
    connections.at(-1)!.close();
    assert.equal(await goaway, H2Error.NO_ERROR);
    const chunks: Buffer[] = [];
    held.on('data', (chunk: Buffer) => chunks.push(chunk));
    held.end('-after');
    await new Promise((resolve) => held.on('close', resolve));
    assert.equal(Buffer.concat(chunks).toString(), 'before-after');
    await new Promise((resolve) => client.on('close', resolve));
  });
});
