// telnet-login against busybox telnetd on loopback, each device a fixture login program with the prompts,
// delays and lockouts of real cameras. Every assertion is also checked at the server: what it was sent.
import { afterEach, describe, expect, it } from 'vitest';
import type { Observation } from '../../harness/report-schema.js';
import { loadCredentialList } from '../../probes/lib/credentials.js';
import { promptAtEnd, TelnetDecoder } from '../../probes/lib/telnet.js';
import telnetLogin from '../../probes/telnet-login.js';
import { allocHost, freePort } from '../peers/alias.js';
import { startTelnetd, type TelnetdOptions, type TelnetdPeer } from '../peers/telnetd.js';
import { listFile, type Scan, scanLogin } from './login-scan.js';

const peers: TelnetdPeer[] = [];
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.stop()));
});

async function device(options: Omit<TelnetdOptions, 'host' | 'port'>): Promise<TelnetdPeer> {
  const host = await allocHost([]);
  const peer = await startTelnetd({ host, port: await freePort(host), ...options });
  peers.push(peer);
  return peer;
}

function scan(peer: TelnetdPeer, probeOptions: Record<string, unknown>): Promise<Scan> {
  return scanLogin(peer, telnetLogin, 'telnet', probeOptions);
}

/** The probe's connections to the login program: discovery's connections (which try nothing) come first. */
async function probeSessions(peer: TelnetdPeer): Promise<{ username: string; password: string }[][]> {
  const all = await peer.attemptsByConnection();
  return all.slice(all.findIndex((s) => s.length > 0));
}

const pairs = (obs: Observation[]): string[] => obs.map((o) => `${String(o.value.username)}/${String(o.value.password)}`);
const MIRAI = loadCredentialList('mirai').entries.map((e) => `${e.username}/${e.password}`);
const MIRAI_UNIQUE = [...new Set(MIRAI)];
const BANNER = '#### Cam-1 IPC ####\n$ firmware v2.1 $\nroot@cam:~# \n';

describe('telnet client pieces', () => {
  it('answers busybox telnetd\'s negotiation once, across split chunks, and strips it from the text', () => {
    const d = new TelnetDecoder();
    // IAC DO ECHO, IAC DO NAWS, IAC WILL ECHO, IAC WILL SGA: the opening busybox sends, split mid-command.
    const a = d.feed(Buffer.from([255, 253, 1, 255, 253]));
    const b = d.feed(Buffer.from([31, 255, 251, 1, 255, 251, 3, 0x6c, 0x6f, 255, 255, 255, 250, 24, 1, 255, 240, 0x67]));
    // WONT ECHO, WONT NAWS (we do neither), DO ECHO, DO SGA (the server may).
    expect([...a.reply, ...b.reply]).toEqual([255, 252, 1, 255, 252, 31, 255, 253, 1, 255, 253, 3]);
    expect(Buffer.concat([a.data, b.data])).toEqual(Buffer.from([0x6c, 0x6f, 255, 0x67]));
    // Asked again: no answer, so two refusing peers cannot loop.
    expect(d.feed(Buffer.from([255, 253, 31, 255, 251, 1])).reply.length).toBe(0);
  });

  it('reads only the unfinished last line as a prompt', () => {
    expect(promptAtEnd('Cam-1 login: ')).toBe('username');
    expect(promptAtEnd('\r\nUser Name:')).toBe('username');
    expect(promptAtEnd('root\r\nPassword: ')).toBe('password');
    expect(promptAtEnd('root@cam:~# ')).toBe('shell');
    expect(promptAtEnd('[admin@hub] > ')).toBe('shell');
    expect(promptAtEnd('#### Cam-1 ####\r\n$ fw 2.1 $\r\n')).toBeUndefined();
    expect(promptAtEnd('1) Status\r\n2) Network\r\nSelect: ')).toBe('menu');
    expect(promptAtEnd('Press any key: ')).toBeUndefined();
  });
});

describe('telnet-login on busybox telnetd', () => {
  it('finds root/xc3511 on a Mirai-style camera, confirmed by a shell, through a MOTD full of failure and lockout words', async () => {
    const peer = await device({
      users: [{ username: 'root', password: 'xc3511' }],
      banner: BANNER,
      motd: 'Last failed login: Tue from 10.0.0.9\nThere were 2 failed login attempts since the last successful login.\nAccounts are locked after 5 failed logins.\n',
    });
    const r = await scan(peer, { credentials: ['mirai'] });
    expect(r.errors).toEqual([]);
    expect(r.of('credentials.accepted').map((o) => o.value)).toEqual([{ protocol: 'telnet', port: peer.port, username: 'root', password: 'xc3511', source: 'mirai' }]);
    expect(r.of('cleartext.auth').map((o) => o.value)).toEqual([{ protocol: 'telnet', port: peer.port }]);
    expect(r.of('auth.none')).toEqual([]);
    expect(r.of('credentials.tested')[0]?.value).toMatchObject({ protocol: 'telnet', attempted: 1, accepted: 1, rejected: 0, stoppedBecause: 'first-success', lists: ['mirai'] });

    const ev = r.evidence(r.of('credentials.accepted')[0]?.evidence[0]);
    expect(ev).toMatchObject({ kind: 'exchange', port: peer.port, transport: 'tcp', data: { confirmedBy: 'echo' } });
    expect(ev.sent?.text).toContain('root\r\n');
    expect(ev.sent?.text).toContain('xc3511\r\n');
    // The device's own words: its prompts, its MOTD, and the shell running our echo.
    expect(ev.received?.text).toContain('login: ');
    expect(ev.received?.text).toContain('Password: ');
    expect(ev.received?.text).toContain('2 failed login attempts');
    expect(ev.received?.text).toMatch(/\niot[0-9a-f]{10}\r?\n/);
    const greeting = r.evidence(r.of('cleartext.auth')[0]?.evidence[0]);
    expect(greeting.received?.text).toContain('#### Cam-1 IPC ####');
    expect(await peer.attempts()).toEqual([{ username: 'root', password: 'xc3511' }]);
  });

  it('reports nothing on a device that accepts no listed pair, though its banner is full of # and $ (hydra calls that a login)', async () => {
    const peer = await device({ users: [{ username: 'admin', password: 'k3Q-unique-per-device-7f1c' }], banner: BANNER });
    const r = await scan(peer, { credentials: ['mirai'] });
    expect(r.errors).toEqual([]);
    expect(r.of('credentials.accepted')).toEqual([]);
    expect(r.of('auth.none')).toEqual([]);
    expect(r.of('cleartext.auth')).toHaveLength(1);
    const rejected = r.of('credentials.rejected');
    expect(pairs(rejected)).toEqual(MIRAI_UNIQUE);
    expect(rejected.every((o) => o.value.source === 'mirai' && o.value.protocol === 'telnet' && o.value.port === peer.port)).toBe(true);
    expect(r.of('credentials.tested')[0]?.value).toMatchObject({ candidates: MIRAI_UNIQUE.length, attempted: MIRAI_UNIQUE.length, accepted: 0, rejected: MIRAI_UNIQUE.length, stoppedBecause: 'exhausted' });
    const sample = r.evidence(rejected[5]?.evidence[0]);
    expect(sample.received?.text).toContain('Login incorrect');
    // Each pair reached the login program once, and each connection carried busybox's three tries.
    const sessions = await probeSessions(peer);
    expect(sessions.flat().map((a) => `${a.username}/${a.password}`)).toEqual(MIRAI_UNIQUE);
    expect(sessions.map((s) => s.length)).toEqual([...Array<number>(Math.floor(MIRAI_UNIQUE.length / 3)).fill(3), MIRAI_UNIQUE.length % 3].filter((n) => n > 0));
  });

  it('reconnects after busybox closes the third failure and finds admin/admin behind a Username: prompt', async () => {
    const peer = await device({ prompt: 'username', users: [{ username: 'admin', password: 'admin' }] });
    const r = await scan(peer, { credentials: ['mirai'] });
    expect(pairs(r.of('credentials.rejected'))).toEqual(['root/xc3511', 'root/vizxv', 'root/admin']);
    expect(r.of('credentials.accepted').map((o) => o.value)).toEqual([{ protocol: 'telnet', port: peer.port, username: 'admin', password: 'admin', source: 'mirai' }]);
    expect(r.evidence(r.of('credentials.accepted')[0]?.evidence[0]).received?.text).toContain('Username: ');
    expect((await probeSessions(peer)).map((s) => s.map((a) => `${a.username}/${a.password}`))).toEqual([['root/xc3511', 'root/vizxv', 'root/admin'], ['admin/admin']]);
  });

  it('logs in behind a User Name: prompt to a `cam> ` CLI prompt', async () => {
    const peer = await device({ prompt: 'user-name', shellPrompt: 'cam> ', users: [{ username: 'support', password: 'support' }] });
    const r = await scan(peer, { credentials: [listFile('cli.txt', ['admin:1234', 'support:support'])] });
    expect(pairs(r.of('credentials.rejected'))).toEqual(['admin/1234']);
    expect(r.of('credentials.accepted').map((o) => o.value)).toEqual([{ protocol: 'telnet', port: peer.port, username: 'support', password: 'support', source: 'cli.txt' }]);
  });

  it('sends only the password to a password-only device, and each password once', async () => {
    const peer = await device({ prompt: 'password-only', users: [{ username: '', password: 'admin' }] });
    const r = await scan(peer, { credentials: [listFile('pw.txt', ['root:xc3511', 'admin:xc3511', 'root:admin'])] });
    expect(pairs(r.of('credentials.rejected'))).toEqual(['root/xc3511', 'admin/xc3511']);
    expect(pairs(r.of('credentials.accepted'))).toEqual(['root/admin']);
    expect(r.evidence(r.of('credentials.rejected')[1]?.evidence[0]).summary).toMatch(/not sent again/);
    // No username ever reached the device, and xc3511 was typed once.
    expect(await peer.attempts()).toEqual([
      { username: '', password: 'xc3511' },
      { username: '', password: 'admin' },
    ]);
    const accepted = r.evidence(r.of('credentials.accepted')[0]?.evidence[0]);
    expect(accepted.sent?.text).not.toContain('root\r\n');
    expect(accepted.received?.text).toContain('Password: ');
  });

  it('waits for a "Login incorrect" that comes a second late instead of guessing', async () => {
    const peer = await device({ users: [], failDelaySeconds: 1, banner: BANNER });
    const r = await scan(peer, { credentials: [listFile('slow.txt', ['root:xc3511', 'admin:admin'])] });
    expect(r.of('credentials.accepted')).toEqual([]);
    expect(r.all.filter((o) => o.key === 'auth.unavailable' || o.key === 'auth.lockout')).toEqual([]);
    const rejected = r.of('credentials.rejected');
    expect(pairs(rejected)).toEqual(['root/xc3511', 'admin/admin']);
    for (const o of rejected) expect(r.evidence(o.evidence[0]).received?.text).toContain('Login incorrect');
    expect(await peer.attempts()).toHaveLength(2);
  });

  it('accepts a device menu after the password without typing into it', async () => {
    const peer = await device({ session: 'menu', users: [{ username: 'admin', password: 'admin' }] });
    const r = await scan(peer, { credentials: [listFile('menu.txt', ['root:root', 'admin:admin'])] });
    expect(pairs(r.of('credentials.accepted'))).toEqual(['admin/admin']);
    const ev = r.evidence(r.of('credentials.accepted')[0]?.evidence[0]);
    expect(ev.data).toMatchObject({ confirmedBy: 'menu' });
    expect(ev.received?.text).toContain('1) Status');
    expect(ev.sent?.text).not.toMatch(/echo/);
  });

  it('reports auth.none for a telnet that drops straight into a shell, and tries no credential', async () => {
    const peer = await device({ noLogin: true });
    const r = await scan(peer, { credentials: ['mirai'] });
    expect(r.of('auth.none').map((o) => o.value)).toEqual([{ protocol: 'telnet', port: peer.port }]);
    const ev = r.evidence(r.of('auth.none')[0]?.evidence[0]);
    expect(ev.data).toMatchObject({ confirmedBy: 'echo' });
    expect(ev.received?.text).toContain(peer.shellPrompt);
    expect(r.all.filter((o) => o.key.startsWith('credentials.') || o.key === 'cleartext.auth')).toEqual([]);
  });

  it('stops at a lockout message and reports auth.lockout', async () => {
    const peer = await device({ users: [], lockout: { after: 4, mode: 'message' } });
    const r = await scan(peer, { credentials: ['mirai'] });
    expect(r.of('auth.lockout').map((o) => o.value)).toEqual([{ protocol: 'telnet', port: peer.port, afterAttempts: 4, signal: 'Too many failed login attempts: locked for 300 seconds' }]);
    expect(r.of('credentials.rejected')).toHaveLength(3);
    expect(r.of('credentials.tested')[0]?.value).toMatchObject({ attempted: 4, stoppedBecause: 'lockout' });
    // Nothing after the lockout: no new connection, no fifth password.
    expect((await probeSessions(peer)).map((s) => s.length)).toEqual([3, 1]);
  });

  it('stops when a locked device closes every connection without a word', async () => {
    const peer = await device({ users: [], lockout: { after: 4, mode: 'silent' } });
    const r = await scan(peer, { credentials: ['mirai'], lockoutAfter: 3 });
    expect(r.of('credentials.rejected')).toHaveLength(4);
    const lockout = r.of('auth.lockout');
    expect(lockout).toHaveLength(1);
    expect(lockout[0]?.value).toMatchObject({ afterAttempts: 7, signal: expect.stringMatching(/^stopped answering after 4 answered attempts: closed without a login prompt/) as unknown });
    // Two connections for the four answered tries, then the three the device closed on, then nothing.
    expect((await probeSessions(peer)).map((s) => s.length)).toEqual([3, 1, 0, 0, 0]);
  });
});
