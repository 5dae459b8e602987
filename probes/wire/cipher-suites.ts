/**
 * TLS cipher suites (IANA registry names) and the weak classes a conformance check looks for. The
 * table holds every suite the harness offers, so any suite a server picks from our hellos has a name.
 * The 0x0060-0x0066 suites are from the expired draft-ietf-tls-56-bit-ciphersuites: never registered,
 * yet shipped by OpenSSL 0.9.x and still found in old firmware.
 */

/** The weak classes, as `tls.ciphers` reports them (DES and 3DES form one class). */
export type WeakClass = 'NULL' | 'EXPORT' | 'anonymous' | 'RC4' | 'DES/3DES';

export const WEAK_CLASS_NAMES: readonly WeakClass[] = ['NULL', 'EXPORT', 'anonymous', 'RC4', 'DES/3DES'];

/** Signals, not suites. */
export const RENEGOTIATION_SCSV = 0x00ff;

const TABLE: readonly (readonly [number, string])[] = [
  // RFC 5246 / 4346 / 2712 (0x0001-0x0046)
  [0x0001, 'TLS_RSA_WITH_NULL_MD5'], [0x0002, 'TLS_RSA_WITH_NULL_SHA'], [0x0003, 'TLS_RSA_EXPORT_WITH_RC4_40_MD5'],
  [0x0004, 'TLS_RSA_WITH_RC4_128_MD5'], [0x0005, 'TLS_RSA_WITH_RC4_128_SHA'], [0x0006, 'TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5'],
  [0x0007, 'TLS_RSA_WITH_IDEA_CBC_SHA'], [0x0008, 'TLS_RSA_EXPORT_WITH_DES40_CBC_SHA'], [0x0009, 'TLS_RSA_WITH_DES_CBC_SHA'],
  [0x000a, 'TLS_RSA_WITH_3DES_EDE_CBC_SHA'], [0x000b, 'TLS_DH_DSS_EXPORT_WITH_DES40_CBC_SHA'], [0x000c, 'TLS_DH_DSS_WITH_DES_CBC_SHA'],
  [0x000d, 'TLS_DH_DSS_WITH_3DES_EDE_CBC_SHA'], [0x000e, 'TLS_DH_RSA_EXPORT_WITH_DES40_CBC_SHA'], [0x000f, 'TLS_DH_RSA_WITH_DES_CBC_SHA'],
  [0x0010, 'TLS_DH_RSA_WITH_3DES_EDE_CBC_SHA'], [0x0011, 'TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA'], [0x0012, 'TLS_DHE_DSS_WITH_DES_CBC_SHA'],
  [0x0013, 'TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA'], [0x0014, 'TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA'], [0x0015, 'TLS_DHE_RSA_WITH_DES_CBC_SHA'],
  [0x0016, 'TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA'], [0x0017, 'TLS_DH_anon_EXPORT_WITH_RC4_40_MD5'], [0x0018, 'TLS_DH_anon_WITH_RC4_128_MD5'],
  [0x0019, 'TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA'], [0x001a, 'TLS_DH_anon_WITH_DES_CBC_SHA'], [0x001b, 'TLS_DH_anon_WITH_3DES_EDE_CBC_SHA'],
  [0x001e, 'TLS_KRB5_WITH_DES_CBC_SHA'], [0x001f, 'TLS_KRB5_WITH_3DES_EDE_CBC_SHA'], [0x0020, 'TLS_KRB5_WITH_RC4_128_SHA'],
  [0x0022, 'TLS_KRB5_WITH_DES_CBC_MD5'], [0x0023, 'TLS_KRB5_WITH_3DES_EDE_CBC_MD5'], [0x0024, 'TLS_KRB5_WITH_RC4_128_MD5'],
  [0x0026, 'TLS_KRB5_EXPORT_WITH_DES_CBC_40_SHA'], [0x0027, 'TLS_KRB5_EXPORT_WITH_RC2_CBC_40_SHA'], [0x0028, 'TLS_KRB5_EXPORT_WITH_RC4_40_SHA'],
  [0x0029, 'TLS_KRB5_EXPORT_WITH_DES_CBC_40_MD5'], [0x002a, 'TLS_KRB5_EXPORT_WITH_RC2_CBC_40_MD5'], [0x002b, 'TLS_KRB5_EXPORT_WITH_RC4_40_MD5'],
  [0x002c, 'TLS_PSK_WITH_NULL_SHA'], [0x002d, 'TLS_DHE_PSK_WITH_NULL_SHA'], [0x002e, 'TLS_RSA_PSK_WITH_NULL_SHA'],
  [0x002f, 'TLS_RSA_WITH_AES_128_CBC_SHA'], [0x0032, 'TLS_DHE_DSS_WITH_AES_128_CBC_SHA'], [0x0033, 'TLS_DHE_RSA_WITH_AES_128_CBC_SHA'],
  [0x0034, 'TLS_DH_anon_WITH_AES_128_CBC_SHA'], [0x0035, 'TLS_RSA_WITH_AES_256_CBC_SHA'], [0x0038, 'TLS_DHE_DSS_WITH_AES_256_CBC_SHA'],
  [0x0039, 'TLS_DHE_RSA_WITH_AES_256_CBC_SHA'], [0x003a, 'TLS_DH_anon_WITH_AES_256_CBC_SHA'], [0x003b, 'TLS_RSA_WITH_NULL_SHA256'],
  [0x003c, 'TLS_RSA_WITH_AES_128_CBC_SHA256'], [0x003d, 'TLS_RSA_WITH_AES_256_CBC_SHA256'], [0x0040, 'TLS_DHE_DSS_WITH_AES_128_CBC_SHA256'],
  [0x0041, 'TLS_RSA_WITH_CAMELLIA_128_CBC_SHA'], [0x0044, 'TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA'], [0x0045, 'TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA'],
  [0x0046, 'TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA'],
  // draft-ietf-tls-56-bit-ciphersuites (unregistered)
  [0x0060, 'TLS_RSA_EXPORT1024_WITH_RC4_56_MD5'], [0x0061, 'TLS_RSA_EXPORT1024_WITH_RC2_CBC_56_MD5'], [0x0062, 'TLS_RSA_EXPORT1024_WITH_DES_CBC_SHA'],
  [0x0063, 'TLS_DHE_DSS_EXPORT1024_WITH_DES_CBC_SHA'], [0x0064, 'TLS_RSA_EXPORT1024_WITH_RC4_56_SHA'], [0x0065, 'TLS_DHE_DSS_EXPORT1024_WITH_RC4_56_SHA'],
  [0x0066, 'TLS_DHE_DSS_WITH_RC4_128_SHA'],
  // RFC 5246 SHA-256 suites, Camellia (RFC 5932), PSK (RFC 4279, 4785, 5487), SEED (RFC 4162), GCM (RFC 5288)
  [0x0067, 'TLS_DHE_RSA_WITH_AES_128_CBC_SHA256'], [0x006a, 'TLS_DHE_DSS_WITH_AES_256_CBC_SHA256'], [0x006b, 'TLS_DHE_RSA_WITH_AES_256_CBC_SHA256'],
  [0x006c, 'TLS_DH_anon_WITH_AES_128_CBC_SHA256'], [0x006d, 'TLS_DH_anon_WITH_AES_256_CBC_SHA256'], [0x0084, 'TLS_RSA_WITH_CAMELLIA_256_CBC_SHA'],
  [0x0087, 'TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA'], [0x0088, 'TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA'], [0x0089, 'TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA'],
  [0x008a, 'TLS_PSK_WITH_RC4_128_SHA'], [0x008b, 'TLS_PSK_WITH_3DES_EDE_CBC_SHA'], [0x008c, 'TLS_PSK_WITH_AES_128_CBC_SHA'],
  [0x008d, 'TLS_PSK_WITH_AES_256_CBC_SHA'], [0x008e, 'TLS_DHE_PSK_WITH_RC4_128_SHA'], [0x008f, 'TLS_DHE_PSK_WITH_3DES_EDE_CBC_SHA'],
  [0x0092, 'TLS_RSA_PSK_WITH_RC4_128_SHA'], [0x0093, 'TLS_RSA_PSK_WITH_3DES_EDE_CBC_SHA'], [0x0096, 'TLS_RSA_WITH_SEED_CBC_SHA'],
  [0x009b, 'TLS_DH_anon_WITH_SEED_CBC_SHA'], [0x009c, 'TLS_RSA_WITH_AES_128_GCM_SHA256'], [0x009d, 'TLS_RSA_WITH_AES_256_GCM_SHA384'],
  [0x009e, 'TLS_DHE_RSA_WITH_AES_128_GCM_SHA256'], [0x009f, 'TLS_DHE_RSA_WITH_AES_256_GCM_SHA384'], [0x00a6, 'TLS_DH_anon_WITH_AES_128_GCM_SHA256'],
  [0x00a7, 'TLS_DH_anon_WITH_AES_256_GCM_SHA384'], [0x00a8, 'TLS_PSK_WITH_AES_128_GCM_SHA256'], [0x00a9, 'TLS_PSK_WITH_AES_256_GCM_SHA384'],
  [0x00ae, 'TLS_PSK_WITH_AES_128_CBC_SHA256'], [0x00af, 'TLS_PSK_WITH_AES_256_CBC_SHA384'], [0x00b0, 'TLS_PSK_WITH_NULL_SHA256'],
  [0x00b1, 'TLS_PSK_WITH_NULL_SHA384'], [0x00b4, 'TLS_DHE_PSK_WITH_NULL_SHA256'], [0x00b5, 'TLS_DHE_PSK_WITH_NULL_SHA384'],
  [0x00b8, 'TLS_RSA_PSK_WITH_NULL_SHA256'], [0x00b9, 'TLS_RSA_PSK_WITH_NULL_SHA384'], [0x00ba, 'TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256'],
  [0x00be, 'TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256'], [0x00bf, 'TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256'], [0x00c0, 'TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256'],
  [0x00c4, 'TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256'], [0x00c5, 'TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256'],
  [0x00ff, 'TLS_EMPTY_RENEGOTIATION_INFO_SCSV'],
  // TLS 1.3 (RFC 8446)
  [0x1301, 'TLS_AES_128_GCM_SHA256'], [0x1302, 'TLS_AES_256_GCM_SHA384'], [0x1303, 'TLS_CHACHA20_POLY1305_SHA256'],
  [0x1304, 'TLS_AES_128_CCM_SHA256'], [0x1305, 'TLS_AES_128_CCM_8_SHA256'],
  // ECC (RFC 8422, 5289), ECDHE-PSK (RFC 5489), SRP (RFC 5054)
  [0xc001, 'TLS_ECDH_ECDSA_WITH_NULL_SHA'], [0xc002, 'TLS_ECDH_ECDSA_WITH_RC4_128_SHA'], [0xc003, 'TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA'],
  [0xc004, 'TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA'], [0xc005, 'TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA'], [0xc006, 'TLS_ECDHE_ECDSA_WITH_NULL_SHA'],
  [0xc007, 'TLS_ECDHE_ECDSA_WITH_RC4_128_SHA'], [0xc008, 'TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA'], [0xc009, 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA'],
  [0xc00a, 'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA'], [0xc00b, 'TLS_ECDH_RSA_WITH_NULL_SHA'], [0xc00c, 'TLS_ECDH_RSA_WITH_RC4_128_SHA'],
  [0xc00d, 'TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA'], [0xc00e, 'TLS_ECDH_RSA_WITH_AES_128_CBC_SHA'], [0xc00f, 'TLS_ECDH_RSA_WITH_AES_256_CBC_SHA'],
  [0xc010, 'TLS_ECDHE_RSA_WITH_NULL_SHA'], [0xc011, 'TLS_ECDHE_RSA_WITH_RC4_128_SHA'], [0xc012, 'TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA'],
  [0xc013, 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA'], [0xc014, 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA'], [0xc015, 'TLS_ECDH_anon_WITH_NULL_SHA'],
  [0xc016, 'TLS_ECDH_anon_WITH_RC4_128_SHA'], [0xc017, 'TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA'], [0xc018, 'TLS_ECDH_anon_WITH_AES_128_CBC_SHA'],
  [0xc019, 'TLS_ECDH_anon_WITH_AES_256_CBC_SHA'], [0xc01a, 'TLS_SRP_SHA_WITH_3DES_EDE_CBC_SHA'], [0xc01b, 'TLS_SRP_SHA_RSA_WITH_3DES_EDE_CBC_SHA'],
  [0xc01c, 'TLS_SRP_SHA_DSS_WITH_3DES_EDE_CBC_SHA'], [0xc023, 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256'], [0xc024, 'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384'],
  [0xc027, 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256'], [0xc028, 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384'], [0xc02b, 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'],
  [0xc02c, 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384'], [0xc02f, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'], [0xc030, 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384'],
  [0xc033, 'TLS_ECDHE_PSK_WITH_RC4_128_SHA'], [0xc034, 'TLS_ECDHE_PSK_WITH_3DES_EDE_CBC_SHA'], [0xc035, 'TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA'],
  [0xc036, 'TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA'], [0xc037, 'TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256'], [0xc039, 'TLS_ECDHE_PSK_WITH_NULL_SHA'],
  [0xc03a, 'TLS_ECDHE_PSK_WITH_NULL_SHA256'], [0xc03b, 'TLS_ECDHE_PSK_WITH_NULL_SHA384'],
  // ARIA (RFC 6209), AES-CCM (RFC 6655, 7251), ChaCha20 (RFC 7905), ECDHE-PSK AEAD (RFC 8442)
  [0xc050, 'TLS_RSA_WITH_ARIA_128_GCM_SHA256'], [0xc051, 'TLS_RSA_WITH_ARIA_256_GCM_SHA384'], [0xc060, 'TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256'],
  [0xc061, 'TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384'], [0xc09c, 'TLS_RSA_WITH_AES_128_CCM'], [0xc09d, 'TLS_RSA_WITH_AES_256_CCM'],
  [0xc09e, 'TLS_DHE_RSA_WITH_AES_128_CCM'], [0xc09f, 'TLS_DHE_RSA_WITH_AES_256_CCM'], [0xc0a0, 'TLS_RSA_WITH_AES_128_CCM_8'],
  [0xc0a1, 'TLS_RSA_WITH_AES_256_CCM_8'], [0xc0a2, 'TLS_DHE_RSA_WITH_AES_128_CCM_8'], [0xc0a3, 'TLS_DHE_RSA_WITH_AES_256_CCM_8'],
  [0xc0a4, 'TLS_PSK_WITH_AES_128_CCM'], [0xc0a5, 'TLS_PSK_WITH_AES_256_CCM'], [0xc0a8, 'TLS_PSK_WITH_AES_128_CCM_8'],
  [0xc0a9, 'TLS_PSK_WITH_AES_256_CCM_8'], [0xc0ac, 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM'], [0xc0ad, 'TLS_ECDHE_ECDSA_WITH_AES_256_CCM'],
  [0xc0ae, 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8'], [0xc0af, 'TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8'], [0xcca8, 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256'],
  [0xcca9, 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256'], [0xccaa, 'TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256'], [0xccab, 'TLS_PSK_WITH_CHACHA20_POLY1305_SHA256'],
  [0xccac, 'TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256'], [0xd001, 'TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256'],
];

/** IANA name of every suite in the table, by code. */
export const CIPHER_SUITES: ReadonlyMap<number, string> = new Map(TABLE);

/** SSLv2 CIPHER-KINDs: 3-byte codes (SSL 2.0 draft, appendix C). 0x080080 is a Netscape extra. */
export const SSL2_CIPHER_KINDS: ReadonlyMap<number, string> = new Map([
  [0x010080, 'SSL_CK_RC4_128_WITH_MD5'],
  [0x020080, 'SSL_CK_RC4_128_EXPORT40_WITH_MD5'],
  [0x030080, 'SSL_CK_RC2_128_CBC_WITH_MD5'],
  [0x040080, 'SSL_CK_RC2_128_CBC_EXPORT40_WITH_MD5'],
  [0x050080, 'SSL_CK_IDEA_128_CBC_WITH_MD5'],
  [0x060040, 'SSL_CK_DES_64_CBC_WITH_MD5'],
  [0x0700c0, 'SSL_CK_DES_192_EDE3_CBC_WITH_MD5'],
  [0x080080, 'SSL_CK_RC4_64_WITH_MD5'],
]);

/** Every SSLv2 cipher kind, strongest first: the SSLv2 probe offers them all. */
export const SSL2_ALL_KINDS: readonly number[] = [0x0700c0, 0x010080, 0x030080, 0x050080, 0x060040, 0x080080, 0x020080, 0x040080];

/** Name of a TLS suite (2-byte code) or SSLv2 cipher kind (3-byte code); unknown codes as hex. */
export function suiteName(code: number): string {
  if (code > 0xffff) return SSL2_CIPHER_KINDS.get(code) ?? `0x${code.toString(16).padStart(6, '0')}`;
  return CIPHER_SUITES.get(code) ?? `0x${code.toString(16).padStart(4, '0')}`;
}

// Classes are read off the IANA names, so a suite added to the table lands in its classes by itself.
const CLASS_PATTERNS: Record<WeakClass, RegExp> = {
  NULL: /_WITH_NULL_/,
  EXPORT: /_EXPORT(1024)?_/,
  anonymous: /_anon_/,
  RC4: /_RC4_/,
  'DES/3DES': /_(3DES_EDE|DES40|DES)_CBC/,
};

function classCodes(pattern: RegExp, table: ReadonlyMap<number, string>): number[] {
  return [...table].filter(([, name]) => pattern.test(name)).map(([code]) => code);
}

/** TLS suites of each weak class. A suite may be in several (EXPORT_WITH_RC4_40 is EXPORT and RC4). */
export const WEAK_CLASSES: Readonly<Record<WeakClass, readonly number[]>> = {
  NULL: classCodes(CLASS_PATTERNS.NULL, CIPHER_SUITES),
  EXPORT: classCodes(CLASS_PATTERNS.EXPORT, CIPHER_SUITES),
  anonymous: classCodes(CLASS_PATTERNS.anonymous, CIPHER_SUITES),
  RC4: classCodes(CLASS_PATTERNS.RC4, CIPHER_SUITES),
  'DES/3DES': classCodes(CLASS_PATTERNS['DES/3DES'], CIPHER_SUITES),
};

/** SSLv2 cipher kinds of each weak class; SSLv2 has no NULL or anonymous kinds. */
export const SSL2_WEAK_CLASSES: Readonly<Record<WeakClass, readonly number[]>> = {
  NULL: [],
  EXPORT: [0x020080, 0x040080],
  anonymous: [],
  RC4: [0x010080, 0x020080, 0x080080],
  'DES/3DES': [0x060040, 0x0700c0],
};

/** The weak classes a suite or SSLv2 kind belongs to (none for a strong suite). */
export function weakClassesOf(code: number): WeakClass[] {
  const table = code > 0xffff ? SSL2_WEAK_CLASSES : WEAK_CLASSES;
  return WEAK_CLASS_NAMES.filter((c) => table[c].includes(code));
}

/** TLS 1.3 suites (RFC 8446 B.4). */
export const TLS13_SUITES: readonly number[] = [0x1301, 0x1302, 0x1303, 0x1304, 0x1305];

/** Suites that exist only from TLS 1.2 on (AEAD or a SHA-2 record MAC): left out of older hellos. */
export function isTls12Only(code: number): boolean {
  const name = CIPHER_SUITES.get(code);
  return name !== undefined && /_GCM_|_CCM|CHACHA20|_SHA256$|_SHA384$/.test(name);
}

/**
 * The suites a version probe offers: anything a device might be configured with, strong first, so
 * that "no shared suite" never passes for "version not offered". Kept under 128 suites: some embedded
 * stacks reject longer lists (testssl.sh splits its hellos for the same reason).
 */
export const VERSION_PROBE_SUITES: readonly number[] = [
  // ECDHE AEAD, AES-CCM (mbedTLS and wolfSSL devices)
  0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc0ac, 0xc0ae, 0xc0ad, 0xc0af,
  // DHE AEAD
  0x009e, 0x009f, 0xccaa, 0xc09e, 0xc09f, 0xc0a2, 0xc0a3,
  // ECDHE and DHE CBC
  0xc009, 0xc013, 0xc00a, 0xc014, 0xc023, 0xc027, 0xc024, 0xc028,
  0x0033, 0x0039, 0x0067, 0x006b, 0x0032, 0x0038, 0x0040, 0x006a, 0x0045, 0x0088, 0x00be, 0x00c4, 0x0044, 0x0087,
  // RSA key transport
  0x009c, 0x009d, 0xc09c, 0xc09d, 0xc0a0, 0xc0a1, 0x002f, 0x0035, 0x003c, 0x003d, 0x0041, 0x0084, 0x00ba, 0x00c0, 0x0096, 0x0007,
  // static ECDH, ARIA
  0xc004, 0xc005, 0xc00e, 0xc00f, 0xc050, 0xc051, 0xc060, 0xc061,
  // PSK: constrained devices often speak nothing else
  0x00a8, 0x00a9, 0x00ae, 0x00af, 0x008c, 0x008d, 0xc0a4, 0xc0a5, 0xc0a8, 0xc0a9, 0xccab, 0xc035, 0xc036, 0xc037, 0xccac, 0xd001,
  // 3DES, RC4, DES
  0xc012, 0xc008, 0x0016, 0x0013, 0x000a, 0xc003, 0xc00d,
  0xc011, 0xc007, 0x0005, 0x0004, 0xc002, 0xc00c, 0x0066,
  0x0015, 0x0012, 0x0009,
  // anonymous, NULL, EXPORT
  0xc018, 0xc019, 0x00a6, 0x00a7, 0x0034, 0x003a, 0x006c, 0x006d, 0x0046, 0x0089, 0xc017, 0x001b, 0xc016, 0x0018,
  0xc010, 0xc006, 0x003b, 0x0002, 0x0001,
  0x0014, 0x0011, 0x0008, 0x0006, 0x0003, 0x0062, 0x0064,
];

/** What a current client (browser, curl) offers below TLS 1.3: the server's pick from it is its default. */
export const MODERN_CLIENT_SUITES: readonly number[] = [
  0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc02c, 0xc030, 0xc009, 0xc013, 0xc00a, 0xc014, 0x009e, 0x009f, 0xccaa, 0x0033, 0x0039, 0x009c, 0x009d, 0x002f, 0x0035,
];

/** A current client's TLS 1.3 suites, in its usual order. */
export const MODERN_TLS13_SUITES: readonly number[] = [0x1301, 0x1303, 0x1302];
