import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Egress } from '../../harness/egress.js';
import type { EvidenceInput } from '../../harness/evidence.js';
import { Scope } from '../../harness/scope.js';
import coapAccess from '../../probes/coap-access.js';
import { linkPath, parseLinkFormat } from '../../probes/lib/link-format.js';
import { buildRequest, decodeBlock, decodeCoap, encodeBlock, OPTIONS } from '../../probes/wire/coap.js';
import { tmp } from '../cli/helpers.js';
import { startUdpAmplifier } from '../fixtures/hostile.js';
import { allocHost, freePort } from '../peers/alias.js';
import { coapClient, startCoapServer, type CoapOptions, type CoapPeer } from '../peers/coap.js';
import { runProbe } from './run-probe.js';

/** Short waits: loopback answers in microseconds, and libcoap's /async never answers a bare GET. */
const FAST = { timeoutMs: 400, retries: 0, handshakeTimeoutMs: 1000 };

interface Stoppable {
  stop(): Promise<void>;
}
let peers: Stoppable[] = [];
afterEach(async () => {
  for (const p of peers) await p.stop();
  peers = [];
});

// node-dtls-client 1.x killed the process on libcoap's identity hint; any uncaught exception is a failure.
const uncaught: unknown[] = [];
const onUncaught = (error: unknown): void => {
  uncaught.push(error);
};
beforeAll(() => {
  process.on('uncaughtExceptionMonitor', onUncaught);
});
afterAll(() => {
  process.off('uncaughtExceptionMonitor', onUncaught);
});

async function coapServer(options: Omit<CoapOptions, 'host' | 'port'>): Promise<CoapPeer> {
  const host = await allocHost([]);
  const port = await freePort(host, 'both', options.psk ? 2 : 1);
  const peer = await startCoapServer({ host, port, ...options });
  peers.push(peer);
  return peer;
}

/** The link targets in what libcoap's client printed, read with a regex: independent of our parser. */
function pathsIn(linkFormat: string): string[] {
  return [...linkFormat.matchAll(/<([^>]*)>/g)].map((m) => m[1] as string);
}

interface AccessValue {
  port: number;
  secure: boolean;
  answered: boolean;
  discovery: string[];
  read: boolean;
  write: boolean;
  amplification: number;
  resources: { path: string; code: string | null; bytes: number }[];
  blocks: number;
  writeTested: boolean;
  writeTest: { path: string; attempts: { method: string; code?: string }[]; protected: boolean; cleanup: { path: string; code?: string } | null } | null;
  anomalies?: string[];
}

interface DtlsValue {
  port: number;
  version: string | null;
  cipherSuite: string | null;
  identityHint: string | null;
  declaredPsk: boolean;
  pskAccepted: boolean | null;
  noPsk: string;
  wrongPsk: string;
}

/** The probe on one service with a real egress, bypassing discovery: for peers discovery would not call CoAP. */
async function runDirect(host: string, port: number, protocol: string, options: Record<string, unknown> = {}) {
  const net = new Egress({ scope: new Scope(['127.0.0.0/8']), excludePorts: { tcp: [], udp: [] }, maxConnectionsPerDevice: 8 });
  const records: EvidenceInput[] = [];
  const observations: { key: string; value: Record<string, unknown>; evidence: readonly (EvidenceInput | string)[] }[] = [];
  const started = performance.now();
  await coapAccess.run({
    target: { id: host, address: host, ip: host },
    service: { port, transport: 'udp', protocol, tls: protocol !== 'coap' },
    options: coapAccess.meta.options.parse(options),
    signal: new AbortController().signal,
    net,
    record: (e) => {
      records.push(e);
      return `ev-${records.length}`;
    },
    observe: (key, value, evidence) => {
      observations.push({ key, value, evidence });
      return `obs-${observations.length}`;
    },
  });
  return { elapsedMs: performance.now() - started, records, observations, net, of: (key: string) => observations.filter((o) => o.key === key).map((o) => o.value) };
}

/**
 * A "DTLS server" that answers every ClientHello with one record holding a 3-byte handshake fragment.
 * node-dtls-client 2.0.3 throws a RangeError from its UDP message handler on it: uncaught, that ends
 * the process.
 */
async function startTruncatedDtls(host: string): Promise<Stoppable & { port: number; answered(): number }> {
  const socket = createSocket('udp4');
  let answered = 0;
  const body = Buffer.from([2, 0, 0]);
  const record = Buffer.concat([Buffer.from([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 0, body.length]), body]);
  socket.on('message', (_message, remote) => {
    answered += 1;
    socket.send(record, remote.port, remote.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  return { port: socket.address().port, answered: () => answered, stop: () => new Promise<void>((resolve) => socket.close(() => resolve())) };
}

describe('coap-access wire and link-format', () => {
  it('decodes options one by one, so a 0xff inside an option value is not taken for the payload marker', () => {
    const request = buildRequest({ method: 'GET', path: '/a/b', options: [{ number: OPTIONS.ETAG, value: Buffer.from([0xff, 0x01]) }, { number: OPTIONS.BLOCK2, value: encodeBlock(3, true, 2) }], payload: Buffer.from('hi') });
    const message = decodeCoap(request.bytes);
    expect(message?.options.map((o) => o.number)).toEqual([OPTIONS.ETAG, OPTIONS.URI_PATH, OPTIONS.URI_PATH, OPTIONS.BLOCK2]);
    expect(message?.payload.toString()).toBe('hi');
    expect(decodeBlock(message?.options[3]?.value ?? Buffer.alloc(0))).toEqual({ num: 3, more: true, szx: 2, size: 64 });
    // A payload marker with nothing after it is a format error (RFC 7252 §3).
    expect(decodeCoap(Buffer.concat([request.bytes.subarray(0, 8), Buffer.from([0xff])]))).toBeUndefined();
  });

  it('parses RFC 6690 link-format with quoted commas and flags, and keeps only the device\'s own paths', () => {
    const links = parseLinkFormat('</s/t>;rt="a,b";if=sensor;obs,<coap://other.example/x>;ct=0, </c>;title="say \\"hi\\";ok"');
    expect(links.map((l) => l.target)).toEqual(['/s/t', 'coap://other.example/x', '/c']);
    expect(links[0]?.params).toEqual({ rt: 'a,b', if: 'sensor', obs: true });
    expect(links[2]?.params.title).toBe('say "hi";ok');
    expect(links.map((l) => linkPath(l.target))).toEqual(['/s/t', '/x', '/c']);
    expect(linkPath('http://elsewhere/x')).toBeUndefined();
  });
});

describe('coap-access on plain CoAP (libcoap coap-server-notls)', () => {
  it('lists, reads and writes a server with dynamic resources (-d 10), deletes what it created, and follows Block2', async () => {
    const peer = await coapServer({ dynamicResources: 10 });
    const before = await coapClient({ host: peer.host, port: peer.port, path: '/.well-known/core' });
    expect(pathsIn(before.stdout).length).toBeGreaterThan(2);

    // 16-byte blocks: the listing takes many Block2 round trips.
    const run = await runProbe({ host: peer.host, ports: [], udpPorts: [peer.port], probes: [coapAccess], probeOptions: { ...FAST, blockSize: 16 } });
    expect(run.report.errors).toEqual([]);
    expect(run.services).toContainEqual({ port: peer.port, transport: 'udp', protocol: 'coap', tls: false });
    const [obs, ...more] = run.byKey('coap.access');
    expect(more).toEqual([]);
    const v = obs?.value as unknown as AccessValue;
    expect(v.secure).toBe(false);
    expect(v.discovery).toEqual(pathsIn(before.stdout));
    expect(v.blocks).toBe(Math.ceil(Buffer.byteLength(before.stdout) / 16));
    const discoveryRecord = run.cited(obs).find((r) => r.summary.includes('GET /.well-known/core'));
    expect(discoveryRecord?.received?.text).toBe(before.stdout);
    expect(v.read).toBe(true);
    expect(v.resources).toContainEqual({ path: '/time', code: '2.05', bytes: expect.any(Number) as number });
    // libcoap acknowledges a bare GET /async and never sends the separate response.
    expect(v.resources.find((r) => r.path === '/async')).toMatchObject({ code: null, end: 'timeout' });
    expect(run.cited(obs).find((r) => r.summary.includes('GET /async'))?.data?.acknowledged).toBe(true);
    expect(v.write).toBe(true);
    expect(v.writeTest?.path).toMatch(/^\/iot-harness-[0-9a-f]{8}$/);
    expect(v.writeTest?.attempts).toEqual([{ method: 'PUT', code: '2.01', end: 'answered' }]);
    expect(v.writeTest?.cleanup).toMatchObject({ path: v.writeTest?.path, code: '2.02' });
    expect(v.amplification).toBeGreaterThan(1);

    // The cleanup really happened: libcoap lists what it listed before, nothing of ours.
    const after = await coapClient({ host: peer.host, port: peer.port, path: '/.well-known/core' });
    expect(after.stdout).toBe(before.stdout);

    // Without a block size the server sends the listing in one datagram: one block, a bigger factor.
    const whole = await runProbe({ host: peer.host, ports: [], udpPorts: [peer.port], probes: [coapAccess], probeOptions: { ...FAST, write: false } });
    const w = whole.byKey('coap.access')[0]?.value as unknown as AccessValue;
    expect(w.discovery).toEqual(v.discovery);
    expect(w.blocks).toBe(1);
    expect(w.amplification).toBeGreaterThan(v.amplification);
    expect(w.writeTested).toBe(false);
    expect(w.write).toBe(false);
  });

  it('reports write false when creating a resource is refused, and never writes to the device\'s own resources', async () => {
    const peer = await coapServer({});
    const before = await coapClient({ host: peer.host, port: peer.port, path: '/.well-known/core' });
    const run = await runProbe({ host: peer.host, ports: [], udpPorts: [peer.port], probes: [coapAccess], probeOptions: FAST });
    expect(run.report.errors).toEqual([]);
    const obs = run.byKey('coap.access')[0];
    const v = obs?.value as unknown as AccessValue;
    expect(v.discovery).toEqual(pathsIn(before.stdout));
    expect(v.read).toBe(true);
    expect(v.write).toBe(false);
    expect(v.writeTested).toBe(true);
    // libcoap 4.3.1 without -d: no resource may be created, by PUT or POST.
    expect(v.writeTest?.attempts.map((a) => a.method)).toEqual(['PUT', 'POST']);
    for (const a of v.writeTest?.attempts ?? []) expect(['4.04', '4.05']).toContain(a.code);
    expect(v.writeTest?.cleanup).toBeNull();
    // /example_data and /time accept PUT on this server: the probe must not have sent one there.
    const writes = run.cited(obs).map((r) => /CoAP (PUT|POST|DELETE) (\S+):/.exec(r.summary)).filter((m) => m !== null);
    expect(writes.length).toBe(2);
    for (const m of writes) expect(m[2]).toBe(v.writeTest?.path);
    const after = await coapClient({ host: peer.host, port: peer.port, path: '/.well-known/core' });
    expect(after.stdout).toBe(before.stdout);
  });
});

describe('coap-access on DTLS-PSK (libcoap coap-server-openssl -k)', () => {
  it('accepts the declared PSK (DTLS 1.2, hint "CoAP"), sees wrong and empty keys dropped, and lists resources over DTLS as libcoap\'s client does', async () => {
    const key = `k-${randomBytes(8).toString('hex')}`;
    const peer = await coapServer({ psk: { key } });
    const dtlsPort = peer.dtlsPort as number;
    const dir = tmp('coap-dtls-');
    const declarationPath = join(dir, 'dut.yaml');
    writeFileSync(declarationPath, `coap:\n  psk: { identity: lab, key: "${key}" }\n`);

    const secure = await coapClient({ host: peer.host, port: dtlsPort, path: '/.well-known/core', psk: { identity: 'lab', key } });
    expect(pathsIn(secure.stdout).length).toBeGreaterThan(2);
    // libcoap's own client gets nothing with a wrong key either: the server drops the handshake.
    const wrong = await coapClient({ host: peer.host, port: dtlsPort, path: '/.well-known/core', psk: { identity: 'lab', key: 'wrong-key' }, waitSeconds: 1 });
    expect(pathsIn(wrong.stdout)).toEqual([]);

    const run = await runProbe({ host: peer.host, ports: [], udpPorts: [peer.port, dtlsPort], probes: [coapAccess], probeOptions: FAST, declarationPath });
    expect(run.report.errors).toEqual([]);
    expect(run.services).toContainEqual({ port: dtlsPort, transport: 'udp', protocol: 'dtls', tls: true });
    const dtls = run.byKey('coap.dtls');
    expect(dtls.map((o) => o.value)).toEqual([
      { port: dtlsPort, version: 'DTLSv1.2', cipherSuite: expect.stringMatching(/^TLS_PSK_WITH_/) as string, identityHint: 'CoAP', declaredPsk: true, pskAccepted: true, noPsk: 'rejected-without-answer', wrongPsk: 'rejected-without-answer' },
    ]);
    const handshakes = run.cited(dtls[0]);
    expect(handshakes.map((r) => r.data?.outcome)).toEqual(['accepted', 'rejected-without-answer', 'rejected-without-answer']);
    // "Without answer" means after the server's hellos, not a dead port.
    for (const r of handshakes) expect(r.data?.serverMessages).toEqual(expect.arrayContaining(['HelloVerifyRequest', 'ServerHello', 'ServerHelloDone']));

    const secureAccess = run.byKey('coap.access').find((o) => o.value.port === dtlsPort);
    const s = secureAccess?.value as unknown as AccessValue;
    expect(s.secure).toBe(true);
    expect(s.discovery).toEqual(pathsIn(secure.stdout));
    expect(s.read).toBe(false);
    expect(s.write).toBe(false);
    // A PSK server still serves plain CoAP on its first port: reported as such.
    const plain = run.byKey('coap.access').find((o) => o.value.port === peer.port)?.value as unknown as AccessValue;
    expect(plain.secure).toBe(false);
    expect(plain.read).toBe(true);

    // The declared key is a test credential: it appears in no record and not in the report.
    expect(readFileSync(join(run.outDir, 'evidence.jsonl'), 'utf8')).not.toContain(key);
    expect(readFileSync(join(run.outDir, 'report.json'), 'utf8')).not.toContain(key);
    expect(uncaught).toEqual([]);
  });

  it('without a declaration leaves pskAccepted null, still tries empty and wrong keys, and reads a custom identity hint', async () => {
    const peer = await coapServer({ psk: { key: 'device-secret', hint: 'acme-hub-7' } });
    const dtlsPort = peer.dtlsPort as number;
    const run = await runDirect(peer.host, dtlsPort, 'dtls', FAST);
    expect(run.of('coap.dtls')).toEqual([
      { port: dtlsPort, version: 'DTLSv1.2', cipherSuite: expect.any(String) as string, identityHint: 'acme-hub-7', declaredPsk: false, pskAccepted: null, noPsk: 'rejected-without-answer', wrongPsk: 'rejected-without-answer' },
    ]);
    expect(run.of('coap.access')).toEqual([]);
    expect(uncaught).toEqual([]);
  });
});

describe('coap-access against hostile and absent peers', () => {
  it('stops listening to a UDP amplifier after a bounded number of datagrams and reports the flood', async () => {
    const host = await allocHost([]);
    const amplifier = await startUdpAmplifier(host);
    peers.push(amplifier);
    const run = await runDirect(host, amplifier.port, 'coap', { ...FAST, retries: 2 });
    const [v] = run.of('coap.access') as unknown as AccessValue[];
    expect(v).toMatchObject({ answered: false, discovery: [], read: false, write: false, writeTested: false });
    expect(v?.anomalies?.some((a) => a.includes('stopped listening'))).toBe(true);
    expect(v?.amplification).toBeGreaterThan(1);
    // One datagram sent, no retry into a flood, no resource GETs, no write.
    expect(amplifier.stats.received).toBe(1);
    expect(run.elapsedMs).toBeLessThan(FAST.timeoutMs);
    expect(run.net.connectionsInUse(host)).toBe(0);
  });

  it('survives garbage answers to DTLS handshakes: a flood or an error, never an uncaught exception', async () => {
    const host = await allocHost([]);
    const amplifier = await startUdpAmplifier(host);
    peers.push(amplifier);
    const run = await runDirect(host, amplifier.port, 'dtls', FAST);
    const [v] = run.of('coap.dtls') as unknown as DtlsValue[];
    expect(['flood', 'error']).toContain(v?.noPsk);
    expect(v?.wrongPsk).toBe(v?.noPsk === 'flood' ? 'not-tried' : 'error');
    expect(v?.pskAccepted).toBeNull();
    expect(run.elapsedMs).toBeLessThan(2 * (FAST.handshakeTimeoutMs + 1000));
    expect(uncaught).toEqual([]);
  });

  it('contains the exception node-dtls-client 2.0.3 throws on a truncated handshake record (it would kill the process)', async () => {
    const host = await allocHost([]);
    const peer = await startTruncatedDtls(host);
    peers.push(peer);
    const run = await runDirect(host, peer.port, 'dtls', FAST);
    expect(run.of('coap.dtls')[0]).toMatchObject({ noPsk: 'error', wrongPsk: 'error', pskAccepted: null });
    const first = run.records[0];
    expect(first?.data?.error).toMatch(/node-dtls-client failed on a server datagram/);
    expect(peer.answered()).toBe(2);
    expect(run.elapsedMs).toBeLessThan(FAST.handshakeTimeoutMs);
    expect(uncaught).toEqual([]);
  });

  it('finishes at once on a closed UDP port (ICMP unreachable) and within the deadline on a silent one', async () => {
    const host = await allocHost([]);
    const closedPort = await freePort(host, 'udp');
    const closed = await runDirect(host, closedPort, 'coap', { ...FAST, retries: 2 });
    expect(closed.of('coap.access')[0]).toMatchObject({ answered: false, discovery: [], read: false, write: false });
    expect(closed.records[0]?.data?.exchanges).toEqual([expect.objectContaining({ end: 'refused', attempts: 1 })]);
    expect(closed.elapsedMs).toBeLessThan(FAST.timeoutMs);

    // A bound socket that reads and never answers: every attempt runs to its deadline, and no further.
    const silent = createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, host, resolve));
    peers.push({ stop: () => new Promise<void>((resolve) => silent.close(() => resolve())) });
    const quiet = await runDirect(host, silent.address().port, 'coap', { ...FAST, retries: 1 });
    expect(quiet.of('coap.access')[0]).toMatchObject({ answered: false, writeTested: false });
    expect(quiet.records[0]?.data?.exchanges).toEqual([expect.objectContaining({ end: 'timeout', attempts: 2 })]);
    expect(quiet.elapsedMs).toBeGreaterThanOrEqual(2 * FAST.timeoutMs - 20);
    expect(quiet.elapsedMs).toBeLessThan(2 * FAST.timeoutMs + 1000);

    // DTLS to a silent port: one handshake runs to its deadline, then the series stops.
    const dtls = await runDirect(host, silent.address().port, 'dtls', FAST);
    expect(dtls.of('coap.dtls')[0]).toMatchObject({ version: null, noPsk: 'no-answer', wrongPsk: 'not-tried' });
    expect(dtls.elapsedMs).toBeLessThan(FAST.handshakeTimeoutMs + 1500);
  });
});
