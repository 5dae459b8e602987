import { randomBytes } from 'node:crypto';
import { SSL2_ALL_KINDS } from './cipher-suites.js';

/**
 * SSL 2.0 CLIENT-HELLO and SERVER-HELLO (Netscape's SSL 2.0 draft, 1995). No TLS library on this
 * machine speaks SSLv2 any more, yet old device firmware still does: the only way to see it is to
 * send the hello ourselves. Parsing is total: any byte string gives a result, never an exception.
 */

export const SSL2_VERSION = 0x0002;

const MSG_ERROR = 0;
const MSG_CLIENT_HELLO = 1;
const MSG_SERVER_HELLO = 4;

/** SSLv2 ERROR codes (draft appendix B). */
export const SSL2_ERRORS: ReadonlyMap<number, string> = new Map([
  [0x0001, 'NO-CIPHER-ERROR'],
  [0x0002, 'NO-CERTIFICATE-ERROR'],
  [0x0004, 'BAD-CERTIFICATE-ERROR'],
  [0x0006, 'UNSUPPORTED-CERTIFICATE-TYPE-ERROR'],
]);

/** Largest body a 2-byte SSLv2 record header can announce. */
const MAX_RECORD = 0x7fff;

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
}

/** A 2-byte-header record (high bit set, 15-bit length): the form clients and servers use without padding. */
function record(body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x80 | ((body.length >> 8) & 0x7f), body.length & 0xff]), body]);
}

function kindBytes(kinds: readonly number[]): Buffer {
  const out = Buffer.alloc(kinds.length * 3);
  kinds.forEach((k, i) => out.writeUIntBE(k & 0xffffff, i * 3, 3));
  return out;
}

export interface Ssl2ClientHelloOptions {
  /** 3-byte CIPHER-KINDs. Default: every SSLv2 kind. */
  kinds?: readonly number[];
  /** 16 to 32 bytes. Default: 16 random bytes. */
  challenge?: Buffer;
}

/** An SSLv2 CLIENT-HELLO with version 0x0002: only a server that really speaks SSLv2 answers it in kind. */
export function buildSsl2ClientHello(options: Ssl2ClientHelloOptions = {}): Buffer {
  const kinds = options.kinds ?? SSL2_ALL_KINDS;
  const challenge = options.challenge ?? randomBytes(16);
  const specs = kindBytes(kinds);
  const body = Buffer.concat([
    Buffer.from([MSG_CLIENT_HELLO]),
    u16(SSL2_VERSION),
    u16(specs.length),
    u16(0), // session-id length: no resumption
    u16(challenge.length),
    specs,
    challenge,
  ]);
  return record(body);
}

export interface Ssl2ServerHello {
  kind: 'server-hello';
  /** SERVER-VERSION; 0x0002 for a real SSLv2 server. */
  version: number;
  sessionIdHit: boolean;
  /** 1 = X.509 certificate. */
  certificateType: number;
  /** The server certificate, DER (absent when the server sent none, e.g. on a session-id hit). */
  certificate?: Buffer;
  /** Cipher kinds the server offers (those it shares with the client, on a conforming server). */
  cipherSpecs: number[];
  connectionId: Buffer;
}

export type Ssl2Answer =
  | Ssl2ServerHello
  /** The server refused in SSLv2 (e.g. NO-CIPHER-ERROR): it still speaks SSLv2. */
  | { kind: 'error'; code: number }
  /** Looks like SSLv2 so far; more bytes are needed. */
  | { kind: 'incomplete' }
  /** Not an SSLv2 answer (a TLS alert, text, noise). */
  | { kind: 'not-ssl2' };

/** Body length of a 2-byte-header SSLv2 record at the start of `data`, or undefined if there is none. */
function recordLength(data: Buffer): number | undefined {
  const b0 = data[0];
  const b1 = data[1];
  if (b0 === undefined || b1 === undefined || (b0 & 0x80) === 0) return undefined;
  return ((b0 & 0x7f) << 8) | b1;
}

/**
 * Whether the bytes so far hold a complete answer to an SSLv2 hello: one SSLv2 record, one TLS record
 * (a server without SSLv2 answering with an alert), or bytes that are neither.
 */
export function ssl2AnswerComplete(data: Buffer): boolean {
  if (data.length < 2) return false;
  const length = recordLength(data);
  if (length !== undefined) return data.length >= 2 + length;
  const type = data[0];
  if ((type === 21 || type === 22) && data[1] === 3) return data.length >= 5 && data.length >= 5 + data.readUInt16BE(3);
  return true;
}

/** Parse the first record of an answer to an SSLv2 CLIENT-HELLO. */
export function parseSsl2Answer(data: Buffer): Ssl2Answer {
  if (data.length < 2) return data.length === 0 || (data[0] ?? 0) & 0x80 ? { kind: 'incomplete' } : { kind: 'not-ssl2' };
  const length = recordLength(data);
  if (length === undefined || length === 0 || length > MAX_RECORD) return { kind: 'not-ssl2' };
  const body = data.subarray(2, 2 + length);
  const type = body[0];
  if (type === undefined) return { kind: 'incomplete' };
  if (type === MSG_ERROR) {
    if (body.length < 3) return body.length < length ? { kind: 'incomplete' } : { kind: 'not-ssl2' };
    return { kind: 'error', code: body.readUInt16BE(1) };
  }
  if (type !== MSG_SERVER_HELLO) return { kind: 'not-ssl2' };
  if (body.length < length) return { kind: 'incomplete' };
  if (body.length < 11) return { kind: 'not-ssl2' };
  const sessionIdHit = body[1] !== 0;
  const certificateType = body[2] ?? 0;
  const version = body.readUInt16BE(3);
  const certLength = body.readUInt16BE(5);
  const specsLength = body.readUInt16BE(7);
  const connLength = body.readUInt16BE(9);
  // The three fields must fill the record exactly; anything else is not a SERVER-HELLO.
  if (11 + certLength + specsLength + connLength !== body.length || specsLength % 3 !== 0) return { kind: 'not-ssl2' };
  let off = 11;
  const certificate = certLength > 0 ? Buffer.from(body.subarray(off, off + certLength)) : undefined;
  off += certLength;
  const cipherSpecs: number[] = [];
  for (let i = 0; i < specsLength; i += 3) cipherSpecs.push(body.readUIntBE(off + i, 3));
  off += specsLength;
  const connectionId = Buffer.from(body.subarray(off, off + connLength));
  const hello: Ssl2ServerHello = { kind: 'server-hello', version, sessionIdHit, certificateType, cipherSpecs, connectionId };
  if (certificate) hello.certificate = certificate;
  return hello;
}

/** An SSLv2 SERVER-HELLO, for test responders that play an old SSLv2 server. */
export function buildSsl2ServerHello(options: { certificate: Buffer; kinds: readonly number[]; connectionId?: Buffer }): Buffer {
  const specs = kindBytes(options.kinds);
  const connectionId = options.connectionId ?? randomBytes(16);
  const body = Buffer.concat([
    Buffer.from([MSG_SERVER_HELLO, 0, 1]), // no session-id hit; certificate type X.509
    u16(SSL2_VERSION),
    u16(options.certificate.length),
    u16(specs.length),
    u16(connectionId.length),
    options.certificate,
    specs,
    connectionId,
  ]);
  if (body.length > MAX_RECORD) throw new RangeError(`SSLv2 SERVER-HELLO of ${body.length} bytes does not fit one record`);
  return record(body);
}

/** An SSLv2 ERROR message. */
export function buildSsl2Error(code: number): Buffer {
  return record(Buffer.concat([Buffer.from([MSG_ERROR]), u16(code)]));
}

export interface Ssl2ClientHello {
  version: number;
  kinds: number[];
  challenge: Buffer;
}

/** Parse an SSLv2 CLIENT-HELLO (2-byte header), for test responders; undefined when it is not one. */
export function parseSsl2ClientHello(data: Buffer): Ssl2ClientHello | undefined {
  const length = recordLength(data);
  if (length === undefined || data.length < 2 + length || length < 9) return undefined;
  const body = data.subarray(2, 2 + length);
  if (body[0] !== MSG_CLIENT_HELLO) return undefined;
  const version = body.readUInt16BE(1);
  const specsLength = body.readUInt16BE(3);
  const sidLength = body.readUInt16BE(5);
  const challengeLength = body.readUInt16BE(7);
  if (9 + specsLength + sidLength + challengeLength !== body.length || specsLength % 3 !== 0) return undefined;
  const kinds: number[] = [];
  for (let i = 0; i < specsLength; i += 3) kinds.push(body.readUIntBE(9 + i, 3));
  return { version, kinds, challenge: Buffer.from(body.subarray(9 + specsLength + sidLength)) };
}
