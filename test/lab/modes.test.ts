// The lab's second builds, each started alone on its own loopback alias and judged by the real
// harness in process: the hardened camera beside the weak one it fixes, and the weak hub beside the
// hardened one. The declaration each writes must load, its services must answer as built, and the
// ETSI EN 303 645 verdicts must be the ones the build exists to teach.
import { readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Declaration, loadDeclaration } from '../../harness/declaration.js';
import type { TargetReport, Verdict } from '../../harness/report-schema.js';
import type { DeviceDefinition, DeviceMode, RunningDevice } from '../../lab/device.js';
import { camera } from '../../lab/devices/camera.js';
import { hub } from '../../lab/devices/hub.js';
import { loadProfile } from '../../profiles/loader.js';
import { tmp } from '../cli/helpers.js';
import { allocHost } from '../peers/alias.js';
import { judgeDevice } from './judge.js';
import { basic, mqttConnack, mqttConnectPacket, tlsHandshake } from './clients.js';

const ETSI = loadProfile('etsi-en-303-645');
/** Provisions the profile judges by an assessment, not by hand. */
const AUTOMATED = new Set(ETSI.provisions.filter((p) => 'assessment' in p.assess).map((p) => p.id));

const running: RunningDevice[] = [];
const folders: string[] = [];

afterAll(async () => {
  await Promise.all(running.map((d) => d.stop()));
  for (const f of folders) rmSync(f, { recursive: true, force: true });
});

function folder(prefix: string): string {
  const dir = tmp(prefix);
  folders.push(dir);
  return dir;
}

async function start(definition: DeviceDefinition, mode: DeviceMode): Promise<RunningDevice> {
  const address = await allocHost([]);
  const device = await definition.start({ address, dir: folder(`lab-${definition.id}-${mode}-`), excludePorts: [], mode });
  running.push(device);
  return device;
}

/** The real harness on one device, on its own ports only, with the demo's loopback settings. */
function judge(device: RunningDevice): Promise<TargetReport> {
  return judgeDevice(device, join(folder('lab-modes-run-'), 'run'));
}

function automated(report: TargetReport): Record<string, Verdict> {
  return Object.fromEntries(report.verdicts.filter((v) => v.scheme === 'etsi-en-303-645' && AUTOMATED.has(v.provision)).map((v) => [v.provision, v.verdict]));
}

function rationale(report: TargetReport, provision: string): string {
  return report.verdicts.find((v) => v.scheme === 'etsi-en-303-645' && v.provision === provision)?.rationale ?? '';
}

function port(device: RunningDevice, protocol: string): number {
  const service = device.services.find((s) => s.protocol === protocol);
  if (!service) throw new Error(`${device.id} (${device.mode}) has no ${protocol} service`);
  return service.port;
}

function mqttTestAccount(declaration: Declaration): { username: string; password: string } {
  const account = declaration.data.credentials?.test.find((t) => t.service === 'mqtt');
  if (!account) throw new Error(`${declaration.path} declares no mqtt test account`);
  return account;
}

/** GET / over HTTPS, checking the certificate against `ca` and the address. */
function httpsGet(host: string, port: number, ca: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/', headers, ca, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.once('error', reject);
    req.end();
  });
}

/** Whether a TCP connection to host:port is refused (nothing listens there). */
function isRefused(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

/** One SSH password login: `accepted`, or the error ssh2 gave. */
function sshPasswordLogin(host: string, port: number, username: string, password: string): Promise<string> {
  return new Promise((resolve) => {
    const client = new ssh2.Client();
    client.on('ready', () => {
      client.end();
      resolve('accepted');
    });
    client.on('error', (err) => resolve(`${err.level ?? 'error'}: ${err.message}`));
    client.connect({ host, port, username, password, tryKeyboard: false });
  });
}

describe('camera: weak, then hardened', () => {
  let weak: RunningDevice;
  let hardened: RunningDevice;
  let weakReport: TargetReport;
  let hardenedReport: TargetReport;
  let declaration: Declaration;

  beforeAll(async () => {
    [weak, hardened] = await Promise.all([start(camera, 'weak'), start(camera, 'hardened')]);
    [weakReport, hardenedReport] = await Promise.all([judge(weak), judge(hardened)]);
    declaration = loadDeclaration(hardened.declarationPath);
  });

  it('keeps the id, so the two runs pair up, and names the hardened build in its title', () => {
    expect([weak.id, hardened.id]).toEqual(['camera', 'camera']);
    expect([weak.mode, hardened.mode]).toEqual(['weak', 'hardened']);
    expect(hardened.title).toMatch(/^IP camera \(hardened: /);
    expect(hardened.weaknesses.every((w) => /Residual/.test(w))).toBe(true);
  });

  it('hardened: writes a declaration the harness loads, with every service, unique passwords, a test account and a trust anchor', () => {
    expect(declaration.data.credentials?.model).toBe('unique-per-device');
    expect(declaration.data.interfaces?.map((i) => [i.protocol, i.port]).sort()).toEqual(hardened.services.map((s) => [s.protocol, s.port]).sort());
    expect(mqttTestAccount(declaration).username).toBe('lab-tester');
    expect(declaration.data.supportPeriod?.end).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(declaration.data.vulnerabilityDisclosure?.url).toMatch(/^https:\/\//);
    expect(declaration.data.trustAnchors).toHaveLength(1);
    expect(readFileSync(declaration.data.trustAnchors[0] ?? '', 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
  });

  it('hardened: runs HTTPS and MQTTS only; nothing answers on the telnet, HTTP, RTSP or MQTT ports', async () => {
    expect(hardened.services.map((s) => [s.protocol, s.tls]).sort()).toEqual([
      ['https', true],
      ['mqtts', true],
    ]);
    expect(hardenedReport.services.map((s) => s.protocol).sort()).toEqual(['https', 'mqtts']);
    for (const p of [23, 2323, 80, 8080, 554, 8554, 1883, 1884]) expect(await isRefused(hardened.address, p), `port ${p}`).toBe(true);
  });

  it('hardened https: refuses TLS 1.1, validates under the declared CA for its IP, and wants a per-run admin password', async () => {
    const https = port(hardened, 'https');
    const ca = readFileSync(declaration.data.trustAnchors[0] ?? '', 'utf8');
    const tls11 = await tlsHandshake({ host: hardened.address, port: https, minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
    expect(tls11.ok).toBe(false);
    const tls12 = await tlsHandshake({ host: hardened.address, port: https, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ca, rejectUnauthorized: true });
    expect(tls12).toMatchObject({ ok: true, protocol: 'TLSv1.2', authorized: true });
    const anonymous = await httpsGet(hardened.address, https, ca);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['strict-transport-security']).toMatch(/max-age=/);
    expect((await httpsGet(hardened.address, https, ca, { Authorization: basic('admin', 'admin') })).status).toBe(401);
  });

  it('hardened mqtts: refuses anonymous clients, and the brute-force trial left the test account locked (CONNACK 3 for the right password)', async () => {
    const mqtts = { host: hardened.address, port: port(hardened, 'mqtts'), rejectUnauthorized: false };
    expect(await mqttConnack(tlsConnect(mqtts), mqttConnectPacket('lab-test-anon'))).toBe(5);
    // The harness ran 5+ wrong passwords against lab-tester moments ago: the account is held for 60 s.
    expect(await mqttConnack(tlsConnect(mqtts), mqttConnectPacket('lab-test-right', mqttTestAccount(declaration)))).toBe(3);
    // A name the broker has no account for is never locked: only a bad pair, as before the trial.
    expect(await mqttConnack(tlsConnect(mqtts), mqttConnectPacket('lab-test-root', { username: 'root', password: 'xc3511' }))).toBe(4);
  });

  it('flips 5.1-1, 5.2-1, 5.3-13, 5.5-1 and 5.6-1 from FAIL to PASS', () => {
    const before = automated(weakReport);
    const after = automated(hardenedReport);
    for (const provision of ['5.1-1', '5.2-1', '5.3-13', '5.5-1', '5.6-1']) {
      expect([provision, before[provision]]).toEqual([provision, 'FAIL']);
      expect([provision, after[provision]]).toEqual([provision, 'PASS']);
    }
  });

  it('gives every automated ETSI verdict of each build, with the reasons the builds teach', () => {
    expect(automated(weakReport)).toEqual({
      '5.1-1': 'FAIL', '5.1-5': 'INCONCLUSIVE', '5.2-1': 'FAIL', '5.3-2': 'NOT_ASSESSED', '5.3-7': 'NOT_ASSESSED', '5.3-9': 'NOT_ASSESSED', '5.3-10': 'NOT_ASSESSED', '5.3-13': 'FAIL',
      '5.5-1': 'FAIL', '5.5-4': 'FAIL', '5.5-5': 'FAIL', '5.6-1': 'FAIL', '5.6-2': 'FAIL',
    });
    expect(automated(hardenedReport)).toEqual({
      '5.1-1': 'PASS', '5.1-5': 'PASS', '5.2-1': 'PASS', '5.3-2': 'NOT_ASSESSED', '5.3-7': 'NOT_ASSESSED', '5.3-9': 'NOT_ASSESSED', '5.3-10': 'NOT_ASSESSED', '5.3-13': 'PASS',
      '5.5-1': 'PASS', '5.5-4': 'PASS', '5.5-5': 'PASS', '5.6-1': 'PASS', '5.6-2': 'PASS',
    });
    expect(rationale(weakReport, '5.1-1')).toMatch(/telnet on tcp\/\d+ accepted root\/xc3511 \(mirai list\)/);
    // Both login services were swept to the end: the MQTTS lockout never cut the default run short.
    expect(rationale(hardenedReport, '5.1-1')).toMatch(/^None of the 2 login service\(s\) accepted any of \d+ default credential attempt\(s\), and the declaration states unique-per-device passwords\.$/);
    expect(rationale(hardenedReport, '5.1-5')).toMatch(/^mqtts on tcp\/\d+ locked after \d+ wrong attempt\(s\)\.$/);
    expect(rationale(hardenedReport, '5.5-1')).toMatch(/https on tcp\/\d+ \(TLSv1\.2\+TLSv1\.3\) and mqtts on tcp\/\d+ \(TLSv1\.2\+TLSv1\.3\)/);
  });
});

describe('hub: weak, beside hardened', () => {
  let weak: RunningDevice;
  let hardened: RunningDevice;
  let weakReport: TargetReport;
  let hardenedReport: TargetReport;
  let declaration: Declaration;

  beforeAll(async () => {
    [weak, hardened] = await Promise.all([start(hub, 'weak'), start(hub, 'hardened')]);
    [weakReport, hardenedReport] = await Promise.all([judge(weak), judge(hardened)]);
    declaration = loadDeclaration(weak.declarationPath);
  });

  it('weak: writes a declaration the harness loads: every service, user-defined passwords, a test account, no trust anchor, an ended support period', () => {
    expect(weak.id).toBe('hub');
    expect(weak.title).toMatch(/^Home hub \(weak: /);
    expect(declaration.data.credentials?.model).toBe('user-defined');
    expect(declaration.data.interfaces?.map((i) => [i.protocol, i.port]).sort()).toEqual(weak.services.map((s) => [s.protocol, s.port]).sort());
    expect(mqttTestAccount(declaration).username).toBe('lab-tester');
    expect(declaration.data.trustAnchors).toEqual([]);
    expect(declaration.data.vulnerabilityDisclosure).toBeUndefined();
    // Judged against the run's start: an end date before today is a support period that is over.
    expect((declaration.data.supportPeriod?.end ?? '9999-12-31') < new Date().toISOString().slice(0, 10)).toBe(true);
    expect(weak.services.map((s) => [s.protocol, s.tls]).sort()).toEqual([
      ['https', true],
      ['mqtt', false],
      ['ssh', false],
    ]);
  });

  it('weak ssh: takes the stock Raspberry Pi login pi/raspberry and refuses other passwords', async () => {
    const ssh = port(weak, 'ssh');
    expect(await sshPasswordLogin(weak.address, ssh, 'pi', 'raspberry')).toBe('accepted');
    expect(await sshPasswordLogin(weak.address, ssh, 'pi', 'wrong')).toMatch(/^client-authentication: /);
  });

  it('weak https: negotiates TLS 1.0 and shows a self-signed certificate', async () => {
    const https = port(weak, 'https');
    const tls10 = await tlsHandshake({ host: weak.address, port: https, minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' });
    expect(tls10).toMatchObject({ ok: true, protocol: 'TLSv1' });
    const socket = tlsConnect({ host: weak.address, port: https, rejectUnauthorized: false });
    const cert = await new Promise<{ subject: object; issuer: object }>((done, fail) => {
      socket.once('secureConnect', () => done(socket.getPeerCertificate()));
      socket.once('error', fail);
    });
    socket.destroy();
    expect(cert.issuer).toEqual(cert.subject);
  });

  it('weak mqtt: plain TCP, refuses anonymous clients, and never locks: the right password still works after 10 wrong ones', async () => {
    const mqtt = { host: weak.address, port: port(weak, 'mqtt') };
    const account = mqttTestAccount(declaration);
    expect(await mqttConnack(netConnect(mqtt), mqttConnectPacket('lab-test-anon'))).toBe(5);
    for (let i = 0; i < 10; i++) expect(await mqttConnack(netConnect(mqtt), mqttConnectPacket(`lab-test-bad-${i}`, { username: account.username, password: `wrong-${i}` }))).toBe(4);
    expect(await mqttConnack(netConnect(mqtt), mqttConnectPacket('lab-test-right', account))).toBe(0);
  });

  it('weak: fails 5.1-1 on the SSH default, 5.1-5 on the MQTT trial and 5.5-1 on TLS 1.0 and plain MQTT', () => {
    expect(automated(weakReport)).toEqual({
      '5.1-1': 'FAIL', '5.1-5': 'FAIL', '5.2-1': 'FAIL', '5.3-2': 'NOT_ASSESSED', '5.3-7': 'NOT_ASSESSED', '5.3-9': 'NOT_ASSESSED', '5.3-10': 'NOT_ASSESSED', '5.3-13': 'FAIL',
      '5.5-1': 'FAIL', '5.5-4': 'PASS', '5.5-5': 'PASS', '5.6-1': 'PASS', '5.6-2': 'PASS',
    });
    expect(rationale(weakReport, '5.1-1')).toMatch(/^ssh on tcp\/\d+ accepted pi\/raspberry \(vendors list\)/);
    expect(rationale(weakReport, '5.1-5')).toMatch(/^mqtt on tcp\/\d+ took \d+ wrong passwords at [\d.]+\/s without locking or slowing down\.$/);
    expect(rationale(weakReport, '5.5-1')).toMatch(/https on tcp\/\d+: offers TLSv1\.0 and TLSv1\.1; mqtt on tcp\/\d+: takes credentials in cleartext, carries its traffic without TLS/);
    expect(rationale(weakReport, '5.3-13')).toMatch(/^The declared support period ended on \d{4}-\d{2}-\d{2}\.$/);
  });

  it('weak to hardened flips 5.1-1, 5.1-5, 5.2-1, 5.3-13 and 5.5-1 from FAIL to PASS', () => {
    const before = automated(weakReport);
    const after = automated(hardenedReport);
    for (const provision of ['5.1-1', '5.1-5', '5.2-1', '5.3-13', '5.5-1']) {
      expect([provision, before[provision]]).toEqual([provision, 'FAIL']);
      expect([provision, after[provision]]).toEqual([provision, 'PASS']);
    }
    expect(Object.entries(after).filter(([, v]) => v !== 'PASS' && v !== 'NOT_ASSESSED')).toEqual([]);
  });
});
