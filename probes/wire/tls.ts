import { createECDH, createHash, randomBytes } from 'node:crypto';
import { RENEGOTIATION_SCSV, TLS13_SUITES, VERSION_PROBE_SUITES, isTls12Only } from './cipher-suites.js';

/**
 * Hand-built TLS ClientHello and ServerHello parsing. Node's TLS client cannot offer SSLv3 and only
 * offers TLS 1.0/1.1 at SECLEVEL=0, so a ClientHello of our own is the only way to see what an old
 * device answers. Discovery uses the broad hello to learn "this port speaks TLS"; the TLS scan sends
 * one hello per version and reads the server's first flight (ServerHello up to ServerHelloDone).
 * Every parser here is total: any bytes give a result, never an exception, and nothing is copied
 * beyond what the caller already holds.
 */

export const TLS_VERSIONS = { 'SSLv3': 0x0300, 'TLSv1.0': 0x0301, 'TLSv1.1': 0x0302, 'TLSv1.2': 0x0303, 'TLSv1.3': 0x0304 } as const;
export type TlsVersionName = keyof typeof TLS_VERSIONS | 'SSLv2';
/** Versions a (non-SSLv2) ClientHello can ask for. */
export type HelloVersion = keyof typeof TLS_VERSIONS;

/** A broad cipher list: modern AEAD, CBC, legacy RSA, 3DES, RC4: whatever an old device may insist on. */
export const BROAD_CIPHERS: readonly number[] = [
  0x1301, 0x1302, 0x1303, // TLS 1.3
  0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, // ECDHE AEAD
  0xc009, 0xc013, 0xc00a, 0xc014, // ECDHE CBC
  0x009e, 0x009f, 0x0033, 0x0039, // DHE
  0x009c, 0x009d, 0x002f, 0x0035, 0x003c, 0x003d, // RSA
  0x000a, 0xc012, 0x0016, // 3DES
  0x0005, 0x0004, // RC4
  0x00ff, // renegotiation SCSV
];

/** ServerHello.random of a HelloRetryRequest: SHA-256("HelloRetryRequest") (RFC 8446 4.1.3). */
export const HELLO_RETRY_RANDOM: Buffer = createHash('sha256').update('HelloRetryRequest').digest();

const DOWNGRADE_TLS12 = Buffer.from('444f574e47524401', 'hex'); // "DOWNGRD\x01"
const DOWNGRADE_TLS11 = Buffer.from('444f574e47524400', 'hex'); // "DOWNGRD\x00"

/** Named groups for supported_groups and key_share. */
export const GROUPS = { x25519: 0x001d, secp256r1: 0x0017, secp384r1: 0x0018, secp521r1: 0x0019 } as const;
export type KeyShareGroup = 'x25519' | 'secp256r1';

// ecdsa/rsa-pss/rsa-pkcs1 with sha256/384/512, ed25519/ed448, then sha1 and DSA for old devices.
const SIGNATURE_ALGORITHMS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0807, 0x0808, 0x0603, 0x0203, 0x0201, 0x0402, 0x0202];

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
}

function ext(type: number, body: Buffer): Buffer {
  return Buffer.concat([u16(type), u16(body.length), body]);
}

function u16List(values: readonly number[]): Buffer {
  return Buffer.concat([u16(values.length * 2), ...values.map(u16)]);
}

function sniExtension(serverName: string): Buffer {
  const name = Buffer.from(serverName, 'ascii');
  const entry = Buffer.concat([Buffer.from([0]), u16(name.length), name]);
  return ext(0x0000, Buffer.concat([u16(entry.length), entry]));
}

export interface ClientHelloOptions {
  /** Record and hello version (legacy_version); TLS 1.3 is offered through supported_versions. */
  version: number;
  ciphers: readonly number[];
  /** Versions for the supported_versions extension (TLS 1.3 negotiation). */
  supportedVersions?: readonly number[];
  serverName?: string;
}

/** ClientHello handshake message in a record: version, random, session id, suites, null compression, extensions. */
function helloRecord(version: number, sessionId: Buffer, ciphers: readonly number[], extensions: Buffer[] | undefined): Buffer {
  const fixed = [u16(version), randomBytes(32), Buffer.from([sessionId.length]), sessionId, u16List(ciphers), Buffer.from([1, 0])];
  let exts = extensions;
  if (exts !== undefined) {
    // Hellos of 256-511 bytes hang some old TLS terminators (F5); pad past 512 as browsers do (RFC 7685).
    const length = 4 + fixed.reduce((n, b) => n + b.length, 0) + 2 + exts.reduce((n, b) => n + b.length, 0);
    if (length > 0xff && length < 0x200) {
      const pad = 0x200 - length >= 5 ? 0x200 - length - 4 : 1;
      exts = [...exts, ext(0x0015, Buffer.alloc(pad))];
    }
  }
  const extBlock = exts === undefined ? [] : [u16(exts.reduce((n, b) => n + b.length, 0)), ...exts];
  const body = Buffer.concat([...fixed, ...extBlock]);
  const handshake = Buffer.concat([Buffer.from([1, (body.length >> 16) & 0xff, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
  // Record version 0x0301 for TLS 1.0+ hellos: some old stacks drop records that say 0x0303.
  return Buffer.concat([Buffer.from([22]), u16(Math.min(version, 0x0301)), u16(handshake.length), handshake]);
}

export function buildClientHello(options: ClientHelloOptions): Buffer {
  const exts: Buffer[] = [];
  if (options.serverName) exts.push(sniExtension(options.serverName));
  const groups = [GROUPS.x25519, GROUPS.secp256r1, GROUPS.secp384r1, GROUPS.secp521r1];
  exts.push(ext(0x000a, u16List(groups)));
  exts.push(ext(0x000b, Buffer.from([1, 0]))); // ec_point_formats: uncompressed
  const sigs = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0201, 0x0203];
  exts.push(ext(0x000d, u16List(sigs)));
  if (options.supportedVersions?.length) {
    const vs = options.supportedVersions;
    exts.push(ext(0x002b, Buffer.concat([Buffer.from([vs.length * 2]), ...vs.map(u16)])));
    // key_share with an x25519 key: random bytes are a valid x25519 public value for a hello.
    const share = Buffer.concat([u16(0x001d), u16(32), randomBytes(32)]);
    exts.push(ext(0x0033, Buffer.concat([u16(share.length), share])));
    exts.push(ext(0x002d, Buffer.from([1, 1]))); // psk_key_exchange_modes: psk_dhe_ke
  }
  // legacy_session_id: middlebox-compatible TLS 1.3 servers expect one
  return helloRecord(options.version, randomBytes(32), options.ciphers, exts);
}

/** The ClientHello discovery sends: every version from TLS 1.0 to 1.3, a broad cipher list. */
export function broadClientHello(serverName?: string): Buffer {
  const options: ClientHelloOptions = { version: 0x0303, ciphers: BROAD_CIPHERS, supportedVersions: [0x0304, 0x0303, 0x0302, 0x0301] };
  if (serverName !== undefined) options.serverName = serverName;
  return buildClientHello(options);
}

export interface VersionHelloOptions {
  /** Suites to offer. Default: the broad version-probe list (TLS 1.3: the five TLS 1.3 suites). */
  ciphers?: readonly number[];
  serverName?: string;
  /** TLS 1.3 key shares. Default x25519; `[]` asks the server for a HelloRetryRequest. */
  keyShares?: readonly KeyShareGroup[];
  /** False: no extensions block at all below TLS 1.3, for servers that hang up on any extension. */
  extensions?: boolean;
}

/** Keep only the suites that exist at `version`: TLS 1.3 suites for 1.3, no AEAD/SHA-2 suites before 1.2. */
export function suitesForVersion(version: HelloVersion, suites: readonly number[]): number[] {
  const v = TLS_VERSIONS[version];
  if (v === 0x0304) return suites.filter((s) => TLS13_SUITES.includes(s));
  return suites.filter((s) => !TLS13_SUITES.includes(s) && (v >= 0x0303 || !isTls12Only(s)));
}

function keyShareEntry(group: KeyShareGroup): Buffer {
  // Any 32 bytes are an x25519 public value; a P-256 share must be a real point on the curve.
  const key = group === 'x25519' ? randomBytes(32) : createECDH('prime256v1').generateKeys();
  return Buffer.concat([u16(GROUPS[group]), u16(key.length), key]);
}

/**
 * A ClientHello that offers exactly one version, the way testssl.sh probes: SSLv3 as 0x0300 with no
 * extensions at all (SSLv3 stacks predate them); TLS 1.0/1.1 with the extensions their servers know
 * (SNI, curves, point formats); TLS 1.2 adds signature_algorithms; TLS 1.3 is legacy_version 0x0303
 * with supported_versions [0x0304] and a key share. The renegotiation SCSV rides along below 1.3.
 */
export function versionClientHello(version: HelloVersion, options: VersionHelloOptions = {}): Buffer {
  const v = TLS_VERSIONS[version];
  const ciphers = options.ciphers ?? suitesForVersion(version, v === 0x0304 ? TLS13_SUITES : VERSION_PROBE_SUITES);
  if (v === 0x0300 || (options.extensions === false && v < 0x0304)) return helloRecord(v, Buffer.alloc(0), withScsv(ciphers), undefined);
  const exts: Buffer[] = [];
  if (options.serverName) exts.push(sniExtension(options.serverName));
  exts.push(ext(0x000a, u16List([GROUPS.x25519, GROUPS.secp256r1, GROUPS.secp384r1, GROUPS.secp521r1])));
  exts.push(ext(0x000b, Buffer.from([1, 0])));
  if (v >= 0x0303) exts.push(ext(0x000d, u16List(SIGNATURE_ALGORITHMS)));
  if (v === 0x0304) {
    exts.push(ext(0x002b, Buffer.from([2, 0x03, 0x04])));
    const shares = Buffer.concat((options.keyShares ?? ['x25519']).map(keyShareEntry));
    exts.push(ext(0x0033, Buffer.concat([u16(shares.length), shares])));
    exts.push(ext(0x002d, Buffer.from([1, 1])));
    // A 32-byte legacy_session_id keeps middlebox-compatible servers on their usual path.
    return helloRecord(0x0303, randomBytes(32), ciphers, exts);
  }
  return helloRecord(v, Buffer.alloc(0), withScsv(ciphers), exts);
}

function withScsv(ciphers: readonly number[]): readonly number[] {
  return ciphers.includes(RENEGOTIATION_SCSV) ? ciphers : [...ciphers, RENEGOTIATION_SCSV];
}

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

export function versionName(version: number): string {
  const entry = Object.entries(TLS_VERSIONS).find(([, v]) => v === version);
  return entry ? entry[0] : `0x${version.toString(16).padStart(4, '0')}`;
}
