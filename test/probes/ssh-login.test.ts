import { generateKeyPairSync } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import ssh2 from 'ssh2';
import type { AuthContext, Connection } from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import type { Observation } from '../../harness/report-schema.js';
import sshLogin from '../../probes/ssh-login.js';
import { allocHost, freePort } from '../peers/alias.js';
import { authExits, connectionsLogged, type DropbearPeer, startDropbear } from '../peers/dropbear.js';
import { runProbe } from './run-probe.js';

const { Server } = ssh2;

/** One authentication request as the server saw it. */
interface AuthRequest {
  connection: number;
  method: string;
  username: string;
  password?: string;
}

/**
 * A fresh ECDSA host key (PEM). Not ssh2's ed25519 generator: about one key in 256 comes out with a
 * 31-byte public key that ssh2 itself then refuses to parse ("Malformed OpenSSH private key").
 */
function hostKey(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256', privateKeyEncoding: { type: 'sec1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey;
}

interface RecordingSshServer {
  host: string;
  port: number;
  requests: AuthRequest[];
  close(): Promise<void>;
}

interface RecordingOptions {
  /** Methods offered after a refusal (USERAUTH_FAILURE). */
  offer: ('password' | 'keyboard-interactive' | 'publickey')[];
  /** Whether a request is granted. */
  grant: (r: AuthRequest) => boolean;
  /** Drop the connection, without answering, at this many refused password requests (OpenSSH's MaxAuthTries). */
  maxTries?: number;
}

/**
 * An SSH server (ssh2) that grants what `grant` says and records every authentication request: the
 * non-conformant devices, since dropbear only knows this machine's accounts, and no account here has
 * a default password.
 */
async function startRecordingSshServer(options: RecordingOptions): Promise<RecordingSshServer> {
  const host = await allocHost([]);
  const requests: AuthRequest[] = [];
  const clients = new Set<Connection>();
  let connections = 0;
  const server = new Server({ hostKeys: [hostKey()], ident: 'TestDevice_1.0' }, (client) => {
    const connection = ++connections;
    let refused = 0;
    clients.add(client);
    client.on('close', () => clients.delete(client));
    client.on('error', () => undefined);
    const decide = (ctx: AuthContext, request: AuthRequest): void => {
      requests.push(request);
      if (options.grant(request)) {
        ctx.accept();
        return;
      }
      if (request.method === 'password' || request.method === 'keyboard-interactive') refused++;
      if (options.maxTries !== undefined && refused >= options.maxTries) client.end();
      else ctx.reject(options.offer);
    };
    client.on('authentication', (ctx) => {
      if (ctx.method === 'keyboard-interactive' && options.offer.includes('keyboard-interactive')) {
        ctx.prompt([{ prompt: 'Password: ', echo: false }], (answers) => decide(ctx, { connection, method: ctx.method, username: ctx.username, password: answers[0] ?? '' }));
        return;
      }
      decide(ctx, { connection, method: ctx.method, username: ctx.username, ...(ctx.method === 'password' ? { password: ctx.password } : {}) });
    });
    client.on('ready', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as { port: number }).port;
  return {
    host,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of clients) c.end();
        server.close(() => resolve());
      }),
  };
}

interface ProbeRun {
  observations: Observation[];
  of(key: string): Observation[];
  /** The evidence records an observation cites. */
  evidence(o: Observation | undefined): { summary: string; received?: { text: string }; data?: Record<string, unknown> }[];
}

/** The probe inside a real run (discovery identifies the SSH service first), as the CLI runs it. */
async function runSshLogin(host: string, port: number, probeOptions: Record<string, unknown> = {}): Promise<ProbeRun> {
  const run = await runProbe({ host, ports: [port], probes: [sshLogin], timings: { bannerMs: 500 }, probeOptions: { credentials: ['mirai'], ...probeOptions } });
  expect(run.report.errors).toEqual([]);
  expect(run.target?.services).toEqual([{ port, transport: 'tcp', protocol: 'ssh', tls: false }]);
  const records = new Map(run.evidence.map((r) => [r.id, r]));
  return {
    observations: run.observations,
    of: run.byKey,
    evidence: (o) => (o?.evidence ?? []).map((id) => records.get(id)).filter((r) => r !== undefined),
  };
}

/** Wait until dropbear has logged how every connection it accepted ended. */
async function settledLog(peer: DropbearPeer, timeoutMs = 5000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const log = peer.log();
    if (authExits(log).length >= connectionsLogged(log) || Date.now() > deadline) return log;
    await sleep(25);
  }
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe('ssh-login', () => {
  it('reports admin/admin (mirai) on a server that accepts it, after learning the methods with "none"', async () => {
    const server = await startRecordingSshServer({ offer: ['password'], grant: (r) => r.method === 'password' && r.username === 'admin' && r.password === 'admin' });
    cleanup.push(() => server.close());
    const run = await runSshLogin(server.host, server.port);

    expect(run.of('credentials.accepted').map((o) => o.value)).toEqual([{ protocol: 'ssh', port: server.port, username: 'admin', password: 'admin', source: 'mirai' }]);
    const tested = run.of('credentials.tested')[0]?.value;
    expect(tested).toMatchObject({ protocol: 'ssh', stoppedBecause: 'first-success', accepted: 1 });
    const passwords = server.requests.filter((r) => r.method === 'password');
    expect(passwords.length).toBe(tested?.attempted);
    expect(run.of('credentials.rejected')).toHaveLength(passwords.length - 1);

    // The first request the probe made was `none`, and the methods it learnt are reported.
    expect(server.requests[0]).toMatchObject({ method: 'none' });
    expect(run.of('ssh.auth-methods').map((o) => o.value)).toEqual([{ port: server.port, methods: ['password'], banner: null, ident: 'SSH-2.0-TestDevice_1.0' }]);
    // Several passwords per connection, one username per connection (dropbear drops a client that switches).
    const byConnection = new Map<number, AuthRequest[]>();
    for (const r of passwords) byConnection.set(r.connection, [...(byConnection.get(r.connection) ?? []), r]);
    expect(byConnection.size).toBeLessThan(passwords.length);
    for (const rs of byConnection.values()) {
      expect(new Set(rs.map((r) => r.username)).size).toBe(1);
      expect(rs.length).toBeLessThanOrEqual(3);
    }
    // The evidence holds what the device said.
    const [ev] = run.evidence(run.of('credentials.accepted')[0]);
    expect(ev?.received?.text).toContain('SSH-2.0-TestDevice_1.0');
    expect(ev?.received?.text).toContain('SSH_MSG_USERAUTH_SUCCESS');
    expect(ev?.data).toMatchObject({ method: 'password', ident: 'SSH-2.0-TestDevice_1.0', hostKeySha256: expect.stringMatching(/^[A-Za-z0-9+/]{43}$/) as unknown });
  });

  it('answers keyboard-interactive prompts with the password when that is the only password method', async () => {
    const server = await startRecordingSshServer({ offer: ['keyboard-interactive'], grant: (r) => r.method === 'keyboard-interactive' && r.username === 'root' && r.password === 'default' });
    cleanup.push(() => server.close());
    const run = await runSshLogin(server.host, server.port);

    expect(run.of('credentials.accepted').map((o) => o.value)).toEqual([{ protocol: 'ssh', port: server.port, username: 'root', password: 'default', source: 'mirai' }]);
    expect(server.requests.filter((r) => r.method === 'password')).toEqual([]);
    const answered = server.requests.filter((r) => r.method === 'keyboard-interactive');
    expect(answered.length).toBe(run.of('credentials.tested')[0]?.value.attempted);
    expect(answered.map((r) => r.password)).toContain('xc3511');
    expect(run.evidence(run.of('credentials.accepted')[0])[0]?.data).toMatchObject({ method: 'keyboard-interactive', prompts: expect.arrayContaining(['Password: ']) as unknown });
  });

  it('retries on a fresh connection when the server hangs up at its MaxAuthTries, so no attempt is lost', async () => {
    const server = await startRecordingSshServer({ offer: ['password'], grant: () => false, maxTries: 2 });
    cleanup.push(() => server.close());
    const run = await runSshLogin(server.host, server.port, { maxAttempts: 8 });

    const tested = run.of('credentials.tested')[0]?.value;
    expect(tested).toMatchObject({ attempted: 8, rejected: 8, accepted: 0, stoppedBecause: 'budget' });
    expect(run.of('auth.lockout')).toEqual([]);
    expect(run.of('auth.unavailable')).toEqual([]);
    // Every rejection the probe reported is one the server gave: the pairs cut off were tried again.
    const refused = new Set(server.requests.filter((r) => r.method === 'password').map((r) => `${r.username}:${r.password ?? ''}`));
    for (const o of run.of('credentials.rejected')) expect(refused.has(`${String(o.value.username)}:${String(o.value.password)}`)).toBe(true);
  });

  it('reports auth.none and tries no password when the server lets anyone in with method "none"', async () => {
    const server = await startRecordingSshServer({ offer: ['password'], grant: (r) => r.method === 'none' });
    cleanup.push(() => server.close());
    const run = await runSshLogin(server.host, server.port);

    expect(run.of('auth.none').map((o) => o.value)).toEqual([{ protocol: 'ssh', port: server.port }]);
    expect(run.of('credentials.tested')[0]?.value).toMatchObject({ attempted: 0, stoppedBecause: 'none-accepted' });
    expect(server.requests.filter((r) => r.method !== 'none')).toEqual([]);
  });

  it('conformant dropbear (password logins on, no default account): every attempt rejected, as dropbear itself counted', async () => {
    const host = await allocHost([]);
    const peer = await startDropbear({ host, port: await freePort(host), banner: 'Authorised use only.\n' });
    cleanup.push(() => peer.stop());
    const run = await runSshLogin(host, peer.port);

    expect(run.of('credentials.accepted')).toEqual([]);
    const tested = run.of('credentials.tested')[0]?.value;
    expect(tested).toMatchObject({ protocol: 'ssh', port: peer.port, accepted: 0, stoppedBecause: 'exhausted' });
    expect(tested?.attempted).toBeGreaterThan(50);
    expect(tested?.rejected).toBe(tested?.attempted);
    expect(run.of('credentials.rejected')).toHaveLength(Number(tested?.attempted));
    expect(run.of('ssh.auth-methods')[0]?.value).toMatchObject({ methods: expect.arrayContaining(['password', 'publickey']) as unknown, ident: expect.stringMatching(/^SSH-2\.0-dropbear/) as unknown });
    expect(run.of('ssh.banner').map((o) => o.value)).toEqual([{ port: peer.port, text: 'Authorised use only.\n' }]);
    // dropbear's own count of refused passwords for root (an account that exists, so dropbear checks and
    // counts each one) matches the probe's. For unknown users it logs one line per connection, not a count.
    const rootFails = authExits(await settledLog(peer)).filter((e) => e.user === 'root').reduce((n, e) => n + e.fails, 0);
    expect(rootFails).toBe(run.of('credentials.rejected').filter((o) => o.value.username === 'root').length);
    expect(rootFails).toBeGreaterThan(30);
  });

  it('key-only dropbear (-s): methods publickey only, no password attempt at all', async () => {
    const host = await allocHost([]);
    const peer = await startDropbear({ host, port: await freePort(host), allowPasswords: false });
    cleanup.push(() => peer.stop());
    const run = await runSshLogin(host, peer.port);

    expect(run.of('ssh.auth-methods').map((o) => o.value)).toEqual([{ port: peer.port, methods: ['publickey'], banner: null, ident: expect.stringMatching(/^SSH-2\.0-dropbear/) as unknown }]);
    expect(run.of('credentials.tested').map((o) => o.value)).toEqual([
      { protocol: 'ssh', port: peer.port, lists: ['mirai'], candidates: 0, attempted: 0, accepted: 0, rejected: 0, stoppedBecause: 'key-only', skippedDeclaredTestAccounts: 0, delayMs: 0 },
    ]);
    expect(run.of('credentials.rejected')).toEqual([]);
    expect(run.of('credentials.accepted')).toEqual([]);
    // Server side: the probe's connection authenticated as root with `none` only; dropbear counts a
    // refused password request even with -s, and counted none.
    const exits = authExits(await settledLog(peer));
    expect(exits.filter((e) => e.user === 'root')).toHaveLength(1);
    expect(exits.every((e) => e.fails === 0)).toBe(true);
  });
});
