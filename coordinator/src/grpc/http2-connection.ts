// The server side of an HTTP/2 connection (RFC 9113), written for the coordinator's gRPC server
// instead of node:http2. At 2,000 lease calls a second on 2 cores, a bare node:http2 server cost
// 116-144 µs of CPU per call with a canned reply (a stream object with its Duplex machinery,
// header objects, and a trip through nghttp2 per frame); the whole gRPC server on this framing,
// HPACK and gRPC layer included, 69-95 µs (bench/README.md, "Control plane"). What a gRPC server
// needs is all here: the connection preface and settings, HPACK (hpack.ts), HEADERS with
// CONTINUATION and padding, DATA, flow control both ways, PING, RST_STREAM, GOAWAY (both ways, and
// graceful shutdown), and connection and stream errors with their codes. Not here: server push
// (never offered), priority (ignored, as RFC 9113 allows), HTTP/1.1 (answered with a plain 505).
import type { Socket } from 'node:net';
import { HpackDecoder, HpackError } from './hpack.ts';
import type { HeaderMap } from './hpack.ts';

const DATA = 0x0;
const HEADERS = 0x1;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PUSH_PROMISE = 0x5;
const PING = 0x6;
const GOAWAY = 0x7;
const WINDOW_UPDATE = 0x8;
const CONTINUATION = 0x9;

const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY_FLAG = 0x20;

/** RFC 9113 §7. */
export const H2Error = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  ENHANCE_YOUR_CALM: 0xb,
} as const;

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const DEFAULT_WINDOW = 65_535;
const MAX_WINDOW = 2 ** 31 - 1;
/** The largest frame this side accepts (the protocol's default, announced as is). */
const MAX_FRAME_SIZE = 16_384;
/**
 * The receive windows this side grants. Data is consumed as it arrives (a message is bounded by
 * the gRPC layer's size limit), so windows only pace the peer: large enough that a request of a
 * few MiB never waits for an update, and credited back once half is used.
 */
const STREAM_WINDOW = 1 << 20;
const CONNECTION_WINDOW = 1 << 24;
/** A header block (HEADERS and its CONTINUATIONs) larger than this ends the connection. */
const MAX_HEADER_BLOCK = 256 << 10;
/** A stream's queued reply bytes above which `write` asks the writer to wait for `onDrain`. */
const HIGH_WATER = 64 << 10;

/** What a stream tells its user. Set `stream.listener` when the stream is announced. */
export interface StreamListener {
  onData(chunk: Buffer): void;
  /** The peer has sent all of its request (END_STREAM). */
  onEnd(): void;
  /** The stream is gone: finished both ways, reset by either side, or its connection closed. */
  onClose(): void;
  /** Queued replies went out; `write` may be called again. */
  onDrain(): void;
}

class ConnectionError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

function frameHeader(length: number, type: number, flags: number, streamId: number): Buffer {
  const header = Buffer.allocUnsafe(9);
  header[0] = length >>> 16;
  header[1] = (length >>> 8) & 0xff;
  header[2] = length & 0xff;
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return header;
}

/** One request/reply exchange on a connection. */
export class Http2ServerStream {
  listener: StreamListener | undefined;
  /** The reply's headers were sent (a later HEADERS frame is the trailers). */
  headersSent = false;
  /** The stream is gone: no more frames either way. */
  closed = false;
  remoteEnded = false;
  private localEnded = false;
  /** How much DATA the peer lets this side send on this stream. */
  sendWindow: number;
  /** Bytes received since the last WINDOW_UPDATE for this stream. */
  unacknowledged = 0;
  /** DATA waiting for flow-control window, then the trailers (or END_STREAM) after it. */
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private finish: Buffer | null | undefined;
  /** `write` said to wait: `onDrain` follows once the queue is out. */
  private waitingForDrain = false;

  constructor(
    readonly id: number,
    readonly headers: HeaderMap,
    readonly connection: Http2ServerConnection,
    initialWindow: number,
  ) {
    this.sendWindow = initialWindow;
  }

  /** Sends the reply's headers (an encoded block, hpack.ts); with `endStream`, the reply is only them. */
  respond(block: Buffer, endStream: boolean): void {
    if (this.closed || this.headersSent) return;
    this.headersSent = true;
    this.connection.sendHeaders(this.id, block, endStream);
    if (endStream) this.endLocal();
  }

  /** Queues DATA; false when the queue is over its high-water mark (wait for `onDrain`). */
  write(data: Buffer): boolean {
    if (this.closed || this.localEnded || this.finish !== undefined) return false;
    this.queue.push(data);
    this.queued += data.length;
    this.flush();
    if (this.queued < HIGH_WATER) return true;
    this.waitingForDrain = true;
    return false;
  }

  /** Ends the reply: `trailers` (an encoded block) after the data, or an empty END_STREAM DATA frame. */
  end(trailers?: Buffer): void {
    if (this.closed || this.localEnded || this.finish !== undefined) return;
    this.finish = trailers ?? null;
    this.flush();
  }

  /** Resets the stream (RST_STREAM with `code`). */
  reset(code: number): void {
    if (this.closed) return;
    this.connection.sendReset(this.id, code);
    this.close();
  }

  /** Sends what flow control allows of the queue, then the end once the queue is empty. */
  flush(): void {
    if (this.closed) return;
    while (this.queue.length > 0) {
      const allowed = Math.min(this.sendWindow, this.connection.sendWindow, this.connection.peerMaxFrameSize);
      if (allowed <= 0) {
        this.connection.blocked.add(this);
        return;
      }
      const head = this.queue[0]!;
      const piece = head.length <= allowed ? head : head.subarray(0, allowed);
      if (piece === head) this.queue.shift();
      else this.queue[0] = head.subarray(allowed);
      this.queued -= piece.length;
      this.sendWindow -= piece.length;
      this.connection.sendWindow -= piece.length;
      // The last piece carries END_STREAM itself when no trailers follow.
      const last = this.queue.length === 0 && this.finish === null;
      this.connection.sendData(this.id, piece, last);
      if (last) {
        this.finish = undefined;
        return this.endLocal();
      }
    }
    this.connection.blocked.delete(this);
    if (this.finish !== undefined) {
      const trailers = this.finish;
      this.finish = undefined;
      if (trailers === null) this.connection.sendData(this.id, Buffer.alloc(0), true);
      else this.connection.sendHeaders(this.id, trailers, true);
      return this.endLocal();
    }
    if (this.waitingForDrain) {
      this.waitingForDrain = false;
      this.listener?.onDrain();
    }
  }

  /** The peer ended its side. */
  endRemote(): void {
    if (this.remoteEnded || this.closed) return;
    this.remoteEnded = true;
    this.listener?.onEnd();
    if (this.localEnded) this.close();
  }

  private endLocal(): void {
    this.localEnded = true;
    if (this.remoteEnded) return this.close();
    // The reply is complete before the request: nothing more of the request matters (RFC 9113
    // §8.1), and a reset tells the client to stop sending it.
    this.reset(H2Error.NO_ERROR);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.queued = 0;
    this.connection.forget(this);
    this.listener?.onClose();
  }
}

/** One client connection: frames in, streams announced, frames out. */
export class Http2ServerConnection {
  readonly streams = new Map<number, Http2ServerStream>();
  /** Streams with replies waiting for flow-control window. */
  readonly blocked = new Set<Http2ServerStream>();
  sendWindow = DEFAULT_WINDOW;
  peerMaxFrameSize = 16_384;
  /** `host:port` of the client. */
  readonly peer: string;
  private peerInitialWindow = DEFAULT_WINDOW;
  private readonly decoder = new HpackDecoder();
  private input: Buffer | undefined;
  private prefaceSeen = false;
  private settingsSeen = false;
  /** The highest stream id the client opened. */
  private lastStreamId = 0;
  /** Bytes of DATA received since the last connection-level WINDOW_UPDATE. */
  private unacknowledged = 0;
  /** A header block being assembled from HEADERS and CONTINUATION frames. */
  private headerBlock: { streamId: number; endStream: boolean; pieces: Buffer[]; size: number } | undefined;
  private output: Buffer[] = [];
  /** GOAWAY sent: no new streams; the socket ends once the last stream closes. */
  private goingAway = false;
  private dead = false;

  constructor(
    private readonly socket: Socket,
    private readonly onStream: (stream: Http2ServerStream) => void,
  ) {
    this.peer = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', () => {});
    socket.on('close', () => this.closeAll());
  }

  /** GOAWAY: streams already open finish; the connection ends after the last one. */
  close(): void {
    if (this.goingAway || this.dead) return;
    this.goingAway = true;
    this.sendGoaway(H2Error.NO_ERROR, '');
    if (this.streams.size === 0) this.end();
  }

  /** Cuts the connection now: its streams close (their calls see a cancellation). */
  destroy(): void {
    this.socket.destroy();
    this.closeAll();
  }

  sendHeaders(streamId: number, block: Buffer, endStream: boolean): void {
    const max = this.peerMaxFrameSize;
    if (block.length <= max) {
      this.queue(frameHeader(block.length, HEADERS, END_HEADERS | (endStream ? END_STREAM : 0), streamId), block);
      return;
    }
    this.queue(frameHeader(max, HEADERS, endStream ? END_STREAM : 0, streamId), block.subarray(0, max));
    for (let pos = max; pos < block.length; pos += max) {
      const piece = block.subarray(pos, pos + max);
      const last = pos + max >= block.length;
      this.queue(frameHeader(piece.length, CONTINUATION, last ? END_HEADERS : 0, streamId), piece);
    }
  }

  sendData(streamId: number, data: Buffer, endStream: boolean): void {
    this.queue(frameHeader(data.length, DATA, endStream ? END_STREAM : 0, streamId), data);
  }

  sendReset(streamId: number, code: number): void {
    const payload = Buffer.allocUnsafe(4);
    payload.writeUInt32BE(code, 0);
    this.queue(frameHeader(4, RST_STREAM, 0, streamId), payload);
  }

  forget(stream: Http2ServerStream): void {
    this.streams.delete(stream.id);
    this.blocked.delete(stream);
    if (this.goingAway && this.streams.size === 0) this.end();
  }

  private sendGoaway(code: number, debug: string): void {
    const payload = Buffer.allocUnsafe(8 + Buffer.byteLength(debug));
    payload.writeUInt32BE(this.lastStreamId, 0);
    payload.writeUInt32BE(code, 4);
    payload.write(debug, 8);
    this.queue(frameHeader(payload.length, GOAWAY, 0, 0), payload);
  }

  private sendWindowUpdate(streamId: number, increment: number): void {
    const payload = Buffer.allocUnsafe(4);
    payload.writeUInt32BE(increment, 0);
    this.queue(frameHeader(4, WINDOW_UPDATE, 0, streamId), payload);
  }

  /**
   * Frames go out together once the current callback and its microtasks are done: a reply's
   * HEADERS, DATA and trailers, and the replies of calls finishing in the same turn, in one write.
   */
  private queue(header: Buffer, payload?: Buffer): void {
    if (this.dead) return;
    this.output.push(header);
    if (payload !== undefined && payload.length > 0) this.output.push(payload);
    if (unflushed.has(this)) return;
    unflushed.add(this);
    if (unflushed.size === 1) setImmediate(flushAll);
  }

  flushOutput(): void {
    if (this.dead || this.output.length === 0) return;
    const out = this.output.length === 1 ? this.output[0]! : Buffer.concat(this.output);
    this.output = [];
    this.socket.write(out);
  }

  private end(): void {
    if (this.dead) return;
    this.flushOutput();
    this.dead = true;
    this.socket.end();
  }

  private closeAll(): void {
    this.dead = true;
    this.output = [];
    for (const stream of [...this.streams.values()]) stream.close();
  }

  private receive(chunk: Buffer): void {
    if (this.dead) return;
    let data = this.input === undefined ? chunk : Buffer.concat([this.input, chunk]);
    this.input = undefined;
    try {
      if (!this.prefaceSeen) {
        const n = Math.min(data.length, PREFACE.length);
        if (data.compare(PREFACE, 0, n, 0, n) !== 0) return this.notHttp2();
        if (data.length < PREFACE.length) {
          this.input = data;
          return;
        }
        this.prefaceSeen = true;
        data = data.subarray(PREFACE.length);
        // This side's preface once the client's is known to be HTTP/2 (an HTTP/1.1 client gets
        // its answer in HTTP/1.1 alone): its settings, then the connection window beyond the default.
        const settings = Buffer.allocUnsafe(6);
        settings.writeUInt16BE(0x4, 0); // SETTINGS_INITIAL_WINDOW_SIZE
        settings.writeUInt32BE(STREAM_WINDOW, 2);
        this.queue(frameHeader(6, SETTINGS, 0, 0), settings);
        this.sendWindowUpdate(0, CONNECTION_WINDOW - DEFAULT_WINDOW);
      }
      let pos = 0;
      while (data.length - pos >= 9 && !this.dead) {
        const length = (data[pos]! << 16) | (data[pos + 1]! << 8) | data[pos + 2]!;
        if (length > MAX_FRAME_SIZE) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, `frame of ${length} bytes`);
        if (data.length - pos < 9 + length) break;
        const type = data[pos + 3]!;
        const flags = data[pos + 4]!;
        const streamId = data.readUInt32BE(pos + 5) & 0x7fffffff;
        const payload = data.subarray(pos + 9, pos + 9 + length);
        pos += 9 + length;
        this.frame(type, flags, streamId, payload);
      }
      if (pos < data.length) this.input = data.subarray(pos);
      // Credit back what was consumed, once half a window is used.
      if (this.unacknowledged >= CONNECTION_WINDOW / 2) {
        this.sendWindowUpdate(0, this.unacknowledged);
        this.unacknowledged = 0;
      }
    } catch (error) {
      if (error instanceof ConnectionError) return this.fail(error.code, error.message);
      // A bug above this layer must not take the process down with it: this connection ends,
      // and the error is reported.
      process.emitWarning(error as Error);
      this.fail(H2Error.INTERNAL_ERROR, 'internal error');
    }
  }

  private frame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (!this.settingsSeen) {
      if (type !== SETTINGS || (flags & ACK) !== 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'the client preface must end with SETTINGS');
      this.settingsSeen = true;
    }
    if (this.headerBlock !== undefined && (type !== CONTINUATION || streamId !== this.headerBlock.streamId)) {
      throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'a header block was interrupted');
    }
    switch (type) {
      case DATA:
        return this.onData(flags, streamId, payload);
      case HEADERS:
        return this.onHeaders(flags, streamId, payload);
      case CONTINUATION:
        if (this.headerBlock === undefined) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'CONTINUATION without HEADERS');
        return this.addToHeaderBlock(payload, flags);
      case RST_STREAM:
        if (streamId === 0 || payload.length !== 4) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'bad RST_STREAM');
        if (streamId > this.lastStreamId) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'RST_STREAM on an idle stream');
        this.streams.get(streamId)?.close();
        return;
      case SETTINGS:
        return this.onSettings(flags, streamId, payload);
      case PING:
        if (streamId !== 0 || payload.length !== 8) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'bad PING');
        if ((flags & ACK) === 0) this.queue(frameHeader(8, PING, ACK, 0), Buffer.from(payload));
        return;
      case GOAWAY:
        // The client opens no more streams; those open finish.
        this.goingAway = true;
        if (this.streams.size === 0) this.end();
        return;
      case WINDOW_UPDATE:
        return this.onWindowUpdate(streamId, payload);
      case PUSH_PROMISE:
        throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'a client cannot push');
      default:
        // PRIORITY, and frame types this side does not know, are ignored (RFC 9113 §4.1, §5.5).
        return;
    }
  }

  private onData(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'DATA on stream 0');
    if (streamId > this.lastStreamId) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'DATA on an idle stream');
    // Flow control counts the whole frame, padding included, open stream or not.
    this.unacknowledged += payload.length;
    if (this.unacknowledged > CONNECTION_WINDOW) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'DATA beyond the connection window');
    const stream = this.streams.get(streamId);
    // Data for a stream already closed (e.g. reset by this side): the peer may not know yet.
    if (stream === undefined || stream.remoteEnded) return;
    const body = unpad(payload, flags);
    if (body.length > 0) stream.listener?.onData(body);
    if (flags & END_STREAM) return stream.endRemote();
    stream.unacknowledged += payload.length;
    if (stream.unacknowledged >= STREAM_WINDOW / 2 && !stream.closed) {
      this.sendWindowUpdate(streamId, stream.unacknowledged);
      stream.unacknowledged = 0;
    }
  }

  private onHeaders(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0 || streamId % 2 === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, `HEADERS on stream ${streamId}`);
    let fragment = unpad(payload, flags);
    if (flags & PRIORITY_FLAG) {
      if (fragment.length < 5) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'HEADERS too short for its priority');
      fragment = fragment.subarray(5);
    }
    this.headerBlock = { streamId, endStream: (flags & END_STREAM) !== 0, pieces: [], size: 0 };
    this.addToHeaderBlock(fragment, flags);
  }

  private addToHeaderBlock(fragment: Buffer, flags: number): void {
    const block = this.headerBlock!;
    block.pieces.push(fragment);
    block.size += fragment.length;
    if (block.size > MAX_HEADER_BLOCK) throw new ConnectionError(H2Error.ENHANCE_YOUR_CALM, `header block over ${MAX_HEADER_BLOCK} bytes`);
    if ((flags & END_HEADERS) === 0) return;
    this.headerBlock = undefined;
    let headers: HeaderMap;
    try {
      // Always decoded, even for a stream refused below: the table must stay in step.
      headers = this.decoder.decode(block.pieces.length === 1 ? block.pieces[0]! : Buffer.concat(block.pieces));
    } catch (error) {
      if (error instanceof HpackError) throw new ConnectionError(H2Error.COMPRESSION_ERROR, error.message);
      throw error;
    }
    const existing = this.streams.get(block.streamId);
    if (existing !== undefined) {
      // Trailers on a request: they must end it.
      if (!block.endStream) return existing.reset(H2Error.PROTOCOL_ERROR);
      return existing.endRemote();
    }
    // Trailers for a stream this side already closed (e.g. replied to and reset) may cross the
    // reset on the wire: ignored.
    if (block.streamId <= this.lastStreamId) return;
    this.lastStreamId = block.streamId;
    const stream = new Http2ServerStream(block.streamId, headers, this, this.peerInitialWindow);
    if (this.goingAway) return stream.reset(H2Error.REFUSED_STREAM);
    if (typeof headers[':method'] !== 'string' || typeof headers[':path'] !== 'string') return stream.reset(H2Error.PROTOCOL_ERROR);
    this.streams.set(stream.id, stream);
    this.onStream(stream);
    if (block.endStream) stream.endRemote();
  }

  private onSettings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & ACK) {
      if (payload.length !== 0) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      return;
    }
    if (payload.length % 6 !== 0) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'SETTINGS length not a multiple of 6');
    for (let pos = 0; pos < payload.length; pos += 6) {
      const id = payload.readUInt16BE(pos);
      const value = payload.readUInt32BE(pos + 2);
      if (id === 0x2 && value > 1) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'SETTINGS_ENABLE_PUSH not 0 or 1');
      if (id === 0x4) {
        if (value > MAX_WINDOW) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1');
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const stream of this.streams.values()) stream.sendWindow += delta;
      }
      if (id === 0x5) {
        if (value < 16_384 || value > 16_777_215) throw new ConnectionError(H2Error.PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE ${value}`);
        this.peerMaxFrameSize = value;
      }
      // HEADER_TABLE_SIZE: this side's encoder never uses the peer's table. MAX_CONCURRENT_STREAMS
      // and MAX_HEADER_LIST_SIZE bound what this side would open or send: nothing it does.
    }
    this.queue(frameHeader(0, SETTINGS, ACK, 0));
    this.unblock();
  }

  private onWindowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'WINDOW_UPDATE length');
    const increment = payload.readUInt32BE(0) & 0x7fffffff;
    if (streamId === 0) {
      if (increment === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
      this.sendWindow += increment;
      if (this.sendWindow > MAX_WINDOW) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'connection window over 2^31-1');
      return this.unblock();
    }
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    if (increment === 0) return stream.reset(H2Error.PROTOCOL_ERROR);
    stream.sendWindow += increment;
    if (stream.sendWindow > MAX_WINDOW) return stream.reset(H2Error.FLOW_CONTROL_ERROR);
    stream.flush();
  }

  private unblock(): void {
    for (const stream of [...this.blocked]) {
      if (this.sendWindow <= 0) return;
      stream.flush();
    }
  }

  /** A connection error: GOAWAY with its code, then the connection ends (RFC 9113 §5.4.1). */
  private fail(code: number, message: string): void {
    this.sendGoaway(code, message);
    this.end();
    this.closeAll();
  }

  /** Not the HTTP/2 preface, most likely an HTTP/1.1 request: say so, then close. */
  private notHttp2(): void {
    this.dead = true;
    this.socket.end('HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nthis is a gRPC server: HTTP/2 only\n');
  }
}

/** Connections with frames to write, all written by one immediate per event-loop turn. */
const unflushed = new Set<Http2ServerConnection>();
function flushAll(): void {
  for (const connection of unflushed) connection.flushOutput();
  unflushed.clear();
}

function unpad(payload: Buffer, flags: number): Buffer {
  if ((flags & PADDED) === 0) return payload;
  if (payload.length < 1) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'padded frame without its pad length');
  const padding = payload[0]!;
  if (padding >= payload.length) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'padding longer than the frame');
  return payload.subarray(1, payload.length - padding);
}
