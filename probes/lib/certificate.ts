// @peculiar/x509 resolves its ASN.1 serializers through tsyringe, which refuses to load without the
// Reflect metadata API: the polyfill must be evaluated before the library, hence this first import.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createHash, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { DetailedPeerCertificate } from 'node:tls';
import type { Egress } from '../../harness/egress.js';
import type { EvidenceInput } from '../../harness/evidence.js';
import { CHAIN, findPath, isSelfSigned } from './chain-path.js';
import { SIGNATURE_ALGORITHMS } from './signature-algorithms.js';
import { anchorIndexes } from './trust-anchors.js';
import { dateOf, errorText, oneLine } from './x509-text.js';

export { CHAIN } from './chain-path.js';

/**
 * Facts about the certificate chain a TLS service presents. Facts, not verdicts: `weak` lists reasons a
 * profile may judge, and the chain check says why it failed, whatever OpenSSL's security level is.
 */
export interface CertificateFacts {
  /** Leaf subject, one line, RFC 4514-style escaping, in certificate order: `C=DE, O=Acme, CN=cam`. */
  subject: string;
  /** Leaf issuer, same form as `subject`. */
  issuer: string;
  /** Serial number, lowercase hex without colons. */
  serial: string;
  /** SHA-256 of the leaf's DER, lowercase hex without colons (of the raw bytes even when they do not parse). */
  fingerprintSha256: string;
  /** notBefore, ISO 8601. */
  validFrom: string;
  /** notAfter, ISO 8601. */
  validTo: string;
  /** notAfter is before `now`. */
  expired: boolean;
  /** notBefore is after `now`. */
  notYetValid: boolean;
  /** Issuer equals subject and the signature verifies with the certificate's own key. */
  selfSigned: boolean;
  /** Node's key type: `rsa`, `rsa-pss`, `ec`, `ed25519`, `ed448`, `dsa`, ...; `unknown` when unreadable. */
  keyType: string;
  /** RSA/DSA modulus bits, EC curve bits (255 for Ed25519, 448 for Ed448); 0 when unknown. */
  keyBits: number;
  /** EC curve: `P-256`, `P-384`, `P-521`, else OpenSSL's name (`secp256k1`, `brainpoolP256r1`, ...). */
  curve?: string;
  /** Signature algorithm by its OpenSSL/RFC name (`sha256WithRSAEncryption`, `ecdsa-with-SHA256`, ...), else the dotted OID. */
  sigAlg: string;
  /** Reasons the certificate is weak, each a short fixed phrase (see `WEAK` in the source). */
  weak: string[];
  /** subjectAltName entries: `DNS:cam.local`, `IP:127.0.0.1`, `email:x`, `URI:x`. */
  sans: string[];
  /** The certificate names the host the device was reached at (an IP must be an IP SAN; the CN does not count). */
  nameMatches: boolean;
  /** Why the name did not match. */
  nameError?: string;
  /** A path runs from the leaf, through certificates the server sent, to a trust anchor; all in date, all signatures verifying. */
  chainValid: boolean;
  /** Why no valid path was found, starting with a fixed phrase (see `CHAIN` in chain-path.ts). */
  chainError?: string;
  /** The anchor set at the end of the valid path; null when the chain is not valid. */
  trustedBy: 'declaration' | 'system' | null;
  /** Certificates in `chain` as given to analyseChain, leaf included (for fetchChain's limits see there). */
  chainLength: number;
}

/** Fixed phrases in `weak`; a few carry a suffix naming a certificate in the chain. */
export const WEAK = {
  rsaKey: 'RSA key below 2048 bits',
  dsaKey: 'DSA key below 2048 bits',
  ecKey: 'EC key below 256 bits',
  md2: 'MD2 signature',
  md4: 'MD4 signature',
  md5: 'MD5 signature',
  sha1: 'SHA-1 signature',
  expired: 'expired',
  notYetValid: 'not yet valid',
  selfSigned: 'self-signed',
  untrusted: 'untrusted chain',
  nameMismatch: 'name mismatch',
  malformed: 'malformed certificate',
} as const;

/** Reads what Node's X509Certificate does not expose: the signature algorithm OID. */
class AsnCertificate extends x509.X509Certificate {
  get signatureOid(): string {
    return this.asn.signatureAlgorithm.algorithm;
  }
}

function sha256Hex(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

/** The signature algorithm's name and the weak hash it uses, if any. */
function signatureOf(asn: AsnCertificate): { sigAlg: string; weakHash?: string } {
  const oid = asn.signatureOid;
  const sigAlg = SIGNATURE_ALGORITHMS[oid] ?? oid;
  // RSA-PSS carries its hash in the parameters; the library decodes them into a WebCrypto algorithm.
  const hash = oid === '1.2.840.113549.1.1.10' ? pssHash(asn) : sigAlg;
  if (/md2/i.test(hash)) return { sigAlg, weakHash: WEAK.md2 };
  if (/md4/i.test(hash)) return { sigAlg, weakHash: WEAK.md4 };
  if (/md5/i.test(hash)) return { sigAlg, weakHash: WEAK.md5 };
  if (/sha-?1(?!\d)/i.test(hash)) return { sigAlg, weakHash: WEAK.sha1 };
  return { sigAlg };
}

function pssHash(asn: AsnCertificate): string {
  try {
    const alg = asn.signatureAlgorithm as { hash?: { name?: string } };
    return alg.hash?.name ?? 'SHA-1';
  } catch (err) {
    // RFC 4055: absent parameters mean SHA-1, so an undecodable set is reported as what it claims least.
    return `unreadable PSS parameters (${errorText(err)})`;
  }
}

const NIST_CURVES: Readonly<Record<string, string>> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521', secp224r1: 'P-224', prime192v1: 'P-192' };

function keyOf(cert: X509Certificate): { keyType: string; keyBits: number; curve?: string; weakKey?: string } {
  const key = cert.publicKey;
  const keyType = key.asymmetricKeyType ?? 'unknown';
  const details = key.asymmetricKeyDetails ?? {};
  if (keyType === 'rsa' || keyType === 'rsa-pss' || keyType === 'dsa') {
    const keyBits = details.modulusLength ?? 0;
    if (keyBits >= 2048) return { keyType, keyBits };
    return { keyType, keyBits, weakKey: keyType === 'dsa' ? WEAK.dsaKey : WEAK.rsaKey };
  }
  if (keyType === 'ec') {
    const named = details.namedCurve ?? 'unknown';
    // Curve names carry their field size: prime256v1, secp384r1, brainpoolP512r1, sect163k1.
    const keyBits = Number(/(\d{3})/.exec(named)?.[1] ?? 0);
    const curve = NIST_CURVES[named] ?? named;
    return keyBits >= 256 ? { keyType, keyBits, curve } : { keyType, keyBits, curve, weakKey: WEAK.ecKey };
  }
  if (keyType === 'ed25519') return { keyType, keyBits: 255 };
  if (keyType === 'ed448') return { keyType, keyBits: 448 };
  return { keyType, keyBits: 0 };
}

/**
 * Subject, issuer and SANs as @peculiar/x509 writes them (one line, RFC 4514 escaping). Where it cannot
 * read them, Node's reading of the same fields serves: the facts stay the same, only the spelling differs.
 */
function namesOf(asn: AsnCertificate | undefined, cert: X509Certificate): { subject: string; issuer: string; sans: string[] } {
  const nodeNames = (): { subject: string; issuer: string; sans: string[] } => ({
    subject: oneLine(cert.subject),
    issuer: oneLine(cert.issuer),
    sans: cert.subjectAltName ? cert.subjectAltName.split(', ').map((s) => s.replace(/^IP Address:/, 'IP:')) : [],
  });
  if (!asn) return nodeNames();
  try {
    const ext = asn.getExtension(x509.SubjectAlternativeNameExtension);
    const prefix: Record<string, string> = { dns: 'DNS', ip: 'IP', email: 'email', url: 'URI' };
    const sans = ext ? ext.names.items.map((n) => `${prefix[n.type] ?? n.type}:${n.value}`) : [];
    return { subject: asn.subject, issuer: asn.issuer, sans };
  } catch {
    return nodeNames();
  }
}

function nameCheck(cert: X509Certificate, host: string, sans: readonly string[]): { nameMatches: boolean; nameError?: string } {
  const ip = isIP(host) !== 0;
  let matched: string | undefined;
  try {
    matched = ip ? cert.checkIP(host) : cert.checkHost(host);
  } catch (err) {
    return { nameMatches: false, nameError: `${host} cannot be checked against the certificate (${errorText(err)})` };
  }
  if (matched !== undefined) return { nameMatches: true };
  const names = sans.length > 0 ? sans.join(', ') : `no subjectAltName; ${oneLine(cert.subject)}`;
  const nameError = ip ? `no IP subjectAltName for ${host} (${names})` : `${host} is not a name of the certificate (${names})`;
  return { nameMatches: false, nameError };
}

// ---- the facts ----

function malformed(chain: readonly Buffer[], error: string): CertificateFacts {
  const first = chain[0];
  return {
    subject: '',
    issuer: '',
    serial: '',
    fingerprintSha256: first ? sha256Hex(first) : '',
    validFrom: '',
    validTo: '',
    expired: false,
    notYetValid: false,
    selfSigned: false,
    keyType: 'unknown',
    keyBits: 0,
    sigAlg: 'unknown',
    weak: [error],
    sans: [],
    nameMatches: false,
    nameError: 'the certificate could not be read',
    chainValid: false,
    chainError: error,
    trustedBy: null,
    chainLength: chain.length,
  };
}

/** Weak key or signature on a certificate the server sent besides the leaf. */
function chainWeaknesses(cert: X509Certificate): string[] {
  const out: string[] = [];
  const where = ` (chain: ${oneLine(cert.subject)})`;
  try {
    const key = keyOf(cert);
    if (key.weakKey) out.push(key.weakKey + where);
  } catch (err) {
    out.push(`unreadable public key${where}: ${errorText(err)}`);
  }
  // A root's signature on itself is never checked by anyone, so its hash does not matter.
  if (isSelfSigned(cert)) return out;
  try {
    const sig = signatureOf(new AsnCertificate(cert.raw));
    if (sig.weakHash) out.push(sig.weakHash + where);
  } catch (err) {
    out.push(`unreadable signature algorithm${where}: ${errorText(err)}`);
  }
  return out;
}

/**
 * Analyse the chain a server sent (DER, leaf first). Total: bytes that do not parse give facts that say
 * so in `weak` and `chainError`, never a throw. `host` is what the device was reached at; `trustAnchors`
 * are PEM (or DER) files, tried before the system store.
 */
export function analyseChain(chain: readonly Buffer[], options: { host: string; trustAnchors: readonly string[]; now?: Date }): CertificateFacts {
  const now = options.now ?? new Date();
  const der = chain[0];
  if (!der) return malformed(chain, CHAIN.empty);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(der);
  } catch (err) {
    return malformed(chain, `${CHAIN.malformed}: ${errorText(err)}`);
  }
  try {
    return analyseParsed(leaf, chain, options.host, options.trustAnchors, now);
  } catch (err) {
    // Node parsed the leaf but some field still would not read: the facts say so rather than throw.
    return malformed(chain, `${CHAIN.malformed}: ${errorText(err)}`);
  }
}

function analyseParsed(leaf: X509Certificate, chain: readonly Buffer[], host: string, trustAnchors: readonly string[], now: Date): CertificateFacts {
  const der = leaf.raw;
  const weak: string[] = [];
  let asn: AsnCertificate | undefined;
  let sigAlg = 'unknown';
  try {
    asn = new AsnCertificate(der);
    const sig = signatureOf(asn);
    sigAlg = sig.sigAlg;
    if (sig.weakHash) weak.push(sig.weakHash);
  } catch (err) {
    asn = undefined;
    weak.push(`unreadable signature algorithm: ${errorText(err)}`);
  }
  let key: ReturnType<typeof keyOf> = { keyType: 'unknown', keyBits: 0 };
  try {
    key = keyOf(leaf);
  } catch (err) {
    weak.push(`unreadable public key: ${errorText(err)}`);
  }
  if (key.weakKey) weak.unshift(key.weakKey);

  const from = dateOf(leaf.validFrom) ?? asn?.notBefore;
  const to = dateOf(leaf.validTo) ?? asn?.notAfter;
  if (!from || !to) throw new Error(`unreadable validity (${leaf.validFrom} to ${leaf.validTo})`);
  const expired = to.getTime() < now.getTime();
  const notYetValid = from.getTime() > now.getTime();
  const selfSigned = isSelfSigned(leaf);

  const sent: X509Certificate[] = [];
  chain.slice(1).forEach((bytes, i) => {
    try {
      const cert = new X509Certificate(bytes);
      sent.push(cert);
      weak.push(...chainWeaknesses(cert));
    } catch (err) {
      weak.push(`${WEAK.malformed} (chain #${i + 2}): ${errorText(err)}`);
    }
  });

  const anchors = anchorIndexes(trustAnchors);
  const path = findPath(leaf, sent, anchors.indexes, now);
  const chainError = path.ok ? undefined : [path.error, ...anchors.problems].join('; ');

  const names = namesOf(asn, leaf);
  const sans = names.sans;
  const name = nameCheck(leaf, host, sans);
  if (expired) weak.push(WEAK.expired);
  if (notYetValid) weak.push(WEAK.notYetValid);
  // Pinned (declared as an anchor) self-signed certificates are the conformant way to self-sign.
  if (!path.ok) weak.push(selfSigned ? WEAK.selfSigned : WEAK.untrusted);
  if (!name.nameMatches) weak.push(WEAK.nameMismatch);

  return {
    subject: names.subject,
    issuer: names.issuer,
    serial: leaf.serialNumber.toLowerCase(),
    fingerprintSha256: sha256Hex(der),
    validFrom: from.toISOString(),
    validTo: to.toISOString(),
    expired,
    notYetValid,
    selfSigned,
    keyType: key.keyType,
    keyBits: key.keyBits,
    ...(key.curve === undefined ? {} : { curve: key.curve }),
    sigAlg,
    weak,
    sans,
    ...name,
    chainValid: path.ok,
    ...(chainError === undefined ? {} : { chainError }),
    trustedBy: path.ok ? path.trustedBy : null,
    chainLength: chain.length,
  };
}

// ---- fetching ----

/** Node says `TLSv1` for 1.0; the observation keys use `TLSv1.0`. */
function protocolName(p: string | null): string | null {
  return p === 'TLSv1' ? 'TLSv1.0' : p;
}

function describe(der: Buffer): { subject: string; issuer: string; fingerprintSha256: string } {
  const fingerprintSha256 = sha256Hex(der);
  try {
    const c = new X509Certificate(der);
    return { subject: oneLine(c.subject), issuer: oneLine(c.issuer), fingerprintSha256 };
  } catch (err) {
    return { subject: `(unparsable: ${errorText(err)})`, issuer: '', fingerprintSha256 };
  }
}

/**
 * Handshake and take the chain the server sent. Accepts anything (old versions, weak suites, bad
 * certificates): this reads what the device presents, it does not judge it. A failed handshake is
 * returned as `{ error }`, never thrown. The socket is closed before returning.
 *
 * Node exposes the sent chain only as `getPeerCertificate(true)`, which links the certificates by
 * OpenSSL's X509_check_issued: the order is issuance order, duplicates and unrelated extras are left
 * out, and so is an intermediate whose key usage forbids certificate signing (the chain then reads as
 * "no path" rather than "issuer may not sign certificates").
 */
export async function fetchChain(
  net: Egress,
  ip: string,
  port: number,
  options: { timeoutMs: number; signal: AbortSignal; servername?: string },
): Promise<{ chain: Buffer[]; protocol: string | null; cipher: string | null; evidence: EvidenceInput } | { error: string; evidence: EvidenceInput }> {
  const where = `${ip}:${port}`;
  const conn = await net.connectTls(
    ip,
    port,
    {
      rejectUnauthorized: false,
      // OpenSSL 3 refuses TLS 1.0 and weak keys below SECLEVEL=0: without it a weak device would look unreachable.
      minVersion: 'TLSv1',
      ciphers: 'DEFAULT:@SECLEVEL=0',
      // An empty store: Node completes getPeerCertificate(true) from the client's CA store, which would
      // add roots the server never sent.
      ca: [],
      ...(options.servername === undefined ? {} : { servername: options.servername }),
    },
    { timeoutMs: options.timeoutMs, signal: options.signal },
  );
  if (!conn.ok) {
    // OpenSSL messages end in a newline.
    const message = conn.message.trim();
    const error = `TLS handshake with ${where} failed: ${conn.reason} (${conn.code}): ${message}`;
    return {
      error,
      evidence: { kind: 'connect', summary: error, port, transport: 'tcp', data: { reason: conn.reason, code: conn.code, message, elapsedMs: conn.elapsedMs } },
    };
  }
  const socket = conn.socket;
  try {
    const protocol = protocolName(socket.getProtocol());
    const cipher = socket.getCipher()?.standardName ?? null;
    const chain: Buffer[] = [];
    const seen = new Set<string>();
    let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
    // Node links each certificate to its issuer among those sent; the last one points to itself.
    while (cert?.raw && chain.length < 16) {
      const fp = sha256Hex(cert.raw);
      if (seen.has(fp)) break;
      seen.add(fp);
      chain.push(Buffer.from(cert.raw));
      cert = cert.issuerCertificate;
    }
    const described = chain.map(describe);
    const handshake = `${protocol ?? 'unknown protocol'}, ${cipher ?? 'unknown cipher'}`;
    const leaf = described[0];
    if (!leaf) {
      const error = `TLS handshake with ${where} (${handshake}): the server sent no certificate`;
      return { error, evidence: { kind: 'exchange', summary: error, port, transport: 'tcp', data: { protocol, cipher, chain: [] } } };
    }
    return {
      chain,
      protocol,
      cipher,
      evidence: {
        kind: 'exchange',
        summary: `TLS handshake with ${where}: ${handshake}; certificate ${leaf.subject} sha256 ${leaf.fingerprintSha256}`,
        port,
        transport: 'tcp',
        data: { protocol, cipher, servername: options.servername ?? null, chain: described },
      },
    };
  } finally {
    socket.destroy();
  }
}
