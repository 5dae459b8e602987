import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { createCa, type CertOptions } from '../../lab/certs.js';
import tls from '../../probes/tls.js';
import { tmp } from '../cli/helpers.js';
import { startTlsServer } from '../fixtures/tls-servers.js';
import { tlsResponders } from '../fixtures/tls-responders.js';
import { tlsServers } from '../fixtures/tls-servers.js';
import { allocHost } from '../peers/alias.js';
import { runProbe } from './run-probe.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((s) => s()));
});

async function scan(start: (host: string) => Promise<{ port: number; stop(): Promise<void> }>, declaration?: string) {
  const host = await allocHost([]);
  const server = await start(host);
  stops.push(() => server.stop());
  let declarationPath: string | undefined;
  if (declaration !== undefined) {
    declarationPath = join(tmp('tls-decl-'), 'dut.yaml');
    writeFileSync(declarationPath, declaration);
  }
  const run = await runProbe({ host, ports: [server.port], probes: [tls], profiles: ['etsi-en-303-645'], ...(declarationPath ? { declarationPath } : {}) });
  const value = (key: string) => run.byKey(key)[0]?.value;
  return { run, host, port: server.port, versions: value('tls.versions'), ciphers: value('tls.ciphers'), cert: value('tls.certificate'), verdict: run.target?.verdicts.find((v) => v.provision === '5.5-1') };
}

const ALL = ['SSLv2', 'SSLv3', 'TLSv1.0', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
const rest = (offered: string[]) => ALL.filter((v) => !offered.includes(v));

/** A modern device: TLS 1.2+1.3, a certificate from the lab CA the declaration names. */
async function modernWithCa(host: string, leaf: CertOptions = {}): Promise<{ port: number; stop(): Promise<void>; declaration: string }> {
  const ca = await createCa({ commonName: 'Test Lab CA' });
  const cert = await ca.issue({ commonName: 'dut', ipAddresses: [host], ...leaf });
  const dir = tmp('tls-ca-');
  writeFileSync(join(dir, 'ca.pem'), ca.cert);
  const server: Server = createServer({ key: cert.key, cert: cert.cert, minVersion: 'TLSv1.2' }, (s) => s.end());
  await new Promise<void>((r) => server.listen(0, host, r));
  return { port: (server.address() as { port: number }).port, stop: () => new Promise((r) => server.close(() => r())), declaration: `trustAnchors: [${join(dir, 'ca.pem')}]\n` };
}

describe('tls probe: versions, each asserted exactly', () => {
  it.each([
    ['TLS 1.0 only', tlsServers.tls10Only, ['TLSv1.0']],
    ['TLS 1.2 + 1.3', tlsServers.tls12And13, ['TLSv1.2', 'TLSv1.3']],
    ['TLS 1.3 only', tlsServers.tls13Only, ['TLSv1.3']],
    ['SSLv3 only (hand-made responder)', tlsResponders.ssl3Only, ['SSLv3']],
    ['SSLv2 only (hand-made responder)', tlsResponders.ssl2Only, ['SSLv2']],
  ])('%s', async (_name, start, offered) => {
    const r = await scan(start);
    expect(r.run.services[0]?.tls).toBe(true);
    expect(r.versions).toMatchObject({ port: r.port, offered, notOffered: rest(offered) });
  });
});

describe('tls probe: weak classes and 5.5-1', () => {
  it('TLS 1.0 only FAILs 5.5-1 naming the version', async () => {
    const r = await scan(tlsServers.tls10Only);
    expect(r.verdict?.verdict).toBe('FAIL');
    expect(r.verdict?.rationale).toMatch(/^(tls|https) on tcp\/\d+: offers TLSv1\.0\.$/);
  });

  it('a server accepting NULL and anonymous suites: both reported, FAIL', async () => {
    const r = await scan(tlsServers.weakCiphers);
    expect(r.ciphers?.weak).toEqual(expect.arrayContaining(['NULL', 'anonymous']));
    expect((r.ciphers?.weak as string[]).length).toBe(2);
    expect(r.verdict?.rationale).toMatch(/accepts (NULL and anonymous|anonymous and NULL) cipher suites/);
  });

  it('SSLv3 with RC4 and 3DES: versions, classes, and the certificate read from the SSLv3 handshake itself', async () => {
    const r = await scan(tlsResponders.ssl3Only);
    expect(r.ciphers?.weak).toEqual(expect.arrayContaining(['RC4', '3DES']));
    // Node cannot speak SSLv3: the certificate comes from our own hello's plaintext flight.
    expect(r.cert).toMatchObject({ source: 'SSLv3 hello', selfSigned: true });
    expect(r.verdict?.verdict).toBe('FAIL');
    expect(r.verdict?.rationale).toMatch(/offers SSLv3/);
  });

  it('a modern device with a certificate from the declared CA PASSes 5.5-1', async () => {
    const host = await allocHost([]);
    const d = await modernWithCa(host);
    stops.push(() => d.stop());
    const dir = tmp('tls-pass-');
    writeFileSync(join(dir, 'dut.yaml'), d.declaration);
    const run = await runProbe({ host, ports: [d.port], probes: [tls], profiles: ['etsi-en-303-645'], declarationPath: join(dir, 'dut.yaml') });
    const cert = run.byKey('tls.certificate')[0]?.value;
    expect(cert).toMatchObject({ chainValid: true, trustedBy: 'declaration', nameMatches: true, expired: false, selfSigned: false, weak: [] });
    expect(run.byKey('tls.ciphers')[0]?.value).toMatchObject({ weak: [], defaultSuite: { version: 'TLSv1.3' } });
    const v = run.target?.verdicts.find((x) => x.provision === '5.5-1');
    expect(v?.verdict).toBe('PASS');
    expect(v?.rationale).toMatch(/^Every TLS service offers only TLSv1\.2 or newer with no weak suite and a sound certificate: tls on tcp\/\d+ \(TLSv1\.2\+TLSv1\.3\)\.$/);
    // The verdict cites the hellos and the certificate the device sent.
    expect(v?.evidence.length).toBeGreaterThan(6);
  });
});

describe('tls probe: certificates', () => {
  const yearAgo = new Date(Date.now() - 365 * 86_400_000);
  it.each([
    ['self-signed', {}, { selfSigned: true, chainValid: false }, /./],
    ['expired', { notBefore: new Date(yearAgo.getTime() - 86_400_000), notAfter: yearAgo }, { expired: true }, /certificate with .*expired/],
    ['RSA-1024', { key: { type: 'rsa', bits: 1024 } }, { keyType: 'rsa', keyBits: 1024 }, /RSA key below 2048 bits/],
    ['SHA-1 signed', { hash: 'SHA-1' }, { sigAlg: 'sha1WithRSAEncryption' }, /SHA-1 signature/],
  ] as const)('%s', async (_name, cert, facts, reason) => {
    const r = await scan((host) => startTlsServer({ host, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', ciphers: 'DEFAULT@SECLEVEL=0', cert: { ipAddresses: [host], ...cert } }));
    expect(r.cert).toMatchObject(facts);
    expect(r.cert?.fingerprintSha256).toMatch(/^[0-9a-f]{64}$/);
    if (_name === 'self-signed') {
      // No anchors declared: a self-signed certificate may be pinned by the app, so 5.5-1 cannot PASS or FAIL on it alone.
      expect(r.verdict?.verdict).toBe('INCONCLUSIVE');
    } else {
      expect(r.verdict?.verdict).toBe('FAIL');
      expect(r.verdict?.rationale).toMatch(reason);
    }
  });

  it('with declared anchors, a self-signed certificate FAILs 5.5-1', async () => {
    const host = await allocHost([]);
    const d = await modernWithCa(host);
    stops.push(() => d.stop());
    const r = await scan((h) => startTlsServer({ host: h, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', cert: { ipAddresses: [h] } }), d.declaration);
    expect(r.cert).toMatchObject({ chainValid: false, trustedBy: null });
    expect(r.verdict?.rationale).toMatch(/does not validate against the declared trust anchors \(no path to a trusted anchor/);
  });
});
