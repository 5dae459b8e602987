import { createECDH, randomBytes } from 'node:crypto';
import { RENEGOTIATION_SCSV, TLS13_SUITES, VERSION_PROBE_SUITES, isTls12Only } from './cipher-suites.js';

/**
 * Hand-built TLS ClientHellos. Node's TLS client cannot offer SSLv3 and only offers TLS 1.0/1.1 at
 * SECLEVEL=0, so a ClientHello of our own is the only way to see what an old device answers. Discovery
 * uses the broad hello to learn "this port speaks TLS"; the TLS scan sends one hello per version.
 * What the server sends back is read by `tls-server.ts`.
 */

export const TLS_VERSIONS = { 'SSLv3': 0x0300, 'TLSv1.0': 0x0301, 'TLSv1.1': 0x0302, 'TLSv1.2': 0x0303, 'TLSv1.3': 0x0304 } as const;
export type TlsVersionName = keyof typeof TLS_VERSIONS | 'SSLv2';
/** Versions a (non-SSLv2) ClientHello can ask for. */
export type HelloVersion = keyof typeof TLS_VERSIONS;

/** A version number by its name (`TLSv1.2`...), else as hex (`0x7f1c`). */
export function versionName(version: number): string {
  const entry = Object.entries(TLS_VERSIONS).find(([, v]) => v === version);
  return entry ? entry[0] : `0x${version.toString(16).padStart(4, '0')}`;
}

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
