import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { dtls } from 'node-dtls-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import type { Declaration } from '../../lab/declaration.js';
import type { DeviceMode, RunningDevice } from '../../lab/device.js';
import { sensor } from '../../lab/devices/sensor.js';
import { createCoapHandler, startCoapServer } from '../../lab/servers/coap.js';
import { startDtlsServer, type DtlsServer, type DtlsServerOptions } from '../../lab/servers/dtls.js';
import { listenUdp } from '../../lab/servers/udp.js';
import coapAccess from '../../probes/coap-access.js';
import { tmp } from '../cli/helpers.js';
import { allocHost } from '../peers/alias.js';
import { buildCoapGet, coapGet, parseCoapResponse } from '../peers/coap.js';
import { requireBinary } from '../peers/daemon.js';
import { runProbe } from '../probes/run-probe.js';
import { judgeDevice } from './judge.js';

// Real peers only: libcoap's clients (Debian libcoap3-bin), node-dtls-client, and the harness probe.
const FAST = { timeoutMs: 400, retries: 0, handshakeTimeoutMs: 1000 };
const KEY = 'lab-sensor-key-1';
const PSK = { identity: 'lab', key: Buffer.from(KEY, 'utf8') };

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of cleanup.splice(0).reverse()) await stop();
});
function track<T extends { close(): Promise<void> } | { stop(): Promise<void> }>(thing: T): T {
  cleanup.push(() => ('close' in thing ? thing.close() : thing.stop()));
  return thing;
}

/** libcoap's own client; it prints the payload on stdout and errors (`4.03 read-only`, DTLS alerts) on stdout or stderr. */
async function libcoap(args: string[], psk?: { identity: string; key: string }): Promise<{ stdout: string; stderr: string }> {
  const file = psk ? requireBinary('coap-client-openssl', 'libcoap3-bin') : requireBinary('coap-client-notls', 'libcoap3-bin');
  const r = await execa(file, ['-B', '2', ...(psk ? ['-u', psk.identity, '-k', psk.key] : []), ...args], { reject: false, timeout: 10_000 });
  return { stdout: r.stdout, stderr: r.stderr };
}

/** One datagram out, the first datagram back (undefined after `timeoutMs`). */
function exchange(socket: Socket, datagram: Buffer, port: number, host: string, timeoutMs = 500): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(undefined), timeoutMs);
    const done = (reply: Buffer | undefined): void => {
      clearTimeout(timer);
      socket.off('message', done);
      resolve(reply);
    };
    socket.on('message', done);
    socket.send(datagram, port, host);
  });
}

async function udpClient(host: string): Promise<Socket> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  cleanup.push(() => new Promise((resolve) => socket.close(() => resolve())));
  return socket;
}

/** A DTLS 1.2 ClientHello offering TLS_PSK_WITH_AES_128_CCM_8, built here so the test depends on no DTLS code of ours. */
function clientHello(random: Buffer, cookie: Buffer, messageSeq: number, recordSeq: number): Buffer {
  const body = Buffer.concat([Buffer.from([0xfe, 0xfd]), random, Buffer.from([0, cookie.length]), cookie, Buffer.from([0, 2, 0xc0, 0xa8, 1, 0])]);
  const header = Buffer.alloc(12);
  header[0] = 1;
  header.writeUIntBE(body.length, 1, 3);
  header.writeUInt16BE(messageSeq, 4);
  header.writeUIntBE(body.length, 9, 3);
  const record = Buffer.from([22, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  record.writeUIntBE(recordSeq, 5, 6);
  record.writeUInt16BE(header.length + body.length, 11);
  return Buffer.concat([record, header, body]);
}

/** node-dtls-client: a handshake, then one CoAP GET over the session. Resolves with the CoAP reply or the error. */
function nodeDtlsGet(host: string, port: number, psk: { identity: string; key: Buffer }, path: string, ciphers?: dtls.Options['ciphers']): Promise<{ code?: string; payload?: string; error?: string }> {
  return new Promise((resolve) => {
    const socket = dtls.createSocket({ type: 'udp4', address: host, port, psk: { [psk.identity]: psk.key }, timeout: 2000, ...(ciphers ? { ciphers } : {}) });
    const token = randomBytes(4);
    socket.on('error', (error: Error) => resolve({ error: error.message }));
    socket.on('connected', () => {
      socket.on('message', (message: Buffer) => {
        const reply = parseCoapResponse(message, 0x1234, token);
        resolve(reply ? { code: reply.code, payload: reply.payload.toString() } : { error: 'not a CoAP reply' });
        socket.close();
      });
      socket.send(buildCoapGet(path, 0x1234, token));
    });
  });
}

async function dtlsServer(options: Partial<DtlsServerOptions> = {}): Promise<DtlsServer> {
  const host = await allocHost([]);
  return track(await startDtlsServer({ host, port: 0, psks: [PSK], application: createCoapHandler({ writable: false }), ...options }));
}

describe('listenUdp', () => {
  it('binds loopback only, falls through a taken port, and never binds an excluded port or 2024', async () => {
    const host = await allocHost([]);
    const taken = await udpClient(host);
    const takenPort = taken.address().port;
    const server = track(await listenUdp({ host, port: [takenPort, 2024, 0] }, () => undefined));
    expect(server.port).not.toBe(takenPort);
    expect(server.port).not.toBe(2024);
    const excluded = track(await listenUdp({ host, port: [server.port + 1], excludePorts: [server.port + 1] }, () => undefined));
    expect(excluded.port).not.toBe(server.port + 1);
    await expect(listenUdp({ host: '0.0.0.0', port: 0 }, () => undefined)).rejects.toThrow(/loopback/);
  });
});

describe('CoAP server (NoSec)', () => {
  it("serves discovery and readings to libcoap's client, and /.well-known/core in 64-byte Block2 blocks when asked", async () => {
    const host = await allocHost([]);
    const server = track(await startCoapServer({ host, port: 0, handler: createCoapHandler({ writable: true }) }));
    const core = await libcoap(['-m', 'get', `coap://${host}:${server.port}/.well-known/core`]);
    expect([...core.stdout.matchAll(/<([^>]*)>/g)].map((m) => m[1])).toEqual(['/sensors/temperature', '/sensors/humidity', '/config']);
    expect(core.stdout).toContain('rt="temperature-c"');
    const blocks = await libcoap(['-m', 'get', '-b', '64', `coap://${host}:${server.port}/.well-known/core`]);
    expect(blocks.stdout).toBe(core.stdout);
    // Block 1 of 64 bytes asked for directly: Uri-Path .well-known, core, then Block2 (option 23) = num 1, SZX 2.
    const client = await udpClient(host);
    const request = Buffer.concat([Buffer.from([0x40, 0x01, 0x00, 0x09, 0xbb]), Buffer.from('.well-known'), Buffer.from([0x04]), Buffer.from('core'), Buffer.from([0xc1, 0x12])]);
    const second = parseCoapResponse((await exchange(client, request, server.port, host)) ?? Buffer.alloc(0), 9, Buffer.alloc(0));
    expect(second?.payload.toString()).toBe(core.stdout.slice(64, 128));
    expect((await libcoap(['-m', 'get', `coap://${host}:${server.port}/sensors/temperature`])).stdout).toMatch(/^\d+\.\d$/);
  });

  it('when writable, lets anyone change /config and create, read and delete a resource, within its bounds', async () => {
    const host = await allocHost([]);
    const server = track(await startCoapServer({ host, port: 0, handler: createCoapHandler({ writable: true, maxCreated: 2 }) }));
    const url = (path: string): string => `coap://${host}:${server.port}${path}`;
    await libcoap(['-m', 'put', '-e', '{"interval":5}', url('/config')]);
    expect((await libcoap(['-m', 'get', url('/config')])).stdout).toBe('{"interval":5}');
    expect((await libcoap(['-m', 'put', '-e', 'not json', url('/config')])).stderr).toContain('4.00');
    await libcoap(['-m', 'put', '-e', 'mine', url('/a')]);
    expect((await libcoap(['-m', 'get', url('/a')])).stdout).toBe('mine');
    expect((await libcoap(['-m', 'get', url('/.well-known/core')])).stdout).toContain('</a>;ct=0');
    await libcoap(['-m', 'post', '-e', 'two', url('/b')]);
    expect((await libcoap(['-m', 'put', '-e', 'three', url('/c')])).stderr).toContain('5.03');
    expect((await libcoap(['-m', 'put', '-e', 'x'.repeat(300), url('/b')])).stderr).toContain('4.13');
    expect((await libcoap(['-m', 'delete', url('/sensors/temperature')])).stderr).toContain('4.05');
    await libcoap(['-m', 'delete', url('/a')]);
    expect((await libcoap(['-m', 'get', url('/a')])).stderr).toContain('4.04');
  });

  it('when read-only, refuses writes with 4.03 and keeps its resources', async () => {
    const host = await allocHost([]);
    const server = track(await startCoapServer({ host, port: 0, handler: createCoapHandler({ writable: false }) }));
    const url = (path: string): string => `coap://${host}:${server.port}${path}`;
    expect((await libcoap(['-m', 'put', '-e', '{"interval":5}', url('/config')])).stderr).toContain('4.03');
    expect((await libcoap(['-m', 'put', '-e', 'x', url('/iot-harness-1')])).stderr).toContain('4.03');
    expect((await libcoap(['-m', 'get', url('/config')])).stdout).toBe('{"interval":60,"unit":"C"}');
    expect((await libcoap(['-m', 'get', url('/iot-harness-1')])).stderr).toContain('4.04');
  });

  it('survives garbage: drops it, answers RST to a malformed confirmable message, and still serves', async () => {
    const host = await allocHost([]);
    const server = track(await startCoapServer({ host, port: 0, handler: createCoapHandler({ writable: true }) }));
    // From a socket of its own: random bytes that happen to look like a CON get an RST of their own.
    const noise = await udpClient(host);
    for (let i = 0; i < 50; i++) noise.send(randomBytes(1 + (i % 40)), server.port, host);
    const client = await udpClient(host);
    // CON, token length 15 (reserved): a format error, answered with RST for message id 0xabcd.
    expect([...((await exchange(client, Buffer.from([0x4f, 0x01, 0xab, 0xcd]), server.port, host)) ?? [])]).toEqual([0x70, 0x00, 0xab, 0xcd]);
    // An unknown critical option (number 9 is OSCORE, not understood here): 4.02 Bad Option.
    const badOption = parseCoapResponse((await exchange(client, Buffer.from([0x40, 0x01, 0x00, 0x07, 0x90]), server.port, host)) ?? Buffer.alloc(0), 7, Buffer.alloc(0));
    expect(badOption?.code).toBe('4.02');
    expect((await coapGet(host, server.port, '/sensors/humidity'))?.code).toBe('2.05');
  });
});

describe('DTLS-PSK server', () => {
  it('completes node-dtls-client handshakes (CCM_8 preferred, GCM when only that is offered) and carries CoAP', async () => {
    const server = await dtlsServer();
    expect(await nodeDtlsGet(server.host, server.port, PSK, '/sensors/humidity')).toEqual({ code: '2.05', payload: expect.stringMatching(/^\d+\.\d$/) as string });
    expect(await nodeDtlsGet(server.host, server.port, PSK, '/config', ['TLS_PSK_WITH_AES_128_GCM_SHA256'])).toEqual({ code: '2.05', payload: '{"interval":60,"unit":"C"}' });
    expect(await nodeDtlsGet(server.host, server.port, PSK, '/sensors/humidity', ['TLS_PSK_WITH_AES_128_CBC_SHA'])).toEqual({ error: expect.stringContaining('handshake_failure') as string });
  });

  it('rejects a wrong key with bad_record_mac and an unknown identity with unknown_psk_identity, keeping no session', async () => {
    const server = await dtlsServer();
    expect(await nodeDtlsGet(server.host, server.port, { identity: 'lab', key: randomBytes(16) }, '/config')).toEqual({ error: expect.stringContaining('bad_record_mac') as string });
    expect(await nodeDtlsGet(server.host, server.port, { identity: 'someone', key: PSK.key }, '/config')).toEqual({ error: expect.stringContaining('unknown_psk_identity') as string });
    expect(server.sessionCount).toBe(0);
  });

  it("interoperates with libcoap's coap-client-openssl: the right key reads, a wrong key or identity gets an alert", async () => {
    const server = await dtlsServer({ hint: 'CoAP' });
    const url = `coaps://${server.host}:${server.port}/config`;
    expect((await libcoap(['-m', 'get', url], { identity: 'lab', key: KEY })).stdout).toBe('{"interval":60,"unit":"C"}');
    const wrong = await libcoap(['-m', 'get', url], { identity: 'lab', key: 'wrong-key' });
    expect(wrong.stdout + wrong.stderr).toMatch(/alert bad record mac/i);
    expect(wrong.stdout).not.toContain('interval');
    const unknown = await libcoap(['-m', 'get', url], { identity: 'nobody', key: KEY });
    expect(unknown.stdout + unknown.stderr).toMatch(/alert unknown psk identity/i);
  });

  it('answers hellos statelessly, drops garbage, caps sessions and drops handshakes that do not finish in time', async () => {
    // A handshake deadline well above the 300 ms the third hello waits, so a loaded machine cannot expire the first two early.
    const server = await dtlsServer({ maxSessions: 2, handshakeTimeoutMs: 2500 });
    const client = await udpClient(server.host);
    for (let i = 0; i < 50; i++) client.send(randomBytes(1 + i * 7), server.port, server.host);
    client.send(Buffer.from([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 1, 0, 0]), server.port, server.host);
    client.send(buildCoapGet('/.well-known/core', 1, Buffer.from([1])), server.port, server.host);
    // Three clients each get a HelloVerifyRequest (no state), then a ServerHello for the hello with its cookie.
    const answers: (number | undefined)[] = [];
    for (let i = 0; i < 3; i++) {
      const socket = await udpClient(server.host);
      const random = randomBytes(32);
      const hvr = await exchange(socket, clientHello(random, Buffer.alloc(0), 0, 0), server.port, server.host);
      expect(hvr?.[13]).toBe(3);
      expect(server.sessionCount).toBe(i);
      const cookie = (hvr as Buffer).subarray(28, 28 + ((hvr as Buffer)[27] ?? 0));
      answers.push((await exchange(socket, clientHello(random, cookie, 1, 1), server.port, server.host, 300))?.[13]);
    }
    // ServerHello (2) for two of them; the third is over the cap and gets nothing.
    expect(answers).toEqual([2, 2, undefined]);
    expect(server.sessionCount).toBe(2);
    await vi.waitFor(() => expect(server.sessionCount).toBe(0), { timeout: 6000, interval: 50 });
    expect(await nodeDtlsGet(server.host, server.port, PSK, '/sensors/temperature')).toMatchObject({ code: '2.05' });
  });
});

interface AccessValue {
  port: number;
  secure: boolean;
  answered: boolean;
  discovery: string[];
  read: boolean;
  write: boolean;
  amplification: number;
  writeTest: { cleanup: { code?: string } | null } | null;
}

async function startSensor(mode: DeviceMode): Promise<{ device: RunningDevice; declaration: Declaration }> {
  // The standard ports must be free on the alias, so that discovery names 5684 `coaps` as on a real device.
  const address = await allocHost([5683, 5684], 'udp');
  const device = track(await sensor.start({ address, dir: tmp('sensor-'), excludePorts: [], mode }));
  return { device, declaration: parse(await readFile(device.declarationPath, 'utf8')) as Declaration };
}

describe('sensor device', () => {
  it('weak: coap-access finds NoSec CoAP readable and writable, and the declared PSK accepted on coaps', async () => {
    const { device, declaration } = await startSensor('weak');
    expect(device).toMatchObject({ id: 'sensor', mode: 'weak', title: sensor.modes.weak.title });
    expect(device.services.map((s) => [s.protocol, s.port, s.transport, s.tls])).toEqual([['coap', 5683, 'udp', false], ['coaps', 5684, 'udp', true]]);
    expect(declaration.interfaces.map((i) => [i.protocol, i.port])).toEqual([['coap', 5683], ['coaps', 5684]]);
    expect(declaration.supportPeriod).toBeUndefined();
    const psk = declaration.coap?.psk as { identity: string; key: string };

    const run = await runProbe({ host: device.address, ports: [], udpPorts: [5683, 5684], probes: [coapAccess], probeOptions: FAST, declarationPath: device.declarationPath });
    expect(run.report.errors).toEqual([]);
    expect(run.services).toEqual([{ port: 5683, transport: 'udp', protocol: 'coap', tls: false }, { port: 5684, transport: 'udp', protocol: 'coaps', tls: true }]);
    const plain = run.byKey('coap.access').find((o) => o.value.port === 5683)?.value as unknown as AccessValue;
    expect(plain).toMatchObject({ secure: false, answered: true, read: true, write: true, discovery: ['/sensors/temperature', '/sensors/humidity', '/config'] });
    expect(plain.writeTest?.cleanup?.code).toBe('2.02');
    expect(plain.amplification).toBeGreaterThan(3);
    const secure = run.byKey('coap.access').find((o) => o.value.port === 5684)?.value as unknown as AccessValue;
    expect(secure).toMatchObject({ secure: true, answered: true, read: false, write: false, discovery: plain.discovery });
    const [tls] = run.byKey('coap.dtls');
    expect(tls?.value).toEqual({ port: 5684, version: 'DTLSv1.2', cipherSuite: 'TLS_PSK_WITH_AES_128_CCM_8', identityHint: 'CoAP', declaredPsk: true, pskAccepted: true, noPsk: 'alert', wrongPsk: 'alert' });
    expect(run.cited(tls).map((r) => r.data?.alert ?? null)).toEqual([null, 'unknown_psk_identity', 'bad_record_mac']);

    // The probe removed what it created; libcoap over DTLS sees the same resources as over NoSec.
    const listed = await libcoap(['-m', 'get', `coaps://${device.address}:5684/.well-known/core`], psk);
    expect([...listed.stdout.matchAll(/<([^>]*)>/g)].map((m) => m[1])).toEqual(plain.discovery);
  });

  it('hardened: only DTLS; coap-access sees the declared PSK accepted and empty and wrong keys refused', async () => {
    const { device, declaration } = await startSensor('hardened');
    expect(device).toMatchObject({ id: 'sensor', mode: 'hardened', title: sensor.modes.hardened.title });
    expect(device.services.map((s) => [s.protocol, s.port])).toEqual([['coaps', 5684]]);
    expect(declaration).toMatchObject({ interfaces: [{ protocol: 'coaps', port: 5684, transport: 'udp' }], supportPeriod: { end: expect.any(String) as string }, vulnerabilityDisclosure: { contact: expect.any(String) as string } });
    const psk = declaration.coap?.psk as { identity: string; key: string };
    expect(psk.key).toMatch(/^[0-9a-f]{32}$/);
    expect(await coapGet(device.address, 5683, '/.well-known/core')).toBeUndefined();

    const run = await runProbe({ host: device.address, ports: [], udpPorts: [5683, 5684], probes: [coapAccess], probeOptions: FAST, declarationPath: device.declarationPath });
    expect(run.report.errors).toEqual([]);
    expect(run.services).toEqual([{ port: 5684, transport: 'udp', protocol: 'coaps', tls: true }]);
    expect(run.byKey('coap.access').map((o) => [o.value.port, o.value.secure])).toEqual([[5684, true]]);
    expect(run.byKey('coap.dtls').map((o) => o.value)).toEqual([{ port: 5684, version: 'DTLSv1.2', cipherSuite: 'TLS_PSK_WITH_AES_128_CCM_8', identityHint: null, declaredPsk: true, pskAccepted: true, noPsk: 'alert', wrongPsk: 'alert' }]);

    // Inside DTLS /config may be changed, but nothing created.
    const url = (path: string): string => `coaps://${device.address}:5684${path}`;
    await libcoap(['-m', 'put', '-e', '{"interval":30}', url('/config')], psk);
    expect((await libcoap(['-m', 'get', url('/config')], psk)).stdout).toBe('{"interval":30}');
    expect((await libcoap(['-m', 'put', '-e', 'x', url('/mine')], psk)).stderr).toContain('4.04');
  });
});

describe('sensor, judged by the harness (EN 303 645)', () => {
  it('weak fails cleartext CoAP, open access and open configuration; hardened DTLS-only passes them', async () => {
    const verdicts = async (mode: DeviceMode): Promise<Record<string, string>> => {
      const { device } = await startSensor(mode);
      const target = await judgeDevice(device, join(tmp(`sensor-${mode}-run-`), 'run'));
      return Object.fromEntries(target.verdicts.filter((v) => ['5.5-1', '5.5-4', '5.5-5', '5.6-2'].includes(v.provision)).map((v) => [v.provision, v.verdict]));
    };
    expect(await verdicts('weak')).toEqual({ '5.5-1': 'FAIL', '5.5-4': 'FAIL', '5.5-5': 'FAIL', '5.6-2': 'FAIL' });
    expect(await verdicts('hardened')).toEqual({ '5.5-1': 'PASS', '5.5-4': 'PASS', '5.5-5': 'PASS', '5.6-2': 'PASS' });
  });
});

