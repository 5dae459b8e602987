import { randomBytes } from 'node:crypto';
import type { Egress } from '../../harness/egress.js';
import {
  blockSzx,
  buildRequest,
  decodeBlock,
  decodeCoap,
  decodeUint,
  encodeBlock,
  encodeUint,
  isResponseTo,
  locationPath,
  OPTIONS,
  optionValue,
  type CoapMessage,
  type CoapRequest,
  type RequestSpec,
} from '../wire/coap.js';

/**
 * Bounded CoAP requests over a transport (plain UDP through the egress, or a DTLS session), block-wise
 * transfers (for `/.well-known/core`), and the write test on a resource of our own.
 * Nothing here throws on device behaviour: silence, floods and garbage come back as data.
 */

/** How one exchange ended. `cap`: the peer sent more datagrams or bytes than we listen to for one request. */
export type ExchangeEnd = 'answered' | 'timeout' | 'refused' | 'cap' | 'aborted' | 'closed' | 'error';

/** What a transport got back for one datagram sent. */
export interface RawExchange {
  datagrams: Buffer[];
  end: ExchangeEnd;
  errorCode?: string;
}

/** One request/response path to a CoAP endpoint. `send` never throws on device behaviour. */
export interface CoapTransport {
  /** DTLS-protected (the request is authenticated with the session's PSK). */
  readonly secure: boolean;
  send(request: CoapRequest, timeoutMs: number): Promise<RawExchange>;
}

/** Per-request caps: one answer is one datagram; more than a few is a flood, not CoAP. */
export const EXCHANGE_CAPS = { maxDatagrams: 8, maxBytes: 64 * 1024 };

/** Datagrams that decode as CoAP and answer `request` (see `isResponseTo`). */
export function matchesResponse(request: CoapRequest, datagram: Buffer): boolean {
  const reply = decodeCoap(datagram);
  return reply !== undefined && isResponseTo(request, reply);
}

/** Plain CoAP (NoSec) through the egress: scope, excluded ports and the per-device cap apply. */
export function udpTransport(net: Egress, ip: string, port: number, signal: AbortSignal): CoapTransport {
  return {
    secure: false,
    async send(request, timeoutMs) {
      const ex = await net.udpExchange(ip, port, request.bytes, { timeoutMs, ...EXCHANGE_CAPS, signal, accept: (d) => matchesResponse(request, d) });
      const raw: RawExchange = { datagrams: ex.datagrams, end: ex.end === 'accepted' ? 'answered' : ex.end };
      if (ex.errorCode !== undefined) raw.errorCode = ex.errorCode;
      return raw;
    },
  };
}

export interface RequestTiming {
  /** Deadline for one attempt. */
  timeoutMs: number;
  /** Attempts after the first when an attempt times out (CoAP retransmission: same message id and token). */
  retries: number;
}

/** One request and its outcome, with byte counts for the amplification factor. */
export interface CoapExchange {
  method: RequestSpec['method'];
  path: string;
  request: CoapRequest;
  reply?: CoapMessage;
  /** The datagram that carried the reply, else the first one that came, else empty. */
  received: Buffer;
  datagrams: number;
  bytesSent: number;
  bytesReceived: number;
  attempts: number;
  /** An empty ACK came for the request: the server promised a separate response. */
  isAcknowledged: boolean;
  end: ExchangeEnd;
  errorCode?: string;
}

function isEmptyAck(request: CoapRequest, datagram: Buffer): boolean {
  const m = decodeCoap(datagram);
  return m !== undefined && m.type === 'ACK' && m.code === '0.00' && m.messageId === request.messageId;
}

/** Send `spec`, resend on timeout up to `retries` times; stop at once on refusal, a flood or abort. */
export async function coapRequest(transport: CoapTransport, spec: RequestSpec, timing: RequestTiming): Promise<CoapExchange> {
  const request = buildRequest(spec);
  const result: CoapExchange = { method: spec.method, path: spec.path, request, received: Buffer.alloc(0), datagrams: 0, bytesSent: 0, bytesReceived: 0, attempts: 0, isAcknowledged: false, end: 'timeout' };
  for (let attempt = 0; attempt <= timing.retries; attempt++) {
    const raw = await transport.send(request, timing.timeoutMs);
    result.attempts++;
    result.bytesSent += request.bytes.length;
    result.datagrams += raw.datagrams.length;
    result.bytesReceived += raw.datagrams.reduce((n, d) => n + d.length, 0);
    result.end = raw.end;
    if (raw.errorCode !== undefined) result.errorCode = raw.errorCode;
    if (raw.datagrams.some((d) => isEmptyAck(request, d))) result.isAcknowledged = true;
    const carrier = raw.datagrams.find((d) => matchesResponse(request, d));
    if (carrier) {
      result.received = carrier;
      result.reply = decodeCoap(carrier);
      return result;
    }
    if (result.received.length === 0 && raw.datagrams[0]) result.received = raw.datagrams[0];
    // After an empty ACK the server has the request: resending it would only be acknowledged again.
    if (raw.end !== 'timeout' || result.isAcknowledged) return result;
  }
  return result;
}

export interface BlockwiseLimits extends RequestTiming {
  maxBlocks: number;
  maxBytes: number;
  /** Ask for this block size in the first request (early negotiation, RFC 7959 §2.4); default: the server picks. */
  blockSize?: number;
}

/** Why a block-wise transfer stopped before the last block. */
export type Truncation = 'max-blocks' | 'max-bytes' | 'block-mismatch' | 'no-answer' | 'error-code';

export interface BlockwiseResult {
  /** Code of the first response, when one came. */
  code?: string;
  /** Content-Format of the first response. */
  contentFormat?: number;
  payload: Buffer;
  /** Responses that carried a block (1 when the answer was not block-wise). */
  blocks: number;
  /** Size2 (total size announced by the server), when given. */
  size2?: number;
  truncated?: Truncation;
  exchanges: CoapExchange[];
}

/** GET `path` and follow Block2 to the last block, within `maxBlocks` and `maxBytes`. */
export async function getBlockwise(transport: CoapTransport, path: string, limits: BlockwiseLimits): Promise<BlockwiseResult> {
  const result: BlockwiseResult = { payload: Buffer.alloc(0), blocks: 0, exchanges: [] };
  const parts: Buffer[] = [];
  let bytes = 0;
  let num = 0;
  let szx = limits.blockSize === undefined ? undefined : blockSzx(limits.blockSize);
  const token = randomBytes(4);
  for (;;) {
    if (result.blocks >= limits.maxBlocks) {
      result.truncated = 'max-blocks';
      break;
    }
    const options = szx === undefined ? [] : [{ number: OPTIONS.BLOCK2, value: encodeBlock(num, false, szx) }];
    // One token for the whole transfer, as RFC 7959 §2.4 recommends; each block gets a new message id.
    const ex = await coapRequest(transport, { method: 'GET', path, options, token }, limits);
    result.exchanges.push(ex);
    const reply = ex.reply;
    if (!reply) {
      result.truncated = 'no-answer';
      break;
    }
    if (result.code === undefined) {
      result.code = reply.code;
      const cf = optionValue(reply, OPTIONS.CONTENT_FORMAT);
      if (cf) result.contentFormat = decodeUint(cf);
      const size2 = optionValue(reply, OPTIONS.SIZE2);
      if (size2) result.size2 = decodeUint(size2);
    }
    if (reply.code !== '2.05') {
      if (result.blocks > 0) result.truncated = 'error-code';
      break;
    }
    const blockValue = optionValue(reply, OPTIONS.BLOCK2);
    const block = blockValue ? decodeBlock(blockValue) : undefined;
    if (block && block.num !== num) {
      // A server that ignores the block number would send block 0 forever.
      result.truncated = 'block-mismatch';
      break;
    }
    result.blocks++;
    const room = limits.maxBytes - bytes;
    parts.push(reply.payload.subarray(0, Math.max(0, room)));
    bytes += Math.min(reply.payload.length, Math.max(0, room));
    if (reply.payload.length > room) {
      result.truncated = 'max-bytes';
      break;
    }
    if (!block?.more) break;
    // Continue in the size the server chose (it may be smaller than what we asked for).
    szx = block.szx;
    num = block.num + 1;
  }
  result.payload = Buffer.concat(parts);
  return result;
}

/** Outcome of one write attempt on our own resource. */
export interface WriteAttempt {
  method: 'PUT' | 'POST';
  code?: string;
  end: ExchangeEnd;
  /** Location-Path of a 2.01, when the server put the resource somewhere else. */
  location?: string;
}

export interface WriteTest {
  /** The harness-owned path written to, `/iot-harness-<random>`. */
  path: string;
  attempts: WriteAttempt[];
  /** A write was accepted (2.01 Created or 2.04 Changed). */
  isWritable: boolean;
  /** A write was refused for lack of authorisation (4.01 Unauthorized or 4.03 Forbidden). */
  isProtected: boolean;
  /** DELETE of what we created; absent when nothing was created. */
  cleanup?: { path: string; code?: string; end: ExchangeEnd };
  exchanges: CoapExchange[];
}

const WRITTEN = new Set(['2.01', '2.04']);
const UNAUTHORISED = new Set(['4.01', '4.03']);

/**
 * PUT, then (if the PUT did not take) POST, a small text payload to a path no device has: a resource
 * of our own, so a device's own resources are never modified. Whatever was created is deleted again:
 * our path, and a Location-Path the server gave only when it is visibly ours (carries our name).
 */
export async function writeOwnResource(transport: CoapTransport, timing: RequestTiming, name = `iot-harness-${randomBytes(4).toString('hex')}`): Promise<WriteTest> {
  const path = `/${name}`;
  const test: WriteTest = { path, attempts: [], isWritable: false, isProtected: false, exchanges: [] };
  const payload = Buffer.from(`iot-harness write test ${name}`);
  const textPlain = { number: OPTIONS.CONTENT_FORMAT, value: encodeUint(0) };
  let created: string | undefined;
  for (const method of ['PUT', 'POST'] as const) {
    const ex = await coapRequest(transport, { method, path, options: [textPlain], payload }, timing);
    test.exchanges.push(ex);
    const attempt: WriteAttempt = { method, end: ex.end };
    if (ex.reply) {
      attempt.code = ex.reply.code;
      const location = locationPath(ex.reply);
      if (location !== undefined) attempt.location = location;
      if (WRITTEN.has(ex.reply.code)) {
        test.isWritable = true;
        created = location !== undefined && location.includes(name) ? location : path;
      }
      if (UNAUTHORISED.has(ex.reply.code)) test.isProtected = true;
    }
    test.attempts.push(attempt);
    // A device that never answered will not answer a POST either; one that took the PUT needs no POST.
    if (test.isWritable || !ex.reply) break;
  }
  if (created !== undefined) {
    const ex = await coapRequest(transport, { method: 'DELETE', path: created }, timing);
    test.exchanges.push(ex);
    test.cleanup = { path: created, end: ex.end, ...(ex.reply ? { code: ex.reply.code } : {}) };
  }
  return test;
}
