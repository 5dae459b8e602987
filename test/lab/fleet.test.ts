import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadDeclaration } from '../../harness/declaration.js';
import { PORT_PLAN } from '../../lab/device.js';
import { LAB_DEVICES, startFleet, type RunningDevice, type RunningFleet } from '../../lab/fleet.js';
import { basic, canBind, Conversation, httpGet, mqttConnack, mqttConnectPacket, tlsHandshake } from './clients.js';

// A base of its own, so that this file never races other suites (demo, CLI) for the default aliases.
const BASE = '127.0.0.61';

let fleet: RunningFleet;
let camera: RunningDevice;
let hub: RunningDevice;

function port(device: RunningDevice, protocol: string): number {
  const service = device.services.find((s) => s.protocol === protocol);
  if (!service) throw new Error(`${device.id} has no ${protocol} service`);
  return service.port;
}

interface DeclarationFile {
  credentials: { model: string; test?: { service: string; username: string; password: string }[] };
  trustAnchors?: string[];
  interfaces: { port: number; transport: string; protocol: string }[];
}

async function declaration(device: RunningDevice): Promise<DeclarationFile> {
  return parse(await readFile(device.declarationPath, 'utf8')) as DeclarationFile;
}

beforeAll(async () => {
  fleet = await startFleet({ baseAddress: BASE });
  const byId = new Map(fleet.devices.map((d) => [d.id, d]));
  camera = byId.get('camera')!;
  hub = byId.get('hub')!;
});

afterAll(async () => {
  await fleet?.stop();
});

describe('fleet', () => {
  it('starts every lab device, in its default mode, on its own alias', () => {
    expect(fleet.usesAliases).toBe(true);
    expect(fleet.devices.map((d) => [d.id, d.mode])).toEqual([
      ['camera', 'weak'],
      ['plug', 'weak'],
      ['hub', 'hardened'],
      ['sensor', 'weak'],
      ['router', 'weak'],
    ]);
    expect(LAB_DEVICES.map((d) => d.id)).toEqual(fleet.devices.map((d) => d.id));
    expect(fleet.devices.map((d) => d.address)).toEqual(['127.0.0.61', '127.0.0.62', '127.0.0.63', '127.0.0.64', '127.0.0.65']);
    for (const device of fleet.devices) {
      expect(device.weaknesses.length).toBeGreaterThan(0);
      expect(device.services.every((s) => s.port !== 2024)).toBe(true);
    }
  });

  it("writes declarations that the harness's strict declaration schema accepts", () => {
    for (const device of fleet.devices) {
      const loaded = loadDeclaration(device.declarationPath);
      expect(loaded.data.interfaces?.length).toBeGreaterThan(0);
    }
  });

  it('writes the camera declaration with only its web interfaces, at the bound ports', async () => {
    const decl = await declaration(camera);
    expect(decl.credentials.model).toBe('user-defined');
    expect(decl.interfaces.map((i) => [i.protocol, i.port])).toEqual([
      ['http', port(camera, 'http')],
      ['https', port(camera, 'https')],
    ]);
    // The lesson: telnet, RTSP and MQTT run but are not declared.
    expect(camera.services.map((s) => s.protocol).sort()).toEqual(['http', 'https', 'mqtt', 'rtsp', 'telnet']);
  });

  it('writes the hub declaration with every service, a test credential and a readable trust anchor', async () => {
    const decl = await declaration(hub);
    expect(decl.credentials.model).toBe('unique-per-device');
    expect(decl.interfaces.map((i) => i.port).sort()).toEqual(hub.services.map((s) => s.port).sort());
    expect(decl.credentials.test?.[0]).toMatchObject({ service: 'mqtt', username: 'lab-tester' });
    const anchor = resolve(dirname(hub.declarationPath), decl.trustAnchors?.[0] ?? 'missing');
    expect(await readFile(anchor, 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
  });
});

describe('weak camera', () => {
  it('telnet: the Mirai default root/xc3511 gets a shell that answers id', async () => {
    const c = await Conversation.open(camera.address, port(camera, 'telnet'));
    await c.waitFor('login: ');
    c.send('root\r\n');
    await c.waitFor('Password: ');
    c.send('xc3511\r\n');
    await c.waitFor(/# $/);
    const mark = c.text.length;
    c.send('id\r\n');
    expect(await c.waitFor('uid=0(root)', mark)).toContain('uid=0(root)');
    c.send('exit\r\n');
    await c.waitForClose();
  });

  it('telnet: a wrong password gets "Login incorrect" and the login prompt again', async () => {
    const c = await Conversation.open(camera.address, port(camera, 'telnet'));
    await c.waitFor('login: ');
    c.send('root\r\n');
    await c.waitFor('Password: ');
    const mark = c.text.length;
    c.send('wrong\r\n');
    const reply = (await c.waitFor(/Login incorrect\r\n.*login: $/, mark)).slice(mark);
    expect(reply).not.toContain('# ');
    c.close();
  });

  it('http: the admin page needs Basic auth and takes admin/admin; the server header names uc-httpd', async () => {
    const denied = await httpGet(camera.address, port(camera, 'http'));
    expect(denied.status).toBe(401);
    expect(denied.headers['www-authenticate']).toMatch(/^Basic realm=/);
    const allowed = await httpGet(camera.address, port(camera, 'http'), { Authorization: basic('admin', 'admin') });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.server).toBe('uc-httpd 1.0.0');
  });

  it('https: negotiates TLS 1.0 with a self-signed certificate', async () => {
    const tls10 = await tlsHandshake({ host: camera.address, port: port(camera, 'https'), minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' });
    expect(tls10).toMatchObject({ ok: true, protocol: 'TLSv1' });
    const socket = tlsConnect({ host: camera.address, port: port(camera, 'https'), rejectUnauthorized: false });
    const cert = await new Promise<{ subject: object; issuer: object }>((done, fail) => {
      socket.once('secureConnect', () => done(socket.getPeerCertificate()));
      socket.once('error', fail);
    });
    socket.destroy();
    expect(cert.issuer).toEqual(cert.subject);
  });

  it('mqtt: an anonymous CONNECT gets CONNACK 0', async () => {
    const code = await mqttConnack(netConnect({ host: camera.address, port: port(camera, 'mqtt') }), mqttConnectPacket('lab-test-anon'));
    expect(code).toBe(0);
  });

  it('rtsp: OPTIONS lists the methods; DESCRIBE needs Basic auth and takes admin/12345', async () => {
    const c = await Conversation.open(camera.address, port(camera, 'rtsp'));
    const url = `rtsp://${camera.address}:${port(camera, 'rtsp')}/live`;
    c.send(`OPTIONS ${url} RTSP/1.0\r\nCSeq: 1\r\n\r\n`);
    const options = await c.waitFor(/CSeq: 1\r\n[\s\S]*\r\n\r\n/);
    expect(options).toMatch(/^RTSP\/1\.0 200 OK\r\n/);
    expect(options).toMatch(/Public: .*DESCRIBE/);
    let mark = c.text.length;
    c.send(`DESCRIBE ${url} RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n`);
    const denied = (await c.waitFor(/CSeq: 2\r\n[\s\S]*\r\n\r\n/, mark)).slice(mark);
    expect(denied).toMatch(/^RTSP\/1\.0 401 Unauthorized\r\n/);
    expect(denied).toMatch(/WWW-Authenticate: Basic realm="IPCam"/);
    mark = c.text.length;
    c.send(`DESCRIBE ${url} RTSP/1.0\r\nCSeq: 3\r\nAuthorization: ${basic('admin', '12345')}\r\n\r\n`);
    const allowed = (await c.waitFor(/a=control:track1\r\n/, mark)).slice(mark);
    expect(allowed).toMatch(/^RTSP\/1\.0 200 OK\r\nCSeq: 3\r\n/);
    expect(allowed).toContain('Content-Type: application/sdp');
    c.close();
  });
});

describe('hardened hub', () => {
  it('https: refuses TLS 1.1 and accepts TLS 1.2 with a certificate valid for its IP under the declared CA', async () => {
    const https = port(hub, 'https');
    const tls11 = await tlsHandshake({ host: hub.address, port: https, minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
    expect(tls11.ok).toBe(false);
    const decl = await declaration(hub);
    const ca = await readFile(resolve(dirname(hub.declarationPath), decl.trustAnchors?.[0] ?? 'missing'), 'utf8');
    // rejectUnauthorized with the declared CA: the chain and the IP SAN must both check out.
    const tls12 = await tlsHandshake({ host: hub.address, port: https, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ca, rejectUnauthorized: true });
    expect(tls12).toMatchObject({ ok: true, protocol: 'TLSv1.2', authorized: true });
  });

  it('ssh: offers publickey only, rejects a password, and lets the admin key in', async () => {
    const address = { host: hub.address, port: port(hub, 'ssh') };
    const offered: string[][] = [];
    const passwordLogin = await new Promise<string>((done) => {
      const client = new ssh2.Client();
      const tried: string[] = [];
      client.on('ready', () => {
        client.end();
        done('accepted');
      });
      client.on('error', (err) => done(`${err.level ?? 'error'}: ${err.message} after ${tried.join(',')}`));
      client.connect({
        ...address,
        username: 'admin',
        // Drive the methods by hand: the server's list after each failure is what it advertises.
        authHandler: (methodsLeft, _partial, next) => {
          if (methodsLeft) offered.push(methodsLeft);
          const method = tried.length === 0 ? 'none' : tried.length === 1 ? 'password' : undefined;
          // ssh2 documents `false` as "no more methods"; @types/ssh2 leaves it out of the signature.
          if (!method) return next(false as never);
          tried.push(method);
          if (method === 'none') return next({ type: 'none', username: 'admin' });
          return next({ type: 'password', username: 'admin', password: 'admin' });
        },
      });
    });
    expect(passwordLogin).toMatch(/^client-authentication: .* after none,password$/);
    expect(offered).toEqual([['publickey'], ['publickey']]);

    const key = await readFile(resolve(dirname(hub.declarationPath), 'hub-admin.key'), 'utf8');
    const output = await new Promise<string>((done, fail) => {
      const client = new ssh2.Client();
      client.on('ready', () => {
        client.exec('uptime', (err, stream) => {
          if (err) return fail(err);
          let out = '';
          stream.on('data', (chunk: Buffer) => (out += chunk.toString()));
          stream.on('close', () => {
            client.end();
            done(out);
          });
        });
      });
      client.on('error', fail);
      client.connect({ ...address, username: 'admin', privateKey: key });
    });
    expect(output).toContain('nothing was run');
  });

  it('mqtts: refuses a CONNECT without credentials or with wrong ones, accepts the declared test credential', async () => {
    const mqtts = { host: hub.address, port: port(hub, 'mqtts'), rejectUnauthorized: false };
    expect(await mqttConnack(tlsConnect(mqtts), mqttConnectPacket('lab-test-anon'))).toBe(5);
    expect(await mqttConnack(tlsConnect(mqtts), mqttConnectPacket('lab-test-bad', { username: 'lab-tester', password: 'guess' }))).toBe(4);
    const test = (await declaration(hub)).credentials.test?.[0];
    if (!test) throw new Error('hub declaration has no test credential');
    expect(await mqttConnack(tlsConnect(mqtts), mqttConnectPacket('lab-test-ok', test))).toBe(0);
  });

  it('runs SSH and TLS services only: no plain MQTT, HTTP or telnet', () => {
    expect(hub.services.map((s) => [s.protocol, s.tls]).sort()).toEqual([
      ['https', true],
      ['mqtts', true],
      ['ssh', false],
    ]);
  });
});

describe('fleet on a shared 127.0.0.1', () => {
  it('gives devices distinct ports, honours excluded ports, and frees every port on stop', async () => {
    // Every planned port excluded: the devices take random ones, which no other suite's lab on
    // 127.0.0.1 (lab and workshop tests run one) can grab between our stop and the re-bind check.
    const planned = Object.values(PORT_PLAN).flatMap((p) => [p.standard, p.mapped]);
    const shared = await startFleet({ useAliases: false, excludePorts: planned });
    const bound = shared.devices.flatMap((d) => d.services.map((s) => ({ address: d.address, port: s.port })));
    try {
      expect(shared.usesAliases).toBe(false);
      expect(shared.devices.every((d) => d.address === '127.0.0.1')).toBe(true);
      expect(new Set(bound.map((b) => b.port)).size).toBe(bound.length);
      for (const b of bound) expect([...planned, 2024]).not.toContain(b.port);
      expect(existsSync(shared.devices[0]!.declarationPath)).toBe(true);
    } finally {
      await shared.stop();
    }
    for (const b of bound) expect(await canBind(b.address, b.port), `${b.address}:${b.port} still held`).toBe(true);
    expect(existsSync(shared.dir)).toBe(false);
  });

  it('leaves no handle open: a process that stops the fleet with clients still connected exits by itself', async () => {
    const fleetUrl = pathToFileURL(resolve('lab/fleet.ts')).href;
    const script = `
      import { connect } from 'node:net';
      import { startFleet } from ${JSON.stringify(fleetUrl)};
      const fleet = await startFleet({ baseAddress: '127.0.0.71' });
      const [camera] = fleet.devices;
      const at = (p) => camera.services.find((s) => s.protocol === p).port;
      // Open sessions at stop time: a telnet login prompt and an MQTT client that never sends CONNECT.
      const sockets = ['telnet', 'mqtt'].map((p) => connect({ host: camera.address, port: at(p) }));
      await Promise.all(sockets.map((s) => new Promise((ok) => s.once('connect', ok))));
      for (const s of sockets) s.on('error', () => s.destroy());
      await fleet.stop();
      process.stdout.write('stopped');`;
    // The deadline is the assertion: a leaked timer or listener keeps the child alive past it.
    const child = await execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 30_000, reject: false });
    expect(child.timedOut).toBe(false);
    expect(child.stderr).toBe('');
    expect(child.exitCode).toBe(0);
    expect(child.stdout).toBe('stopped');
  });

  it('rejects an unknown device id before binding anything', async () => {
    await expect(startFleet({ devices: ['toaster'] })).rejects.toThrow(/unknown device "toaster".*camera, plug, hub, sensor, router/);
    await expect(startFleet({ modes: { toaster: 'weak' } })).rejects.toThrow(/unknown device "toaster"/);
    await expect(startFleet({ modes: { camera: 'strong' as never } })).rejects.toThrow(/mode "strong" for camera is not one of weak, hardened/);
  });

  it('keeps each device on its own address slot whichever devices start, in the mode asked for', async () => {
    const some = await startFleet({ devices: ['router', 'camera'], modes: { camera: 'hardened' }, baseAddress: '127.0.0.81' });
    try {
      expect(some.devices.map((d) => [d.id, d.mode, d.address])).toEqual([
        ['camera', 'hardened', '127.0.0.81'],
        ['router', 'weak', '127.0.0.85'],
      ]);
      expect(some.devices[0]?.title).toMatch(/hardened/);
    } finally {
      await some.stop();
    }
  });
});
