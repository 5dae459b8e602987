// @peculiar/x509 resolves its ASN.1 serializers through tsyringe, which refuses to load without the
// Reflect metadata API: the polyfill must be evaluated before the library, hence this first import.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';

/**
 * Run-time X.509 material for lab devices and TLS tests: self-signed certificates, a small CA and
 * leaf certificates it issues. Everything is generated in memory with WebCrypto, so no fixture files
 * go stale, and weak variants (RSA 1024, SHA-1, expired) are one option away.
 */

// Passed explicitly to every x509 call rather than set as the library's global provider, so that
// importing this module changes nothing for other users of @peculiar/x509.
const crypto = webcrypto;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** The key pair behind a certificate. RSA for the classic device; ECDSA for modern stacks. */
export type KeySpec = { type: 'rsa'; bits?: 1024 | 2048 | 3072 | 4096 } | { type: 'ecdsa'; curve?: 'P-256' | 'P-384' };

/** Hash of the certificate signature. SHA-1 exists to build deliberately weak certificates. */
export type SignatureHash = 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512';

export interface CertOptions {
  /** Subject common name. Default: the first IP address or DNS name, else `iot-harness lab`. */
  commonName?: string;
  /** IP addresses for the subjectAltName: clients match an IP target against these, not the CN. */
  ipAddresses?: readonly string[];
  /** DNS names for the subjectAltName. */
  dnsNames?: readonly string[];
  /** Default: RSA 2048. */
  key?: KeySpec;
  /** Default: SHA-256. */
  hash?: SignatureHash;
  /** Default: one hour ago, so a skewed clock does not make a fresh cert "not yet valid". */
  notBefore?: Date;
  /** Default: 30 days after notBefore. Set it in the past to make an expired certificate. */
  notAfter?: Date;
}

/** A certificate with its private key, both PEM: ready for `tls.createServer({ key, cert })`. */
export interface IssuedCert {
  /** PEM `CERTIFICATE`. */
  cert: string;
  /** PEM PKCS#8 `PRIVATE KEY`. */
  key: string;
  /** The parsed certificate, for assertions (subject, issuer, validity, extensions). */
  certificate: x509.X509Certificate;
}

/** A test CA: its own certificate (the trust anchor to hand to clients) and a way to issue leaves. */
export interface CertificateAuthority extends IssuedCert {
  /** Issue a server (leaf) certificate signed by this CA. */
  issue(options?: CertOptions): Promise<IssuedCert>;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

function algorithmFor(key: KeySpec, hash: SignatureHash): webcrypto.RsaHashedKeyGenParams | (webcrypto.EcKeyGenParams & webcrypto.EcdsaParams) {
  if (key.type === 'rsa') {
    return { name: 'RSASSA-PKCS1-v1_5', hash, publicExponent: new Uint8Array([1, 0, 1]), modulusLength: key.bits ?? 2048 };
  }
  return { name: 'ECDSA', namedCurve: key.curve ?? 'P-256', hash };
}

interface Resolved {
  commonName: string;
  names: x509.JsonGeneralName[];
  algorithm: ReturnType<typeof algorithmFor>;
  notBefore: Date;
  notAfter: Date;
}

function resolve(options: CertOptions): Resolved {
  for (const ip of options.ipAddresses ?? []) {
    if (isIP(ip) === 0) throw new TypeError(`certs: "${ip}" is not an IP address; put host names in dnsNames`);
  }
  const names: x509.JsonGeneralName[] = [
    ...(options.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(options.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
  ];
  const notBefore = options.notBefore ?? new Date(Date.now() - HOUR_MS);
  return {
    commonName: options.commonName ?? names[0]?.value ?? 'iot-harness lab',
    names,
    algorithm: algorithmFor(options.key ?? { type: 'rsa' }, options.hash ?? 'SHA-256'),
    notBefore,
    notAfter: options.notAfter ?? new Date(notBefore.getTime() + 30 * DAY_MS),
  };
}

/** A positive 128-bit serial: random so that two lab runs never issue colliding serials. */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

// CNs are built from our own options; commas or quotes would need RFC 4514 escaping, so refuse them.
function dn(commonName: string): string {
  if (/[,+"\\<>;=]/.test(commonName)) throw new TypeError(`certs: common name "${commonName}" has characters that need DN escaping`);
  return `CN=${commonName}`;
}

async function generateKeys(algorithm: Resolved['algorithm']): Promise<CryptoKeyPair> {
  // Extractable: the private key leaves WebCrypto as PEM for node:tls.
  return crypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
}

async function toIssued(certificate: x509.X509Certificate, keys: CryptoKeyPair): Promise<IssuedCert> {
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { cert: certificate.toString('pem'), key: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'), certificate };
}

function leafExtensions(names: x509.JsonGeneralName[]): x509.Extension[] {
  const extensions: x509.Extension[] = [
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  return extensions;
}

/** A self-signed server certificate, as a cheap device generates on first boot. */
export async function createSelfSigned(options: CertOptions = {}): Promise<IssuedCert> {
  const r = resolve(options);
  const keys = await generateKeys(r.algorithm);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serialNumber(),
      name: dn(r.commonName),
      notBefore: r.notBefore,
      notAfter: r.notAfter,
      signingAlgorithm: r.algorithm,
      keys,
      extensions: [...leafExtensions(r.names), await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto)],
    },
    crypto,
  );
  return toIssued(certificate, keys);
}

/**
 * A root CA for one lab run. `options` shape the CA certificate itself (its key, hash and validity);
 * each `issue()` call shapes one leaf.
 */
export async function createCa(options: CertOptions = {}): Promise<CertificateAuthority> {
  const r = resolve({ commonName: 'iot-harness lab CA', notAfter: new Date(Date.now() + 365 * DAY_MS), ...options });
  const keys = await generateKeys(r.algorithm);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serialNumber(),
      name: dn(r.commonName),
      notBefore: r.notBefore,
      notAfter: r.notAfter,
      signingAlgorithm: r.algorithm,
      keys,
      extensions: [
        // pathLength 0: the lab CA signs leaves only, as a device vendor's issuing CA would.
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  const ca = await toIssued(certificate, keys);

  // WebCrypto binds an RSA key to the hash it was generated with and ignores the hash passed to
  // sign(); a leaf signed with another hash needs the CA key re-imported under that hash. ECDSA
  // takes the hash per signature, so its key serves as is.
  async function caKeyFor(algorithm: ReturnType<typeof algorithmFor>): Promise<webcrypto.CryptoKey> {
    if (algorithm.name !== 'RSASSA-PKCS1-v1_5' || algorithm.hash === r.algorithm.hash) return keys.privateKey;
    const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
    return crypto.subtle.importKey('pkcs8', pkcs8, { name: algorithm.name, hash: algorithm.hash }, false, ['sign']);
  }

  async function issue(leafOptions: CertOptions = {}): Promise<IssuedCert> {
    const leaf = resolve(leafOptions);
    const leafKeys = await generateKeys(leaf.algorithm);
    // The signature is made with the CA key, so its algorithm follows the CA key type with the
    // leaf's requested hash: an RSA CA cannot sign "ECDSA with SHA-256".
    const signingAlgorithm = algorithmFor(options.key ?? { type: 'rsa' }, leafOptions.hash ?? 'SHA-256');
    const signingKey = await caKeyFor(signingAlgorithm);
    const issued = await x509.X509CertificateGenerator.create(
      {
        serialNumber: serialNumber(),
        subject: dn(leaf.commonName),
        issuer: certificate.subject,
        notBefore: leaf.notBefore,
        notAfter: leaf.notAfter,
        signingAlgorithm,
        publicKey: leafKeys.publicKey,
        signingKey,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          ...leafExtensions(leaf.names),
          await x509.SubjectKeyIdentifierExtension.create(leafKeys.publicKey, false, crypto),
          await x509.AuthorityKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        ],
      },
      crypto,
    );
    return toIssued(issued, leafKeys);
  }

  return { ...ca, issue };
}
