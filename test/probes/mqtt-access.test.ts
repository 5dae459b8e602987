import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { Egress } from '../../harness/egress.js';
import type { EvidenceInput } from '../../harness/evidence.js';
import { Scope } from '../../harness/scope.js';
import mqttAccess from '../../probes/mqtt-access.js';
import type { ProbeContext } from '../../probes/types.js';
import { startMqttServer } from '../../lab/servers/mqtt.js';
import { tmp } from '../cli/helpers.js';
import { hostile, type HostilePeer } from '../fixtures/hostile.js';
import { type FloodingBroker, startFloodingBroker } from '../fixtures/mqtt-hostile.js';
import { allocHost } from '../peers/alias.js';
import { requireBinary } from '../peers/daemon.js';
import { type MosquittoListener, type MosquittoPeer, type MqttUser, mosquittoOnAlias } from '../peers/mosquitto.js';
import { type ProbeRun, runProbe } from './run-probe.js';

/** Short windows: on loopback retained messages and the canary arrive within milliseconds. */
const FAST = { listenMs: 400, timeoutMs: 3000 };

const HUB: MqttUser = { username: 'hub', password: 'Tq8#Lr2!vZ9x-unique-per-device' };
const ADMIN: MqttUser = { username: 'ops', password: 'Vb7$kP3@wQ1m-unique-per-device' };

let peers: MosquittoPeer[] = [];
let stoppers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const p of peers) await p.stop();
  for (const s of stoppers) await s();
  peers = [];
  stoppers = [];
});

async function broker(listeners: Omit<MosquittoListener, 'port'>[]): Promise<{ host: string; ports: number[]; peer: MosquittoPeer }> {
  const started = await mosquittoOnAlias(listeners);
  peers.push(started.peer);
  return started;
}

interface ClientOptions {
  user?: MqttUser;
  cafile?: string;
}

function clientArgs(host: string, port: number, o: ClientOptions): string[] {
  return ['-h', host, '-p', String(port), ...(o.user ? ['-u', o.user.username, '-P', o.user.password] : []), ...(o.cafile ? ['--cafile', o.cafile] : [])];
}

/** mosquitto_pub, QoS 1 so the broker has stored the message when it returns. Never throws: callers read the exit code. */
function mosquittoPub(host: string, port: number, topic: string, message: string, o: ClientOptions & { retain?: boolean; v5?: boolean } = {}) {
  const bin = requireBinary('mosquitto_pub', 'mosquitto-clients');
  const args = [...clientArgs(host, port, o), '-q', '1', '-t', topic, '-m', message, ...(o.retain ? ['-r'] : []), ...(o.v5 ? ['-V', 'mqttv5'] : [])];
  return execa(bin, args, { reject: false, timeout: 10_000 });
}

/** mosquitto_sub on `filter` for at most `count` messages or `seconds`; lines are `topic payload`. */
async function mosquittoSub(host: string, port: number, filter: string, count: number, seconds: number, o: ClientOptions = {}): Promise<{ lines: string[]; exitCode: number | undefined }> {
  const bin = requireBinary('mosquitto_sub', 'mosquitto-clients');
  const r = await execa(bin, [...clientArgs(host, port, o), '-t', filter, '-C', String(count), '-W', String(seconds), '-v'], { reject: false, timeout: (seconds + 10) * 1000 });
  return { lines: r.stdout.split('\n').filter((l) => l.length > 0), exitCode: r.exitCode };
}

/**
 * A mosquitto_sub that is already subscribed when this resolves: it runs with -d under `stdbuf -oL`
 * (mosquitto block-buffers stdout into a pipe) and we wait for its "received SUBACK" line.
 */
async function subscribedWatcher(host: string, port: number, filter: string): Promise<{ proc: ResultPromise<{ reject: false; timeout: number }> }> {
  const bin = requireBinary('mosquitto_sub', 'mosquitto-clients');
  const proc = execa('stdbuf', ['-oL', bin, ...clientArgs(host, port, {}), '-d', '-t', filter, '-C', '1', '-W', '30', '-v'], { reject: false, timeout: 40_000 });
  stoppers.push(async () => {
    proc.kill();
    await proc;
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`mosquitto_sub never subscribed: ${out}`)), 10_000);
    proc.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('received SUBACK')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  // Wrapped: an async function returning the subprocess itself would wait for it to exit (it is a thenable).
  return { proc };
}

function declaration(user: MqttUser, service = 'mqtt'): string {
  const file = join(tmp('mqtt-access-decl-'), 'device.yaml');
  writeFileSync(file, ['credentials:', '  model: unique-per-device', '  test:', `    - { service: ${service}, username: ${JSON.stringify(user.username)}, password: ${JSON.stringify(user.password)} }`, ''].join('\n'));
  return file;
}

interface AccessRun {
  run: ProbeRun;
  anonymous: Record<string, unknown>;
  authenticated: Record<string, unknown> | undefined;
}

async function runAccess(host: string, port: number, options: Record<string, unknown> = {}, declarationPath?: string): Promise<AccessRun> {
  const run = await runProbe({ host, ports: [port], probes: [mqttAccess], probeOptions: { ...FAST, ...options }, ...(declarationPath ? { declarationPath } : {}) });
  expect(run.report.errors).toEqual([]);
  const anonymous = run.byKey('mqtt.anonymous');
  expect(anonymous).toHaveLength(1);
  return { run, anonymous: anonymous[0]?.value as Record<string, unknown>, authenticated: run.byKey('mqtt.authenticated')[0]?.value };
}

/** Every byte the run wrote: the evidence log and the report. */
function everythingWritten(run: ProbeRun): string {
  return readFileSync(join(run.outDir, 'evidence.jsonl'), 'utf8') + readFileSync(join(run.outDir, 'report.json'), 'utf8');
}

describe('mqtt-access on mosquitto', () => {
  it('anonymous broker with retained messages: connects in 3.1.1 and 5, reads # and $SYS/#, and its publish is delivered; mosquitto_sub agrees', async () => {
    const { host, ports } = await broker([{}]);
    const [port] = ports as [number];
    const retained: Record<string, string> = { 'home/door': 'open', 'sensors/temp': '21.5', 'cfg/wifi': `{"ssid":"lab","psk":"${'x'.repeat(1000)}"}` };
    for (const [topic, message] of Object.entries(retained)) expect((await mosquittoPub(host, port, topic, message, { retain: true })).exitCode).toBe(0);
    const watcher = await subscribedWatcher(host, port, 'iot-harness/#');

    const { run, anonymous } = await runAccess(host, port);

    expect(run.services).toEqual([{ port, transport: 'tcp', protocol: 'mqtt', tls: false }]);
    expect(anonymous).toMatchObject({
      port,
      protocol: 'mqtt',
      connect: true,
      subscribeAll: true,
      subscribeSys: true,
      publish: true,
      publishTested: true,
      publishAck: 0,
      publishEchoed: true,
      connack: { v311: 0, v5: 0 },
      protocolVersion: 5,
      suback: { all: 0, sys: 0 },
      stoppedBecause: 'window',
    });
    // The canary is not counted as disclosed data; the retained topics and the broker's own $SYS ones are.
    expect([...(anonymous.topics as string[])].sort()).toEqual(Object.keys(retained).sort());
    expect(anonymous.topicsSeen).toBe(3);
    expect(anonymous.sysTopics).toBeGreaterThan(0);
    expect(anonymous.messagesSeen).toBeGreaterThanOrEqual(3 + Number(anonymous.sysTopics));

    // Another client saw the probe's message on the harness-owned topic.
    const seen = await watcher.proc;
    expect(seen.stdout).toContain(`${String(anonymous.publishTopic)} iot-harness access probe`);
    // Agreement: mosquitto_sub on # gets exactly the retained topics the probe listed (the canary was not retained).
    const sub = await mosquittoSub(host, port, '#', Object.keys(retained).length, 2);
    expect(sub.lines.map((l) => l.split(' ')[0]).sort()).toEqual([...(anonymous.topics as string[])].sort());

    // Evidence: both CONNACKs as bytes, the SUBACK, the PUBACK, and the messages with payloads cut at 256 bytes.
    const cited = run.cited(run.byKey('mqtt.anonymous')[0]);
    expect(cited.map((r) => r.summary)).toEqual([
      expect.stringMatching(/MQTT 3\.1\.1 CONNECT without username or password: CONNACK 0 \(accepted\)$/),
      expect.stringMatching(/MQTT 5 CONNECT without username or password: CONNACK 0 \(accepted\)$/),
      expect.stringMatching(/SUBSCRIBE "#" and "\$SYS\/#": SUBACK granted QoS 0, granted QoS 0$/),
      expect.stringMatching(/PUBLISH QoS 1 "iot-harness\/probe\/[0-9a-f]{12}" \(\d+ bytes, not retained\): PUBACK 0 \(Success\)$/),
      expect.stringMatching(/\d+ message\(s\) on 3 topic\(s\) and \d+ \$SYS topic\(s\) within 400 ms$/),
    ]);
    expect(cited[0]?.received?.text).toBe(' \\x02\\x00\\x00');
    const samples = cited[4]?.data?.samples as { topic: string; bytes: number; payload: string; retained: boolean }[];
    expect(samples.find((s) => s.topic === 'sensors/temp')).toMatchObject({ payload: '21.5', retained: true, bytes: 4 });
    const wifi = samples.find((s) => s.topic === 'cfg/wifi');
    expect(wifi?.bytes).toBe(retained['cfg/wifi']?.length);
    expect(wifi?.payload).toHaveLength(256);
  });

  it('publish: false sends no PUBLISH and still reads', async () => {
    const { host, ports } = await broker([{}]);
    const [port] = ports as [number];
    expect((await mosquittoPub(host, port, 'home/door', 'open', { retain: true })).exitCode).toBe(0);

    const { run, anonymous } = await runAccess(host, port, { publish: false });

    expect(anonymous).toMatchObject({ connect: true, subscribeAll: true, publish: false, publishTested: false, topics: ['home/door'] });
    expect(anonymous).not.toHaveProperty('publishTopic');
    expect(run.evidence.some((r) => r.summary.includes('PUBLISH'))).toBe(false);
  });

  it('acl_file for anonymous clients (read #, write nothing): MQTT 5 PUBACK 135, no echo, publish false; mosquitto_pub -V mqttv5 is refused the same way', async () => {
    // ACL lines before any `user` line apply to anonymous clients; ops writes the retained message they read.
    const { host, ports } = await broker([{ users: [ADMIN], allowAnonymous: true, acl: ['topic read #', 'user ops', 'topic readwrite #'] }]);
    const [port] = ports as [number];
    expect((await mosquittoPub(host, port, 'home/door', 'open', { retain: true, user: ADMIN })).exitCode).toBe(0);

    const { anonymous } = await runAccess(host, port);

    expect(anonymous).toMatchObject({ connect: true, protocolVersion: 5, subscribeAll: true, topics: ['home/door'], publishTested: true, publish: false, publishAck: 135, publishEchoed: false });
    const pub = await mosquittoPub(host, port, 'iot-harness/x', 'y', { v5: true });
    expect(pub.stderr).toMatch(/Publish 1 failed: Not authorized/);
  });

  it("an MQTT 3.1.1-only broker (the lab's aedes): the MQTT 5 CONNECT fails, the session runs in 3.1.1, and the echo proves the publish", async () => {
    const host = await allocHost([]);
    const server = await startMqttServer({ host, retained: [{ topic: 'cam/1/config', payload: '{"rtsp":"rtsp://admin:admin@cam/1"}' }] });
    stoppers.push(() => server.close());

    const { anonymous } = await runAccess(host, server.port);

    expect(anonymous).toMatchObject({ connect: true, protocolVersion: 4, subscribeAll: true, topics: ['cam/1/config'], publish: true, publishAck: 0, publishEchoed: true });
    // aedes answers an MQTT 5 CONNECT with a 3.1.1 CONNACK: return code 1, unacceptable protocol version.
    expect(anonymous.connack).toEqual({ v311: 0, v5: 1 });
  });

  it('password file: anonymous refused with 5 and 135; the declared test account reads # (password never written); mosquitto_pub without credentials is refused too', async () => {
    const { host, ports } = await broker([{ users: [HUB] }]);
    const [port] = ports as [number];
    expect((await mosquittoPub(host, port, 'hub/status', 'online', { retain: true, user: HUB })).exitCode).toBe(0);

    const { run, anonymous, authenticated } = await runAccess(host, port, {}, declaration(HUB));

    expect(anonymous).toMatchObject({ connect: false, subscribeAll: false, publish: false, messagesSeen: 0, connack: { v311: 5, v5: 135 }, stoppedBecause: 'not connected' });
    expect(authenticated).toMatchObject({ port, protocol: 'mqtt', connect: true, connack: 0, protocolVersion: 5, subscribeAll: true, suback: { all: 0, sys: 0 }, topics: ['hub/status'], stoppedBecause: 'window' });
    expect(authenticated?.messagesSeen).toBeGreaterThanOrEqual(1);
    const cited = run.cited(run.byKey('mqtt.authenticated')[0]);
    expect(cited[0]?.summary).toMatch(/MQTT 5 CONNECT as the declared test account \(its password is not recorded\): CONNACK 0/);
    expect(everythingWritten(run)).not.toContain(HUB.password);

    // Agreement: the broker refuses an anonymous client of its own, whatever the client.
    const pub = await mosquittoPub(host, port, 'x', 'y');
    expect(pub.exitCode).not.toBe(0);
    expect(pub.stderr).toMatch(/not authori[sz]ed/i);
  });

  it('a wrong declared password: authenticated connect false with the refusal code', async () => {
    const { host, ports } = await broker([{ users: [HUB] }]);
    const [port] = ports as [number];
    const wrong = { username: HUB.username, password: 'not-the-password' };

    const { run, authenticated } = await runAccess(host, port, {}, declaration(wrong));

    expect(authenticated).toMatchObject({ connect: false, connack: 135, subscribeAll: false, messagesSeen: 0 });
    expect(everythingWritten(run)).not.toContain(wrong.password);
  });

  it('acl_file: mosquitto grants the test account # but delivers nothing it may not read, so subscribeAll is false; an account allowed # reads it all', async () => {
    const acl = ['user ops', 'topic readwrite #', 'user hub', 'topic read hub/#'];
    const { host, ports } = await broker([{ users: [HUB, ADMIN], acl }]);
    const [port] = ports as [number];
    for (const topic of ['home/door', 'sensors/temp']) expect((await mosquittoPub(host, port, topic, 'v', { retain: true, user: ADMIN })).exitCode).toBe(0);

    const restricted = await runAccess(host, port, {}, declaration(HUB));
    expect(restricted.authenticated).toMatchObject({ connect: true, suback: { all: 0 }, subscribeAll: false, messagesSeen: 0, topics: [] });

    const full = await runAccess(host, port, {}, declaration(ADMIN));
    expect(full.authenticated).toMatchObject({ connect: true, subscribeAll: true });
    expect([...(full.authenticated?.topics as string[])].sort()).toEqual(['home/door', 'sensors/temp']);

    // Agreement: mosquitto_sub as hub gets nothing on # before its timeout; as ops it gets both topics.
    expect((await mosquittoSub(host, port, '#', 1, 1, { user: HUB })).lines).toEqual([]);
    expect((await mosquittoSub(host, port, '#', 2, 2, { user: ADMIN })).lines.map((l) => l.split(' ')[0]).sort()).toEqual(['home/door', 'sensors/temp']);
  });

  it('TLS listener, anonymous: the same access over TLS', async () => {
    const { host, ports, peer } = await broker([{ tls: true }]);
    const [port] = ports as [number];
    const cafile = peer.cert?.caFile;
    expect(cafile).toBeDefined();
    expect((await mosquittoPub(host, port, 'home/door', 'open', { retain: true, cafile: String(cafile) })).exitCode).toBe(0);

    const { run, anonymous } = await runAccess(host, port);

    expect(run.services).toEqual([{ port, transport: 'tcp', protocol: 'mqtts', tls: true }]);
    expect(anonymous).toMatchObject({ protocol: 'mqtts', connect: true, subscribeAll: true, publish: true, publishEchoed: true, topics: ['home/door'] });
    expect(run.cited(run.byKey('mqtt.anonymous')[0])[0]?.data).toMatchObject({ tls: true, code: 0 });
  });
});

interface Direct {
  observations: { key: string; value: Record<string, unknown> }[];
  evidence: EvidenceInput[];
  elapsedMs: number;
}

/** The probe alone against a server discovery would not name mqtt (it never answers), through a real egress. */
async function runDirect(host: string, port: number, options: Record<string, unknown>): Promise<Direct> {
  const observations: Direct['observations'] = [];
  const evidence: EvidenceInput[] = [];
  const ctx: ProbeContext<ReturnType<typeof mqttAccess.meta.options.parse>> = {
    target: { id: 't1', address: host, ip: host },
    service: { port, transport: 'tcp', protocol: 'mqtt', tls: false },
    options: mqttAccess.meta.options.parse(options),
    signal: new AbortController().signal,
    net: new Egress({ scope: new Scope([`${host}/32`]), excludePorts: { tcp: [], udp: [] }, maxConnectionsPerDevice: 4 }),
    record: (e) => {
      evidence.push(e);
      return `ev-${evidence.length}`;
    },
    observe: (key, value, cited) => {
      for (const e of cited) if (typeof e !== 'string') evidence.push(e);
      observations.push({ key, value });
      return `ob-${observations.length}`;
    },
  };
  const started = performance.now();
  await mqttAccess.run(ctx);
  return { observations, evidence, elapsedMs: performance.now() - started };
}

describe('mqtt-access on hostile servers', () => {
  it('a server that accepts and never sends CONNACK: connect false, "no CONNACK" for both levels, within the deadlines', async () => {
    const host = await allocHost([]);
    const silent: HostilePeer = await hostile.silent(host);
    stoppers.push(() => silent.stop());

    const d = await runDirect(host, silent.port, { timeoutMs: 500, listenMs: 400 });

    expect(d.observations.map((o) => o.key)).toEqual(['mqtt.anonymous']);
    expect(d.observations[0]?.value).toMatchObject({ connect: false, connack: { v311: 'no CONNACK', v5: 'no CONNACK' }, messagesSeen: 0 });
    // Two CONNECTs of 500 ms each; a hang would run into the test timeout instead.
    expect(d.elapsedMs).toBeLessThan(2 * 500 + 1500);
  });

  it('a server that answers CONNECT with endless random bytes: connect false, "not MQTT", within the deadlines', async () => {
    const host = await allocHost([]);
    const noise: HostilePeer = await hostile.flood(host);
    stoppers.push(() => noise.stop());

    const d = await runDirect(host, noise.port, { timeoutMs: 2000, listenMs: 400, maxBytes: 1024 * 1024 });

    expect(d.observations[0]?.value).toMatchObject({ connect: false, connack: { v311: 'not MQTT', v5: 'not MQTT' }, messagesSeen: 0 });
    expect(d.elapsedMs).toBeLessThan(2 * 2000 + 1500);
  });

  it('a broker that floods PUBLISH after SUBACK: counting stops at maxMessages, the connection is dropped, the window ends early', async () => {
    const host = await allocHost([]);
    const flood: FloodingBroker = await startFloodingBroker(host, 'messages');
    stoppers.push(() => flood.stop());
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;

    const d = await runDirect(host, flood.port, { timeoutMs: 2000, listenMs: 30_000, maxMessages: 500, maxTopics: 100 });

    const anonymous = d.observations[0]?.value;
    expect(anonymous).toMatchObject({ connect: true, messagesSeen: 500, stoppedBecause: 'messages', topicsSeen: 100 });
    expect((anonymous?.topics as string[]).length).toBe(50);
    // The cap, not the 30 s window, ended it; and the probe hung up, which stopped the flood.
    expect(d.elapsedMs).toBeLessThan(10_000);
    await flood.idle();
    expect(flood.floodMessages).toBeGreaterThanOrEqual(500);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);
  });

  it('a broker that sends one endless 256 MiB PUBLISH: cut off at maxBytes, nothing counted, the window ends early', async () => {
    const host = await allocHost([]);
    const flood = await startFloodingBroker(host, 'giant');
    stoppers.push(() => flood.stop());
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;

    const d = await runDirect(host, flood.port, { timeoutMs: 2000, listenMs: 30_000, maxBytes: 1024 * 1024 });

    expect(d.observations[0]?.value).toMatchObject({ connect: true, messagesSeen: 0, stoppedBecause: 'bytes' });
    expect(d.elapsedMs).toBeLessThan(10_000);
    await flood.idle();
    // What the server managed to write before the probe hung up: socket buffers, not the 256 MiB announced.
    expect(flood.floodBytes).toBeLessThan(32 * 1024 * 1024);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);
    expect(d.evidence.at(-1)?.summary).toMatch(/cut off after 1048576 bytes/);
  });
});
