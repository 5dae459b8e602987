import { randomBytes } from 'node:crypto';

/**
 * Hand-built TLS ClientHello and ServerHello parsing. Node's TLS client cannot offer SSLv3 and only
 * offers TLS 1.0/1.1 at SECLEVEL=0, so a ClientHello of our own is the only way to see what an old
 * device answers. Discovery uses the broad hello to learn "this port speaks TLS".
 */

export const TLS_VERSIONS = { 'SSLv3': 0x0300, 'TLSv1.0': 0x0301, 'TLSv1.1': 0x0302, 'TLSv1.2': 0x0303, 'TLSv1.3': 0x0304 } as const;
export type TlsVersionName = keyof typeof TLS_VERSIONS | 'SSLv2';

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

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function ext(type: number, body: Buffer): Buffer {
  return Buffer.concat([u16(type), u16(body.length), body]);
}

export interface ClientHelloOptions {
  /** Record and hello version (legacy_version); TLS 1.3 is offered through supported_versions. */
  version: number;
  ciphers: readonly number[];
  /** Versions for the supported_versions extension (TLS 1.3 negotiation). */
  supportedVersions?: readonly number[];
  serverName?: string;
}

export function buildClientHello(options: ClientHelloOptions): Buffer {
  const exts: Buffer[] = [];
  if (options.serverName) {
    const name = Buffer.from(options.serverName, 'ascii');
    const entry = Buffer.concat([Buffer.from([0]), u16(name.length), name]);
    exts.push(ext(0x0000, Buffer.concat([u16(entry.length), entry])));
  }
  // supported_groups: x25519, secp256r1, secp384r1, secp521r1
  const groups = [0x001d, 0x0017, 0x0018, 0x0019];
  exts.push(ext(0x000a, Buffer.concat([u16(groups.length * 2), ...groups.map(u16)])));
  exts.push(ext(0x000b, Buffer.from([1, 0]))); // ec_point_formats: uncompressed
  // signature_algorithms: ecdsa/rsa-pss/rsa-pkcs1 with sha256/384/512, and sha1 for old devices
  const sigs = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0201, 0x0203];
  exts.push(ext(0x000d, Buffer.concat([u16(sigs.length * 2), ...sigs.map(u16)])));
  if (options.supportedVersions?.length) {
    const vs = options.supportedVersions;
    exts.push(ext(0x002b, Buffer.concat([Buffer.from([vs.length * 2]), ...vs.map(u16)])));
    // key_share with an x25519 key: random bytes are a valid x25519 public value for a hello.
    const share = Buffer.concat([u16(0x001d), u16(32), randomBytes(32)]);
    exts.push(ext(0x0033, Buffer.concat([u16(share.length), share])));
    exts.push(ext(0x002d, Buffer.from([1, 1]))); // psk_key_exchange_modes: psk_dhe_ke
  }
  const extensions = Buffer.concat(exts);
  const body = Buffer.concat([
    u16(options.version),
    randomBytes(32),
    Buffer.from([32]),
    randomBytes(32), // legacy_session_id: middlebox-compatible TLS 1.3 servers expect one
    u16(options.ciphers.length * 2),
    ...options.ciphers.map(u16),
    Buffer.from([1, 0]), // compression: null
    u16(extensions.length),
    extensions,
  ]);
  const handshake = Buffer.concat([Buffer.from([1, (body.length >> 16) & 0xff, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
  // Record version 0x0301 for TLS 1.0+ hellos: some old stacks drop records that say 0x0303.
  return Buffer.concat([Buffer.from([22]), u16(Math.min(options.version, 0x0301)), u16(handshake.length), handshake]);
}

/** The ClientHello discovery sends: every version from TLS 1.0 to 1.3, a broad cipher list. */
export function broadClientHello(serverName?: string): Buffer {
  const options: ClientHelloOptions = { version: 0x0303, ciphers: BROAD_CIPHERS, supportedVersions: [0x0304, 0x0303, 0x0302, 0x0301] };
  if (serverName !== undefined) options.serverName = serverName;
  return buildClientHello(options);
}

export type TlsAnswer =
  | { kind: 'server-hello'; recordVersion: number; version: number; cipher: number }
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
  let off = 4;
  let version = body.readUInt16BE(off);
  off += 2 + 32;
  const sidLen = body[off] ?? 0;
  off += 1 + sidLen;
  if (body.length < off + 3) return { kind: 'incomplete' };
  const cipher = body.readUInt16BE(off);
  off += 3;
  if (body.length >= off + 2) {
    const extEnd = Math.min(body.length, off + 2 + body.readUInt16BE(off));
    off += 2;
    while (off + 4 <= extEnd) {
      const type = body.readUInt16BE(off);
      const len = body.readUInt16BE(off + 2);
      if (type === 0x002b && len === 2) version = body.readUInt16BE(off + 4);
      off += 4 + len;
    }
  }
  return { kind: 'server-hello', recordVersion, version, cipher };
}

function isPrefixOfTls(data: Buffer): boolean {
  const type = data[0];
  if (type !== 21 && type !== 22) return false;
  return data.length < 2 || data[1] === 3;
}

export function versionName(version: number): string {
  const entry = Object.entries(TLS_VERSIONS).find(([, v]) => v === version);
  return entry ? entry[0] : `0x${version.toString(16).padStart(4, '0')}`;
}
