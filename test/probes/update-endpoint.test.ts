import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { EvidenceRecord } from '../../harness/evidence.js';
import { runHarness } from '../../harness/run.js';
import { createCa, createSelfSigned, type CertificateAuthority } from '../../lab/certs.js';
import updateEndpoint from '../../probes/update-endpoint.js';
import { countingServer, tmp } from '../cli/helpers.js';
import { generatedImage, generatedSha256, sha256, signingKeys, startUpdateServer, type Route, type UpdateServer } from '../fixtures/update-servers.js';
import { allocHost, freePort } from '../peers/alias.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((s) => s()));
});

let ca: CertificateAuthority;
let dir: string;
let caPath: string;
beforeAll(async () => {
  ca = await createCa({ commonName: 'Update Test CA', key: { type: 'ecdsa' } });
  dir = tmp('update-endpoint-');
  caPath = join(dir, 'ca.pem');
  writeFileSync(caPath, ca.cert);
});

const IMAGE = Buffer.from('firmware image 1.2.4\n'.repeat(5000));

type TlsKind = 'ca' | 'self-signed' | 'expired' | 'none';

/** An update server on `host`; HTTPS with a certificate for the host's IP from the test CA unless told otherwise. */
async function server(host: string, routes: Record<string, Route>, tls: TlsKind = 'ca', port?: number): Promise<UpdateServer & { fingerprint?: string }> {
  const dayMs = 86_400_000;
  const leaf = { commonName: 'updates', ipAddresses: [host], key: { type: 'ecdsa' } } as const;
  const cert =
    tls === 'ca'
      ? await ca.issue(leaf)
      : tls === 'self-signed'
        ? await createSelfSigned(leaf)
        : tls === 'expired'
          ? await ca.issue({ ...leaf, notBefore: new Date(Date.now() - 60 * dayMs), notAfter: new Date(Date.now() - 30 * dayMs) })
          : undefined;
  const s = await startUpdateServer({ host, routes, ...(cert ? { tls: cert } : {}), ...(port === undefined ? {} : { port }) });
  stops.push(() => s.stop());
  return cert ? { ...s, fingerprint: fingerprint(cert.cert) } : s;
}

function fingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase();
}

function declaration(update: Record<string, unknown> | undefined): string {
  const path = join(tmp('update-decl-'), 'dut.yaml');
  writeFileSync(path, stringify({ device: { vendor: 'Acme', model: 'Cam-1' }, trustAnchors: [caPath], ...(update ? { update } : {}) }));
  return path;
}

function keyFile(pem: string): string {
  const path = join(tmp('update-key-'), 'fw.pub');
  writeFileSync(path, pem);
  return path;
}

interface UpdateRun {
  endpoints: Record<string, unknown>[];
  /** The evidence each endpoint observation cites, in its order. */
  cited: EvidenceRecord[][];
  errors: { code: string; message: string }[];
}

/**
 * One target through the harness with only this probe. `scope` replaces the default (which holds all of
 * loopback) when given. The plain-HTTP and HTTPS alternatives are not tried unless a test names ports:
 * the defaults (80, 8080, 443, 8443) could reach a service of this machine's own.
 */
async function run(host: string, declarationPath: string | undefined, options: { scope?: string[]; probeOptions?: Record<string, unknown> } = {}): Promise<UpdateRun> {
  const outcome = await runHarness({
    targets: [{ address: host, source: 'test', ...(declarationPath ? { declarationPath } : {}) }],
    profiles: ['etsi-en-303-645'],
    ports: { tcp: [], udp: [] },
    excludePorts: { tcp: [], udp: [] },
    concurrency: 1,
    scanner: 'builtin',
    outDir: join(tmp('update-run-'), 'out'),
    probes: [updateEndpoint],
    probeOptions: { timeoutMs: 2000, plaintextPorts: [], httpsPorts: [], ...options.probeOptions },
    ...(options.scope ? { scope: options.scope } : {}),
  });
  const evidence = readFileSync(join(outcome.outDir, 'evidence.jsonl'), 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as EvidenceRecord);
  const observations = (outcome.report.targets[0]?.observations ?? []).filter((o) => o.key === 'update.endpoint');
  return {
    endpoints: observations.map((o) => o.value),
    cited: observations.map((o) => o.evidence.map((id) => evidence.find((e) => e.id === id) as EvidenceRecord)),
    errors: outcome.report.errors,
  };
}

/** What a plain-HTTP GET to a TLS port gets: the server hangs up on it. */
const HUNG_UP = expect.stringMatching(/^(UND_ERR_SOCKET: other side closed|.*ECONNRESET.*|.*HPE_.*)$/) as string;
const REFUSED = expect.stringMatching(/^connection refused \(ECONNREFUSED/) as string;

/** The fields of a valid HTTPS download of IMAGE at `url` from `s`, without the signature fields. */
function servedOverHttps(s: UpdateServer & { fingerprint?: string }, url: string, image = IMAGE): Record<string, unknown> {
  return {
    url,
    inScope: true,
    addresses: [s.host],
    https: true,
    tlsVersions: ['TLSv1.2', 'TLSv1.3'],
    certValid: true,
    certificate: { subject: 'CN=updates', issuer: 'CN=Update Test CA', fingerprintSha256: s.fingerprint, selfSigned: false, expired: false, nameMatches: true, trustedBy: 'declaration' },
    redirects: [],
    status: 200,
    bytes: image.length,
    truncated: false,
    contentLength: image.length,
    sha256: sha256(image),
    finalUrl: url,
    plaintextReachable: false,
    plaintext: [{ url: url.replace('https:', 'http:'), error: HUNG_UP }],
  };
}

describe('update-endpoint: a conformant HTTPS endpoint', () => {
  it('CA certificate, TLS 1.2+, a valid Ed25519 signature; evidence holds status lines, fingerprint, hash and result', async () => {
    const host = await allocHost([]);
    const keys = signingKeys('ed25519');
    const s = await server(host, { '/fw.bin': { body: IMAGE }, '/fw.bin.sig': { body: keys.sign(IMAGE) } });
    const url = `${s.origin}/fw.bin`;
    const r = await run(host, declaration({ urls: [url], signing: { algorithm: 'ed25519', publicKey: keyFile(keys.publicKeyPem) } }));
    expect(r.errors).toEqual([]);
    expect(r.endpoints).toEqual([{ ...servedOverHttps(s, url), signatureChecked: true, signatureValid: true, signatureUrl: `${url}.sig`, signatureEncoding: 'raw' }]);
    const ev = r.cited[0] ?? [];
    expect(ev.some((e) => e.received?.text.startsWith('HTTP/1.1 200 OK\r\n') && e.summary.startsWith(`GET ${url} → 200 OK; body ${IMAGE.length} bytes`))).toBe(true);
    expect(ev.some((e) => e.received?.text.startsWith('HTTP/1.1 200 OK\r\n') && e.summary.startsWith(`GET ${url}.sig → 200 OK`))).toBe(true);
    expect(ev.some((e) => e.summary.includes(`sha256 ${s.fingerprint ?? '?'}`) && e.kind === 'exchange')).toBe(true);
    expect(ev.some((e) => e.summary === `image ${url}: ${IMAGE.length} bytes read, sha256 ${sha256(IMAGE)}`)).toBe(true);
    expect(ev.some((e) => e.summary === `ed25519 signature of ${url} (${url}.sig, raw): valid`)).toBe(true);
    // Six version hellos: the TLS facts are backed by the exchanges themselves.
    expect(ev.filter((e) => /ClientHello|CLIENT-HELLO/.test(e.summary)).length).toBeGreaterThanOrEqual(6);
  });

  it.each([
    ['ecdsa-p256-sha256', 'base64'],
    ['ecdsa-p256-sha256', 'raw'],
    ['rsa-pss-sha256', 'raw'],
    ['rsa-pss-sha256', 'base64'],
    ['ed25519', 'base64'],
  ] as const)('%s signature written %s verifies', async (algorithm, encoding) => {
    const host = await allocHost([]);
    const keys = signingKeys(algorithm);
    const sig = keys.sign(IMAGE);
    const s = await server(host, { '/fw.bin': { body: IMAGE }, '/fw.bin.sig': { body: encoding === 'raw' ? sig : `${sig.toString('base64')}\n` } });
    const url = `${s.origin}/fw.bin`;
    const r = await run(host, declaration({ urls: [url], signing: { algorithm, publicKey: keyFile(keys.publicKeyPem) } }));
    expect(r.endpoints).toEqual([{ ...servedOverHttps(s, url), signatureChecked: true, signatureValid: true, signatureUrl: `${url}.sig`, signatureEncoding: encoding }]);
  });

  it('a declared signatureUrl is used instead of <url>.sig', async () => {
    const host = await allocHost([]);
    const keys = signingKeys('ecdsa-p256-sha256');
    const s = await server(host, { '/fw.bin': { body: IMAGE }, '/sigs/fw-1.2.4.sig': { body: keys.sign(IMAGE) } });
    const url = `${s.origin}/fw.bin`;
    const r = await run(host, declaration({ urls: [url], signing: { algorithm: 'ecdsa-p256-sha256', publicKey: keyFile(keys.publicKeyPem), signatureUrl: `${s.origin}/sigs/fw-1.2.4.sig` } }));
    expect(r.endpoints[0]).toMatchObject({ signatureChecked: true, signatureValid: true, signatureUrl: `${s.origin}/sigs/fw-1.2.4.sig` });
    expect(s.requests).not.toContain('GET /fw.bin.sig');
  });
});

describe('update-endpoint: bad signatures', () => {
  it.each(['ed25519', 'ecdsa-p256-sha256', 'rsa-pss-sha256'] as const)('%s: a tampered image does not verify', async (algorithm) => {
    const host = await allocHost([]);
    const keys = signingKeys(algorithm);
    const tampered = Buffer.from(IMAGE);
    tampered[1000] = (tampered[1000] ?? 0) ^ 0x01;
    const s = await server(host, { '/fw.bin': { body: tampered }, '/fw.bin.sig': { body: keys.sign(IMAGE) } });
    const url = `${s.origin}/fw.bin`;
    const r = await run(host, declaration({ urls: [url], signing: { algorithm, publicKey: keyFile(keys.publicKeyPem) } }));
    expect(r.endpoints).toEqual([
      {
        ...servedOverHttps(s, url, tampered),
        signatureChecked: true,
        signatureValid: false,
        signatureError: `the ${algorithm} signature does not verify with the declared key`,
        signatureUrl: `${url}.sig`,
        signatureEncoding: 'raw',
      },
    ]);
    expect(r.cited[0]?.some((e) => e.summary === `${algorithm} signature of ${url} (${url}.sig, raw): INVALID: the ${algorithm} signature does not verify with the declared key`)).toBe(true);
  });

  it('a missing .sig: signatureValid false with the reason', async () => {
    const host = await allocHost([]);
    const keys = signingKeys('ed25519');
    const s = await server(host, { '/fw.bin': { body: IMAGE } });
    const url = `${s.origin}/fw.bin`;
    const r = await run(host, declaration({ urls: [url], signing: { algorithm: 'ed25519', publicKey: keyFile(keys.publicKeyPem) } }));
    expect(r.endpoints).toEqual([{ ...servedOverHttps(s, url), signatureChecked: false, signatureValid: false, signatureError: `no signature at ${url}.sig: 404 Not Found`, signatureUrl: `${url}.sig` }]);
    expect(r.cited[0]?.some((e) => e.received?.text.startsWith('HTTP/1.1 404 Not Found\r\n'))).toBe(true);
  });

  it('a signature made with another key does not verify; garbage is reported as malformed', async () => {
    const host = await allocHost([]);
    const keys = signingKeys('ecdsa-p256-sha256');
    const other = signingKeys('ecdsa-p256-sha256');
    const s = await server(host, { '/a.bin': { body: IMAGE }, '/a.bin.sig': { body: other.sign(IMAGE) }, '/b.bin': { body: IMAGE }, '/b.bin.sig': { body: Buffer.from([0x30, 0x03, 0x02, 0x01]) } });
    const r = await run(host, declaration({ urls: [`${s.origin}/a.bin`, `${s.origin}/b.bin`], signing: { algorithm: 'ecdsa-p256-sha256', publicKey: keyFile(keys.publicKeyPem) } }));
    expect(r.endpoints.map((e) => [e.signatureChecked, e.signatureValid, e.signatureError])).toEqual([
      [true, false, 'the ecdsa-p256-sha256 signature does not verify with the declared key'],
      [true, false, expect.stringMatching(/^the ecdsa-p256-sha256 (signature is malformed \(.+\)|signature does not verify with the declared key)$/) as string],
    ]);
  });

  it('a public key that does not suit the algorithm is bad input: refused when the declaration loads, before any packet', async () => {
    const host = await allocHost([]);
    const rsa = signingKeys('rsa-pss-sha256');
    const s = await server(host, { '/fw.bin': { body: IMAGE } });
    const keyPath = keyFile(rsa.publicKeyPem);
    const message = `update.signing.publicKey ${keyPath}: holds a rsa key, but update.signing.algorithm ed25519 needs an Ed25519 key`;
    await expect(run(host, declaration({ urls: [`${s.origin}/fw.bin`], signing: { algorithm: 'ed25519', publicKey: keyPath } }))).rejects.toThrow(message);
    expect(s.connections()).toBe(0);
  });
});

describe('update-endpoint: certificates', () => {
  it('a self-signed certificate (the declared anchor is the CA) is not valid', async () => {
    const host = await allocHost([]);
    const s = await server(host, { '/fw.bin': { body: IMAGE } }, 'self-signed');
    const url = `${s.origin}/fw.bin`;
    const r = await run(host, declaration({ urls: [url] }));
    expect(r.endpoints).toEqual([
      {
        ...servedOverHttps(s, url),
        certValid: false,
        certificate: { subject: 'CN=updates', issuer: 'CN=updates', fingerprintSha256: s.fingerprint, selfSigned: true, expired: false, nameMatches: true, trustedBy: null, chainError: expect.stringMatching(/^no path to a trusted anchor/) as string },
        signatureChecked: false,
      },
    ]);
  });

  it('an expired certificate from the declared CA is not valid', async () => {
    const host = await allocHost([]);
    const s = await server(host, { '/fw.bin': { body: IMAGE } }, 'expired');
    const url = `${s.origin}/fw.bin`;
    const r = await run(host, declaration({ urls: [url] }));
    expect(r.endpoints).toEqual([
      {
        ...servedOverHttps(s, url),
        certValid: false,
        certificate: { subject: 'CN=updates', issuer: 'CN=Update Test CA', fingerprintSha256: s.fingerprint, selfSigned: false, expired: true, nameMatches: true, trustedBy: null, chainError: expect.stringMatching(/expired/) as string },
        signatureChecked: false,
      },
    ]);
  });

  it('an https URL whose server does not speak TLS: no TLS versions, no certificate, no download', async () => {
    const host = await allocHost([]);
    const s = await server(host, { '/fw.bin': { body: IMAGE } }, 'none');
    const url = `https://${host}:${s.port}/fw.bin`;
    const r = await run(host, declaration({ urls: [url] }));
    expect(r.endpoints).toEqual([
      {
        url,
        inScope: true,
        addresses: [host],
        https: true,
        tlsVersions: [],
        certValid: false,
        certificateError: expect.stringMatching(new RegExp(`^TLS handshake with ${host}:${s.port} failed: `)) as string,
        redirects: [],
        status: null,
        error: expect.stringMatching(/^connection /) as string,
        bytes: 0,
        truncated: false,
        contentLength: null,
        sha256: null,
        finalUrl: url,
        plaintextReachable: true,
        plaintext: [{ url: `http://${host}:${s.port}/fw.bin`, status: 200 }],
        signatureChecked: false,
      },
    ]);
  });

  it('update.trustAnchors replaces the top-level anchors for update servers', async () => {
    const host = await allocHost([]);
    const s = await server(host, { '/fw.bin': { body: IMAGE } });
    const other = await createCa({ commonName: 'Other CA', key: { type: 'ecdsa' } });
    const otherPath = join(tmp('update-other-ca-'), 'other.pem');
    writeFileSync(otherPath, other.cert);
    const r = await run(host, declaration({ urls: [`${s.origin}/fw.bin`], trustAnchors: [otherPath] }));
    expect(r.endpoints[0]).toMatchObject({ certValid: false, certificate: { trustedBy: null, chainError: expect.stringMatching(/^no path to a trusted anchor/) as string } });
  });

  it('a host name is resolved, checked against the scope, sent as SNI and matched against the certificate', async () => {
    // localhost is the one name that resolves without a network (from /etc/hosts); it means 127.0.0.1.
    const cert = await ca.issue({ commonName: 'updates', dnsNames: ['localhost'], key: { type: 'ecdsa' } });
    const s = await startUpdateServer({ host: '127.0.0.1', routes: { '/fw.bin': { body: IMAGE } }, tls: cert });
    stops.push(() => s.stop());
    const url = `https://localhost:${s.port}/fw.bin`;
    const r = await run('127.0.0.1', declaration({ urls: [url] }));
    expect(r.endpoints[0]).toMatchObject({ url, inScope: true, addresses: ['127.0.0.1'], https: true, certValid: true, certificate: { nameMatches: true, fingerprintSha256: fingerprint(cert.cert) }, status: 200, sha256: sha256(IMAGE) });
    expect(s.requests).toContain('GET /fw.bin');
  });
});

describe('update-endpoint: plain HTTP', () => {
  it('a plain-HTTP-only server: https false, plaintext reachable, no HTTPS on the tried port', async () => {
    const host = await allocHost([]);
    const s = await server(host, { '/fw.bin': { body: IMAGE } }, 'none');
    const idle = await freePort(host);
    const url = `${s.origin}/fw.bin`;
    const r = await run(host, declaration({ urls: [url] }), { probeOptions: { httpsPorts: [idle] } });
    expect(r.endpoints).toEqual([
      {
        url,
        inScope: true,
        addresses: [host],
        https: false,
        redirects: [],
        status: 200,
        bytes: IMAGE.length,
        truncated: false,
        contentLength: IMAGE.length,
        sha256: sha256(IMAGE),
        finalUrl: url,
        plaintextReachable: true,
        httpsAvailable: false,
        httpsTried: [{ url: `https://${host}:${idle}/fw.bin`, error: REFUSED }],
        signatureChecked: false,
      },
    ]);
  });

  it('an http URL whose path is also served over HTTPS: httpsAvailable', async () => {
    const host = await allocHost([]);
    const plain = await server(host, { '/fw.bin': { body: IMAGE } }, 'none');
    const secure = await server(host, { '/fw.bin': { body: IMAGE } });
    const r = await run(host, declaration({ urls: [`${plain.origin}/fw.bin`] }), { probeOptions: { httpsPorts: [secure.port] } });
    expect(r.endpoints[0]).toMatchObject({ https: false, plaintextReachable: true, httpsAvailable: true, httpsTried: [{ url: `${secure.origin}/fw.bin`, status: 200 }] });
  });

  it('an HTTPS endpoint whose path is also served over HTTP on 8080: plaintextReachable', async () => {
    const host = await allocHost([8080]);
    const s = await server(host, { '/fw.bin': { body: IMAGE } });
    await server(host, { '/fw.bin': { body: IMAGE } }, 'none', 8080);
    const url = `${s.origin}/fw.bin`;
    const r = await run(host, declaration({ urls: [url] }), { probeOptions: { plaintextPorts: [8080] } });
    expect(r.endpoints).toEqual([
      {
        ...servedOverHttps(s, url),
        plaintextReachable: true,
        plaintext: [
          { url: `http://${host}:8080/fw.bin`, status: 200 },
          { url: `http://${host}:${s.port}/fw.bin`, error: HUNG_UP },
        ],
        signatureChecked: false,
      },
    ]);
    expect(r.cited[0]?.some((e) => e.summary === `GET http://${host}:8080/fw.bin → 200 OK` && e.received?.text.startsWith('HTTP/1.1 200 OK\r\n'))).toBe(true);
  });

  it('an HTTP answer that is not 2xx is not a plaintext path', async () => {
    const host = await allocHost([]);
    const s = await server(host, { '/fw.bin': { body: IMAGE } });
    const redirector = await server(host, { '/fw.bin': { redirect: `${s.origin}/fw.bin`, status: 301 } }, 'none');
    const r = await run(host, declaration({ urls: [`${s.origin}/fw.bin`] }), { probeOptions: { plaintextPorts: [redirector.port] } });
    expect(r.endpoints[0]).toMatchObject({ plaintextReachable: false, plaintext: [{ url: `http://${host}:${redirector.port}/fw.bin`, status: 301 }, { error: HUNG_UP }] });
  });

  it('the defaults try ports 80 and 8080 and the URL\'s own port', () => {
    const options = updateEndpoint.meta.options.parse({}) as Record<string, unknown>;
    expect(options).toEqual({ timeoutMs: 5000, downloadTimeoutMs: 120_000, maxBytes: 64 * 1024 * 1024, maxRedirects: 5, plaintextPorts: [80, 8080], httpsPorts: [443, 8443] });
  });
});

describe('update-endpoint: redirects', () => {
  it('in-scope redirects are followed and each hop recorded', async () => {
    const host = await allocHost([]);
    const s = await server(host, { '/latest': { redirect: '/v2/latest', status: 301 }, '/v2/latest': { redirect: '/v2/fw-1.2.4.bin', status: 307 }, '/v2/fw-1.2.4.bin': { body: IMAGE } });
    const url = `${s.origin}/latest`;
    const r = await run(host, declaration({ urls: [url] }));
    expect(r.endpoints[0]).toMatchObject({
      https: true,
      certValid: true,
      redirects: [
        { status: 301, location: '/v2/latest', followed: true },
        { status: 307, location: '/v2/fw-1.2.4.bin', followed: true },
      ],
      status: 200,
      sha256: sha256(IMAGE),
      finalUrl: `${s.origin}/v2/fw-1.2.4.bin`,
    });
    expect(s.requests).toEqual(expect.arrayContaining(['GET /latest', 'GET /v2/latest', 'GET /v2/fw-1.2.4.bin']));
  });

  it('a redirect from HTTPS to plain HTTP: followed in scope, and the channel is no longer HTTPS', async () => {
    const host = await allocHost([]);
    const plain = await server(host, { '/fw.bin': { body: IMAGE } }, 'none');
    const s = await server(host, { '/fw.bin': { redirect: `${plain.origin}/fw.bin` } });
    const r = await run(host, declaration({ urls: [`${s.origin}/fw.bin`] }));
    expect(r.endpoints[0]).toMatchObject({ https: false, certValid: true, plaintextReachable: true, redirects: [{ status: 302, location: `${plain.origin}/fw.bin`, followed: true }], status: 200, finalUrl: `${plain.origin}/fw.bin` });
  });

  it('a redirect loop stops after 5 hops', async () => {
    const host = await allocHost([]);
    const s = await server(host, { '/loop': { redirect: '/loop' } });
    const r = await run(host, declaration({ urls: [`${s.origin}/loop`] }));
    const hops = r.endpoints[0]?.redirects as { followed: boolean; reason?: string }[];
    expect(hops.map((h) => h.followed)).toEqual([true, true, true, true, true, false]);
    expect(hops[5]?.reason).toBe('more than 5 redirects');
    expect(r.endpoints[0]).toMatchObject({ status: 302, bytes: 0, sha256: null });
    expect(s.requests.filter((q) => q === 'GET /loop')).toHaveLength(6);
  });

  it('out of scope: redirects and declared URLs are recorded and never contacted', async () => {
    const host = await allocHost([]);
    const outside = await allocHost([]);
    const counter = await countingServer(outside);
    stops.push(() => counter.close());
    const s = await server(host, {
      '/a.bin': { redirect: `http://${outside}:${counter.port}/fw.bin` },
      '/b.bin': { redirect: 'https://203.0.113.7/fw.bin', status: 301 },
    });
    const urls = [`${s.origin}/a.bin`, `${s.origin}/b.bin`, `http://${outside}:${counter.port}/c.bin`, 'https://203.0.113.9/fw.bin'];
    const scope = [`${host}/32`];
    const r = await run(host, declaration({ urls }), { scope });
    const outsideText = 'outside the scope ' + scope[0];
    expect(r.errors).toEqual([]);
    expect(r.endpoints.map((e) => ({ url: e.url, inScope: e.inScope, redirects: e.redirects, status: e.status }))).toEqual([
      { url: urls[0], inScope: true, redirects: [{ status: 302, location: `http://${outside}:${counter.port}/fw.bin`, followed: false, reason: `${outside} is ${outsideText}; nothing was sent to it` }], status: 302 },
      { url: urls[1], inScope: true, redirects: [{ status: 301, location: 'https://203.0.113.7/fw.bin', followed: false, reason: `203.0.113.7 is ${outsideText}; nothing was sent to it` }], status: 301 },
      { url: urls[2], inScope: false, redirects: [], status: null },
      { url: urls[3], inScope: false, redirects: [], status: null },
    ]);
    expect(r.endpoints[3]).toEqual({
      url: urls[3],
      inScope: false,
      addresses: ['203.0.113.9'],
      notContacted: `203.0.113.9 is ${outsideText}; nothing was sent to it`,
      https: true,
      plaintextReachable: null,
      redirects: [],
      status: null,
      bytes: 0,
      truncated: false,
      sha256: null,
      signatureChecked: false,
    });
    // The host outside the scope is a real server on loopback: it saw no connection at all.
    expect(counter.connections()).toBe(0);
    expect(r.cited[0]?.some((e) => e.summary === `redirect 302 to http://${outside}:${counter.port}/fw.bin not followed: ${outside} is ${outsideText}; nothing was sent to it`)).toBe(true);
  });
});

/**
 * Heap and Buffer memory sampled while a download runs: the rise from the lowest to the highest sample.
 * Taken between samples rather than against a baseline from before the run, since garbage from earlier
 * tests may be collected during it.
 */
function memoryRange(): { sample: () => void; growth: () => number } {
  let low = Number.POSITIVE_INFINITY;
  let high = 0;
  return {
    sample: () => {
      const m = process.memoryUsage();
      const used = m.heapUsed + m.arrayBuffers;
      low = Math.min(low, used);
      high = Math.max(high, used);
    },
    growth: () => high - low,
  };
}

describe('update-endpoint: bounded download', () => {
  const MIB = 1024 * 1024;
  const HUGE = 4 * 1024 * MIB;
  /** Large enough that holding the bytes read stands well clear of the GC's garbage (about 40 MiB here). */
  const CAP = 160 * MIB;

  it('a 4 GiB generated image: stops at the cap, hashes what it read, memory stays flat, the server sees the client stop', async () => {
    const host = await allocHost([]);
    const keys = signingKeys('ecdsa-p256-sha256');
    const memory = memoryRange();
    const image = generatedImage(HUGE, memory.sample);
    const s = await server(host, { '/fw.bin': { generate: image }, '/fw.bin.sig': { body: keys.sign(Buffer.from('never fetched')) } });
    const url = `${s.origin}/fw.bin`;
    const maxBytes = CAP;
    const r = await run(host, declaration({ urls: [url], signing: { algorithm: 'ecdsa-p256-sha256', publicKey: keyFile(keys.publicKeyPem) } }), { probeOptions: { maxBytes } });
    expect(r.endpoints).toEqual([
      {
        ...servedOverHttps(s, url),
        bytes: maxBytes,
        truncated: true,
        stoppedBecause: 'size-cap',
        contentLength: HUGE,
        sha256: generatedSha256(maxBytes),
        signatureChecked: false,
        signatureError: `the image is larger than maxBytes (${maxBytes} bytes read): not verified, as the signature covers the whole image`,
      },
    ]);
    const seen = await image.stats.done;
    expect(seen.complete).toBe(false);
    // What the server managed to write past the cap sat in socket buffers: nowhere near the 4 GiB.
    expect(seen.sent).toBeLessThan(maxBytes + 16 * MIB);
    expect(s.requests).not.toContain('GET /fw.bin.sig');
    // Streamed through the hash: the 160 MiB read were never held at once. (What does show is garbage
    // the GC has not collected yet, both sides' TLS buffers included: about 40 MiB here, whatever the cap.)
    expect(memory.growth()).toBeLessThan(maxBytes / 2);
  });

  it('Ed25519 needs the whole image: the cap bounds what it holds, and the observation says so', async () => {
    const host = await allocHost([]);
    const keys = signingKeys('ed25519');
    const memory = memoryRange();
    const image = generatedImage(HUGE, memory.sample);
    const s = await server(host, { '/fw.bin': { generate: image } });
    const url = `${s.origin}/fw.bin`;
    const maxBytes = CAP;
    const r = await run(host, declaration({ urls: [url], signing: { algorithm: 'ed25519', publicKey: keyFile(keys.publicKeyPem) } }), { probeOptions: { maxBytes } });
    expect(r.endpoints[0]).toMatchObject({
      bytes: maxBytes,
      truncated: true,
      stoppedBecause: 'size-cap',
      sha256: generatedSha256(maxBytes),
      signatureChecked: false,
      signatureError: `the image is larger than maxBytes (${maxBytes} bytes read): not verified, as Ed25519 verification needs the whole image in memory`,
    });
    const seen = await image.stats.done;
    expect(seen.complete).toBe(false);
    expect(seen.sent).toBeLessThan(maxBytes + 16 * MIB);
    // The control for the streaming test above: holding the image shows in the same measure (sampled at
    // the server's writes, so the last socket buffers' worth the client read after them is not seen).
    expect(memory.growth()).toBeGreaterThan(maxBytes / 2);
  });

  it('an image of exactly maxBytes is complete, not truncated', async () => {
    const host = await allocHost([]);
    const exact = Buffer.alloc(4096, 7);
    const s = await server(host, { '/fw.bin': { body: exact } });
    const r = await run(host, declaration({ urls: [`${s.origin}/fw.bin`] }), { probeOptions: { maxBytes: 4096 } });
    expect(r.endpoints[0]).toMatchObject({ bytes: 4096, truncated: false, sha256: sha256(exact) });
    expect(r.endpoints[0]).not.toHaveProperty('stoppedBecause');
  });

  it('a body that never ends stops at the time limit', async () => {
    const host = await allocHost([]);
    const s = await server(host, { '/fw.bin': { trickle: { chunk: Buffer.alloc(100, 1), everyMs: 20 } } });
    const r = await run(host, declaration({ urls: [`${s.origin}/fw.bin`] }), { probeOptions: { downloadTimeoutMs: 400 } });
    expect(r.endpoints[0]).toMatchObject({ status: 200, truncated: true, stoppedBecause: 'time-limit' });
    expect(r.endpoints[0]?.bytes).toBeGreaterThan(0);
  });
});

describe('update-endpoint: signed manifest', () => {
  it('a valid manifest signature and an image whose hash matches', async () => {
    const host = await allocHost([]);
    const keys = signingKeys('ed25519');
    const manifest = Buffer.from(JSON.stringify({ version: '1.2.4', url: 'fw-1.2.4.bin', sha256: sha256(IMAGE) }));
    const s = await server(host, { '/m.json': { body: manifest }, '/m.json.sig': { body: keys.sign(manifest).toString('base64') }, '/fw-1.2.4.bin': { body: IMAGE } });
    const url = `${s.origin}/m.json`;
    const r = await run(host, declaration({ urls: [url], signing: { algorithm: 'ed25519', publicKey: keyFile(keys.publicKeyPem), manifest: true } }));
    expect(r.endpoints).toEqual([
      {
        ...servedOverHttps(s, url, manifest),
        signatureChecked: true,
        signatureValid: true,
        signatureUrl: `${url}.sig`,
        signatureEncoding: 'base64',
        manifest: {
          signatureValid: true,
          imageUrl: 'fw-1.2.4.bin',
          imageSha256: sha256(IMAGE),
          image: { url: `${s.origin}/fw-1.2.4.bin`, inScope: true, https: true, redirects: [], status: 200, bytes: IMAGE.length, truncated: false, contentLength: IMAGE.length, sha256: sha256(IMAGE) },
          hashMatches: true,
        },
      },
    ]);
  });

  it('a valid manifest naming another image hash: signatureValid false', async () => {
    const host = await allocHost([]);
    const keys = signingKeys('ecdsa-p256-sha256');
    const manifest = Buffer.from(JSON.stringify({ image: { url: '/fw.bin', sha256: sha256('the image that was signed') } }));
    const s = await server(host, { '/m.json': { body: manifest }, '/m.json.sig': { body: keys.sign(manifest) }, '/fw.bin': { body: IMAGE } });
    const r = await run(host, declaration({ urls: [`${s.origin}/m.json`], signing: { algorithm: 'ecdsa-p256-sha256', publicKey: keyFile(keys.publicKeyPem), manifest: true } }));
    expect(r.endpoints[0]).toMatchObject({
      signatureChecked: true,
      signatureValid: false,
      signatureError: `the image's sha256 ${sha256(IMAGE)} does not match the signed manifest's ${sha256('the image that was signed')}`,
      manifest: { signatureValid: true, hashMatches: false, image: { sha256: sha256(IMAGE) } },
    });
  });

  it('a tampered manifest: its signature does not verify and its image is not fetched', async () => {
    const host = await allocHost([]);
    const keys = signingKeys('ed25519');
    const manifest = Buffer.from(JSON.stringify({ url: '/fw.bin', sha256: sha256(IMAGE) }));
    const s = await server(host, { '/m.json': { body: Buffer.from(JSON.stringify({ url: '/evil.bin', sha256: sha256(IMAGE) })) }, '/m.json.sig': { body: keys.sign(manifest) }, '/fw.bin': { body: IMAGE } });
    const r = await run(host, declaration({ urls: [`${s.origin}/m.json`], signing: { algorithm: 'ed25519', publicKey: keyFile(keys.publicKeyPem), manifest: true } }));
    expect(r.endpoints[0]).toMatchObject({ signatureChecked: true, signatureValid: false, signatureError: 'the ed25519 signature does not verify with the declared key', manifest: { signatureValid: false } });
    expect(s.requests).not.toContain('GET /evil.bin');
  });
});

describe('update-endpoint: signed manifest, continued', () => {
  it('a valid manifest whose image is missing: the signature is checked, its validity for the image undecided', async () => {
    const host = await allocHost([]);
    const keys = signingKeys('ed25519');
    const manifest = Buffer.from(JSON.stringify({ url: '/fw.bin', sha256: sha256(IMAGE) }));
    const s = await server(host, { '/m.json': { body: manifest }, '/m.json.sig': { body: keys.sign(manifest) } });
    const r = await run(host, declaration({ urls: [`${s.origin}/m.json`], signing: { algorithm: 'ed25519', publicKey: keyFile(keys.publicKeyPem), manifest: true } }));
    expect(r.endpoints[0]).toMatchObject({ signatureChecked: true, signatureError: `the image the manifest names (${s.origin}/fw.bin) could not be read whole (404): its hash was not compared`, manifest: { signatureValid: true, image: { status: 404, sha256: null } } });
    expect(r.endpoints[0]).not.toHaveProperty('signatureValid');
  });

  it('a valid manifest that names no image hash does not vouch for the image', async () => {
    const host = await allocHost([]);
    const keys = signingKeys('ed25519');
    const manifest = Buffer.from(JSON.stringify({ url: '/fw.bin', version: '1.2.4' }));
    const s = await server(host, { '/m.json': { body: manifest }, '/m.json.sig': { body: keys.sign(manifest) }, '/fw.bin': { body: IMAGE } });
    const r = await run(host, declaration({ urls: [`${s.origin}/m.json`], signing: { algorithm: 'ed25519', publicKey: keyFile(keys.publicKeyPem), manifest: true } }));
    expect(r.endpoints[0]).toMatchObject({ signatureChecked: true, signatureValid: false, signatureError: 'the signed manifest names no sha256 for the image, so the signature does not cover it', manifest: { signatureValid: true, imageUrl: '/fw.bin' } });
  });
});

describe('update-endpoint: nothing declared', () => {
  it('no declaration, or one without update URLs: no observation and no connection', async () => {
    const host = await allocHost([]);
    const s = await server(host, { '/fw.bin': { body: IMAGE } });
    expect((await run(host, undefined)).endpoints).toEqual([]);
    expect((await run(host, declaration(undefined))).endpoints).toEqual([]);
    expect(s.connections()).toBe(0);
  });
});
