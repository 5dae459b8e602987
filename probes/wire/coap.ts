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
