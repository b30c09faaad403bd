// The gRPC protocol of Http2GrpcServer, checked with grpc-js's client (what trainers and the CLI
// use) and, where grpc-js cannot send something wrong, with raw node:http2 requests. Messages here
// are JSON so that the tests need no proto; the coordinator's own service is covered by
// coordinator-server.test.ts, TLS and the token by grpc-security.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:http2';
import type { IncomingHttpHeaders } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { Http2GrpcServer, MessageDecoder, encodeGrpcMessage, parseGrpcTimeout } from './grpc-http2.ts';
import type { RunningHttp2GrpcServer } from './grpc-http2.ts';
import { Code, RpcError } from './rpc-error.ts';

const json = {
  decode: (bytes: Uint8Array) => JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown,
  encode: (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8'),
};
const clientCodec = { serialize: (v: unknown) => Buffer.from(JSON.stringify(v)), deserialize: (b: Buffer) => JSON.parse(b.toString()) as unknown };

function frame(message: Buffer): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

describe('Http2GrpcServer', () => {
  let server: Http2GrpcServer;
  let running: RunningHttp2GrpcServer;
  let client: grpc.Client;
  let address: string;
  const cancelled: string[] = [];

  before(async () => {
    server = new Http2GrpcServer({ maxReceiveMessageBytes: 1024 });
    server.register('/t.T/Echo', { ...json, kind: 'unary', handle: async (request) => ({ echo: request }) });
    server.register('/t.T/Fail', {
      ...json,
      kind: 'unary',
      handle: async (request) => {
        throw new RpcError(Code.FAILED_PRECONDITION, (request as { message: string }).message);
      },
    });
    server.register('/t.T/Crash', {
      ...json,
      kind: 'unary',
      handle: async () => {
        throw new TypeError('boom');
      },
    });
    server.register('/t.T/Wait', {
      ...json,
      kind: 'unary',
      handle: (_request, context) =>
        new Promise((_resolve, reject) => {
          context.signal.addEventListener('abort', () => {
            cancelled.push(`Wait: ${(context.signal.reason as RpcError).details}`);
            reject(context.signal.reason);
          });
        }),
    });
    server.register('/t.T/Count', {
      ...json,
      kind: 'server_streaming',
      async *handle(request, context) {
        try {
          const { n, size } = request as { n: number; size: number };
          for (let i = 0; i < n; i++) yield { i, pad: 'x'.repeat(size) };
          if ((request as { thenWait?: boolean }).thenWait) await new Promise((resolve) => context.signal.addEventListener('abort', resolve));
        } finally {
          if (context.signal.aborted) cancelled.push(`Count: ${(context.signal.reason as RpcError).details}`);
        }
      },
    });
    server.register('/t.T/Chat', {
      ...json,
      kind: 'bidi_streaming',
      async *handle(requests) {
        for await (const request of requests) yield { heard: request };
        yield { done: true };
      },
    });
    running = await server.listen('127.0.0.1', 0);
    address = `127.0.0.1:${running.port}`;
    client = new grpc.Client(address, grpc.credentials.createInsecure());
  });

  after(async () => {
    client.close();
    await running.shutdown(1000);
  });

  const unary = (path: string, request: unknown, options: grpc.CallOptions = {}, on: grpc.Client = client) =>
    new Promise<unknown>((resolve, reject) => {
      on.makeUnaryRequest(path, clientCodec.serialize, clientCodec.deserialize, request, new grpc.Metadata(), options, (error, value) =>
        error ? reject(error) : resolve(value),
      );
    });
  const rejectsWith = (code: number, details?: RegExp | string) => (error: grpc.ServiceError) => {
    assert.equal(error.code, code, `${error.code} ${error.details}`);
    if (typeof details === 'string') assert.equal(error.details, details);
    else if (details) assert.match(error.details, details);
    return true;
  };

  test('a unary call round-trips', async () => {
    assert.deepEqual(await unary('/t.T/Echo', { a: [1, 'é'] }), { echo: { a: [1, 'é'] } });
  });

  test('a handler error reaches the client with its code and exact message, percent-encoded on the wire', async () => {
    const message = 'trial 7: 100% done, ünïcode ✓, "quotes"\nand a newline';
    await assert.rejects(unary('/t.T/Fail', { message }), rejectsWith(grpc.status.FAILED_PRECONDITION, message));
    assert.equal(encodeGrpcMessage('plain text'), 'plain text');
    assert.equal(encodeGrpcMessage('50% ✓'), '50%25 %E2%9C%93');
  });

  test('an error that is not an RpcError is INTERNAL', async () => {
    await assert.rejects(unary('/t.T/Crash', {}), rejectsWith(grpc.status.INTERNAL, 'boom'));
  });

  test('an unknown method is UNIMPLEMENTED', async () => {
    await assert.rejects(unary('/t.T/Nope', {}), rejectsWith(grpc.status.UNIMPLEMENTED, /\/t\.T\/Nope/));
  });

  test('a request over the size limit is RESOURCE_EXHAUSTED', async () => {
    await assert.rejects(unary('/t.T/Echo', { pad: 'x'.repeat(2000) }), rejectsWith(grpc.status.RESOURCE_EXHAUSTED, /larger than the limit of 1024/));
  });

  test('the deadline aborts the handler and the client gets DEADLINE_EXCEEDED', async () => {
    await assert.rejects(unary('/t.T/Wait', {}, { deadline: Date.now() + 200 }), rejectsWith(grpc.status.DEADLINE_EXCEEDED));
    await waitFor(() => cancelled.some((c) => c.startsWith('Wait: the deadline passed') || c.startsWith('Wait: the client cancelled')));
  });

  test('a gzip-compressed request is accepted', async () => {
    const gzipClient = new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.default_compression_algorithm': 2 });
    try {
      assert.deepEqual(await unary('/t.T/Echo', { big: 'y'.repeat(500) }, {}, gzipClient), { echo: { big: 'y'.repeat(500) } });
    } finally {
      gzipClient.close();
    }
  });

  test('a server stream delivers every message in order, past the flow-control window', async () => {
    // 200 x 8 KiB is well past HTTP/2's 64 KiB initial window: the server must wait for drain.
    const call = client.makeServerStreamRequest('/t.T/Count', clientCodec.serialize, clientCodec.deserialize, { n: 200, size: 8192 });
    const seen: number[] = [];
    for await (const message of call) seen.push((message as { i: number }).i);
    assert.deepEqual(seen, Array.from({ length: 200 }, (_, i) => i));
  });

  test('cancelling a server stream aborts its handler', async () => {
    const call = client.makeServerStreamRequest('/t.T/Count', clientCodec.serialize, clientCodec.deserialize, { n: 1, size: 1, thenWait: true });
    await new Promise((resolve) => call.once('data', resolve));
    call.on('error', () => {});
    call.cancel();
    await waitFor(() => cancelled.includes('Count: the client cancelled the call'));
  });

  test('a bidi stream answers each message, then ends when the client does', async () => {
    const call = client.makeBidiStreamRequest('/t.T/Chat', clientCodec.serialize, clientCodec.deserialize);
    const replies: unknown[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      call.on('data', (reply) => replies.push(reply));
      call.on('end', resolve);
      call.on('error', reject);
    });
    call.write({ n: 1 });
    call.write({ n: 2 });
    call.end();
    await ended;
    assert.deepEqual(replies, [{ heard: { n: 1 } }, { heard: { n: 2 } }, { done: true }]);
  });

  test('malformed requests get a status, not a hang or a crash', async () => {
    // Two messages on a unary call, a body cut inside a message, no message at all.
    const two = await raw(address, '/t.T/Echo', Buffer.concat([frame(Buffer.from('1')), frame(Buffer.from('2'))]));
    assert.equal(two.status, String(grpc.status.UNIMPLEMENTED), two.message);
    const cut = await raw(address, '/t.T/Echo', frame(Buffer.from('{"a":1}')).subarray(0, 8));
    assert.equal(cut.status, String(grpc.status.INTERNAL));
    assert.match(cut.message, /ended inside a message/);
    const none = await raw(address, '/t.T/Echo', Buffer.alloc(0));
    assert.equal(none.status, String(grpc.status.INTERNAL));
    const bad = await raw(address, '/t.T/Echo', frame(Buffer.from('not json')));
    assert.equal(bad.status, String(grpc.status.INTERNAL));
    assert.match(bad.message, /cannot decode the request/);
    const compressedWithoutEncoding = Buffer.from(frame(Buffer.from('{}')));
    compressedWithoutEncoding[0] = 1;
    const noEncoding = await raw(address, '/t.T/Echo', compressedWithoutEncoding);
    assert.equal(noEncoding.status, String(grpc.status.UNIMPLEMENTED));
  });

  test('a request split across writes is reassembled', async () => {
    const body = frame(Buffer.from(JSON.stringify({ split: true })));
    const reply = await raw(address, '/t.T/Echo', [body.subarray(0, 3), body.subarray(3, 9), body.subarray(9)]);
    assert.equal(reply.status, '0', reply.message);
    assert.deepEqual(JSON.parse(reply.body.subarray(5).toString()), { echo: { split: true } });
  });

  test('a request that is not gRPC gets HTTP 415', async () => {
    const session = connect(`http://${address}`);
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const stream = session.request({ ':method': 'GET', ':path': '/' });
        stream.on('response', (headers) => resolve(Number(headers[':status'])));
        stream.on('error', reject);
        stream.resume();
      });
      assert.equal(status, 415);
    } finally {
      session.close();
    }
  });
});

describe('Http2GrpcServer shutdown', () => {
  test('calls in flight finish, streams send what they produced and end UNAVAILABLE, the port closes', async () => {
    const server = new Http2GrpcServer({ maxReceiveMessageBytes: 1024 });
    let release: (() => void) | undefined;
    server.register('/t.T/Slow', { ...json, kind: 'unary', handle: () => new Promise((resolve) => (release = () => resolve({ ok: true }))) });
    server.register('/t.T/Forever', {
      ...json,
      kind: 'server_streaming',
      async *handle(_request, context) {
        yield { hello: true };
        await new Promise((resolve) => context.signal.addEventListener('abort', resolve));
        // What a handler produces as shutdown starts (a health watcher's NOT_SERVING) still goes out.
        yield { goodbye: true };
      },
    });
    const running = await server.listen('127.0.0.1', 0);
    const client = new grpc.Client(`127.0.0.1:${running.port}`, grpc.credentials.createInsecure());
    try {
      const slow = new Promise((resolve, reject) =>
        client.makeUnaryRequest('/t.T/Slow', clientCodec.serialize, clientCodec.deserialize, {}, (error, value) => (error ? reject(error) : resolve(value))),
      );
      const stream = client.makeServerStreamRequest('/t.T/Forever', clientCodec.serialize, clientCodec.deserialize, {});
      const streamError = new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
      const received: unknown[] = [];
      stream.on('data', (message) => received.push(message));
      await waitFor(() => release !== undefined);
      const stopped = running.shutdown(5000);
      assert.equal((await streamError).code, grpc.status.UNAVAILABLE);
      assert.deepEqual(received, [{ hello: true }, { goodbye: true }]);
      release!();
      assert.deepEqual(await slow, { ok: true });
      await stopped;
      const refused = new grpc.Client(`127.0.0.1:${running.port}`, grpc.credentials.createInsecure());
      await assert.rejects(
        new Promise((resolve, reject) =>
          refused.makeUnaryRequest('/t.T/Slow', clientCodec.serialize, clientCodec.deserialize, {}, { deadline: Date.now() + 1000 }, (error, value) => (error ? reject(error) : resolve(value))),
        ),
        (error: grpc.ServiceError) => error.code === grpc.status.UNAVAILABLE || error.code === grpc.status.DEADLINE_EXCEEDED,
      );
      refused.close();
    } finally {
      client.close();
    }
  });
});

test('MessageDecoder splits and joins frames across chunks', () => {
  const a = frame(Buffer.from('aaa'));
  const b = frame(Buffer.from('bbbbbb'));
  const decoder = new MessageDecoder(undefined, 100);
  const all = Buffer.concat([a, b]);
  const out: string[] = [];
  for (let i = 0; i < all.length; i += 2) for (const m of decoder.push(all.subarray(i, i + 2))) out.push(Buffer.from(m).toString());
  assert.deepEqual(out, ['aaa', 'bbbbbb']);
  assert.equal(decoder.pending, 0);
  assert.deepEqual(new MessageDecoder(undefined, 100).push(Buffer.concat([a, b])).map((m) => Buffer.from(m).toString()), ['aaa', 'bbbbbb']);
  assert.throws(() => new MessageDecoder(undefined, 2).push(a), /larger than the limit of 2/);
});

test('grpc-timeout values parse to milliseconds', () => {
  assert.equal(parseGrpcTimeout('30000m'), 30_000);
  assert.equal(parseGrpcTimeout('2S'), 2000);
  assert.equal(parseGrpcTimeout('1H'), 3_600_000);
  assert.equal(parseGrpcTimeout('500u'), 0.5);
  assert.equal(parseGrpcTimeout('123456789m'), undefined);
  assert.equal(parseGrpcTimeout('10x'), undefined);
  assert.equal(parseGrpcTimeout(undefined), undefined);
});

/** One gRPC request over raw node:http2 with the body written as given; the status and body back. */
async function raw(address: string, path: string, body: Buffer | Buffer[]): Promise<{ status: string | undefined; message: string; body: Buffer }> {
  const session = connect(`http://${address}`);
  try {
    return await new Promise((resolve, reject) => {
      const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
      let status: string | undefined;
      let message = '';
      const chunks: Buffer[] = [];
      const take = (headers: IncomingHttpHeaders) => {
        if (headers['grpc-status'] !== undefined) status = String(headers['grpc-status']);
        if (headers['grpc-message'] !== undefined) message = decodeURIComponent(String(headers['grpc-message']));
      };
      stream.on('response', take);
      stream.on('trailers', take);
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', reject);
      stream.on('close', () => resolve({ status, message, body: Buffer.concat(chunks) }));
      const parts = Array.isArray(body) ? body : [body];
      for (const part of parts) stream.write(part);
      stream.end();
    });
  } finally {
    session.close();
  }
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
