import { randomBytes, timingSafeEqual } from 'node:crypto';
import { debug } from './listen.js';
import {
  ALERT,
  CIPHER_SUITES,
  CONTENT,
  deriveKeys,
  DTLS_1_2,
  DtlsAlert,
  encodeHandshake,
  encodeRecord,
  HANDSHAKE,
  isWhole,
  open,
  parseHandshakes,
  Reader,
  ReplayWindow,
  seal,
  u16,
  verifyData,
  type CipherSuite,
  type DtlsRecord,
  type HandshakeFragment,
  type SessionKeys,
} from './dtls-record.js';

/**
 * One DTLS 1.2 PSK session of the lab server, from the ClientHello that carried a valid cookie to
 * close: ServerHello [+ ServerKeyExchange] + ServerHelloDone, then ClientKeyExchange, ChangeCipherSpec
 * and Finished from the client, our ChangeCipherSpec and Finished, then application data.
 *
 * Whatever goes wrong in the handshake is thrown as a DtlsAlert, sent as a fatal alert and ends the
 * session: a wrong key shows as a client Finished that does not authenticate (bad_record_mac), an
 * identity we do not know as unknown_psk_identity. Records of an open session that do not
 * authenticate are dropped silently (RFC 6347 §4.1.2.7).
 */

/** A handshake message body we reassemble at most: a PSK ClientKeyExchange or a Finished is far smaller. */
const MAX_HANDSHAKE_BYTES = 2048;
/** `renegotiation_info` (RFC 5746); TLS_EMPTY_RENEGOTIATION_INFO_SCSV signals the same. */
const RENEGOTIATION_INFO = 0xff01;
const RENEGOTIATION_SCSV = 0x00ff;

export interface ClientHello {
  version: number;
  random: Buffer;
  sessionId: Buffer;
  cookie: Buffer;
  suites: number[];
  compressions: Buffer;
  extensions: number[];
}

/** The ClientHello fields the server uses; throws a decode_error DtlsAlert on a malformed one. */
export function parseClientHello(body: Buffer): ClientHello {
  const r = new Reader(body);
  const version = r.uint(2);
  const random = r.bytes(32);
  const sessionId = r.vector(1);
  const cookie = r.vector(1);
  const suiteBytes = r.vector(2);
  if (suiteBytes.length % 2 !== 0 || sessionId.length > 32) throw new DtlsAlert(ALERT.decodeError, 'malformed ClientHello');
  const suites = Array.from({ length: suiteBytes.length / 2 }, (_, i) => suiteBytes.readUInt16BE(i * 2));
  const compressions = r.vector(1);
  const extensions: number[] = [];
  if (r.remaining > 0) {
    const ext = new Reader(r.vector(2));
    while (ext.remaining > 0) {
      extensions.push(ext.uint(2));
      ext.vector(2);
    }
  }
  return { version, random, sessionId, cookie, suites, compressions, extensions };
}

/** Our first suite the client offers; a fatal alert when there is none or the client cannot do DTLS 1.2. */
export function negotiate(hello: ClientHello): CipherSuite {
  // Versions count down: anything numerically above 0xfefd is older than DTLS 1.2.
  if (hello.version > DTLS_1_2) throw new DtlsAlert(ALERT.protocolVersion, `client offers DTLS version 0x${hello.version.toString(16)} only; 1.2 required`);
  if (!hello.compressions.includes(0)) throw new DtlsAlert(ALERT.handshakeFailure, 'client does not offer null compression');
  const suite = CIPHER_SUITES.find((s) => hello.suites.includes(s.id));
  if (!suite) throw new DtlsAlert(ALERT.handshakeFailure, 'no PSK AES-128 CCM_8 or GCM suite offered');
  return suite;
}

export interface PskEntry {
  identity: Buffer;
  key: Buffer;
}

export interface SessionOptions {
  psks: readonly PskEntry[];
  /** PSK identity hint sent in a ServerKeyExchange; without one, no ServerKeyExchange is sent. */
  hint?: Buffer;
  /** The application over the session (CoAP): request plaintext in, response plaintext out. */
  application: (plaintext: Buffer) => Buffer | undefined;
  send: (datagram: Buffer) => void;
  /** Called once when the session ends, however it ends. */
  onClose: () => void;
  /** `host:port` of the client, for NODE_DEBUG=iot-lab. */
  label: string;
}

/** The ClientHello that passed the cookie check, as received. */
export interface VerifiedHello {
  hello: ClientHello;
  suite: CipherSuite;
  /** The whole message with its handshake header: the first entry of the Finished hash. */
  message: Buffer;
  messageSeq: number;
  recordSeq: number;
}

type State = 'awaiting-key-exchange' | 'awaiting-change-cipher-spec' | 'awaiting-finished' | 'open' | 'closed';

/** Starts the handshake at construction: the ServerHello flight is sent at once. */
export class DtlsSession {
  readonly createdAt = Date.now();
  lastActivity = Date.now();
  readonly clientRandom: Buffer;
  #state: State = 'awaiting-key-exchange';
  readonly #options: SessionOptions;
  readonly #suite: CipherSuite;
  readonly #serverRandom = randomBytes(32);
  /** Handshake messages from the verified ClientHello on, unfragmented, for the Finished hashes. */
  #transcript: Buffer[];
  /** message_seq expected next from the client, and the next one we send. */
  #clientSeq: number;
  #serverSeq: number;
  /** Next record sequence number to write, per epoch. */
  readonly #writeSeq: [number, number];
  #keys: SessionKeys | undefined;
  #lastFlight = Buffer.alloc(0);
  readonly #replay = new ReplayWindow();
  #partial: { seq: number; body: Buffer; filled: Uint8Array; missing: number } | undefined;

  constructor(options: SessionOptions, verified: VerifiedHello) {
    this.#options = options;
    this.#suite = verified.suite;
    this.clientRandom = verified.hello.random;
    this.#transcript = [verified.message];
    this.#clientSeq = verified.messageSeq + 1;
    // After a stateless cookie exchange the server continues from the client's numbers (RFC 6347 §4.2.1).
    this.#serverSeq = verified.messageSeq;
    this.#writeSeq = [verified.recordSeq, 0];
    this.#sendServerHello(verified.hello);
  }

  get state(): State {
    return this.#state;
  }

  /** Sends the last flight again: the client repeated its own, so ours was lost. */
  resend(): void {
    if (this.#state !== 'closed') this.#options.send(this.#lastFlight);
  }

  close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#options.onClose();
  }

  receive(record: DtlsRecord): void {
    if (this.#state === 'closed') return;
    try {
      this.#receive(record);
    } catch (error) {
      if (!(error instanceof DtlsAlert)) throw error;
      debug('dtls %s: fatal alert %d: %s', this.#options.label, error.description, error.message);
      const alert = Buffer.from([2, error.description]);
      this.#options.send(this.#state === 'open' ? this.#seal(CONTENT.alert, alert) : encodeRecord(CONTENT.alert, DTLS_1_2, 0, this.#nextSeq(0), alert));
      this.close();
    }
  }

  #nextSeq(epoch: 0 | 1): number {
    return this.#writeSeq[epoch]++;
  }

  #seal(type: number, plaintext: Buffer): Buffer {
    if (!this.#keys) throw new DtlsAlert(ALERT.unexpectedMessage, 'no keys yet');
    return seal(this.#suite, this.#keys.server, { type, version: DTLS_1_2, epoch: 1, seq: this.#nextSeq(1) }, plaintext);
  }

  #sendServerHello(hello: ClientHello): void {
    const wantsRenegotiationInfo = hello.suites.includes(RENEGOTIATION_SCSV) || hello.extensions.includes(RENEGOTIATION_INFO);
    // OpenSSL 3 clients refuse a server that does not confirm secure renegotiation; we never renegotiate.
    const extensions = wantsRenegotiationInfo ? Buffer.concat([u16(RENEGOTIATION_INFO), u16(1), Buffer.from([0])]) : Buffer.alloc(0);
    const body = Buffer.concat([u16(DTLS_1_2), this.#serverRandom, Buffer.from([0]), u16(this.#suite.id), Buffer.from([0]), ...(extensions.length ? [u16(extensions.length), extensions] : [])]);
    const messages = [encodeHandshake(HANDSHAKE.serverHello, this.#serverSeq++, body)];
    const { hint } = this.#options;
    if (hint) messages.push(encodeHandshake(HANDSHAKE.serverKeyExchange, this.#serverSeq++, Buffer.concat([u16(hint.length), hint])));
    messages.push(encodeHandshake(HANDSHAKE.serverHelloDone, this.#serverSeq++, Buffer.alloc(0)));
    this.#transcript.push(...messages);
    this.#lastFlight = Buffer.concat(messages.map((m) => encodeRecord(CONTENT.handshake, DTLS_1_2, 0, this.#nextSeq(0), m)));
    this.#options.send(this.#lastFlight);
  }

  #receive(record: DtlsRecord): void {
    if (record.epoch === 0) {
      // Once open, epoch-0 records are leftovers of the handshake; plaintext application data never counts.
      if (this.#state === 'open') return;
      if (record.type === CONTENT.handshake) this.#onPlainHandshake(record.fragment);
      else if (record.type === CONTENT.changeCipherSpec) this.#onChangeCipherSpec(record.fragment);
      else if (record.type === CONTENT.alert) this.#onAlert(record.fragment);
      return;
    }
    // Epoch-1 records before the client's ChangeCipherSpec came out of order: the client will repeat them.
    if (record.epoch !== 1 || !this.#keys || (this.#state !== 'awaiting-finished' && this.#state !== 'open')) return;
    if (!this.#replay.isFresh(record.seq)) return;
    const plaintext = open(this.#suite, this.#keys.client, record);
    if (!plaintext) {
      // Both sides derive the keys from the PSK: a Finished that does not decrypt means another key.
      if (this.#state === 'awaiting-finished') throw new DtlsAlert(ALERT.badRecordMac, 'the client Finished does not authenticate (wrong PSK)');
      return;
    }
    this.#replay.mark(record.seq);
    this.lastActivity = Date.now();
    if (record.type === CONTENT.handshake) this.#onEncryptedHandshake(plaintext);
    else if (record.type === CONTENT.applicationData && this.#state === 'open') this.#onApplicationData(plaintext);
    else if (record.type === CONTENT.alert) this.#onAlert(plaintext);
  }

  /** The whole body once every byte of message `f.messageSeq` has come; fragments may overlap. */
  #reassemble(f: HandshakeFragment): Buffer | undefined {
    if (isWhole(f)) return f.body;
    if (f.length > MAX_HANDSHAKE_BYTES) throw new DtlsAlert(ALERT.decodeError, `handshake message of ${f.length} bytes`);
    if (this.#partial?.seq !== f.messageSeq || this.#partial.body.length !== f.length) {
      this.#partial = { seq: f.messageSeq, body: Buffer.alloc(f.length), filled: new Uint8Array(f.length), missing: f.length };
    }
    const p = this.#partial;
    f.body.copy(p.body, f.offset);
    for (let i = f.offset; i < f.offset + f.body.length; i++) {
      if (p.filled[i] === 0) p.missing--;
      p.filled[i] = 1;
    }
    if (p.missing > 0) return undefined;
    this.#partial = undefined;
    return p.body;
  }

  #onPlainHandshake(fragment: Buffer): void {
    for (const f of parseHandshakes(fragment)) {
      // Older: a repeat of something handled (the server-level code answers a repeated ClientHello).
      // Newer: out of order; the client repeats its flight.
      if (f.messageSeq !== this.#clientSeq) continue;
      if (this.#state !== 'awaiting-key-exchange' || f.type !== HANDSHAKE.clientKeyExchange) throw new DtlsAlert(ALERT.unexpectedMessage, `handshake message ${f.type} in state ${this.#state}`);
      const body = this.#reassemble(f);
      if (body) this.#onKeyExchange(body);
    }
  }

  #onKeyExchange(body: Buffer): void {
    const r = new Reader(body);
    const identity = r.vector(2);
    if (r.remaining > 0) throw new DtlsAlert(ALERT.decodeError, 'bytes after the PSK identity');
    const entry = this.#options.psks.find((p) => p.identity.equals(identity));
    if (!entry) throw new DtlsAlert(ALERT.unknownPskIdentity, `unknown PSK identity (${identity.length} bytes)`);
    this.#transcript.push(encodeHandshake(HANDSHAKE.clientKeyExchange, this.#clientSeq++, body));
    this.#keys = deriveKeys(entry.key, this.clientRandom, this.#serverRandom);
    this.#state = 'awaiting-change-cipher-spec';
  }

  #onChangeCipherSpec(fragment: Buffer): void {
    if (this.#state === 'awaiting-key-exchange') throw new DtlsAlert(ALERT.unexpectedMessage, 'ChangeCipherSpec before the key exchange');
    if (this.#state !== 'awaiting-change-cipher-spec') return;
    if (fragment.length !== 1 || fragment[0] !== 1) throw new DtlsAlert(ALERT.decodeError, 'malformed ChangeCipherSpec');
    this.#state = 'awaiting-finished';
  }

  #onEncryptedHandshake(plaintext: Buffer): void {
    for (const f of parseHandshakes(plaintext)) {
      if (this.#state === 'open') {
        // The client repeats its Finished flight: our Finished did not arrive.
        if (f.type === HANDSHAKE.finished) this.resend();
        continue;
      }
      if (f.messageSeq !== this.#clientSeq || f.type !== HANDSHAKE.finished) throw new DtlsAlert(ALERT.unexpectedMessage, `encrypted handshake message ${f.type} (seq ${f.messageSeq}) instead of Finished`);
      const body = this.#reassemble(f);
      if (body) this.#onFinished(body);
    }
  }

  #onFinished(body: Buffer): void {
    const keys = this.#keys;
    if (!keys) throw new DtlsAlert(ALERT.unexpectedMessage, 'Finished before the key exchange');
    const expected = verifyData(keys.master, 'client finished', this.#transcript);
    if (body.length !== expected.length || !timingSafeEqual(body, expected)) throw new DtlsAlert(ALERT.decryptError, 'the client Finished does not verify');
    this.#transcript.push(encodeHandshake(HANDSHAKE.finished, this.#clientSeq++, body));
    const finished = encodeHandshake(HANDSHAKE.finished, this.#serverSeq++, verifyData(keys.master, 'server finished', this.#transcript));
    this.#transcript = [];
    this.#lastFlight = Buffer.concat([encodeRecord(CONTENT.changeCipherSpec, DTLS_1_2, 0, this.#nextSeq(0), Buffer.from([1])), this.#seal(CONTENT.handshake, finished)]);
    this.#state = 'open';
    debug('dtls %s: session open (%s)', this.#options.label, this.#suite.name);
    this.#options.send(this.#lastFlight);
  }

  #onApplicationData(plaintext: Buffer): void {
    const reply = this.#options.application(plaintext);
    if (reply) this.#options.send(this.#seal(CONTENT.applicationData, reply));
  }

  #onAlert(fragment: Buffer): void {
    const [level, description] = fragment;
    // close_notify or any fatal alert ends the session; a warning does not.
    if (description === ALERT.closeNotify || level === 2) this.close();
  }
}
