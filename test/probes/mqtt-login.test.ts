import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Observation } from '../../harness/report-schema.js';
import mqttLogin from '../../probes/mqtt-login.js';
import { allocHost } from '../peers/alias.js';
import { type MosquittoListener, type MosquittoPeer, mosquittoOnAlias } from '../peers/mosquitto.js';
import { runProbe } from './run-probe.js';

interface EvidenceRecord {
  id: string;
  summary: string;
  sent?: { text: string };
  received?: { text: string };
  data?: Record<string, unknown>;
}

interface ProbeRun {
  services: { port: number; protocol: string; tls: boolean }[];
  /** Observations of `key` on `port`. */
  of(key: string, port: number): Observation[];
  evidence(o: Observation | undefined): EvidenceRecord[];
}

/** The probe inside a real run: discovery names each listener mqtt or mqtts first. */
async function runMqttLogin(host: string, ports: number[], probeOptions: Record<string, unknown> = {}): Promise<ProbeRun> {
  const run = await runProbe({ host, ports, probes: [mqttLogin], probeOptions: { credentials: ['mirai'], ...probeOptions } });
  expect(run.report.errors).toEqual([]);
  const records = new Map(run.evidence.map((r) => [r.id, r]));
  return {
    services: run.services,
    of: (key, port) => run.observations.filter((o) => o.key === key && o.value.port === port),
    evidence: (o) => (o?.evidence ?? []).map((id) => records.get(id)).filter((r) => r !== undefined),
  };
}

/**
 * The broker's whole log. mosquitto block-buffers stdout when it is not a terminal, so the last lines
 * arrive only when it exits: stop it first (stop() is safe to call again in afterEach).
 */
async function brokerLog(peer: MosquittoPeer): Promise<string> {
  await peer.stop();
  return peer.log();
}

/** Lines of a broker log that say it refused a CONNECT for its credentials. */
function refusals(log: string): number {
  return log.split('\n').filter((l) => l.includes('disconnected, not authorised')).length;
}

let peers: MosquittoPeer[] = [];
afterEach(async () => {
  for (const p of peers) await p.stop();
  peers = [];
});

async function broker(listeners: Omit<MosquittoListener, 'port'>[]): Promise<{ host: string; ports: number[]; peer: MosquittoPeer }> {
  const started = await mosquittoOnAlias(listeners);
  peers.push(started.peer);
  return started;
}

interface ScriptedBroker {
  port: number;
  /** CONNECTs that carried a username, in arrival order. */
  credentialed: number;
  close(): Promise<void>;
}

/**
 * A stand-in broker for answers mosquitto never gives (MQTT 5 quota/banned codes, hanging up on a
 * CONNECT): `answer(n)` is the reason code for the n-th CONNECT with a username (1-based), or
 * 'close' to hang up without a CONNACK. CONNECTs without a username (discovery's, the probe's
 * anonymous one) get "not authorised". Replies in the CONNECT's own protocol level.
 */
async function scriptedBroker(host: string, answer: (n: number) => number | 'close'): Promise<ScriptedBroker> {
  const sockets = new Set<Socket>();
  const state = { credentialed: 0 };
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.once('data', (data: Buffer) => {
      const at = data.indexOf('MQTT');
      // Discovery also sends a TLS hello, an HTTP request...: anything but a CONNECT is dropped uncounted.
      if (data[0] !== 0x10 || at < 0) {
        socket.destroy();
        return;
      }
      const level = data[at + 4];
      const flags = data[at + 5] ?? 0;
      const isCredentialed = (flags & 0x80) !== 0;
      const code = isCredentialed ? answer(++state.credentialed) : level === 5 ? 135 : 5;
      if (code === 'close') socket.destroy();
      else socket.end(level === 5 ? Buffer.from([0x20, 0x03, 0x00, code, 0x00]) : Buffer.from([0x20, 0x02, 0x00, code]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as { port: number }).port,
    get credentialed() {
      return state.credentialed;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const WEAK = [{ username: 'admin', password: 'password' }];
const STRONG = [{ username: 'hub', password: 'Tq8#Lr2!vZ9x-unique-per-device' }];

describe('mqtt-login', () => {
  it('reports admin/password (mirai) on a broker whose password file holds it, leaves with DISCONNECT, and notes cleartext credentials', async () => {
    const { host, ports, peer } = await broker([{ users: WEAK }]);
    const [port] = ports as [number];
    const run = await runMqttLogin(host, ports);

    expect(run.services).toEqual([{ port, transport: 'tcp', protocol: 'mqtt', tls: false }]);
    expect(run.of('credentials.accepted', port).map((o) => o.value)).toEqual([{ protocol: 'mqtt', port, username: 'admin', password: 'password', source: 'mirai' }]);
    expect(run.of('credentials.tested', port)[0]?.value).toMatchObject({ stoppedBecause: 'first-success', accepted: 1 });
    const [accepted] = run.evidence(run.of('credentials.accepted', port)[0]);
    expect(accepted?.data).toMatchObject({ protocolVersion: 4, code: 0, tls: false });
    expect(accepted?.received?.text).toBe(' \\x02\\x00\\x00');
    // The broker logged the client by the id the probe used, then a clean DISCONNECT ("disconnected", not "closed its connection").
    const clientId = /(iot-harness-[0-9a-f]{8})/.exec(accepted?.sent?.text ?? '')?.[1];
    expect(clientId).toBeDefined();
    const log = await brokerLog(peer);
    expect(log).toMatch(new RegExp(`as ${String(clientId)} \\(p2, c1, k10, u'admin'\\)`));
    expect(log).toContain(`Client ${String(clientId)} disconnected.`);
    // Credentials went to a plain listener: the evidence is the CONNECT itself, password in clear.
    const cleartext = run.of('cleartext.auth', port);
    expect(cleartext.map((o) => o.value)).toEqual([{ protocol: 'mqtt', port }]);
    expect(run.evidence(cleartext[0])[0]?.sent?.text).toMatch(/xc3511/);
  });

  it('conformant broker (strong unique password): every listed pair rejected with CONNACK 5, still cleartext.auth on a plain listener', async () => {
    const { host, ports, peer } = await broker([{ users: STRONG }]);
    const [port] = ports as [number];
    const run = await runMqttLogin(host, ports);

    expect(run.of('credentials.accepted', port)).toEqual([]);
    const tested = run.of('credentials.tested', port)[0]?.value;
    expect(tested).toMatchObject({ protocol: 'mqtt', accepted: 0, stoppedBecause: 'exhausted' });
    expect(tested?.attempted).toBe(tested?.candidates);
    expect(tested?.rejected).toBe(tested?.attempted);
    const rejected = run.of('credentials.rejected', port);
    expect(rejected).toHaveLength(Number(tested?.attempted));
    for (const o of rejected) expect(run.evidence(o)[0]?.data).toMatchObject({ code: 5 });
    // The broker refused each of them itself (plus the anonymous CONNECTs of discovery and the probe).
    expect(refusals(await brokerLog(peer))).toBeGreaterThan(Number(tested?.attempted));
    expect(run.of('cleartext.auth', port).map((o) => o.value)).toEqual([{ protocol: 'mqtt', port }]);
    expect(run.of('auth.none', port)).toEqual([]);
  });

  it('anonymous broker: auth.none, and not one credential sent', async () => {
    // Anonymous allowed beside a password file: mosquitto then checks any username it is sent, and would log a refusal.
    const { host, ports, peer } = await broker([{ users: STRONG, allowAnonymous: true }]);
    const [port] = ports as [number];
    const run = await runMqttLogin(host, ports);

    expect(run.of('auth.none', port).map((o) => o.value)).toEqual([{ protocol: 'mqtt', port }]);
    expect(run.of('credentials.tested', port).map((o) => o.value)).toEqual([
      { protocol: 'mqtt', port, lists: ['mirai'], candidates: 0, attempted: 0, accepted: 0, rejected: 0, stoppedBecause: 'anonymous-accepted', skippedDeclaredTestAccounts: 0, delayMs: 0 },
    ]);
    expect(run.evidence(run.of('auth.none', port)[0])[0]?.data).toMatchObject({ code: 0 });
    expect(run.of('credentials.rejected', port)).toEqual([]);
    expect(run.of('cleartext.auth', port)).toEqual([]);
    const log = await brokerLog(peer);
    expect(log).toMatch(/New client connected from/);
    expect(refusals(log)).toBe(0);
    expect(log).not.toContain("u'");
  });

  it('TLS listener with a password file: logs in over TLS, and no cleartext.auth', async () => {
    const { host, ports } = await broker([{ users: WEAK, tls: true }]);
    const [port] = ports as [number];
    const run = await runMqttLogin(host, ports);

    expect(run.services).toEqual([{ port, transport: 'tcp', protocol: 'mqtts', tls: true }]);
    expect(run.of('credentials.accepted', port).map((o) => o.value)).toEqual([{ protocol: 'mqtts', port, username: 'admin', password: 'password', source: 'mirai' }]);
    expect(run.evidence(run.of('credentials.accepted', port)[0])[0]?.data).toMatchObject({ code: 0, tls: true });
    expect(run.of('credentials.rejected', port).length).toBeGreaterThan(0);
    expect(run.of('cleartext.auth', port)).toEqual([]);
  });

  it('MQTT 5 (protocolVersion 5): reason codes 0 and 135 judged the same way', async () => {
    const { host, ports, peer } = await broker([{ users: WEAK }, { users: STRONG }]);
    const [weak, strong] = ports as [number, number];
    const run = await runMqttLogin(host, ports, { protocolVersion: 5 });

    expect(run.of('credentials.accepted', weak).map((o) => o.value)).toMatchObject([{ username: 'admin', password: 'password' }]);
    expect(run.evidence(run.of('credentials.accepted', weak)[0])[0]?.data).toMatchObject({ protocolVersion: 5, code: 0 });
    expect(await brokerLog(peer)).toMatch(/\(p5, c1, k10, u'admin'\)/);
    const rejected = run.of('credentials.rejected', strong);
    expect(rejected.length).toBe(run.of('credentials.tested', strong)[0]?.value.attempted);
    for (const o of rejected) expect(run.evidence(o)[0]?.data).toMatchObject({ protocolVersion: 5, code: 135 });
  });

  it('a broker that says "quota exceeded" (MQTT 5 code 151) is a lockout: the probe stops there', async () => {
    const host = await allocHost([]);
    const fake = await scriptedBroker(host, (n) => (n < 3 ? 135 : 151));
    const run = await runMqttLogin(host, [fake.port], { protocolVersion: 5 });
    await fake.close();

    expect(run.of('credentials.rejected', fake.port)).toHaveLength(2);
    expect(run.of('auth.lockout', fake.port).map((o) => o.value)).toEqual([{ protocol: 'mqtt', port: fake.port, afterAttempts: 3, signal: 'CONNACK 151 (quota exceeded)' }]);
    expect(run.of('credentials.tested', fake.port)[0]?.value).toMatchObject({ attempted: 3, stoppedBecause: 'lockout' });
    expect(fake.credentialed).toBe(3);
  });

  it('a broker that hangs up on every CONNECT with credentials: unavailable, never rejected, stopped after three', async () => {
    const host = await allocHost([]);
    const fake = await scriptedBroker(host, () => 'close');
    const run = await runMqttLogin(host, [fake.port]);
    await fake.close();

    expect(run.of('credentials.rejected', fake.port)).toEqual([]);
    expect(run.of('auth.unavailable', fake.port).map((o) => o.value)).toMatchObject([{ protocol: 'mqtt', afterAttempts: 3, reason: expect.stringMatching(/without a CONNACK/) as unknown }]);
    expect(run.of('credentials.tested', fake.port)[0]?.value).toMatchObject({ attempted: 3, stoppedBecause: 'unavailable' });
    expect(run.of('cleartext.auth', fake.port)).toEqual([]);
    expect(fake.credentialed).toBe(3);
  });
});
