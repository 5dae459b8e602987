// ftp-login against pyftpdlib on loopback: a conformant server, one with a listed default, one that lets
// anonymous in, one that locks. What the probe reports is checked against what the server was sent.
import { afterEach, describe, expect, it } from 'vitest';
import type { Observation } from '../../harness/report-schema.js';
import ftpLogin, { parseReply } from '../../probes/ftp-login.js';
import { loadCredentialList } from '../../probes/lib/credentials.js';
import { allocHost, freePort } from '../peers/alias.js';
import { startFtpd, type FtpdOptions, type FtpdPeer, type FtpUser } from '../peers/ftpd.js';
import { listFile, type Scan, scanLogin } from './login-scan.js';

const peers: FtpdPeer[] = [];
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.stop()));
});

async function server(options: Omit<FtpdOptions, 'host' | 'port'>): Promise<FtpdPeer> {
  const host = await allocHost([]);
  const peer = await startFtpd({ host, port: await freePort(host), ...options });
  peers.push(peer);
  return peer;
}

function scan(peer: FtpdPeer, probeOptions: Record<string, unknown>): Promise<Scan> {
  return scanLogin(peer, ftpLogin, 'ftp', probeOptions);
}

/** The probe's connections: readiness and discovery connections send no PASS and come first. */
async function probeSessions(peer: FtpdPeer): Promise<FtpUser[][]> {
  const all = await peer.attemptsByConnection();
  return all.slice(all.findIndex((s) => s.length > 0));
}

const pairs = (obs: Observation[]): string[] => obs.map((o) => `${String(o.value.username)}/${String(o.value.password)}`);
const MIRAI_UNIQUE = [...new Set(loadCredentialList('mirai').entries.map((e) => `${e.username}/${e.password}`))];

describe('parseReply', () => {
  it('waits for the closing line of a multi-line reply and leaves what follows', () => {
    expect(parseReply(Buffer.from('230-Welcome\r\n more\r\n'))).toBeUndefined();
    const done = parseReply(Buffer.from('230-Welcome\r\n230 not this\r\n230 Done\r\n221 Bye\r\n'));
    // `230 not this` closes the reply: RFC 959 ends it at the first line that starts with the code and a space.
    expect(done?.reply).toEqual({ code: 230, lines: ['230-Welcome', '230 not this'] });
    expect(done?.rest.toString()).toBe('230 Done\r\n221 Bye\r\n');
    expect(parseReply(Buffer.from('530 Login incorrect.\n'))?.reply).toEqual({ code: 530, lines: ['530 Login incorrect.'] });
  });
});

describe('ftp-login on pyftpdlib', () => {
  it('reports nothing accepted on a conformant server: every pair refused, each one reaching the server', async () => {
    const peer = await server({ users: [{ username: 'admin', password: 'Zq7-unique-per-device-41b' }], banner: 'Cam-1 FTP service\nfirmware 2.1 ready' });
    const r = await scan(peer, { credentials: ['mirai'] });
    expect(r.errors).toEqual([]);
    expect(r.of('credentials.accepted')).toEqual([]);
    const expected = ['anonymous/', 'anonymous/anonymous@', ...MIRAI_UNIQUE];
    expect(pairs(r.of('credentials.rejected'))).toEqual(expected);
    expect(r.of('credentials.tested')[0]?.value).toMatchObject({ protocol: 'ftp', candidates: expected.length, attempted: expected.length, accepted: 0, rejected: expected.length, stoppedBecause: 'exhausted' });
    expect(r.of('cleartext.auth').map((o) => o.value)).toEqual([{ protocol: 'ftp', port: peer.port }]);
    const first = r.evidence(r.of('credentials.rejected')[0]?.evidence[0]);
    // The multi-line greeting, the 331 and the 530, as the server sent them.
    expect(first.received?.text).toContain('220-Cam-1 FTP service\r\nfirmware 2.1 ready\r\n220 Ready.\r\n');
    expect(first.received?.text).toContain('331 Username ok, send password.');
    expect(first.received?.text).toContain('530 Anonymous access not allowed.');
    expect(first.sent?.text).toBe('USER anonymous\r\nPASS \r\n');
    // pyftpdlib closes after three failures: the probe reconnects and carries on, three per connection.
    const sessions = await probeSessions(peer);
    expect(sessions.flat().map((a) => `${a.username}/${a.password}`)).toEqual(expected);
    expect(sessions.every((s) => s.length === 3 || s === sessions.at(-1))).toBe(true);
  });

  it('finds a listed default (admin/admin) and the source list it came from', async () => {
    const peer = await server({ users: [{ username: 'admin', password: 'admin' }] });
    const r = await scan(peer, { credentials: ['mirai'] });
    expect(r.of('credentials.accepted').map((o) => o.value)).toEqual([{ protocol: 'ftp', port: peer.port, username: 'admin', password: 'admin', source: 'mirai' }]);
    expect(pairs(r.of('credentials.rejected'))).toEqual(['anonymous/', 'anonymous/anonymous@', 'root/xc3511', 'root/vizxv', 'root/admin']);
    const ev = r.evidence(r.of('credentials.accepted')[0]?.evidence[0]);
    expect(ev).toMatchObject({ kind: 'exchange', port: peer.port, transport: 'tcp', data: { code: 230 } });
    expect(ev.sent?.text).toContain('USER admin\r\nPASS admin\r\n');
    expect(ev.received?.text).toContain('230 Login successful.');
    expect(r.of('credentials.tested')[0]?.value).toMatchObject({ attempted: 6, accepted: 1, stoppedBecause: 'first-success' });
    expect((await probeSessions(peer)).flat().at(-1)).toEqual({ username: 'admin', password: 'admin' });
  });

  it('reports anonymous login as an accepted credential, through a multi-line 230', async () => {
    const peer = await server({ users: [], anonymous: true, loginMessage: 'Welcome to the Cam-1 FTP archive. Recordings are under /rec; uploads are disabled.' });
    const r = await scan(peer, { credentials: ['mirai'] });
    expect(r.of('credentials.accepted').map((o) => o.value)).toEqual([{ protocol: 'ftp', port: peer.port, username: 'anonymous', password: '', source: 'ftp-anonymous' }]);
    expect(r.of('credentials.rejected')).toEqual([]);
    const ev = r.evidence(r.of('credentials.accepted')[0]?.evidence[0]);
    expect(ev.received?.text).toContain('230-Welcome to the Cam-1 FTP archive.');
    expect(ev.data).toMatchObject({ code: 230 });
    expect(await probeSessions(peer)).toEqual([[{ username: 'anonymous', password: '' }]]);
  });

  it('waits out a slow 530 (pyftpdlib sleeps before each refusal) rather than calling it silence', async () => {
    const peer = await server({ users: [], failDelayMs: 1200 });
    const r = await scan(peer, { credentials: [listFile('two.txt', ['admin:admin', 'root:root'])], ftpAnonymous: false });
    expect(pairs(r.of('credentials.rejected'))).toEqual(['admin/admin', 'root/root']);
    expect(r.all.filter((o) => o.key === 'auth.unavailable' || o.key === 'auth.lockout')).toEqual([]);
  });

  it('stops at the first 421 "too many failed login attempts" and reports auth.lockout', async () => {
    const peer = await server({ users: [], lockoutAfter: 4, attemptsPerConnection: 10 });
    const r = await scan(peer, { credentials: ['mirai'], ftpAnonymous: false });
    expect(r.of('auth.lockout').map((o) => o.value)).toEqual([{ protocol: 'ftp', port: peer.port, afterAttempts: 5, signal: '421 Too many failed login attempts; locked out.' }]);
    expect(r.of('credentials.rejected')).toHaveLength(4);
    expect(r.of('credentials.tested')[0]?.value).toMatchObject({ attempted: 5, stoppedBecause: 'lockout' });
    // The fifth PASS met the lock; nothing was sent after it.
    expect((await probeSessions(peer)).map((s) => s.length)).toEqual([5]);
  });
});
