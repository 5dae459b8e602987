import { createHash } from 'node:crypto';

/**
 * Reading what a TLS server sends back to a ClientHello: its first record (discovery), or its first
 * flight, ServerHello up to ServerHelloDone (the TLS scan), with alerts and the certificate chain.
 * Every parser here is total: any bytes give a result, never an exception, and nothing is copied
 * beyond what the caller already holds.
 */

/** ServerHello.random of a HelloRetryRequest: SHA-256("HelloRetryRequest") (RFC 8446 4.1.3). */
export const HELLO_RETRY_RANDOM: Buffer = createHash('sha256').update('HelloRetryRequest').digest();

const DOWNGRADE_TLS12 = Buffer.from('444f574e47524401', 'hex'); // "DOWNGRD\x01"
const DOWNGRADE_TLS11 = Buffer.from('444f574e47524400', 'hex'); // "DOWNGRD\x00"

export type TlsAnswer =
  /** `helloRetry`: the ServerHello is a HelloRetryRequest (TLS 1.3 is spoken, a key share is wanted). */
  | { kind: 'server-hello'; recordVersion: number; version: number; cipher: number; helloRetry: boolean }
  | { kind: 'alert'; recordVersion: number; level: number; description: number }
  | { kind: 'incomplete' }
  | { kind: 'not-tls' };

/** Whether the bytes so far hold one complete TLS record (or are clearly not TLS). */
export function tlsRecordComplete(data: Buffer): boolean {
  if (data.length < 5) return false;
  if (!isTlsRecordHeader(data)) return true;
  return data.length >= 5 + data.readUInt16BE(3);
}

function isTlsRecordHeader(data: Buffer): boolean {
  const type = data[0];
  return (type === 21 || type === 22) && data[1] === 3 && (data[2] ?? 9) <= 4;
}

/** What a ServerHello says. */
export interface ServerHelloInfo {
  /** legacy_version field. */
  legacyVersion: number;
  /** The negotiated version: supported_versions when present (TLS 1.3), else legacy_version. */
  version: number;
  cipher: number;
  compression: number;
  /** The random is the HelloRetryRequest value. */
  helloRetry: boolean;
  /** A TLS 1.3 server negotiating down marks its random (RFC 8446 4.1.3): it also speaks a higher version. */
  downgrade?: 'TLSv1.2' | 'TLSv1.1-or-below';
  /** Extension types, in order. */
  extensions: number[];
}

/** Parse a ServerHello body (after the 4-byte handshake header); undefined when malformed. */
export function parseServerHelloBody(body: Buffer): ServerHelloInfo | undefined {
  if (body.length < 38) return undefined;
  const legacyVersion = body.readUInt16BE(0);
  const random = body.subarray(2, 34);
  const sidLen = body[34] ?? 0;
  let off = 35 + sidLen;
  if (sidLen > 32 || body.length < off + 3) return undefined;
  const cipher = body.readUInt16BE(off);
  const compression = body[off + 2] ?? 0;
  off += 3;
  let version = legacyVersion;
  const extensions: number[] = [];
  if (body.length >= off + 2) {
    const extEnd = Math.min(body.length, off + 2 + body.readUInt16BE(off));
    off += 2;
    while (off + 4 <= extEnd) {
      const type = body.readUInt16BE(off);
      const len = body.readUInt16BE(off + 2);
      extensions.push(type);
      if (type === 0x002b && len === 2 && off + 6 <= extEnd) version = body.readUInt16BE(off + 4);
      off += 4 + len;
    }
  }
  const info: ServerHelloInfo = { legacyVersion, version, cipher, compression, helloRetry: random.equals(HELLO_RETRY_RANDOM), extensions };
  const tail = random.subarray(24);
  if (tail.equals(DOWNGRADE_TLS12)) info.downgrade = 'TLSv1.2';
  else if (tail.equals(DOWNGRADE_TLS11)) info.downgrade = 'TLSv1.1-or-below';
  return info;
}

/**
 * Parse the first record a server sent back to a ClientHello. A ServerHello gives the chosen version
 * (from supported_versions for TLS 1.3) and suite; an alert still proves the port speaks TLS.
 */
export function parseServerAnswer(data: Buffer): TlsAnswer {
  if (data.length < 5) return data.length === 0 ? { kind: 'incomplete' } : isPrefixOfTls(data) ? { kind: 'incomplete' } : { kind: 'not-tls' };
  if (!isTlsRecordHeader(data)) return { kind: 'not-tls' };
  const recordVersion = data.readUInt16BE(1);
  const length = data.readUInt16BE(3);
  if (data.length < 5 + Math.min(length, 4)) return { kind: 'incomplete' };
  const body = data.subarray(5, 5 + length);
  if (data[0] === 21) return { kind: 'alert', recordVersion, level: body[0] ?? 0, description: body[1] ?? 0 };
  if (body[0] !== 2 || body.length < 4 + 38) return body.length < 42 ? { kind: 'incomplete' } : { kind: 'not-tls' };
  const hello = parseServerHelloBody(body.subarray(4, 4 + body.readUIntBE(1, 3)));
  if (!hello) return body.length < length ? { kind: 'incomplete' } : { kind: 'not-tls' };
  return { kind: 'server-hello', recordVersion, version: hello.version, cipher: hello.cipher, helloRetry: hello.helloRetry };
}

function isPrefixOfTls(data: Buffer): boolean {
  const type = data[0];
  if (type !== 21 && type !== 22) return false;
  return data.length < 2 || data[1] === 3;
}

/** The server's first flight, as far as the bytes go. */
export interface ServerFlight {
  /** False when the first bytes are not a TLS record. */
  isTls: boolean;
  /** Version field of the first record. */
  recordVersion?: number;
  serverHello?: ServerHelloInfo;
  alert?: { level: number; description: number };
  /** DER certificates of a plaintext (SSLv3 to TLS 1.2) Certificate message, leaf first. */
  certificates?: Buffer[];
  /** Handshake message types seen, in order (2 ServerHello, 11 Certificate, 12 ServerKeyExchange, 14 ServerHelloDone...). */
  messages: number[];
  /**
   * Nothing more worth reading: an alert, ServerHelloDone, a TLS 1.3 ServerHello or HelloRetryRequest
   * (what follows is encrypted), a non-handshake record, or bytes that are not TLS.
   */
  complete: boolean;
}

/** Whether `data` starts like a TLS record of any content type (ChangeCipherSpec to application data). */
function isRecordPrefix(data: Buffer): boolean {
  const type = data[0] ?? 0;
  return type >= 20 && type <= 23 && (data.length < 2 || data[1] === 3);
}

/** Certificates kept from one Certificate message; a real chain is a handful. */
const MAX_CERTIFICATES = 16;

function parseCertificateList(msg: Buffer): Buffer[] | undefined {
  if (msg.length < 3) return undefined;
  const end = Math.min(msg.length, 3 + msg.readUIntBE(0, 3));
  const certs: Buffer[] = [];
  let off = 3;
  while (off + 3 <= end && certs.length < MAX_CERTIFICATES) {
    const len = msg.readUIntBE(off, 3);
    if (off + 3 + len > end) return certs.length ? certs : undefined;
    if (len > 0) certs.push(Buffer.from(msg.subarray(off + 3, off + 3 + len)));
    off += 3 + len;
  }
  return certs;
}

/**
 * Walk the records of a server's answer: handshake messages may share a record or span several, and
 * the last record may be cut off by the read so far. Total and bounded by the input.
 */
export function parseServerFlight(data: Buffer): ServerFlight {
  const flight: ServerFlight = { isTls: true, messages: [], complete: false };
  if (data.length === 0) return flight;
  if (!isRecordPrefix(data)) return { ...flight, isTls: false, complete: true };
  const fragments: Buffer[] = [];
  let off = 0;
  while (off < data.length) {
    const rest = data.subarray(off);
    if (!isRecordPrefix(rest)) {
      // Noise after the records: nothing more of the flight will come.
      flight.complete = true;
      break;
    }
    if (rest.length < 5) break;
    const type = rest[0] ?? 0;
    flight.recordVersion ??= rest.readUInt16BE(1);
    const length = rest.readUInt16BE(3);
    const body = rest.subarray(5, 5 + length);
    if (type === 21) {
      if (body.length >= 2) {
        flight.alert = { level: body[0] ?? 0, description: body[1] ?? 0 };
        flight.complete = true;
      }
      break;
    }
    if (type !== 22) {
      // ChangeCipherSpec or application data: the plaintext part of the flight is over.
      flight.complete = true;
      break;
    }
    fragments.push(body);
    if (body.length < length) break;
    off += 5 + length;
  }
  const stream = fragments.length === 1 ? (fragments[0] as Buffer) : Buffer.concat(fragments);
  let p = 0;
  while (p + 4 <= stream.length) {
    const type = stream[p] ?? 0;
    const length = stream.readUIntBE(p + 1, 3);
    if (p + 4 + length > stream.length) break;
    const msg = stream.subarray(p + 4, p + 4 + length);
    flight.messages.push(type);
    if (type === 2 && !flight.serverHello) {
      const hello = parseServerHelloBody(msg);
      if (!hello) {
        flight.complete = true;
        break;
      }
      flight.serverHello = hello;
      if (hello.helloRetry || hello.version >= 0x0304) flight.complete = true;
    } else if (type === 11 && !flight.certificates) {
      const certs = parseCertificateList(msg);
      if (certs) flight.certificates = certs;
    } else if (type === 14) {
      flight.complete = true;
    }
    p += 4 + length;
  }
  return flight;
}

/** `readBounded` predicate: stop once the server's plaintext flight is over (or is not TLS). */
export function serverFlightComplete(data: Buffer): boolean {
  return parseServerFlight(data).complete;
}

const ALERTS: ReadonlyMap<number, string> = new Map([
  [0, 'close_notify'], [10, 'unexpected_message'], [20, 'bad_record_mac'], [22, 'record_overflow'], [40, 'handshake_failure'],
  [42, 'bad_certificate'], [47, 'illegal_parameter'], [48, 'unknown_ca'], [50, 'decode_error'], [51, 'decrypt_error'],
  [70, 'protocol_version'], [71, 'insufficient_security'], [80, 'internal_error'], [86, 'inappropriate_fallback'],
  [90, 'user_canceled'], [109, 'missing_extension'], [110, 'unsupported_extension'], [112, 'unrecognized_name'],
]);

/** RFC 8446 / 5246 alert description name, or its number. */
export function alertName(description: number): string {
  return ALERTS.get(description) ?? `alert ${description}`;
}
