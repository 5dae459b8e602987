import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Egress } from '../../harness/egress.js';
import { Scope } from '../../harness/scope.js';
import { type CertificateAuthority, createCa, createSelfSigned, type IssuedCert } from '../../lab/certs.js';
import { analyseChain, type CertificateFacts, fetchChain } from '../../probes/lib/certificate.js';
import { type CertServer, createHierarchy, resignWithMd5, startCertServer } from '../fixtures/cert-servers.js';
import { allocHost, freePort } from '../peers/alias.js';

// Whole seconds: certificates carry no milliseconds, so the expected ISO strings are exact.
const HOUR = 3_600_000;
const NOW = Math.floor(Date.now() / 1000) * 1000;
const FROM = new Date(NOW - HOUR);
const TO = new Date(NOW + 30 * 24 * HOUR);
const VALID = { notBefore: FROM, notAfter: TO };

const der = (pem: string): Buffer => new X509Certificate(pem).raw;
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

let dir: string;
let host: string;
let ca: CertificateAuthority;
let caFile: string;
const servers: CertServer[] = [];

function egress(maxConnectionsPerDevice = 4): Egress {
  return new Egress({ scope: new Scope(), excludePorts: { tcp: [], udp: [] }, maxConnectionsPerDevice });
}

function writeAnchor(name: string, pem: string): string {
  const file = join(dir, name);
  writeFileSync(file, pem);
  return file;
}

async function serve(key: string, chain: readonly string[]): Promise<CertServer> {
  const server = await startCertServer({ host, key, chain });
  servers.push(server);
  return server;
}

/** Serve the chain, fetch it through the egress, and analyse it as the probe would. */
async function served(cert: IssuedCert, options: { chain?: readonly string[]; trustAnchors?: readonly string[] } = {}): Promise<CertificateFacts> {
  const server = await serve(cert.key, options.chain ?? [cert.cert]);
  const fetched = await fetchChain(egress(), host, server.port, { timeoutMs: 5000, signal: new AbortController().signal });
  if ('error' in fetched) throw new Error(`fixture handshake failed: ${fetched.error}`);
  return analyseChain(fetched.chain, { host, trustAnchors: options.trustAnchors ?? [] });
}

/** The facts every CA-issued 2048-bit SHA-256 leaf for `host` shares. */
function issuedFacts(cert: IssuedCert): Omit<CertificateFacts, 'chainValid' | 'trustedBy' | 'weak'> {
  return {
    subject: `CN=${host}`,
    issuer: 'CN=iot-harness lab CA',
    serial: cert.certificate.serialNumber,
    fingerprintSha256: sha256(der(cert.cert)),
    validFrom: FROM.toISOString(),
    validTo: TO.toISOString(),
    expired: false,
    notYetValid: false,
    selfSigned: false,
    keyType: 'rsa',
    keyBits: 2048,
    sigAlg: 'sha256WithRSAEncryption',
    sans: [`IP:${host}`],
    nameMatches: true,
    chainLength: 1,
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'iot-harness-certs-'));
  host = await allocHost([]);
  ca = await createCa({ notBefore: FROM, notAfter: new Date(NOW + 365 * 24 * HOUR) });
  caFile = writeAnchor('ca.pem', ca.cert);
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('fetchChain + analyseChain against real TLS servers', () => {
  it('validates a CA-issued certificate against the declared CA', async () => {
    const leaf = await ca.issue({ ipAddresses: [host], ...VALID });
    const server = await serve(leaf.key, [leaf.cert]);
    const fetched = await fetchChain(egress(), host, server.port, { timeoutMs: 5000, signal: new AbortController().signal });
    if ('error' in fetched) throw new Error(fetched.error);
    expect(fetched.chain).toEqual([der(leaf.cert)]);
    expect(fetched.protocol).toBe('TLSv1.3');
    expect(fetched.cipher).toMatch(/^TLS_/);
    expect(fetched.evidence).toMatchObject({
      kind: 'exchange',
      port: server.port,
      transport: 'tcp',
      summary: `TLS handshake with ${host}:${server.port}: TLSv1.3, ${fetched.cipher}; certificate CN=${host} sha256 ${sha256(der(leaf.cert))}`,
      data: { protocol: 'TLSv1.3', chain: [{ subject: `CN=${host}`, issuer: 'CN=iot-harness lab CA', fingerprintSha256: sha256(der(leaf.cert)) }] },
    });
    expect(analyseChain(fetched.chain, { host, trustAnchors: [caFile] })).toEqual({ ...issuedFacts(leaf), weak: [], chainValid: true, trustedBy: 'declaration' });
  });

  it('finds no path for the same certificate without the declared anchor', async () => {
    const leaf = await ca.issue({ ipAddresses: [host], ...VALID });
    expect(await served(leaf)).toEqual({
      ...issuedFacts(leaf),
      weak: ['untrusted chain'],
      chainValid: false,
      chainError: 'no path to a trusted anchor',
      trustedBy: null,
    });
  });

  it('reports a self-signed certificate', async () => {
    const cert = await createSelfSigned({ ipAddresses: [host], ...VALID });
    const facts = await served(cert, { trustAnchors: [caFile] });
    expect(facts).toMatchObject({ subject: `CN=${host}`, issuer: `CN=${host}`, selfSigned: true, chainValid: false, chainError: 'no path to a trusted anchor', trustedBy: null, nameMatches: true });
    expect(facts.weak).toEqual(['self-signed']);
  });

  it('accepts a pinned self-signed certificate declared as the anchor', async () => {
    const cert = await createSelfSigned({ ipAddresses: [host], ...VALID });
    const facts = await served(cert, { trustAnchors: [caFile, writeAnchor('pinned.pem', cert.cert)] });
    expect(facts).toMatchObject({ selfSigned: true, chainValid: true, trustedBy: 'declaration', weak: [] });
    expect(facts.chainError).toBeUndefined();
  });

  it('reports an expired certificate and fails the chain on its date', async () => {
    const notAfter = new Date(NOW - 24 * HOUR);
    const leaf = await ca.issue({ ipAddresses: [host], notBefore: new Date(NOW - 48 * HOUR), notAfter });
    const facts = await served(leaf, { trustAnchors: [caFile] });
    expect(facts).toMatchObject({ expired: true, notYetValid: false, validTo: notAfter.toISOString(), chainValid: false, trustedBy: null });
    expect(facts.chainError).toBe(`certificate expired: CN=${host} (valid to ${notAfter.toISOString()})`);
    expect(facts.weak).toEqual(['expired', 'untrusted chain']);
  });

  it('reports a certificate that is not yet valid', async () => {
    const notBefore = new Date(NOW + 24 * HOUR);
    const leaf = await ca.issue({ ipAddresses: [host], notBefore, notAfter: new Date(NOW + 48 * HOUR) });
    const facts = await served(leaf, { trustAnchors: [caFile] });
    expect(facts).toMatchObject({ expired: false, notYetValid: true, validFrom: notBefore.toISOString(), chainValid: false });
    expect(facts.chainError).toBe(`certificate not yet valid: CN=${host} (valid from ${notBefore.toISOString()})`);
    expect(facts.weak).toEqual(['not yet valid', 'untrusted chain']);
  });

  it('flags an RSA-1024 key while the chain itself is valid', async () => {
    const leaf = await ca.issue({ ipAddresses: [host], key: { type: 'rsa', bits: 1024 }, ...VALID });
    const facts = await served(leaf, { trustAnchors: [caFile] });
    expect(facts).toEqual({ ...issuedFacts(leaf), keyBits: 1024, weak: ['RSA key below 2048 bits'], chainValid: true, trustedBy: 'declaration' });
  });

  it('flags a SHA-1 signature, validating the chain whatever OpenSSL would say', async () => {
    const leaf = await ca.issue({ ipAddresses: [host], hash: 'SHA-1', ...VALID });
    const facts = await served(leaf, { trustAnchors: [caFile] });
    expect(facts).toEqual({ ...issuedFacts(leaf), sigAlg: 'sha1WithRSAEncryption', weak: ['SHA-1 signature'], chainValid: true, trustedBy: 'declaration' });
  });

  it('reports a certificate made out for another address', async () => {
    const leaf = await ca.issue({ ipAddresses: ['127.0.0.254'], dnsNames: ['cam.local'], ...VALID });
    const facts = await served(leaf, { trustAnchors: [caFile] });
    expect(facts).toMatchObject({ subject: 'CN=127.0.0.254', sans: ['IP:127.0.0.254', 'DNS:cam.local'], nameMatches: false, chainValid: true });
    expect(facts.nameError).toBe(`no IP subjectAltName for ${host} (IP:127.0.0.254, DNS:cam.local)`);
    expect(facts.weak).toEqual(['name mismatch']);
  });

  it('does not accept the common name for an IP address', async () => {
    const leaf = await ca.issue({ commonName: host, dnsNames: ['cam.local'], ...VALID });
    const facts = await served(leaf, { trustAnchors: [caFile] });
    expect(facts).toMatchObject({ subject: `CN=${host}`, sans: ['DNS:cam.local'], nameMatches: false });
    expect(analyseChain([der(leaf.cert)], { host: 'cam.local', trustAnchors: [caFile] })).toMatchObject({ nameMatches: true, weak: [] });
  });

  it('validates root → intermediate → leaf when the server sends the intermediate', async () => {
    const h = await createHierarchy({ ipAddress: host, ...VALID });
    const rootFile = writeAnchor('root.pem', h.root);
    const facts = await served(h.leaf, { chain: [h.leaf.cert, h.intermediate], trustAnchors: [rootFile] });
    expect(facts).toEqual({
      subject: `CN=${host}`,
      issuer: 'CN=fixture intermediate CA',
      serial: h.leaf.certificate.serialNumber,
      fingerprintSha256: sha256(der(h.leaf.cert)),
      validFrom: FROM.toISOString(),
      validTo: TO.toISOString(),
      expired: false,
      notYetValid: false,
      selfSigned: false,
      keyType: 'ec',
      keyBits: 384,
      curve: 'P-384',
      sigAlg: 'ecdsa-with-SHA384',
      weak: [],
      sans: [`IP:${host}`],
      nameMatches: true,
      chainValid: true,
      trustedBy: 'declaration',
      chainLength: 2,
    });
  });

  it('finds no path when the server leaves the intermediate out', async () => {
    const h = await createHierarchy({ ipAddress: host, ...VALID });
    const facts = await served(h.leaf, { trustAnchors: [writeAnchor('root-only.pem', h.root)] });
    expect(facts).toMatchObject({ chainValid: false, chainError: 'no path to a trusted anchor', chainLength: 1, weak: ['untrusted chain'] });
  });

  it('refuses an intermediate that is not a CA', async () => {
    const h = await createHierarchy({ ipAddress: host, intermediate: 'not-ca', ...VALID });
    const facts = await served(h.leaf, { chain: [h.leaf.cert, h.intermediate], trustAnchors: [writeAnchor('root-nonca.pem', h.root)] });
    expect(facts).toMatchObject({ chainValid: false, chainError: 'issuer is not a CA: CN=fixture intermediate CA', trustedBy: null });
  });

  it('refuses an intermediate whose key usage does not allow certificate signing', async () => {
    const h = await createHierarchy({ ipAddress: host, intermediate: 'no-cert-sign', ...VALID });
    const anchors = [writeAnchor('root-nosign.pem', h.root)];
    const direct = analyseChain([der(h.leaf.cert), der(h.intermediate)], { host, trustAnchors: anchors });
    expect(direct).toMatchObject({ chainValid: false, chainError: 'issuer may not sign certificates: CN=fixture intermediate CA', trustedBy: null, chainLength: 2 });
    // Node links the sent certificates by X509_check_issued, which drops this intermediate: fetched,
    // the chain is the leaf alone, still invalid, with the less specific reason.
    expect(await served(h.leaf, { chain: [h.leaf.cert, h.intermediate], trustAnchors: anchors })).toMatchObject({
      chainValid: false,
      chainError: 'no path to a trusted anchor',
      chainLength: 1,
    });
  });

  it('flags a SHA-1 signature on an intermediate the server sent', async () => {
    const h = await createHierarchy({ ipAddress: host, intermediateHash: 'SHA-1', ...VALID });
    const facts = await served(h.leaf, { chain: [h.leaf.cert, h.intermediate], trustAnchors: [writeAnchor('root-sha1.pem', h.root)] });
    expect(facts).toMatchObject({ sigAlg: 'ecdsa-with-SHA384', chainValid: true, trustedBy: 'declaration' });
    expect(facts.weak).toEqual(['SHA-1 signature (chain: CN=fixture intermediate CA)']);
  });

  it('passes the SNI name, and closes the connection and frees the device slot', { timeout: 10_000 }, async () => {
    const leaf = await ca.issue({ ipAddresses: [host], dnsNames: ['cam.local'], ...VALID });
    const server = await serve(leaf.key, [leaf.cert]);
    // One slot per device: a socket left open would hold it and the second fetch would never start.
    const net = egress(1);
    const signal = new AbortController().signal;
    const first = await fetchChain(net, host, server.port, { timeoutMs: 5000, signal, servername: 'cam.local' });
    const second = await fetchChain(net, host, server.port, { timeoutMs: 5000, signal });
    expect('chain' in first && 'chain' in second).toBe(true);
    expect(server.servernames).toEqual(['cam.local']);
    expect(first.evidence.data).toMatchObject({ servername: 'cam.local' });
    await server.closed(2);
  });

  it('returns a refused connection as an error, not a throw', async () => {
    // Free a moment ago and bound by nobody since: nothing listens there.
    const port = await freePort(host);
    const result = await fetchChain(egress(), host, port, { timeoutMs: 5000, signal: new AbortController().signal });
    if (!('error' in result)) throw new Error('expected a refused connection');
    const prefix = `TLS handshake with ${host}:${port} failed: refused (ECONNREFUSED): `;
    expect(result.error.slice(0, prefix.length)).toBe(prefix);
    expect(result.evidence).toMatchObject({ kind: 'connect', port, data: { reason: 'refused', code: 'ECONNREFUSED' } });

  });
  it('returns a failed handshake with a service that does not speak TLS as an error', async () => {
    // resume(): a socket that never reads never sees the client's FIN, and close() would wait forever.
    const plain = createNetServer((socket) => socket.resume().end('SSH-2.0-dropbear\r\n'));
    await new Promise<void>((resolve) => plain.listen(0, host, () => resolve()));
    try {
      const port = (plain.address() as AddressInfo).port;
      const result = await fetchChain(egress(), host, port, { timeoutMs: 5000, signal: new AbortController().signal });
      if (!('error' in result)) throw new Error('expected a failed handshake');
      expect(result.error).toMatch(new RegExp(`^TLS handshake with ${host.replaceAll('.', '\\.')}:${port} failed: (error|reset) `));
      expect(result.evidence).toMatchObject({ kind: 'connect', port, transport: 'tcp' });
    } finally {
      await new Promise<void>((resolve) => plain.close(() => resolve()));
    }
  });
});

describe('analyseChain on crafted chains', () => {
  it('returns facts, never a throw, for bytes that are not a certificate', () => {
    const garbage = Buffer.from('not a certificate at all');
    const facts = analyseChain([garbage], { host: '127.0.0.1', trustAnchors: [] });
    expect(facts).toMatchObject({
      subject: '',
      fingerprintSha256: sha256(garbage),
      keyType: 'unknown',
      keyBits: 0,
      sigAlg: 'unknown',
      selfSigned: false,
      nameMatches: false,
      chainValid: false,
      trustedBy: null,
      chainLength: 1,
    });
    expect(facts.chainError).toMatch(/^malformed certificate: /);
    expect(facts.weak).toEqual([facts.chainError]);
    expect(analyseChain([], { host: '127.0.0.1', trustAnchors: [] })).toMatchObject({ chainValid: false, chainError: 'no certificate', chainLength: 0 });
  });

  it('reports garbage after a good leaf as a malformed chain member', async () => {
    const cert = await createSelfSigned({ ipAddresses: ['127.0.0.1'], ...VALID });
    const facts = analyseChain([der(cert.cert), Buffer.from([0x30, 0x03, 0x02, 0x01])], { host: '127.0.0.1', trustAnchors: [] });
    expect(facts.weak).toHaveLength(2);
    expect(facts.weak[0]).toMatch(/^malformed certificate \(chain #2\): /);
    expect(facts.weak[1]).toBe('self-signed');
  });

  it('names an MD5 signature', async () => {
    const md5 = resignWithMd5(await createSelfSigned({ ipAddresses: ['127.0.0.1'], ...VALID }));
    const facts = analyseChain([md5], { host: '127.0.0.1', trustAnchors: [] });
    expect(facts).toMatchObject({ sigAlg: 'md5WithRSAEncryption', selfSigned: true });
    expect(facts.weak).toEqual(['MD5 signature', 'self-signed']);
  });

  it('says which signature does not verify', async () => {
    const leaf = await ca.issue({ ipAddresses: ['127.0.0.1'], ...VALID });
    const broken = Buffer.from(der(leaf.cert));
    broken[broken.length - 1] = (broken[broken.length - 1] ?? 0) ^ 0xff;
    const facts = analyseChain([broken], { host: '127.0.0.1', trustAnchors: [caFile] });
    expect(facts).toMatchObject({ chainValid: false, chainError: 'signature does not verify: CN=127.0.0.1 by CN=iot-harness lab CA' });
  });

  it('judges validity at the given time', async () => {
    const leaf = await ca.issue({ ipAddresses: ['127.0.0.1'], ...VALID });
    const later = new Date(TO.getTime() + 1000);
    expect(analyseChain([der(leaf.cert)], { host: '127.0.0.1', trustAnchors: [caFile], now: later })).toMatchObject({
      expired: true,
      chainValid: false,
      chainError: `certificate expired: CN=127.0.0.1 (valid to ${TO.toISOString()})`,
    });
  });

  it('names an unreadable anchor file in the chain error', async () => {
    const leaf = await ca.issue({ ipAddresses: ['127.0.0.1'], ...VALID });
    const missing = join(dir, 'missing.pem');
    const facts = analyseChain([der(leaf.cert)], { host: '127.0.0.1', trustAnchors: [missing] });
    expect(facts.chainError).toBe(`no path to a trusted anchor; trust anchor ${missing} is unreadable (ENOENT)`);
  });

  it('takes several certificates from one anchor file', async () => {
    const other = await createCa({ commonName: 'another CA' });
    const bundle = writeAnchor('bundle.pem', `${other.cert}\n${ca.cert}\n`);
    const leaf = await ca.issue({ ipAddresses: ['127.0.0.1'], ...VALID });
    expect(analyseChain([der(leaf.cert)], { host: '127.0.0.1', trustAnchors: [bundle] })).toMatchObject({ chainValid: true, trustedBy: 'declaration' });
  });

  it('trusts a certificate from the system store as the system', () => {
    const now = new Date();
    const root = rootCertificates.map((pem) => new X509Certificate(pem)).find((c) => new Date(c.validFrom) < now && new Date(c.validTo) > now);
    if (!root) throw new Error('no system root in date');
    expect(analyseChain([root.raw], { host: '127.0.0.1', trustAnchors: [] })).toMatchObject({ chainValid: true, trustedBy: 'system', selfSigned: true });
  });
});
