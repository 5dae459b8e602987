// Proves each real-peer helper starts its daemon on a private loopback alias, that a real client gets a
// real answer from it, and that stop() leaves no process and no temp dir behind.
import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { Client as SshClient } from 'ssh2';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { allocHost, freePort } from './alias.js';
import { startCoapServer, coapGet } from './coap.js';
import { isRunning, makeTempDir, PeerError, requireBinary, startDaemon, tcpConnects, type Daemon } from './daemon.js';
import { startDropbear } from './dropbear.js';
import { startLighttpd } from './lighttpd.js';
import { startMosquitto } from './mosquitto.js';
import { converse, tcpRead, tlsRead } from './read.js';
import { startRedis } from './redis.js';
import { startTelnetd } from './telnetd.js';

const running = new Set<Daemon>();

/** Registers a daemon so afterAll stops it even when an assertion fails first. */
function track<T extends Daemon>(daemon: T): T {
  running.add(daemon);
  return daemon;
}

afterAll(async () => {
  for (const daemon of running) await daemon.stop();
});

/** Stops the daemon and checks that its process and its temp dir are gone. */
async function stopAndCheck(daemon: Daemon): Promise<void> {
  await daemon.stop();
  running.delete(daemon);
  expect(isRunning(daemon.pid)).toBe(false);
  expect(existsSync(daemon.dir)).toBe(false);
}

/** GET over HTTP(S) with a bounded body; resolves with the status line parts and the first bytes. */
function httpGet(
  url: string,
  options: { auth?: string; ca?: string; rejectUnauthorized?: boolean } = {},
): Promise<{ status: number; httpVersion: string; body: string; isAuthorized?: boolean }> {
  const isTls = url.startsWith('https:');
  return new Promise((resolve, reject) => {
    const request = (isTls ? httpsRequest : httpRequest)(
      url,
      { auth: options.auth, ca: options.ca, rejectUnauthorized: options.rejectUnauthorized ?? true, timeout: 5_000 },
      (response) => {
        // Read now: by 'end' the socket has been detached from the response.
        const isAuthorized = isTls ? (response.socket as TLSSocket).authorized : undefined;
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body = (body + chunk).slice(0, 4096);
        });
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            httpVersion: response.httpVersion,
            body,
            isAuthorized,
          }),
        );
      },
    );
    request.on('timeout', () => request.destroy(new Error(`GET ${url} timed out`)));
    request.on('error', reject);
    request.end();
  });
}

describe('alias', () => {
  it('picks a 127.X.Y.Z alias with X in 100..250 and no .0/.255 parts', async () => {
    const host = await allocHost([1883, 8883]);
    const [a, x, y, z] = host.split('.').map(Number);
    expect(a).toBe(127);
    expect(x).toBeGreaterThanOrEqual(100);
    expect(x).toBeLessThanOrEqual(250);
    for (const part of [y, z]) {
      expect(part).toBeGreaterThanOrEqual(1);
      expect(part).toBeLessThanOrEqual(254);
    }
  });

  it('refuses port 2024 outright', async () => {
    await expect(allocHost([8080, 2024])).rejects.toThrow(/2024/);
  });

  // The lab maps privileged ports to 2222, 2323, 8080, 8443 when not root; tests do the same. As root
  // (CI), the check runs in a child process that setpriv drops to nobody, so it is tested everywhere.
  it('says so at once when a port needs root', async () => {
    if (process.getuid?.() !== 0) {
      await expect(allocHost([22])).rejects.toThrow(/EACCES/);
      return;
    }
    const script = "import('./test/peers/alias.ts').then((m) => m.allocHost([22])).then(() => console.log('bound'), (e) => console.log(e.message))";
    const r = await execa('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'node', '--import', 'tsx', '-e', script], { cwd: join(import.meta.dirname, '..', '..'), reject: false });
    expect(r.stdout).toMatch(/needs privileges \(EACCES\)/);
  });

  it('finds runs of free TCP+UDP ports', async () => {
    const host = await allocHost([], 'both');
    const port = await freePort(host, 'both', 2);
    expect(port).toBeGreaterThan(0);
    expect(port).not.toBe(2024);
    expect(port + 1).toBeLessThanOrEqual(65_535);
  });

  it('tells how to install a missing peer', () => {
    expect(() => requireBinary('no-such-peer-binary', 'no-such-package')).toThrow(PeerError);
    expect(() => requireBinary('no-such-peer-binary', 'no-such-package')).toThrow(
      'run `npm run test:ci` (scripts/install-peers.sh) to install no-such-package',
    );
  });
});

/** Asks the SSH server which auth methods it offers: try `none`, read the list from the refusal, hang up. */
function sshAuthMethods(host: string, port: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const client = new SshClient();
    client.on('error', reject);
    client.on('ready', () => {
      client.end();
      reject(new Error('the server accepted auth method none'));
    });
    client.connect({
      host,
      port,
      username: 'root',
      readyTimeout: 5_000,
      authHandler: (methodsLeft, _partial, next) => {
        // ssh2 passes null before the first attempt, despite its typings.
        if ((methodsLeft as string[] | null) === null) {
          next({ type: 'none', username: 'root' });
          return;
        }
        resolve(methodsLeft);
        client.end();
      },
    });
  });
}

describe('dropbear', () => {
  it('answers with an SSH-2.0-dropbear banner and offers password logins', async () => {
    const host = await allocHost([2222]);
    const peer = track(await startDropbear({ host, port: 2222 }));
    const read = await tcpRead(host, peer.port, { until: (d) => d.includes('\n'), maxBytes: 1024 });
    expect(read.data.toString('latin1')).toMatch(/^SSH-2\.0-dropbear/);
    expect(peer.hostPublicKey).toMatch(/^ssh-ed25519 /);
    expect(await sshAuthMethods(host, peer.port)).toContain('password');
    await stopAndCheck(peer);
  });

  it('offers publickey only with allowPasswords: false (-s)', async () => {
    const host = await allocHost([]);
    const peer = track(await startDropbear({ host, port: await freePort(host), allowPasswords: false }));
    const methods = await sshAuthMethods(host, peer.port);
    expect(methods).toContain('publickey');
    expect(methods).not.toContain('password');
    await stopAndCheck(peer);
  });
});

describe('lighttpd', () => {
  it('serves HTTP/1.1 200 and guards the Basic-auth path', async () => {
    const host = await allocHost([8080]);
    const peer = track(
      await startLighttpd({ host, port: 8080, basicAuth: { path: '/admin', username: 'admin', password: 'hunter2' } }),
    );
    const raw = await tcpRead(host, peer.port, {
      send: `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      until: (d) => d.includes('\r\n'),
      maxBytes: 4096,
    });
    expect(raw.data.toString('latin1')).toMatch(/^HTTP\/1\.1 200/);
    expect((await httpGet(`${peer.url}/admin/`)).status).toBe(401);
    expect((await httpGet(`${peer.url}/admin/`, { auth: 'admin:wrong' })).status).toBe(401);
    const ok = await httpGet(`${peer.url}/admin/`, { auth: 'admin:hunter2' });
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('admin area');
    await stopAndCheck(peer);
  });

  it('accepts htpasswd ({SHA}) accounts too, and can answer bad credentials without its 1 s delay', async () => {
    const host = await allocHost([]);
    const peer = track(
      await startLighttpd({
        host,
        port: await freePort(host),
        basicAuth: { path: '/cgi', username: 'op', password: 's3cret', backend: 'htpasswd', delaysInvalidCreds: false },
      }),
    );
    const startedAt = Date.now();
    expect((await httpGet(`${peer.url}/cgi/`, { auth: 'op:nope' })).status).toBe(401);
    // Generous bound: only the fixed 1 s delay must be gone, not any scheduling noise.
    expect(Date.now() - startedAt).toBeLessThan(900);
    expect((await httpGet(`${peer.url}/cgi/`, { auth: 'op:s3cret' })).status).toBe(200);
    await stopAndCheck(peer);
  });

  it('serves HTTPS with a certificate its CA verifies, and no TLS 1.0 by default', async () => {
    const host = await allocHost([8443]);
    const peer = track(await startLighttpd({ host, port: 8443, tls: true, files: { '/fw/manifest.json': '{"v":1}' } }));
    const unverified = await httpGet(`${peer.url}/`, { rejectUnauthorized: false });
    expect(unverified.status).toBe(200);
    expect(unverified.httpVersion).toBe('1.1');
    const verified = await httpGet(`${peer.url}/fw/manifest.json`, { ca: peer.cert?.caPem });
    expect(verified).toMatchObject({ status: 200, body: '{"v":1}', isAuthorized: true });
    const tls10 = await tlsRead(host, peer.port, { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' });
    expect(tls10.end).not.toBe('timeout');
    expect(tls10.error).toBeDefined();
    await stopAndCheck(peer);
  });

  it('can be made weak: TLS 1.0 with minProtocol TLSv1', async () => {
    const host = await allocHost([]);
    const peer = track(
      await startLighttpd({
        host,
        port: await freePort(host),
        tls: { minProtocol: 'TLSv1', cipherString: 'DEFAULT@SECLEVEL=0', cert: { isSelfSigned: true, key: { type: 'rsa', bits: 1024 } } },
      }),
    );
    const protocol = await new Promise<string | null>((resolve, reject) => {
      const socket = tlsConnect({
        host,
        port: peer.port,
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1',
        ciphers: 'DEFAULT@SECLEVEL=0',
        rejectUnauthorized: false,
      });
      socket.once('secureConnect', () => {
        resolve(socket.getProtocol());
        socket.destroy();
      });
      socket.once('error', reject);
    });
    expect(protocol).toBe('TLSv1');
    await stopAndCheck(peer);
  });
});

/** An MQTT 3.1.1 CONNECT, optionally with credentials. */
function mqttConnect(clientId: string, username?: string, password?: string): Buffer {
  const str = (s: string): Buffer => {
    const b = Buffer.from(s, 'utf8');
    return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
  };
  let flags = 0x02; // clean session
  const payload = [str(clientId)];
  if (username !== undefined) {
    flags |= 0x80;
    payload.push(str(username));
  }
  if (password !== undefined) {
    flags |= 0x40;
    payload.push(str(password));
  }
  const body = Buffer.concat([str('MQTT'), Buffer.from([4, flags, 0, 30]), ...payload]);
  if (body.length > 127) throw new RangeError('test CONNECT must fit a one-byte remaining length');
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

/** CONNACK return code from the first four bytes, or undefined if none came. */
function connackCode(data: Buffer): number | undefined {
  return data.length >= 4 && data[0] === 0x20 ? data[3] : undefined;
}

describe('mosquitto', () => {
  it('runs anonymous, password and TLS listeners side by side', async () => {
    const host = await allocHost([1883, 1884, 8883]);
    const peer = track(
      await startMosquitto({
        host,
        listeners: [
          { port: 1883 },
          { port: 1884, users: [{ username: 'hub', password: 'hub-pass' }, { username: 'cam', password: 'cam-pass' }] },
          { port: 8883, tls: true },
        ],
      }),
    );
    const bounded = { until: (d: Buffer) => d.length >= 4, maxBytes: 64, timeoutMs: 5_000 };

    expect(connackCode((await tcpRead(host, 1883, { send: mqttConnect('t-anon'), ...bounded })).data)).toBe(0);
    // mosquitto 2.0 answers "not authorised" (5) to anonymous and to wrong passwords alike.
    expect(connackCode((await tcpRead(host, 1884, { send: mqttConnect('t-none'), ...bounded })).data)).toBe(5);
    expect(connackCode((await tcpRead(host, 1884, { send: mqttConnect('t-bad', 'hub', 'x'), ...bounded })).data)).toBe(5);
    expect(connackCode((await tcpRead(host, 1884, { send: mqttConnect('t-hub', 'hub', 'hub-pass'), ...bounded })).data)).toBe(0);
    expect(connackCode((await tcpRead(host, 1884, { send: mqttConnect('t-cam', 'cam', 'cam-pass'), ...bounded })).data)).toBe(0);
    const overTls = await tlsRead(host, 8883, { ca: peer.cert?.caPem, rejectUnauthorized: true }, { send: mqttConnect('t-tls'), ...bounded });
    expect(connackCode(overTls.data)).toBe(0);

    // The real clients: a retained message published with mosquitto_pub reaches mosquitto_sub.
    const pub = requireBinary('mosquitto_pub', 'mosquitto-clients');
    const sub = requireBinary('mosquitto_sub', 'mosquitto-clients');
    await execa(pub, ['-h', host, '-p', '1883', '-t', 'lab/cam', '-m', 'hello', '-r'], { timeout: 10_000 });
    const received = await execa(sub, ['-h', host, '-p', '1883', '-t', 'lab/#', '-C', '1', '-W', '5'], { timeout: 10_000 });
    expect(received.stdout.trim()).toBe('hello');
    await stopAndCheck(peer);
  });
});

describe('coap', () => {
  it('answers coap-client-notls with its resource list, and -d makes it writable', async () => {
    const host = await allocHost([5683], 'both');
    const peer = track(await startCoapServer({ host, port: 5683, dynamicResources: 4 }));
    const client = requireBinary('coap-client-notls', 'libcoap3-bin');
    const core = await execa(client, ['-B', '3', '-m', 'get', `coap://${host}:5683/.well-known/core`], { timeout: 10_000 });
    expect(core.stdout).toContain('</time>');
    await execa(client, ['-B', '3', '-m', 'put', '-e', 'pwned', `coap://${host}:5683/new-resource`], { timeout: 10_000 });
    const readBack = await coapGet(host, 5683, '/new-resource', 2_000);
    expect(readBack?.code).toBe('2.05');
    expect(readBack?.payload.toString()).toBe('pwned');
    await stopAndCheck(peer);
  });

  it('serves DTLS-PSK on port + 1 (and still plain CoAP on port)', async () => {
    const host = await allocHost([], 'both');
    const port = await freePort(host, 'both', 2);
    const peer = track(await startCoapServer({ host, port, psk: { key: 'lab-psk-key', hint: 'lab' } }));
    expect(peer.dtlsPort).toBe(port + 1);
    const client = requireBinary('coap-client-openssl', 'libcoap3-bin');
    const secure = await execa(
      client,
      ['-B', '3', '-u', 'lab', '-k', 'lab-psk-key', '-m', 'get', `coaps://${host}:${port + 1}/.well-known/core`],
      { timeout: 10_000 },
    );
    expect(secure.stdout).toContain('</time>');
    // A wrong key: libcoap drops the handshake, the client prints nothing (and still exits 0).
    const wrong = await execa(
      client,
      ['-B', '2', '-u', 'lab', '-k', 'wrong-key', '-m', 'get', `coaps://${host}:${port + 1}/.well-known/core`],
      { timeout: 10_000, reject: false },
    );
    expect(wrong.stdout).not.toContain('</time>');
    expect((await coapGet(host, port, '/.well-known/core'))?.code).toBe('2.05');
    await stopAndCheck(peer);
  });
});

describe('telnetd', () => {
  it('prompts for a login, gives a shell on a listed account, and kills the session on stop', async () => {
    const host = await allocHost([2323]);
    const peer = track(
      await startTelnetd({ host, port: 2323, users: [{ username: 'root', password: 'xc3511' }], banner: 'Cam-1 v1.2\r\n' }),
    );
    const wrong = await converse(host, 2323, [
      { expect: 'login: ', send: 'root\r\n' },
      { expect: 'Password: ', send: 'admin\r\n' },
      { expect: 'Login incorrect' },
    ]);
    expect(wrong.completed).toBe(3);
    expect(wrong.transcript).toContain('Cam-1 v1.2');

    // Keep a logged-in session open across stop(): its shell must die with the daemon.
    const socket = connect({ host, port: 2323 });
    const shellPid = await new Promise<number>((resolve, reject) => {
      let text = '';
      let stage = 0;
      const timer = setTimeout(() => fail(new Error(`telnet login timed out: ${JSON.stringify(text)}`)), 5_000);
      function fail(error: Error): void {
        clearTimeout(timer);
        reject(error);
      }
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
        if (stage === 0 && text.includes('login: ')) {
          stage = 1;
          socket.write('root\r\n');
        } else if (stage === 1 && text.includes('Password: ')) {
          stage = 2;
          socket.write('xc3511\r\n');
        } else if (stage === 2 && text.endsWith(peer.shellPrompt)) {
          stage = 3;
          socket.write('echo pid=$$\r\n');
        }
        // The pty echoes the command itself ("pid=$$"); the digits come from the shell's answer.
        const match = /pid=(\d+)/.exec(text);
        if (stage === 3 && match?.[1]) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
        if (text.length > 64 * 1024) fail(new Error(`no shell pid in ${text.slice(0, 200)}`));
      });
      socket.once('error', fail);
    });
    expect(isRunning(shellPid)).toBe(true);
    await stopAndCheck(peer);
    expect(isRunning(shellPid)).toBe(false);
    socket.destroy();
  });

  it('gives a shell without credentials with noLogin', async () => {
    const host = await allocHost([]);
    const peer = track(await startTelnetd({ host, port: await freePort(host), noLogin: true }));
    const read = await tcpRead(host, peer.port, { until: (d) => d.includes(peer.shellPrompt), maxBytes: 4096 });
    expect(read.end).toBe('matched');
    expect(read.data.toString('latin1')).not.toContain('login:');
    await stopAndCheck(peer);
  });
});

describe('redis', () => {
  it('answers PING with PONG', async () => {
    const host = await allocHost([6379]);
    const peer = track(await startRedis({ host, port: 6379 }));
    const read = await tcpRead(host, 6379, { send: 'PING\r\n', until: (d) => d.includes('\r\n'), maxBytes: 256 });
    expect(read.data.toString()).toBe('+PONG\r\n');
    expect(peer.url).toBe(`redis://${host}:6379`);
    await stopAndCheck(peer);
  });

  it('requires AUTH with requirepass', async () => {
    const host = await allocHost([]);
    const peer = track(await startRedis({ host, port: await freePort(host), password: 'q-pass' }));
    const denied = await tcpRead(host, peer.port, { send: 'PING\r\n', until: (d) => d.includes('\r\n'), maxBytes: 256 });
    expect(denied.data.toString()).toMatch(/^-NOAUTH/);
    const allowed = await tcpRead(host, peer.port, {
      send: 'AUTH q-pass\r\nPING\r\n',
      until: (d) => d.toString().includes('+PONG\r\n'),
      maxBytes: 256,
    });
    expect(allowed.data.toString()).toBe('+OK\r\n+PONG\r\n');
    await stopAndCheck(peer);
  });
});

describe('a failed start', () => {
  it('refuses a port that is already taken instead of trusting whoever answers on it', async () => {
    const host = await allocHost([]);
    const first = track(await startRedis({ host, port: await freePort(host) }));
    await expect(startRedis({ host, port: first.port })).rejects.toThrow(/already in use/);
    await stopAndCheck(first);
  });

  it('reports the daemon output when it exits before it is ready, and removes its dir', async () => {
    const host = await allocHost([]);
    const port = await freePort(host);
    const dir = await makeTempDir('broken');
    const error: unknown = await startDaemon({
      name: 'redis-server',
      file: requireBinary('redis-server', 'redis-server'),
      args: ['--bind', host, '--port', String(port), '--no-such-directive', 'x'],
      dir,
      ports: [{ host, port, transport: 'tcp' }],
      isReady: () => tcpConnects(host, port),
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PeerError);
    expect((error as PeerError).code).toBe('E_PEER_START');
    expect((error as PeerError).message).toMatch(/exited before it was ready[\s\S]*no-such-directive/);
    expect(existsSync(dir)).toBe(false);
  });
});
