import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Egress } from '../../harness/egress.js';
import { Scope } from '../../harness/scope.js';
import {
  ALL_VERSIONS,
  MAX_FLIGHT_BYTES,
  defaultSuite,
  probeVersion,
  probeWeakClasses,
  sweepVersions,
  versionSummary,
  type HelloResult,
  type ScanOptions,
  type TlsVersionName,
  type WeakClassResult,
} from '../../probes/lib/tls-scan.js';
import { WEAK_CLASSES, type WeakClass } from '../../probes/wire/cipher-suites.js';
import { hostile, type HostilePeer } from '../fixtures/hostile.js';
import { tlsResponders, type Responder } from '../fixtures/tls-responders.js';
import { tlsServers, type TlsServerFixture } from '../fixtures/tls-servers.js';
import { allocHost, freePort } from '../peers/alias.js';
import { startLighttpd } from '../peers/lighttpd.js';

let host: string;
let net: Egress;
const servers: Partial<Record<keyof typeof tlsServers, TlsServerFixture>> = {};
const responders: Partial<Record<keyof typeof tlsResponders, Responder>> = {};
const peers: Partial<Record<'silent' | 'resetter', HostilePeer>> = {};
const options = (): ScanOptions => ({ timeoutMs: 3000, signal: new AbortController().signal });

function portOf(peer: { port: number } | undefined): number {
  if (!peer) throw new Error('fixture did not start');
  return peer.port;
}

function byVersion(results: HelloResult[], version: TlsVersionName): HelloResult {
  const found = results.find((r) => r.version === version);
  if (!found) throw new Error(`no result for ${version}`);
  return found;
}

function accepted(results: WeakClassResult[]): WeakClass[] {
  return results.filter((r) => r.accepted).map((r) => r.class);
}

beforeAll(async () => {
  host = await allocHost([]);
  net = new Egress({ scope: new Scope([`${host}/32`]), excludePorts: { tcp: [2024], udp: [2024] }, maxConnectionsPerDevice: 16 });
  const names = Object.keys(tlsServers) as (keyof typeof tlsServers)[];
  const started = await Promise.all(names.map((name) => tlsServers[name](host)));
  names.forEach((name, i) => (servers[name] = started[i]));
  const rnames = Object.keys(tlsResponders) as (keyof typeof tlsResponders)[];
  const rstarted = await Promise.all(rnames.map((name) => tlsResponders[name](host)));
  rnames.forEach((name, i) => (responders[name] = rstarted[i]));
  peers.silent = await hostile.silent(host);
  peers.resetter = await hostile.resetter(host);
});

afterAll(async () => {
  await Promise.all([...Object.values(servers), ...Object.values(responders), ...Object.values(peers)].map((p) => p.stop()));
});

describe('version sweep against real and hand-made servers', () => {
  it('TLS 1.0-only (OpenSSL at SECLEVEL=0): offers TLSv1.0 only; 1.1 and 1.2 hellos are answered in 1.0 and count as not offered', async () => {
    const server = servers.tls10Only;
    const before = server?.connections ?? 0;
    const results = await sweepVersions(net, host, portOf(server), options());
    expect(results.map((r) => r.version)).toEqual(ALL_VERSIONS);
    expect(versionSummary(results)).toEqual({ offered: ['TLSv1.0'], notOffered: ['SSLv2', 'SSLv3', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] });
    // Each version on its own connection.
    expect((server?.connections ?? 0) - before).toBe(6);
    for (const v of ['TLSv1.1', 'TLSv1.2'] as const) expect(byVersion(results, v)).toMatchObject({ offered: false, answer: 'server-hello', negotiated: 'TLSv1.0' });
    const tls10 = byVersion(results, 'TLSv1.0');
    expect(tls10.certificates?.[0]?.equals(server?.certDer ?? Buffer.alloc(0))).toBe(true);
    expect(tls10.evidence).toMatchObject({ kind: 'exchange', port: server?.port, transport: 'tcp' });
    expect(Buffer.isBuffer(tls10.evidence.sent) && tls10.evidence.sent[0]).toBe(22);
    expect(Buffer.isBuffer(tls10.evidence.received) && tls10.evidence.received.length).toBeGreaterThan(100);
    expect(byVersion(results, 'TLSv1.3')).toMatchObject({ offered: false, answer: 'alert' });
  });

  it('TLS 1.2 + 1.3: offers exactly those; the 1.2 ServerHello carries the TLS 1.3 downgrade marker', async () => {
    const results = await sweepVersions(net, host, portOf(servers.tls12And13), options());
    expect(versionSummary(results)).toEqual({ offered: ['TLSv1.2', 'TLSv1.3'], notOffered: ['SSLv2', 'SSLv3', 'TLSv1.0', 'TLSv1.1'] });
    expect(byVersion(results, 'TLSv1.1')).toMatchObject({ answer: 'alert', alert: 70 });
    expect(byVersion(results, 'TLSv1.2').evidence.summary).toContain('downgrade marker');
    // TLS 1.3 certificates are encrypted: none can be read from the hello exchange.
    expect(byVersion(results, 'TLSv1.3').certificates).toBeUndefined();
  });

  it('TLS 1.3 only: offers TLSv1.3 only', async () => {
    const results = await sweepVersions(net, host, portOf(servers.tls13Only), options());
    expect(versionSummary(results)).toEqual({ offered: ['TLSv1.3'], notOffered: ['SSLv2', 'SSLv3', 'TLSv1.0', 'TLSv1.1', 'TLSv1.2'] });
    expect(byVersion(results, 'TLSv1.2')).toMatchObject({ answer: 'alert', alert: 70 });
    expect(byVersion(results, 'TLSv1.3')).toMatchObject({ answer: 'server-hello', negotiated: 'TLSv1.3' });
  });

  it('TLS 1.3 only with P-384 only: a HelloRetryRequest still means TLS 1.3 is offered', async () => {
    const result = await probeVersion(net, host, portOf(servers.tls13OnlyP384), 'TLSv1.3', options());
    expect(result).toMatchObject({ offered: true, answer: 'hello-retry', negotiated: 'TLSv1.3' });
  });

  it('SSLv2 responder: offers SSLv2 only, with its certificate parsed from the SERVER-HELLO', async () => {
    const responder = responders.ssl2Only;
    const results = await sweepVersions(net, host, portOf(responder), options());
    expect(versionSummary(results)).toEqual({ offered: ['SSLv2'], notOffered: ['SSLv3', 'TLSv1.0', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] });
    const ssl2 = byVersion(results, 'SSLv2');
    expect(ssl2).toMatchObject({ answer: 'server-hello', negotiated: 'SSLv2', cipher: 0x0700c0, cipherName: 'SSL_CK_DES_192_EDE3_CBC_WITH_MD5' });
    expect(ssl2.certificates).toHaveLength(1);
    expect(ssl2.certificates?.[0]?.equals(responder?.certDer ?? Buffer.alloc(0))).toBe(true);
    expect(Buffer.isBuffer(ssl2.evidence.sent) && (ssl2.evidence.sent[0] ?? 0) & 0x80).toBe(0x80);
  });

  it('SSLv3 responder: offers SSLv3 only (TLS hellos are answered in SSLv3), with its certificate', async () => {
    const responder = responders.ssl3Only;
    const results = await sweepVersions(net, host, portOf(responder), options());
    expect(versionSummary(results)).toEqual({ offered: ['SSLv3'], notOffered: ['SSLv2', 'TLSv1.0', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] });
    const ssl3 = byVersion(results, 'SSLv3');
    expect(ssl3).toMatchObject({ answer: 'server-hello', cipher: 0x002f, cipherName: 'TLS_RSA_WITH_AES_128_CBC_SHA' });
    expect(ssl3.certificates?.[0]?.equals(responder?.certDer ?? Buffer.alloc(0))).toBe(true);
    expect(byVersion(results, 'TLSv1.2')).toMatchObject({ offered: false, answer: 'server-hello', negotiated: 'SSLv3' });
    expect(byVersion(results, 'SSLv2')).toMatchObject({ offered: false, answer: 'alert', alert: 40 });
  });

  it('a flight cut into 7-byte records is reassembled: TLS 1.0 offered, certificate intact', async () => {
    const responder = responders.tls10Export;
    const results = await sweepVersions(net, host, portOf(responder), options());
    expect(versionSummary(results).offered).toEqual(['TLSv1.0']);
    expect(byVersion(results, 'TLSv1.0').certificates?.[0]?.equals(responder?.certDer ?? Buffer.alloc(0))).toBe(true);
    expect(byVersion(results, 'SSLv3')).toMatchObject({ answer: 'alert', alert: 70 });
  });

  it('an extension-intolerant TLS 1.0 stack is retried without extensions: TLS 1.0 offered, both exchanges kept', async () => {
    const results = await sweepVersions(net, host, portOf(responders.tls10Intolerant), options());
    expect(versionSummary(results).offered).toEqual(['TLSv1.0']);
    const tls10 = byVersion(results, 'TLSv1.0');
    expect(tls10).toMatchObject({ answer: 'server-hello', cipher: 0x002f });
    expect(tls10.firstAttempt?.summary).toContain('retrying without extensions');
    expect(['closed', 'reset']).toContain(tls10.firstAttempt?.data?.answer);
    expect(byVersion(results, 'TLSv1.2')).toMatchObject({ offered: false, negotiated: 'TLSv1.0' });
    // TLS 1.3 cannot be asked without extensions: the hang-up stands.
    expect(['closed', 'reset']).toContain(byVersion(results, 'TLSv1.3').answer);
    // A server that answers with an alert is not asked twice.
    expect(byVersion(results, 'SSLv3').firstAttempt).toBeUndefined();
    // Weak classes and the default suite get the same retry.
    const weak = await probeWeakClasses(net, host, portOf(responders.tls10Intolerant), ['TLSv1.0'], options());
    expect(accepted(weak)).toEqual(['DES/3DES']);
    expect(weak.find((r) => r.class === 'DES/3DES')?.evidence).toHaveLength(2);
    expect(await defaultSuite(net, host, portOf(responders.tls10Intolerant), ['TLSv1.0'], options())).toMatchObject({ version: 'TLSv1.0', cipher: 0x002f });
  });
});

describe('a second real peer: lighttpd on the system OpenSSL', () => {
  it('TLS 1.0 to 1.2 at SECLEVEL=0: offers exactly those, with its certificate, and no weak class', async () => {
    const peer = await startLighttpd({ host, port: await freePort(host), tls: { minProtocol: 'TLSv1', maxProtocol: 'TLSv1.2', cipherString: 'DEFAULT@SECLEVEL=0' } });
    try {
      const results = await sweepVersions(net, host, peer.port, options());
      expect(versionSummary(results)).toEqual({ offered: ['TLSv1.0', 'TLSv1.1', 'TLSv1.2'], notOffered: ['SSLv2', 'SSLv3', 'TLSv1.3'] });
      const der = new X509Certificate(peer.cert?.certPem ?? '').raw;
      expect(byVersion(results, 'TLSv1.2').certificates?.[0]?.equals(der)).toBe(true);
      const weak = await probeWeakClasses(net, host, peer.port, versionSummary(results).offered, options());
      expect(accepted(weak)).toEqual([]);
    } finally {
      await peer.stop();
    }
  });
});

describe('weak suite classes', () => {
  it('OpenSSL server with NULL and anonymous suites: exactly NULL and anonymous accepted, at TLS 1.2', async () => {
    const port = portOf(servers.weakCiphers);
    const offered = versionSummary(await sweepVersions(net, host, port, options())).offered;
    expect(offered).toEqual(['TLSv1.2']);
    const results = await probeWeakClasses(net, host, port, offered, options());
    expect(accepted(results)).toEqual(['NULL', 'anonymous']);
    for (const r of results.filter((x) => x.accepted)) {
      expect(r.version).toBe('TLSv1.2');
      expect(WEAK_CLASSES[r.class]).toContain(r.cipher);
    }
    const refused = results.find((r) => r.class === 'RC4');
    expect(refused?.evidence).toHaveLength(1);
    expect(refused?.evidence[0]).toMatchObject({ kind: 'exchange', data: { answer: 'alert', alert: 40 } });
  });

  it('SSLv2 responder: EXPORT, RC4 and DES/3DES accepted through SSLv2 cipher kinds; no NULL or anonymous kinds exist', async () => {
    const results = await probeWeakClasses(net, host, portOf(responders.ssl2Only), ['SSLv2'], options());
    expect(accepted(results)).toEqual(['EXPORT', 'RC4', 'DES/3DES']);
    expect(results.find((r) => r.class === 'EXPORT')).toMatchObject({ version: 'SSLv2', cipherName: 'SSL_CK_RC4_128_EXPORT40_WITH_MD5' });
    expect(results.find((r) => r.class === 'NULL')?.evidence[0]?.kind).toBe('note');
  });

  it('SSLv3 responder: RC4 and 3DES accepted, the rest refused', async () => {
    const results = await probeWeakClasses(net, host, portOf(responders.ssl3Only), ['SSLv3'], options());
    expect(accepted(results)).toEqual(['RC4', 'DES/3DES']);
    expect(results.find((r) => r.class === 'RC4')).toMatchObject({ version: 'SSLv3', cipher: 0x0005 });
    expect(results.find((r) => r.class === 'DES/3DES')).toMatchObject({ version: 'SSLv3', cipher: 0x000a });
  });

  it('TLS 1.0 EXPORT responder: EXP-RC4-MD5 counts as EXPORT and as RC4', async () => {
    const results = await probeWeakClasses(net, host, portOf(responders.tls10Export), ['TLSv1.0'], options());
    expect(accepted(results)).toEqual(['EXPORT', 'RC4']);
    expect(results.find((r) => r.class === 'EXPORT')).toMatchObject({ version: 'TLSv1.0', cipher: 0x0003, cipherName: 'TLS_RSA_EXPORT_WITH_RC4_40_MD5' });
  });

  it('a current server accepts none; with only TLS 1.3 offered nothing is asked', async () => {
    const results = await probeWeakClasses(net, host, portOf(servers.tls12And13), ['TLSv1.2', 'TLSv1.3'], options());
    expect(accepted(results)).toEqual([]);
    const none = await probeWeakClasses(net, host, portOf(servers.tls13Only), ['TLSv1.3'], options());
    expect(accepted(none)).toEqual([]);
    expect(none.every((r) => r.evidence.length === 1 && r.evidence[0]?.kind === 'note')).toBe(true);
  });
});

describe('default suite', () => {
  it('is a TLS 1.3 AEAD suite on the 1.2 + 1.3 server', async () => {
    const result = await defaultSuite(net, host, portOf(servers.tls12And13), ['TLSv1.2', 'TLSv1.3'], options());
    expect(result?.version).toBe('TLSv1.3');
    expect([0x1301, 0x1302, 0x1303]).toContain(result?.cipher);
    expect(result?.cipherName).toMatch(/^TLS_(AES_\d+_GCM|CHACHA20_POLY1305)_SHA\d+$/);
  });

  it('is the strong suite on the weak-cipher server, and what the old responders prefer', async () => {
    expect(await defaultSuite(net, host, portOf(servers.weakCiphers), ['TLSv1.2'], options())).toMatchObject({ version: 'TLSv1.2', cipher: 0xc02f });
    expect(await defaultSuite(net, host, portOf(responders.ssl3Only), ['SSLv3'], options())).toMatchObject({ version: 'SSLv3', cipher: 0x002f });
    expect(await defaultSuite(net, host, portOf(responders.ssl2Only), ['SSLv2'], options())).toMatchObject({ version: 'SSLv2', cipher: 0x0700c0 });
    expect(await defaultSuite(net, host, portOf(servers.tls12And13), [], options())).toBeUndefined();
  });
});

describe('devices that do not answer like TLS', () => {
  it('a 1 MiB record: the read stops at the cap, the answer is "not TLS"', async () => {
    const result = await probeVersion(net, host, portOf(responders.flood), 'TLSv1.2', options());
    expect(result).toMatchObject({ offered: false, answer: 'not-tls' });
    const received = result.evidence.received;
    expect(Buffer.isBuffer(received) && received.length).toBe(MAX_FLIGHT_BYTES);
  });

  it('silence is a timeout, a reset is a reset, a closed port is refused: results, not throws', async () => {
    const quick = { timeoutMs: 300, signal: new AbortController().signal };
    expect(await probeVersion(net, host, portOf(peers.silent), 'TLSv1.2', quick)).toMatchObject({ offered: false, answer: 'timeout' });
    const reset = await probeVersion(net, host, portOf(peers.resetter), 'SSLv3', quick);
    expect(reset.offered).toBe(false);
    expect(['reset', 'closed']).toContain(reset.answer);
    const gone = await tlsServers.tls13Only(host);
    await gone.stop();
    const refused = await sweepVersions(net, host, gone.port, quick);
    expect(refused.every((r) => r.answer === 'refused' && !r.offered && r.evidence.kind === 'connect')).toBe(true);
  });

  it('an aborted run stops every exchange', async () => {
    const controller = new AbortController();
    const pending = sweepVersions(net, host, portOf(peers.silent), { timeoutMs: 10_000, signal: controller.signal });
    controller.abort();
    const results = await pending;
    expect(results.every((r) => r.answer === 'aborted' && !r.offered)).toBe(true);
  });
});
