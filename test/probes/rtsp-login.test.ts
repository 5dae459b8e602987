import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Observation } from '../../harness/report-schema.js';
import { startRtspServer } from '../../lab/servers/rtsp.js';
import { resolveCredentials } from '../../probes/lib/credentials.js';
import probe from '../../probes/rtsp-login.js';
import { tmp } from '../cli/helpers.js';
import { startRtspFixture } from '../fixtures/rtsp.js';
import { allocHost } from '../peers/alias.js';
import { runProbe } from './run-probe.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
});

/** Runs only rtsp-login against host:port through the whole harness. */
async function scan(host: string, port: number, credentials: string[] = ['mirai']) {
  const run = await runProbe({ host, ports: [port], probes: [probe], probeOptions: { credentials } });
  expect(run.report.errors.filter((e) => e.probe === 'rtsp-login')).toEqual([]);
  expect(run.target?.services).toEqual([{ port, transport: 'tcp', protocol: 'rtsp', tls: false }]);
  const observations = run.observations.filter((o) => o.probe === 'rtsp-login');
  return {
    all: (key: string): Observation[] => observations.filter((o) => o.key === key),
    one: (key: string): Observation | undefined => observations.find((o) => o.key === key),
    cited: run.cited,
  };
}

const MIRAI_DISTINCT = resolveCredentials(['mirai']).length;
const STRONG = { username: 'admin', password: 'Rq8!vW3#nT6z' };

describe('rtsp-login against the lab camera (Basic)', () => {
  it('non-conformant: admin/12345 (a mirai pair) is accepted, and Basic on plain RTSP is cleartext', async () => {
    const host = await allocHost([]);
    const server = await startRtspServer({ host, port: 0, credentials: [{ username: 'admin', password: '12345' }] });
    stops.push(() => server.close());
    const r = await scan(host, server.port);
    expect(r.one('rtsp.auth-challenge')?.value).toEqual({ protocol: 'rtsp', port: server.port, paths: [{ path: '/', status: 401, schemes: ['Basic'] }] });
    expect(r.all('credentials.accepted').map((o) => o.value)).toEqual([{ protocol: 'rtsp', port: server.port, username: 'admin', password: '12345', source: 'mirai' }]);
    const [proof] = r.cited(r.one('credentials.accepted'));
    expect(proof?.sent?.text).toBe(
      `DESCRIBE rtsp://${host}:${server.port}/ RTSP/1.0\r\nCSeq: ${proof?.sent?.text.match(/CSeq: (\d+)/)?.[1]}\r\nUser-Agent: iot-harness\r\nAccept: application/sdp\r\nAuthorization: Basic ${Buffer.from('admin:12345').toString('base64')}\r\n\r\n`,
    );
    expect(proof?.received?.text).toMatch(/^RTSP\/1\.0 200 OK\r\n[\s\S]*Content-Type: application\/sdp\r\n/);
    const tested = r.one('credentials.tested')?.value as { attempted: number; rejected: number; stoppedBecause: string };
    expect(tested.stoppedBecause).toBe('first-success');
    expect(tested.attempted).toBe(resolveCredentials(['mirai']).findIndex((c) => c.username === 'admin' && c.password === '12345') + 1);
    expect(tested.rejected).toBe(tested.attempted - 1);
    expect(r.all('cleartext.auth').map((o) => o.value)).toEqual([{ protocol: 'rtsp', port: server.port, scheme: 'Basic', path: '/' }]);
    expect(r.all('auth.none')).toEqual([]);
  });

  it('conformant: a strong password refuses every mirai pair', async () => {
    const host = await allocHost([]);
    const server = await startRtspServer({ host, port: 0, credentials: [STRONG] });
    stops.push(() => server.close());
    const r = await scan(host, server.port);
    expect(r.all('credentials.accepted')).toEqual([]);
    expect(r.one('credentials.tested')?.value).toMatchObject({ attempted: MIRAI_DISTINCT, rejected: MIRAI_DISTINCT, stoppedBecause: 'exhausted' });
  });
});

describe('rtsp-login against a Digest camera', () => {
  it.each([
    { algorithm: 'MD5', qop: 'auth' },
    { algorithm: 'SHA-256', qop: 'auth' },
    { algorithm: 'MD5', qop: 'none' },
  ] as const)('non-conformant ($algorithm, qop $qop): finds the stream path past the 404s and admin/admin with Digest only', async ({ algorithm, qop }) => {
    const host = await allocHost([]);
    const cam = await startRtspFixture({ host, auth: 'digest', algorithm, qop, credentials: [{ username: 'admin', password: 'admin' }], paths: ['/Streaming/Channels/101'] });
    stops.push(() => cam.stop());
    const r = await scan(host, cam.port);
    const paths = (r.one('rtsp.auth-challenge')?.value as { paths: unknown[] }).paths;
    expect(paths).toEqual([
      { path: '/', status: 404 },
      { path: '/live', status: 404 },
      { path: '/stream1', status: 404 },
      { path: '/h264', status: 404 },
      { path: '/Streaming/Channels/101', status: 401, schemes: [`Digest ${algorithm}`] },
    ]);
    expect(r.all('credentials.accepted').map((o) => o.value)).toEqual([{ protocol: 'rtsp', port: cam.port, username: 'admin', password: 'admin', source: 'mirai' }]);
    expect(r.one('credentials.tested')?.value).toMatchObject({ attempted: 4, rejected: 3, stoppedBecause: 'first-success' });
    const described = cam.requests.filter((q) => q.method === 'DESCRIBE' && q.authorization !== undefined);
    expect(described).toHaveLength(4);
    expect(described.every((q) => q.authorization?.startsWith('Digest ') && q.uri === `rtsp://${host}:${cam.port}/Streaming/Channels/101`)).toBe(true);
    expect(r.all('cleartext.auth')).toEqual([]);
  });

  it('conformant: a strong password refuses every mirai pair', async () => {
    const host = await allocHost([]);
    const cam = await startRtspFixture({ host, auth: 'digest', credentials: [STRONG] });
    stops.push(() => cam.stop());
    const r = await scan(host, cam.port);
    expect(r.all('credentials.accepted')).toEqual([]);
    expect(r.one('credentials.tested')?.value).toMatchObject({ attempted: MIRAI_DISTINCT, rejected: MIRAI_DISTINCT, stoppedBecause: 'exhausted' });
    expect(cam.failures()).toBe(MIRAI_DISTINCT);
  });

  it('answers a stale nonce again instead of counting the right credentials as refused', async () => {
    const host = await allocHost([]);
    const cam = await startRtspFixture({ host, auth: 'digest', credentials: [{ username: 'admin', password: 'admin' }], staleUnauthenticatedNonces: true });
    stops.push(() => cam.stop());
    const dir = tmp('rtsp-creds-');
    writeFileSync(join(dir, 'one.txt'), 'admin:admin\n');
    const r = await scan(host, cam.port, [join(dir, 'one.txt')]);
    expect(r.all('credentials.accepted').map((o) => o.value)).toEqual([{ protocol: 'rtsp', port: cam.port, username: 'admin', password: 'admin', source: 'one.txt' }]);
    expect(r.one('credentials.tested')?.value).toMatchObject({ attempted: 1, rejected: 0 });
    // The stale answer, then the same credentials with the new nonce.
    expect(cam.requests.filter((q) => q.authorization !== undefined)).toHaveLength(2);
  });

  it('stops at the first sign of a lockout (403 after the refusals)', async () => {
    const host = await allocHost([]);
    const cam = await startRtspFixture({ host, auth: 'digest', credentials: [STRONG], lockAfter: 3 });
    stops.push(() => cam.stop());
    const r = await scan(host, cam.port);
    expect(r.one('auth.lockout')?.value).toMatchObject({ protocol: 'rtsp', port: cam.port, afterAttempts: 4 });
    expect(r.cited(r.one('auth.lockout'))[0]?.received?.text).toMatch(/^RTSP\/1\.0 403 Forbidden\r\n/);
    expect(r.one('credentials.tested')?.value).toMatchObject({ attempted: 4, rejected: 3, stoppedBecause: 'lockout' });
  });
});

describe('rtsp-login against an open camera', () => {
  it('a stream described without credentials is auth.none, and nothing is tried', async () => {
    const host = await allocHost([]);
    const cam = await startRtspFixture({ host, auth: 'none' });
    stops.push(() => cam.stop());
    const r = await scan(host, cam.port);
    expect(r.all('auth.none').map((o) => o.value)).toEqual([{ protocol: 'rtsp', port: cam.port, path: '/' }]);
    expect(r.cited(r.one('auth.none'))[0]?.received?.text).toMatch(/^RTSP\/1\.0 200 OK\r\n/);
    expect(r.one('credentials.tested')).toBeUndefined();
    expect(cam.requests.some((q) => q.authorization !== undefined)).toBe(false);
  });
});
