import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readBounded, writeSafely } from '../../harness/io.js';
import { runHarness } from '../../harness/run.js';
import { resolveCredentials, type Credential } from '../../probes/lib/credentials.js';
import { CredentialOptions, tryCredentials, type AttemptResult } from '../../probes/lib/login.js';
import { defineProbe, type ProbeContext } from '../../probes/types.js';
import { tmp } from '../cli/helpers.js';
import { allocHost } from '../peers/alias.js';

/**
 * A login server speaking a one-line protocol (`LOGIN user pass` → `OK`/`NO`), recording when each
 * attempt arrives and how many are in progress at once. It greets with `LOGIN?` so discovery reports
 * it as an unknown service; the test probe claims `unknown`. After `refuseAfter` failures it stops
 * accepting connections, like a cheap device that locks.
 */
interface LoginServer {
  port: number;
  arrivals: number[];
  peakConcurrent: number;
  attempts: string[];
  close(): Promise<void>;
}

function loginServer(host: string, accept: string, options: { refuseAfter?: number; holdMs?: number } = {}): Promise<LoginServer> {
  const state = { arrivals: [] as number[], peakConcurrent: 0, attempts: [] as string[] };
  let inFlight = 0;
  let failures = 0;
  const server: Server = createServer((socket) => {
    socket.on('error', () => undefined);
    if (options.refuseAfter !== undefined && failures >= options.refuseAfter) {
      socket.resetAndDestroy();
      return;
    }
    socket.write('LOGIN?\n');
    socket.once('data', (line) => {
      inFlight++;
      state.peakConcurrent = Math.max(state.peakConcurrent, inFlight);
      state.arrivals.push(performance.now());
      const text = line.toString().trim();
      state.attempts.push(text);
      setTimeout(() => {
        inFlight--;
        const ok = text === `LOGIN ${accept}`;
        if (!ok) failures++;
        socket.end(ok ? 'OK\n' : 'NO\n');
      }, options.holdMs ?? 5);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, host, () =>
      resolve({ port: (server.address() as { port: number }).port, ...state, get arrivals() { return state.arrivals; }, get peakConcurrent() { return state.peakConcurrent; }, get attempts() { return state.attempts; }, close: () => new Promise<void>((r) => server.close(() => r())) }),
    );
  });
}

async function lineAttempt(ctx: ProbeContext<unknown>, cred: Credential, signal: AbortSignal): Promise<AttemptResult> {
  const port = ctx.service.port;
  const conn = await ctx.net.connectTcp(ctx.target.ip, port, { timeoutMs: 1000, signal });
  if (!conn.ok) return { outcome: 'unavailable', detail: conn.reason, evidence: { kind: 'connect', summary: conn.message, port, transport: 'tcp' } };
  try {
    const greeting = await readBounded(conn.socket, { maxBytes: 64, timeoutMs: 1000, until: (d) => d.includes('\n'), signal });
    if (greeting.data.length === 0) return { outcome: 'unavailable', detail: greeting.end, evidence: { kind: 'exchange', summary: 'no greeting', port, transport: 'tcp' } };
    const sent = `LOGIN ${cred.username} ${cred.password}\n`;
    await writeSafely(conn.socket, sent);
    const answer = await readBounded(conn.socket, { maxBytes: 64, timeoutMs: 1000, until: (d) => d.includes('\n'), signal });
    const evidence = { kind: 'exchange' as const, summary: answer.data.toString().trim(), port, transport: 'tcp' as const, sent, received: answer.data };
    if (answer.data.toString().startsWith('OK')) return { outcome: 'accepted', evidence };
    if (answer.data.toString().startsWith('NO')) return { outcome: 'rejected', evidence };
    return { outcome: 'unavailable', detail: answer.end, evidence };
  } finally {
    conn.socket.destroy();
  }
}

const lineLogin = defineProbe({
  meta: { id: 'line-login', title: 'test login', description: 'test', protocols: ['unknown'], intrusive: true, budget: { maxAttempts: 100, timeoutMs: 1000 }, options: CredentialOptions },
  async run(ctx) {
    await tryCredentials(ctx, 'line', (cred, signal) => lineAttempt(ctx, cred, signal));
  },
});

const servers: LoginServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function run(host: string, ports: number[], probeOptions: Record<string, unknown>, maxLoginsPerDevice = 2) {
  return runHarness({
    targets: [{ address: host, source: 'test' }],
    profiles: [],
    ports: { tcp: ports, udp: [] },
    excludePorts: { tcp: [], udp: [] },
    concurrency: 1,
    scanner: 'builtin',
    timings: { connectMs: 1000, bannerMs: 300, probeMs: 300 },
    outDir: `${tmp('polite-')}/out`,
    probes: [lineLogin],
    probeOptions: { credentials: ['mirai'], ...probeOptions },
    maxLoginsPerDevice,
  });
}

const gaps = (t: number[]): number[] => t.slice(1).map((v, i) => v - (t[i] as number));

describe('politeness', () => {
  it('keeps the delay between attempts on a service, measured at the device', async () => {
    const host = await allocHost([]);
    const s = await loginServer(host, 'nobody nothing');
    servers.push(s);
    const outcome = await run(host, [s.port], { delayMs: 150, maxAttempts: 6 });
    expect(s.attempts).toHaveLength(6);
    // Each gap is the delay plus one attempt's round trip: never less than the delay.
    for (const g of gaps(s.arrivals)) expect(g).toBeGreaterThanOrEqual(145);
    const summary = outcome.report.targets[0]?.observations.find((o) => o.key === 'credentials.tested');
    expect(summary?.value).toMatchObject({ attempted: 6, candidates: 6, rejected: 6, accepted: 0, stoppedBecause: 'budget', delayMs: 150 });
    expect(outcome.report.targets[0]?.observations.filter((o) => o.key === 'credentials.rejected')).toHaveLength(6);
  });

  it('holds the per-device cap on concurrent logins across services', async () => {
    const host = await allocHost([]);
    const a = await loginServer(host, 'nobody nothing', { holdMs: 40 });
    const b = await loginServer(host, 'nobody nothing', { holdMs: 40 });
    const c = await loginServer(host, 'nobody nothing', { holdMs: 40 });
    servers.push(a, b, c);
    await run(host, [a.port, b.port, c.port], { delayMs: 0, maxAttempts: 8 }, 1);
    // With one login slot per device, the three services take turns: never two attempts at once.
    const all = [...a.arrivals, ...b.arrivals, ...c.arrivals].sort((x, y) => x - y);
    expect(all).toHaveLength(24);
    for (const g of gaps(all)) expect(g).toBeGreaterThanOrEqual(35);
  });

  it('stops at the first accepted default, or tries them all when told to', async () => {
    const host = await allocHost([]);
    const s = await loginServer(host, 'root vizxv');
    servers.push(s);
    const first = await run(host, [s.port], { delayMs: 0 });
    expect(s.attempts).toEqual(['LOGIN root xc3511', 'LOGIN root vizxv']);
    expect(first.report.targets[0]?.observations.find((o) => o.key === 'credentials.accepted')?.value).toEqual({ protocol: 'line', port: s.port, username: 'root', password: 'vizxv', source: 'mirai' });
    s.attempts.length = 0;
    await run(host, [s.port], { delayMs: 0, stopAtFirstSuccess: false });
    expect(s.attempts).toHaveLength(resolveCredentials(['mirai']).length);
  });

  it('stops when the device stops answering after failures, and reports the lockout', async () => {
    const host = await allocHost([]);
    const s = await loginServer(host, 'nobody nothing', { refuseAfter: 4 });
    servers.push(s);
    const outcome = await run(host, [s.port], { delayMs: 0, lockoutAfter: 2 });
    expect(s.attempts).toHaveLength(4);
    const obs = outcome.report.targets[0]?.observations ?? [];
    expect(obs.find((o) => o.key === 'auth.lockout')?.value).toMatchObject({ protocol: 'line', afterAttempts: 6 });
    expect(obs.find((o) => o.key === 'credentials.tested')?.value).toMatchObject({ attempted: 6, rejected: 4, stoppedBecause: 'lockout' });
  });

  it('never tries a declared test account as a default', async () => {
    const host = await allocHost([]);
    const s = await loginServer(host, 'root xc3511');
    servers.push(s);
    const dir = tmp('polite-decl-');
    writeFileSync(join(dir, 'dut.yaml'), 'credentials:\n  model: user-defined\n  test: [{ service: line, username: root, password: xc3511 }]\n');
    const outcome = await runHarness({
      targets: [{ address: host, source: 'test', declarationPath: join(dir, 'dut.yaml') }],
      profiles: [],
      ports: { tcp: [s.port], udp: [] },
      excludePorts: { tcp: [], udp: [] },
      concurrency: 1,
      scanner: 'builtin',
      timings: { connectMs: 1000, bannerMs: 300, probeMs: 300 },
      outDir: join(dir, 'out'),
      probes: [lineLogin],
      probeOptions: { credentials: ['mirai'], delayMs: 0, maxAttempts: 3 },
    });
    // root/xc3511 is Mirai's first pair, and this device accepts it: but it is the lab's own account.
    expect(s.attempts).toEqual(['LOGIN root vizxv', 'LOGIN root admin', 'LOGIN admin admin']);
    const obs = outcome.report.targets[0]?.observations ?? [];
    expect(obs.some((o) => o.key === 'credentials.accepted')).toBe(false);
    expect(obs.find((o) => o.key === 'credentials.tested')?.value).toMatchObject({ skippedDeclaredTestAccounts: 1, attempted: 3 });
  });
});
