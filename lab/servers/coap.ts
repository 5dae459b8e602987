import { generate, parse, type NamedOption, type ParsedPacket } from 'coap-packet';
import type { ListenOptions, RunningServer } from './listen.js';
import { debug } from './listen.js';
import { listenUdp } from './udp.js';

/**
 * A small CoAP server (RFC 7252) for the lab sensor: discovery, two readable sensor resources, a
 * `/config` document and, when writable, resources clients create and delete. Framing is coap-packet's,
 * never the probe's own parser (probes/wire/coap.ts), so a bug there cannot hide behind the same bug here.
 *
 * The request handler is a function from one datagram to one datagram, so the NoSec server and the
 * DTLS server (dtls.ts) serve the same resources. Retransmitted confirmable requests are handled again
 * (no deduplication): every operation here is idempotent except a create, which a retry turns into
 * 2.04 Changed.
 */

export interface CoapHandlerOptions {
  /** PUT/POST may change `/config`, and clients may create resources of their own (and DELETE them). */
  writable: boolean;
  /** Resources clients may create at most when writable; 0 allows `/config` changes only. Default 16. */
  maxCreated?: number;
  /** The initial `/config` document. */
  config?: Record<string, unknown>;
}

/** One request datagram in, the response datagram out (undefined: nothing to send). */
export type CoapHandler = (datagram: Buffer) => Buffer | undefined;

/** Payload bytes a `/config` write or a created resource may hold. */
export const MAX_STORED_BYTES = 256;
const DEFAULT_MAX_CREATED = 16;
/** Block2 size used when a response does not fit and the client asked for none: 1024 (SZX 6). */
const MAX_SZX = 6;

const CONTENT_FORMAT = { text: 0, linkFormat: 40, json: 50 } as const;

/** Option numbers by the names coap-packet reports them under (numbers it does not know come as digits). */
const OPTION_NUMBERS: Record<string, number> = {
  'If-Match': 1, 'Uri-Host': 3, ETag: 4, 'If-None-Match': 5, Observe: 6, 'Uri-Port': 7, 'Location-Path': 8, OSCORE: 9,
  'Uri-Path': 11, 'Content-Format': 12, 'Max-Age': 14, 'Uri-Query': 15, 'Hop-Limit': 16, Accept: 17, 'Q-Block1': 19,
  'Location-Query': 20, Block2: 23, Block1: 27, Size2: 28, 'Q-Block2': 31, 'Proxy-Uri': 35, 'Proxy-Scheme': 39, Size1: 60,
  'No-Response': 258, 'OCF-Accept-Content-Format-Version': 2049, 'OCF-Content-Format-Version': 2053,
};
/** Critical (odd-numbered) options understood; any other critical option is answered 4.02 Bad Option. */
const UNDERSTOOD_CRITICAL = new Set([1, 3, 5, 7, 11, 15, 17, 23, 27, 35, 39]);
/** Segments of a path a client may create: short, plain names. */
const SEGMENT = /^[A-Za-z0-9._~-]{1,32}$/;
const MAX_SEGMENTS = 4;

interface Resource {
  contentFormat: number;
  /** Link attributes after the target in /.well-known/core. */
  attributes: string;
  kind: 'sensor' | 'config' | 'created';
  value: () => Buffer;
}

interface Request {
  packet: ParsedPacket;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  segments: string[];
  options: Map<number, Buffer[]>;
}

interface Reply {
  code: string;
  payload?: Buffer;
  options?: NamedOption[];
}

function encodeUint(n: number): Buffer {
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from(bytes);
}

function decodeUint(value: Buffer | undefined): number {
  return value ? value.reduce((n, b) => n * 256 + b, 0) : 0;
}

const text = (s: string): Buffer => Buffer.from(s, 'utf8');
const contentFormat = (cf: number): NamedOption => ({ name: 'Content-Format', value: encodeUint(cf) });

/** Readings that drift slowly, so two reads a minute apart differ like a real sensor's. */
function reading(base: number, swing: number): () => Buffer {
  return () => text((base + swing * Math.sin(Date.now() / 60_000)).toFixed(1));
}

/** The sensor's resources and the request handling over them; state lives in the returned handler. */
export function createCoapHandler(options: CoapHandlerOptions): CoapHandler {
  const maxCreated = options.writable ? (options.maxCreated ?? DEFAULT_MAX_CREATED) : 0;
  let config = Buffer.from(JSON.stringify(options.config ?? { interval: 60, unit: 'C' }));
  const resources = new Map<string, Resource>([
    ['/sensors/temperature', { kind: 'sensor', contentFormat: CONTENT_FORMAT.text, attributes: 'rt="temperature-c";if="core.s";ct=0', value: reading(21.5, 0.5) }],
    ['/sensors/humidity', { kind: 'sensor', contentFormat: CONTENT_FORMAT.text, attributes: 'rt="humidity-p";if="core.s";ct=0', value: reading(45, 3) }],
    ['/config', { kind: 'config', contentFormat: CONTENT_FORMAT.json, attributes: 'rt="config";if="core.p";ct=50', value: () => config }],
  ]);
  const created = (): number => [...resources.values()].filter((r) => r.kind === 'created').length;

  function linkFormat(): Buffer {
    return text([...resources].map(([path, r]) => `<${path}>;${r.attributes}`).join(','));
  }

  function write(request: Request): Reply {
    const { packet, path, segments, method } = request;
    const existing = resources.get(path);
    if (path === '/.well-known/core' || existing?.kind === 'sensor') return { code: '4.05' };
    if (!options.writable) return { code: '4.03', payload: text('read-only') };
    const block1 = request.options.get(27)?.[0];
    // Block-wise uploads are not taken: nothing here needs more than one datagram.
    if ((block1 !== undefined && (decodeUint(block1) & 0x08) !== 0) || packet.payload.length > MAX_STORED_BYTES) {
      return { code: '4.13', options: [{ name: 'Size1', value: encodeUint(MAX_STORED_BYTES) }] };
    }
    if (request.options.has(5) && existing) return { code: '4.12' };
    if (request.options.has(1) && !existing) return { code: '4.12' };
    const format = decodeUint(request.options.get(12)?.[0]);
    if (existing?.kind === 'config') {
      if (request.options.has(12) && format !== CONTENT_FORMAT.json) return { code: '4.15', payload: text('application/json only') };
      if (!isJsonObject(packet.payload)) return { code: '4.00', payload: text('a JSON object is expected') };
      config = Buffer.from(packet.payload);
      return { code: '2.04' };
    }
    const stored = Buffer.from(packet.payload);
    if (existing) {
      resources.set(path, { ...existing, contentFormat: format, attributes: `ct=${format}`, value: () => stored });
      return { code: '2.04' };
    }
    if (maxCreated === 0) return { code: '4.04' };
    if (segments.length === 0 || segments.length > MAX_SEGMENTS || !segments.every((s) => SEGMENT.test(s))) return { code: '4.00', payload: text('bad resource name') };
    if (created() >= maxCreated) return { code: '5.03', payload: text('resource limit reached') };
    debug('coap: %s created %s (%d bytes)', method, path, stored.length);
    resources.set(path, { kind: 'created', contentFormat: format, attributes: `ct=${format}`, value: () => stored });
    return { code: '2.01' };
  }

  function serve(request: Request): Reply {
    const { method, path } = request;
    if (request.options.has(35) || request.options.has(39)) return { code: '5.05' };
    if (method === 'GET') {
      const resource = path === '/.well-known/core' ? { contentFormat: CONTENT_FORMAT.linkFormat, value: linkFormat } : resources.get(path);
      if (!resource) return { code: '4.04' };
      const accept = request.options.get(17)?.[0];
      if (accept !== undefined && decodeUint(accept) !== resource.contentFormat) return { code: '4.06' };
      return block2(resource.value(), resource.contentFormat, request.options.get(23)?.[0]);
    }
    if (method === 'DELETE') {
      const existing = resources.get(path);
      if (path === '/.well-known/core' || existing?.kind === 'sensor' || existing?.kind === 'config') return { code: '4.05' };
      if (!options.writable) return { code: '4.03', payload: text('read-only') };
      if (!existing) return { code: '4.04' };
      resources.delete(path);
      return { code: '2.02' };
    }
    return write(request);
  }

  return (datagram) => {
    let packet: ParsedPacket;
    try {
      packet = parse(datagram);
    } catch (error) {
      debug('coap: malformed datagram (%d bytes): %s', datagram.length, error instanceof Error ? error.message : String(error));
      return reset(datagram);
    }
    // A token longer than 8 bytes is a message format error (RFC 7252 §3).
    if (packet.token.length > 8) return reset(datagram);
    // We never send confirmable messages, so an ACK or RST matches nothing.
    if (packet.ack || packet.reset) return undefined;
    const method = ({ '0.01': 'GET', '0.02': 'POST', '0.03': 'PUT', '0.04': 'DELETE' } as const)[packet.code];
    // An empty CON is a ping (answered with RST); a response is not a request.
    if (!packet.code.startsWith('0.') || packet.code === '0.00') return packet.confirmable ? reset(datagram) : undefined;
    if (!method) return respond(packet, { code: '4.05' });
    const options = new Map<number, Buffer[]>();
    for (const o of packet.options) {
      const number = typeof o.name === 'number' ? o.name : (OPTION_NUMBERS[o.name] ?? Number(o.name));
      // An option we cannot even number is treated as critical: refusing is safer than guessing.
      if (!Number.isInteger(number) || (number % 2 === 1 && !UNDERSTOOD_CRITICAL.has(number))) return respond(packet, { code: '4.02' });
      options.set(number, [...(options.get(number) ?? []), o.value]);
    }
    const segments = (options.get(11) ?? []).map((v) => v.toString('utf8'));
    return respond(packet, serve({ packet, method, segments, path: `/${segments.join('/')}`, options }));
  };
}

function isJsonObject(payload: Buffer): boolean {
  try {
    const value: unknown = JSON.parse(payload.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    // Not JSON at all: the caller answers 4.00 Bad Request.
    return false;
  }
}

/** One block of `payload` (RFC 7959): the block the client asked for, else block 0 of 1024 bytes when it does not fit. */
function block2(payload: Buffer, cf: number, asked: Buffer | undefined): Reply {
  const options = [contentFormat(cf)];
  if (asked === undefined && payload.length <= 16 << MAX_SZX) return { code: '2.05', payload, options };
  const value = decodeUint(asked);
  const szx = Math.min(value & 0x07, MAX_SZX);
  const num = Math.floor(value / 16);
  const size = 16 << szx;
  const offset = num * size;
  if (offset > 0 && offset >= payload.length) return { code: '4.02', payload: text('block out of range') };
  const more = offset + size < payload.length;
  options.push({ name: 'Block2', value: encodeUint(num * 16 + (more ? 8 : 0) + szx) }, { name: 'Size2', value: encodeUint(payload.length) });
  return { code: '2.05', payload: payload.subarray(offset, offset + size), options };
}

let nextMessageId = Math.floor(Math.random() * 0x10000);

/** A piggybacked ACK for a confirmable request, a NON response (new message id) for a non-confirmable one. */
function respond(request: ParsedPacket, reply: Reply): Buffer {
  nextMessageId = (nextMessageId + 1) & 0xffff;
  return generate({
    code: reply.code,
    messageId: request.confirmable ? request.messageId : nextMessageId,
    token: request.token,
    ack: request.confirmable,
    options: reply.options ?? [],
    payload: reply.payload ?? Buffer.alloc(0),
  });
}

/** RST for a confirmable message we cannot process (RFC 7252 §4.2); anything else is dropped silently. */
function reset(datagram: Buffer): Buffer | undefined {
  const first = datagram[0] ?? 0;
  if (datagram.length < 4 || first >> 6 !== 1 || (first & 0x30) !== 0) return undefined;
  return Buffer.from([0x70, 0x00, datagram[2] ?? 0, datagram[3] ?? 0]);
}

export interface CoapServerOptions extends ListenOptions {
  /** The resources to serve (createCoapHandler); one handler may back several servers of a device. */
  handler: CoapHandler;
}

/** CoAP without security (NoSec) over UDP. */
export function startCoapServer(options: CoapServerOptions): Promise<RunningServer> {
  const { handler } = options;
  return listenUdp(options, (datagram, remote, server) => {
    const reply = handler(datagram);
    if (reply) server.send(reply, remote.port, remote.address);
  });
}
