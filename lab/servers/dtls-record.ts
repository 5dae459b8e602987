import { createCipheriv, createDecipheriv, createHash, createHmac } from 'node:crypto';
import { LabError } from '../errors.js';

/**
 * DTLS 1.2 (RFC 6347) record layer and key schedule for the lab's PSK server: record and handshake
 * framing, the TLS 1.2 PRF (RFC 5246 §5) with SHA-256, PSK key derivation (RFC 4279 §2) and the two AEAD
 * suites CoAP devices use. No state lives here; dtls-session.ts and dtls.ts hold it.
 */

export const CONTENT = { changeCipherSpec: 20, alert: 21, handshake: 22, applicationData: 23 } as const;
export const HANDSHAKE = { clientHello: 1, serverHello: 2, helloVerifyRequest: 3, serverKeyExchange: 12, serverHelloDone: 14, clientKeyExchange: 16, finished: 20 } as const;
export const ALERT = { closeNotify: 0, unexpectedMessage: 10, badRecordMac: 20, handshakeFailure: 40, illegalParameter: 47, decodeError: 50, decryptError: 51, protocolVersion: 70, unknownPskIdentity: 115 } as const;
/** DTLS versions count down: 1.0 is 0xfeff, 1.2 is 0xfefd. */
export const DTLS_1_0 = 0xfeff;
export const DTLS_1_2 = 0xfefd;

const RECORD_HEADER = 13;
const HANDSHAKE_HEADER = 12;
/** Largest record fragment accepted: 2^14 plaintext plus 2048 of expansion (RFC 6347 §4.1.1). */
const MAX_FRAGMENT = 16384 + 2048;

/**
 * A fatal alert to send, thrown by message parsing and the handshake; the session catches it, sends
 * the alert and ends. It never leaves the DTLS server.
 */
export class DtlsAlert extends LabError {
  constructor(
    readonly description: number,
    message: string,
  ) {
    super(`dtls: ${message}`);
  }
}

/** Bounds-checked reads; a short message is a decode_error, as RFC 5246 §7.2.2 asks. */
export class Reader {
  #at = 0;
  constructor(readonly buffer: Buffer) {}
  get remaining(): number {
    return this.buffer.length - this.#at;
  }
  bytes(n: number): Buffer {
    if (n > this.remaining) throw new DtlsAlert(ALERT.decodeError, 'message shorter than its fields');
    const out = this.buffer.subarray(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }
  uint(n: 1 | 2 | 3): number {
    return this.bytes(n).readUIntBE(0, n);
  }
  /** A length-prefixed vector, the length `n` bytes wide. */
  vector(n: 1 | 2): Buffer {
    return this.bytes(this.uint(n));
  }
}

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u24(n: number): Buffer {
  return Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
}

export interface DtlsRecord {
  type: number;
  version: number;
  epoch: number;
  /** The 48-bit record sequence number. */
  seq: number;
  fragment: Buffer;
}

/**
 * The records of one datagram. Parsing stops at the first record that is not DTLS or is cut short
 * (RFC 6347 §4.1.2.7: invalid records are discarded); garbage yields no records.
 */
export function parseRecords(datagram: Buffer): DtlsRecord[] {
  const records: DtlsRecord[] = [];
  let at = 0;
  while (at + RECORD_HEADER <= datagram.length) {
    const type = datagram[at] ?? 0;
    const version = datagram.readUInt16BE(at + 1);
    const length = datagram.readUInt16BE(at + 11);
    if (type < CONTENT.changeCipherSpec || type > CONTENT.applicationData || (version & 0xff00) !== 0xfe00) break;
    if (length > MAX_FRAGMENT || at + RECORD_HEADER + length > datagram.length) break;
    records.push({ type, version, epoch: datagram.readUInt16BE(at + 3), seq: datagram.readUIntBE(at + 5, 6), fragment: datagram.subarray(at + RECORD_HEADER, at + RECORD_HEADER + length) });
    at += RECORD_HEADER + length;
  }
  return records;
}

function recordHeader(type: number, version: number, epoch: number, seq: number, length: number): Buffer {
  const header = Buffer.alloc(RECORD_HEADER);
  header[0] = type;
  header.writeUInt16BE(version, 1);
  header.writeUInt16BE(epoch, 3);
  header.writeUIntBE(seq, 5, 6);
  header.writeUInt16BE(length, 11);
  return header;
}

export function encodeRecord(type: number, version: number, epoch: number, seq: number, fragment: Buffer): Buffer {
  return Buffer.concat([recordHeader(type, version, epoch, seq, fragment.length), fragment]);
}

/** One handshake message or fragment of one, with its DTLS header fields. */
export interface HandshakeFragment {
  type: number;
  /** Length of the whole message body. */
  length: number;
  messageSeq: number;
  offset: number;
  body: Buffer;
}

export function isWhole(f: HandshakeFragment): boolean {
  return f.offset === 0 && f.body.length === f.length;
}

/** The handshake fragments in one record's plaintext. */
export function parseHandshakes(fragment: Buffer): HandshakeFragment[] {
  const r = new Reader(fragment);
  const out: HandshakeFragment[] = [];
  while (r.remaining > 0) {
    if (r.remaining < HANDSHAKE_HEADER) throw new DtlsAlert(ALERT.decodeError, 'truncated handshake header');
    const type = r.uint(1);
    const length = r.uint(3);
    const messageSeq = r.uint(2);
    const offset = r.uint(3);
    const body = r.bytes(r.uint(3));
    if (offset + body.length > length) throw new DtlsAlert(ALERT.decodeError, 'handshake fragment past the message end');
    out.push({ type, length, messageSeq, offset, body });
  }
  return out;
}

/**
 * A whole handshake message with its 12-byte header, unfragmented: the form it is sent in and the
 * form the Finished hash covers (RFC 6347 §4.2.6), whatever fragments it arrived in.
 */
export function encodeHandshake(type: number, messageSeq: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type]), u24(body.length), u16(messageSeq), u24(0), u24(body.length), body]);
}

const hmac = (key: Buffer, data: Buffer): Buffer => createHmac('sha256', key).update(data).digest();

/** TLS 1.2 PRF with SHA-256 (RFC 5246 §5): P_SHA256(secret, label + seed). */
export function prf(secret: Buffer, label: string, seed: Buffer, length: number): Buffer {
  const labelSeed = Buffer.concat([Buffer.from(label, 'ascii'), seed]);
  const blocks: Buffer[] = [];
  let a: Buffer = labelSeed;
  for (let produced = 0; produced < length; produced += 32) {
    a = hmac(secret, a);
    blocks.push(hmac(secret, Buffer.concat([a, labelSeed])));
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** Plain PSK premaster secret (RFC 4279 §2): uint16 N, N zero bytes, uint16 N, the PSK. */
export function pskPremaster(psk: Buffer): Buffer {
  return Buffer.concat([u16(psk.length), Buffer.alloc(psk.length), u16(psk.length), psk]);
}

export interface CipherSuite {
  id: number;
  name: string;
  cipher: 'aes-128-ccm' | 'aes-128-gcm';
  tagLength: 8 | 16;
}

/** In server preference order: CCM_8 is CoAP's mandatory suite (RFC 7252 §9.1.3.1). Both use the SHA-256 PRF. */
export const CIPHER_SUITES: readonly CipherSuite[] = [
  { id: 0xc0a8, name: 'TLS_PSK_WITH_AES_128_CCM_8', cipher: 'aes-128-ccm', tagLength: 8 },
  { id: 0x00a8, name: 'TLS_PSK_WITH_AES_128_GCM_SHA256', cipher: 'aes-128-gcm', tagLength: 16 },
];

/** One direction's AEAD key and 4-byte implicit IV (salt). */
export interface TrafficKeys {
  key: Buffer;
  iv: Buffer;
}

export interface SessionKeys {
  master: Buffer;
  client: TrafficKeys;
  server: TrafficKeys;
}

/** Master secret and key block for an AEAD suite: 16-byte keys, 4-byte implicit IVs, no MAC keys. */
export function deriveKeys(psk: Buffer, clientRandom: Buffer, serverRandom: Buffer): SessionKeys {
  const master = prf(pskPremaster(psk), 'master secret', Buffer.concat([clientRandom, serverRandom]), 48);
  const block = prf(master, 'key expansion', Buffer.concat([serverRandom, clientRandom]), 40);
  return {
    master,
    client: { key: block.subarray(0, 16), iv: block.subarray(32, 36) },
    server: { key: block.subarray(16, 32), iv: block.subarray(36, 40) },
  };
}

/** verify_data of a Finished message: PRF(master, label, SHA-256(handshake messages)), 12 bytes. */
export function verifyData(master: Buffer, label: 'client finished' | 'server finished', transcript: readonly Buffer[]): Buffer {
  const hash = createHash('sha256');
  for (const message of transcript) hash.update(message);
  return prf(master, label, hash.digest(), 12);
}

/** AEAD additional data: epoch and sequence (8 bytes), type, version, plaintext length (RFC 5246 §6.2.3.3). */
function additionalData(record: { type: number; version: number; epoch: number; seq: number }, length: number): Buffer {
  const header = recordHeader(record.type, record.version, record.epoch, record.seq, length);
  return Buffer.concat([header.subarray(3, 11), header.subarray(0, 3), header.subarray(11)]);
}

function encrypt(suite: CipherSuite, key: Buffer, nonce: Buffer, aad: Buffer, plaintext: Buffer): Buffer {
  const authTagLength = suite.tagLength;
  if (suite.cipher === 'aes-128-ccm') {
    const c = createCipheriv('aes-128-ccm', key, nonce, { authTagLength });
    c.setAAD(aad, { plaintextLength: plaintext.length });
    return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
  }
  const c = createCipheriv('aes-128-gcm', key, nonce, { authTagLength });
  c.setAAD(aad);
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
}

/** Throws when the tag does not verify (OpenSSL reports it from final()). */
function decrypt(suite: CipherSuite, key: Buffer, nonce: Buffer, aad: Buffer, ciphertext: Buffer, tag: Buffer): Buffer {
  const authTagLength = suite.tagLength;
  if (suite.cipher === 'aes-128-ccm') {
    const d = createDecipheriv('aes-128-ccm', key, nonce, { authTagLength });
    d.setAuthTag(tag);
    d.setAAD(aad, { plaintextLength: ciphertext.length });
    return Buffer.concat([d.update(ciphertext), d.final()]);
  }
  const d = createDecipheriv('aes-128-gcm', key, nonce, { authTagLength });
  d.setAuthTag(tag);
  d.setAAD(aad);
  return Buffer.concat([d.update(ciphertext), d.final()]);
}

/**
 * An encrypted record. The 8-byte explicit nonce is the record's epoch and sequence number (RFC 6655
 * §3 for CCM; any unique value would do for GCM), after the 4-byte implicit IV.
 */
export function seal(suite: CipherSuite, keys: TrafficKeys, record: { type: number; version: number; epoch: number; seq: number }, plaintext: Buffer): Buffer {
  const explicit = Buffer.concat([u16(record.epoch), Buffer.alloc(6)]);
  explicit.writeUIntBE(record.seq, 2, 6);
  const sealed = encrypt(suite, keys.key, Buffer.concat([keys.iv, explicit]), additionalData(record, plaintext.length), plaintext);
  return encodeRecord(record.type, record.version, record.epoch, record.seq, Buffer.concat([explicit, sealed]));
}

/** The plaintext of an encrypted record, or undefined when it does not authenticate (wrong keys, tampering). */
export function open(suite: CipherSuite, keys: TrafficKeys, record: DtlsRecord): Buffer | undefined {
  const { fragment } = record;
  if (fragment.length < 8 + suite.tagLength) return undefined;
  const ciphertext = fragment.subarray(8, fragment.length - suite.tagLength);
  const nonce = Buffer.concat([keys.iv, fragment.subarray(0, 8)]);
  try {
    return decrypt(suite, keys.key, nonce, additionalData(record, ciphertext.length), ciphertext, fragment.subarray(fragment.length - suite.tagLength));
  } catch {
    // A tag mismatch surfaces as an exception from final(): that is the "does not authenticate" answer.
    return undefined;
  }
}

/** Anti-replay window of 64 records (RFC 6347 §4.1.2.6) for one epoch. */
export class ReplayWindow {
  #highest = -1;
  #seen = 0n;
  /** False for a record already received or too old to tell. */
  isFresh(seq: number): boolean {
    if (seq > this.#highest) return true;
    const age = this.#highest - seq;
    return age < 64 && ((this.#seen >> BigInt(age)) & 1n) === 0n;
  }
  /** Call only for records that authenticated. */
  mark(seq: number): void {
    if (seq > this.#highest) {
      const shift = seq - this.#highest;
      this.#seen = shift >= 64 ? 1n : ((this.#seen << BigInt(shift)) | 1n) & 0xffffffffffffffffn;
      this.#highest = seq;
    } else this.#seen |= 1n << BigInt(this.#highest - seq);
  }
}
