import { randomBytes } from 'node:crypto';

/**
 * Minimal CoAP (RFC 7252) framing: a confirmable GET and the header of the reply. Enough for discovery
 * to tell a CoAP endpoint from a UDP port that answers anything.
 */

export interface CoapRequest {
  messageId: number;
  token: Buffer;
  bytes: Buffer;
}

/** Option delta/length nibble with its extended bytes (RFC 7252 §3.1). */
function nibble(n: number): [number, number[]] {
  if (n < 13) return [n, []];
  if (n < 269) return [13, [n - 13]];
  return [14, [(n - 269) >> 8, (n - 269) & 0xff]];
}

function option(delta: number, value: Buffer): Buffer {
  const [d, dExt] = nibble(delta);
  const [l, lExt] = nibble(value.length);
  return Buffer.concat([Buffer.from([(d << 4) | l, ...dExt, ...lExt]), value]);
}

/** CON GET for a path like `/.well-known/core`. */
export function buildGet(path: string): CoapRequest {
  const messageId = randomBytes(2).readUInt16BE();
  const token = randomBytes(4);
  const segments = path.split('/').filter((s) => s !== '');
  const options = segments.map((seg, i) => option(i === 0 ? 11 : 0, Buffer.from(seg, 'utf8')));
  const header = Buffer.from([0x40 | token.length, 0x01, messageId >> 8, messageId & 0xff]);
  return { messageId, token, bytes: Buffer.concat([header, token, ...options]) };
}

export interface CoapReply {
  type: 'CON' | 'NON' | 'ACK' | 'RST';
  code: string;
  messageId: number;
  token: Buffer;
  payload: Buffer;
}

const TYPES = ['CON', 'NON', 'ACK', 'RST'] as const;

/** Parse a CoAP message header, token and payload (options are skipped). */
export function parseCoap(data: Buffer): CoapReply | undefined {
  if (data.length < 4) return undefined;
  const first = data[0] ?? 0;
  if (first >> 6 !== 1) return undefined;
  const tkl = first & 0x0f;
  if (tkl > 8 || data.length < 4 + tkl) return undefined;
  const codeByte = data[1] ?? 0;
  const code = `${codeByte >> 5}.${String(codeByte & 0x1f).padStart(2, '0')}`;
  const token = data.subarray(4, 4 + tkl);
  const marker = data.indexOf(0xff, 4 + tkl);
  return {
    type: TYPES[(first >> 4) & 3] ?? 'CON',
    code,
    messageId: data.readUInt16BE(2),
    token,
    payload: marker === -1 ? Buffer.alloc(0) : data.subarray(marker + 1),
  };
}

/** Whether `reply` answers `request` (same message id for ACK/RST, or same token). */
export function answers(request: CoapRequest, reply: CoapReply): boolean {
  if (reply.type === 'ACK' || reply.type === 'RST') return reply.messageId === request.messageId;
  return reply.token.equals(request.token);
}

/*
 * Full requests and replies for the coap-access probe: any method, options in order, a payload, and a
 * reply decoded option by option (a 0xff inside an option value, an ETag say, is not the payload marker).
 */

/** Request methods (RFC 7252 §12.1.1). */
export const METHODS = { GET: 1, POST: 2, PUT: 3, DELETE: 4 } as const;
export type CoapMethod = keyof typeof METHODS;

/** Option numbers this harness sends or reads (RFC 7252 §5.10, RFC 7959 §2.1). */
export const OPTIONS = {
  ETAG: 4,
  LOCATION_PATH: 8,
  URI_PATH: 11,
  CONTENT_FORMAT: 12,
  URI_QUERY: 15,
  BLOCK2: 23,
  SIZE2: 28,
} as const;

export interface CoapOption {
  number: number;
  value: Buffer;
}

/** A CoAP unsigned integer option value in as few bytes as it takes (0 is the empty value). */
export function encodeUint(n: number): Buffer {
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from(bytes);
}

export function decodeUint(value: Buffer): number {
  let n = 0;
  for (const b of value) n = n * 256 + b;
  return n;
}

/** A Block2/Block1 option value (RFC 7959 §2.2). */
export interface Block {
  num: number;
  more: boolean;
  /** Block size exponent: the size is 2^(szx+4), 16 to 1024 bytes. */
  szx: number;
  size: number;
}

export function encodeBlock(num: number, more: boolean, szx: number): Buffer {
  return encodeUint(num * 16 + (more ? 8 : 0) + (szx & 7));
}

export function decodeBlock(value: Buffer): Block | undefined {
  if (value.length > 3) return undefined;
  const n = decodeUint(value);
  const szx = n & 7;
  // SZX 7 is reserved (BERT over TCP only): a UDP reply that uses it is malformed.
  if (szx === 7) return undefined;
  return { num: Math.floor(n / 16), more: (n & 8) !== 0, szx, size: 2 ** (szx + 4) };
}

/** Block size exponent for a size in bytes (16, 32, ..., 1024). */
export function blockSzx(size: number): number {
  const szx = Math.log2(size) - 4;
  if (!Number.isInteger(szx) || szx < 0 || szx > 6) throw new RangeError(`CoAP block size ${size} is not one of 16, 32, ..., 1024`);
  return szx;
}

/** Uri-Path and Uri-Query options for a path like `/a/b%20c?x=1` (percent-escapes decoded per segment). */
export function pathOptions(path: string): CoapOption[] {
  const q = path.indexOf('?');
  const pathPart = q === -1 ? path : path.slice(0, q);
  const queryPart = q === -1 ? '' : path.slice(q + 1);
  const decode = (s: string): Buffer => {
    try {
      return Buffer.from(decodeURIComponent(s), 'utf8');
    } catch (cause) {
      // A stray '%' in a device's link is its own spelling: send the segment as written.
      if (cause instanceof URIError) return Buffer.from(s, 'utf8');
      throw cause;
    }
  };
  return [
    ...pathPart.split('/').filter((s) => s !== '').map((s) => ({ number: OPTIONS.URI_PATH, value: decode(s) })),
    ...queryPart.split('&').filter((s) => s !== '').map((s) => ({ number: OPTIONS.URI_QUERY, value: decode(s) })),
  ];
}

export interface RequestSpec {
  method: CoapMethod;
  /** Path with optional query: `/.well-known/core`, `/sensors/temp?unit=c`. */
  path: string;
  /** More options (Block2, Content-Format, ...); sorted with the path options before encoding. */
  options?: readonly CoapOption[];
  payload?: Buffer;
  /** Reuse a message id and token (a retransmission); default fresh random ones. */
  messageId?: number;
  token?: Buffer;
}

/** A confirmable request; options are sorted by number and delta-encoded (RFC 7252 §3.1). */
export function buildRequest(spec: RequestSpec): CoapRequest {
  const messageId = spec.messageId ?? randomBytes(2).readUInt16BE();
  const token = spec.token ?? randomBytes(4);
  // A stable sort keeps repeated options (Uri-Path segments) in their given order.
  const all = [...pathOptions(spec.path), ...(spec.options ?? [])].sort((a, b) => a.number - b.number);
  let previous = 0;
  const encoded = all.map((o) => {
    const bytes = option(o.number - previous, o.value);
    previous = o.number;
    return bytes;
  });
  const header = Buffer.from([0x40 | token.length, METHODS[spec.method], messageId >> 8, messageId & 0xff]);
  const payload = spec.payload && spec.payload.length > 0 ? [Buffer.from([0xff]), spec.payload] : [];
  return { messageId, token, bytes: Buffer.concat([header, token, ...encoded, ...payload]) };
}

export interface CoapMessage extends CoapReply {
  options: CoapOption[];
}

/** Read an extended option delta/length nibble; undefined when the bytes run out or it is the reserved 15. */
function readNibble(n: number, data: Buffer, at: number): [number, number] | undefined {
  if (n < 13) return [n, at];
  if (n === 13) return at < data.length ? [(data[at] ?? 0) + 13, at + 1] : undefined;
  if (n === 14) return at + 1 < data.length ? [data.readUInt16BE(at) + 269, at + 2] : undefined;
  return undefined;
}

/**
 * Decode a whole CoAP message: header, token, every option and the payload. Undefined for anything that
 * is not well-formed CoAP (version, token length, option encoding, a marker with no payload).
 */
export function decodeCoap(data: Buffer): CoapMessage | undefined {
  const head = parseCoap(data);
  if (!head) return undefined;
  const options: CoapOption[] = [];
  let at = 4 + head.token.length;
  let number = 0;
  while (at < data.length) {
    const byte = data[at] ?? 0;
    if (byte === 0xff) {
      // RFC 7252 §3: a marker followed by a zero-length payload is a message format error.
      if (at + 1 >= data.length) return undefined;
      return { ...head, options, payload: data.subarray(at + 1) };
    }
    const delta = readNibble(byte >> 4, data, at + 1);
    if (!delta) return undefined;
    const length = readNibble(byte & 0x0f, data, delta[1]);
    if (!length) return undefined;
    const start = length[1];
    if (start + length[0] > data.length) return undefined;
    number += delta[0];
    options.push({ number, value: data.subarray(start, start + length[0]) });
    at = start + length[0];
  }
  return { ...head, options, payload: Buffer.alloc(0) };
}

/** The first value of an option, if present. */
export function optionValue(message: CoapMessage, number: number): Buffer | undefined {
  return message.options.find((o) => o.number === number)?.value;
}

/** `/a/b` from repeated Location-Path options; undefined when there are none. */
export function locationPath(message: CoapMessage): string | undefined {
  const segments = message.options.filter((o) => o.number === OPTIONS.LOCATION_PATH).map((o) => o.value.toString('utf8'));
  return segments.length ? `/${segments.join('/')}` : undefined;
}

/** Response code names (RFC 7252 §12.1.2) for evidence summaries. */
export const CODE_NAMES: Readonly<Record<string, string>> = {
  '0.00': 'Empty',
  '2.01': 'Created',
  '2.02': 'Deleted',
  '2.03': 'Valid',
  '2.04': 'Changed',
  '2.05': 'Content',
  '2.31': 'Continue',
  '4.00': 'Bad Request',
  '4.01': 'Unauthorized',
  '4.02': 'Bad Option',
  '4.03': 'Forbidden',
  '4.04': 'Not Found',
  '4.05': 'Method Not Allowed',
  '4.06': 'Not Acceptable',
  '4.08': 'Request Entity Incomplete',
  '4.12': 'Precondition Failed',
  '4.13': 'Request Entity Too Large',
  '4.15': 'Unsupported Content-Format',
  '5.00': 'Internal Server Error',
  '5.01': 'Not Implemented',
  '5.02': 'Bad Gateway',
  '5.03': 'Service Unavailable',
  '5.04': 'Gateway Timeout',
  '5.05': 'Proxying Not Supported',
};

/** `2.05 Content`, or the bare code when it has no registered name. */
export function describeCode(code: string): string {
  const name = CODE_NAMES[code];
  return name ? `${code} ${name}` : code;
}

/**
 * Whether `reply` is the response to `request`: a piggybacked ACK or RST with our message id, or a
 * separate response carrying our token. An empty ACK only says "wait": it is not the response.
 */
export function isResponseTo(request: CoapRequest, reply: CoapReply): boolean {
  if (reply.type === 'RST') return reply.messageId === request.messageId;
  if (reply.code === '0.00') return false;
  if (reply.type === 'ACK') return reply.messageId === request.messageId && reply.token.equals(request.token);
  return reply.token.equals(request.token);
}
