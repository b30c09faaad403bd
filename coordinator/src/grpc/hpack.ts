// HPACK (RFC 7541), as the coordinator's HTTP/2 server needs it: a full decoder for the clients'
// header blocks (static and dynamic table, Huffman strings), and a stateless encoder for its own
// few response headers (literals never added to the client's table, so no table state to keep in
// step). Clients such as grpc-js index every repeated header, so after a connection's first call
// a request's block is a handful of table references: decoding it is cheap.

/** RFC 7541 Appendix A. */
const STATIC_TABLE: ReadonlyArray<readonly [string, string]> = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''], ['etag', ''],
  ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''],
  ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''],
  ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''], ['set-cookie', ''],
  ['strict-transport-security', ''], ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];

/**
 * The Huffman code of RFC 7541 Appendix B, as the code length of each symbol (0-255, then EOS),
 * one letter each ('a' = 5 bits). The code is canonical (codes of one length are consecutive and
 * ascend with the symbol), so the lengths define it; hpack.test.ts checks it against nghttp2.
 */
const HUFFMAN_LENGTHS =
  'isxxxxxxxtzxxzxxxxxxxxzxxxxxxxxxbffhibdgffdgdbbbaaabbbbbbbcdkbhfibccccccccccccccccccccccdcdioijbkabababbbaccbbbabcbaabccccckgjixprpprrrsrssssststtrstssssqrsrsstrqprrssqsrrtqrssqqrqsrssprrrsrrsvvporsruvvvwwvtuoqvwwvwtqqvvxwwwptpqrqqsrruuttvsvwvvwwwwwxwwwwwvz';
const EOS = 256;
const MAX_CODE_LENGTH = 30;

/** The canonical code's tables: per length, its first code, how many, and where its symbols start. */
const huffman = (() => {
  const lengths = Array.from(HUFFMAN_LENGTHS, (c) => c.charCodeAt(0) - 97 + 5);
  const symbols = lengths.map((_, symbol) => symbol).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
  const first = new Int32Array(MAX_CODE_LENGTH + 1);
  const count = new Int32Array(MAX_CODE_LENGTH + 1);
  const offset = new Int32Array(MAX_CODE_LENGTH + 1);
  const codes = new Uint32Array(257);
  let code = 0;
  let length = 0;
  symbols.forEach((symbol, i) => {
    const l = lengths[symbol]!;
    if (l !== length) {
      code <<= l - length;
      length = l;
      first[l] = code;
      offset[l] = i;
    }
    codes[symbol] = code;
    count[l]!++;
    code++;
  });
  return { lengths, symbols: Int32Array.from(symbols), first, count, offset, codes };
})();

export class HpackError extends Error {}

let scratch = Buffer.allocUnsafe(4096);

/** Decodes a Huffman-coded string (latin1: header octets are kept as one char each). */
export function huffmanDecode(bytes: Buffer, start: number, end: number): string {
  const max = Math.ceil(((end - start) * 8) / 5);
  if (scratch.length < max) scratch = Buffer.allocUnsafe(max);
  const { first, count, offset, symbols } = huffman;
  let out = 0;
  let code = 0;
  let length = 0;
  for (let i = start; i < end; i++) {
    const byte = bytes[i]!;
    for (let bit = 7; bit >= 0; bit--) {
      code = (code << 1) | ((byte >> bit) & 1);
      length++;
      if (length >= 5) {
        const index = code - first[length]!;
        if (index >= 0 && index < count[length]!) {
          const symbol = symbols[offset[length]! + index]!;
          if (symbol === EOS) throw new HpackError('Huffman string contains EOS');
          scratch[out++] = symbol;
          code = 0;
          length = 0;
        } else if (length >= MAX_CODE_LENGTH) {
          throw new HpackError('invalid Huffman code');
        }
      }
    }
  }
  // What is left must be padding: fewer than 8 bits, all ones (a prefix of EOS).
  if (length > 7 || code !== (1 << length) - 1) throw new HpackError('invalid Huffman padding');
  return scratch.toString('latin1', 0, out);
}

/** The Huffman coding of a latin1 string, or undefined when it would not be shorter. */
function huffmanEncode(text: string): Buffer | undefined {
  let bits = 0;
  for (let i = 0; i < text.length; i++) bits += huffman.lengths[text.charCodeAt(i) & 0xff]!;
  const size = Math.ceil(bits / 8);
  if (size >= text.length) return undefined;
  const out = Buffer.alloc(size);
  let pos = 0;
  let acc = 0;
  let accBits = 0;
  for (let i = 0; i < text.length; i++) {
    const symbol = text.charCodeAt(i) & 0xff;
    const length = huffman.lengths[symbol]!;
    // At most 7 bits wait in acc, so a 30-bit code fits below 2^37: use a float-safe split.
    acc = acc * 2 ** length + huffman.codes[symbol]!;
    accBits += length;
    while (accBits >= 8) {
      accBits -= 8;
      const byte = Math.floor(acc / 2 ** accBits);
      out[pos++] = byte;
      acc -= byte * 2 ** accBits;
    }
  }
  if (accBits > 0) out[pos] = (acc << (8 - accBits)) | ((1 << (8 - accBits)) - 1);
  return out;
}

function encodeInteger(out: number[], value: number, prefixBits: number, firstByte: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(firstByte | value);
    return;
  }
  out.push(firstByte | max);
  value -= max;
  while (value >= 128) {
    out.push((value % 128) + 128);
    value = Math.floor(value / 128);
  }
  out.push(value);
}

function encodeString(out: number[], text: string): void {
  const coded = huffmanEncode(text);
  if (coded) {
    encodeInteger(out, coded.length, 7, 0x80);
    for (const byte of coded) out.push(byte);
  } else {
    encodeInteger(out, text.length, 7, 0);
    for (let i = 0; i < text.length; i++) out.push(text.charCodeAt(i) & 0xff);
  }
}

const staticIndex = new Map<string, number>();
const staticNameIndex = new Map<string, number>();
STATIC_TABLE.forEach(([name, value], i) => {
  staticIndex.set(`${name}\0${value}`, i + 1);
  if (!staticNameIndex.has(name)) staticNameIndex.set(name, i + 1);
});

/**
 * A header block of `headers` (names lower case, values latin1) that leaves the peer's dynamic
 * table as it was: a static-table entry where one matches exactly, else a literal "without
 * indexing", its name by static index where there is one.
 */
export function encodeHeaderBlock(headers: ReadonlyArray<readonly [string, string]>): Buffer {
  const out: number[] = [];
  for (const [name, value] of headers) {
    const index = staticIndex.get(`${name}\0${value}`);
    if (index !== undefined) {
      encodeInteger(out, index, 7, 0x80);
      continue;
    }
    const nameIndex = staticNameIndex.get(name);
    if (nameIndex !== undefined) encodeInteger(out, nameIndex, 4, 0);
    else {
      out.push(0);
      encodeString(out, name);
    }
    encodeString(out, value);
  }
  return Buffer.from(out);
}

/** A request's headers: lower-case names, repeated names as arrays (as node:http2 gives them). */
export type HeaderMap = Record<string, string | string[]>;

const EMPTY = Buffer.alloc(0);

/** One connection's decoding context: the dynamic table lives as long as the connection. */
export class HpackDecoder {
  /** Newest last. */
  private readonly entries: Array<readonly [string, string]> = [];
  private size = 0;
  private maxSize: number;
  /** The block being decoded, and the read position in it. */
  private block: Buffer = EMPTY;
  private pos = 0;
  /** Huffman-coded strings seen on this connection (coded bytes as latin1), decoded. */
  private readonly decoded = new Map<string, string>();

  /** `maxTableSize`: the SETTINGS_HEADER_TABLE_SIZE this side announced (4096 by default). */
  constructor(private readonly maxTableSize = 4096) {
    this.maxSize = maxTableSize;
  }

  /** Decodes one complete header block; throws HpackError on anything malformed. */
  decode(block: Buffer): HeaderMap {
    const headers: HeaderMap = Object.create(null);
    this.block = block;
    this.pos = 0;
    let first = true;
    while (this.pos < block.length) {
      const byte = block[this.pos]!;
      if (byte & 0x80) {
        const [name, value] = this.entry(this.readInteger(7));
        add(headers, name, value);
      } else if (byte & 0x40) {
        const index = this.readInteger(6);
        const name = index === 0 ? this.readString() : this.entry(index)[0];
        const value = this.readString();
        this.insert(name, value);
        add(headers, name, value);
      } else if (byte & 0x20) {
        // A table size update: only at the start of a block (RFC 7541 §4.2).
        if (!first) throw new HpackError('dynamic table size update after a header field');
        const size = this.readInteger(5);
        if (size > this.maxTableSize) throw new HpackError(`dynamic table size ${size} is over the ${this.maxTableSize} allowed`);
        this.maxSize = size;
        this.evict(0);
        continue;
      } else {
        // Literal without indexing (0000) or never indexed (0001): same 4-bit name index.
        const index = this.readInteger(4);
        const name = index === 0 ? this.readString() : this.entry(index)[0];
        add(headers, name, this.readString());
      }
      first = false;
    }
    this.block = EMPTY;
    return headers;
  }

  private readInteger(prefixBits: number): number {
    const block = this.block;
    const max = (1 << prefixBits) - 1;
    let value = block[this.pos++]! & max;
    if (value < max) return value;
    let shift = 0;
    for (;;) {
      if (this.pos >= block.length) throw new HpackError('truncated integer');
      const byte = block[this.pos++]!;
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if ((byte & 0x80) === 0) return value;
      if (shift > 28) throw new HpackError('integer too large');
    }
  }

  private readString(): string {
    const block = this.block;
    if (this.pos >= block.length) throw new HpackError('truncated string');
    const coded = (block[this.pos]! & 0x80) !== 0;
    const length = this.readInteger(7);
    const start = this.pos;
    const end = start + length;
    if (end > block.length) throw new HpackError('truncated string');
    this.pos = end;
    if (!coded) return block.toString('latin1', start, end);
    // nghttp2 never indexes :path, so every request carries its path Huffman-coded: the few
    // distinct strings of a connection are decoded once.
    if (length > 64) return huffmanDecode(block, start, end);
    const key = block.toString('latin1', start, end);
    let text = this.decoded.get(key);
    if (text === undefined) {
      text = huffmanDecode(block, start, end);
      if (this.decoded.size >= 256) this.decoded.clear();
      this.decoded.set(key, text);
    }
    return text;
  }

  private entry(index: number): readonly [string, string] {
    if (index === 0) throw new HpackError('index 0');
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1]!;
    const entry = this.entries[this.entries.length - 1 - (index - STATIC_TABLE.length - 1)];
    if (entry === undefined) throw new HpackError(`index ${index} is beyond the table`);
    return entry;
  }

  private insert(name: string, value: string): void {
    const size = name.length + value.length + 32;
    this.evict(size);
    // An entry larger than the whole table empties it and is not added (RFC 7541 §4.4).
    if (size > this.maxSize) return;
    this.entries.push([name, value]);
    this.size += size;
  }

  /** Drops the oldest entries until `room` more bytes fit. */
  private evict(room: number): void {
    let drop = 0;
    while (this.size + room > this.maxSize && drop < this.entries.length) {
      const [name, value] = this.entries[drop++]!;
      this.size -= name.length + value.length + 32;
    }
    if (drop > 0) this.entries.splice(0, drop);
  }
}

function add(headers: HeaderMap, name: string, value: string): void {
  const existing = headers[name];
  if (existing === undefined) headers[name] = value;
  else if (Array.isArray(existing)) existing.push(value);
  else headers[name] = [existing, value];
}
