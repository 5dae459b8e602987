import { afterEach, describe, expect, it } from 'vitest';
import type { Observation } from '../../harness/report-schema.js';
import probe from '../../probes/http-login.js';
import { resolveCredentials } from '../../probes/lib/credentials.js';
import { BODY_CAP } from '../../probes/lib/http-client.js';
import { startEndlessHttp } from '../fixtures/hostile.js';
import { allocHost, freePort } from '../peers/alias.js';
import { startLighttpd, type LighttpdOptions } from '../peers/lighttpd.js';
import { runProbe } from './run-probe.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
});

/**
 * Runs only http-login against host:port through the whole harness, as `iot-harness run` would. With
 * `maxConnectionsPerDevice: 1` a connection the probe failed to give back would stall the next one.
 */
async function scan(host: string, port: number, maxConnectionsPerDevice?: number) {
  const run = await runProbe({ host, ports: [port], probes: [probe], probeOptions: { credentials: ['mirai'] }, maxConnectionsPerDevice });
  expect(run.report.errors.filter((e) => e.probe === 'http-login')).toEqual([]);
  const observations = run.observations.filter((o) => o.probe === 'http-login');
  return {
    services: run.services,
    observations,
    all: (key: string): Observation[] => observations.filter((o) => o.key === key),
    one: (key: string): Observation | undefined => observations.find((o) => o.key === key),
    cited: run.cited,
  };
}

async function lighttpd(options: Omit<LighttpdOptions, 'host' | 'port'>): Promise<{ host: string; port: number }> {
  const host = await allocHost([]);
  const peer = await startLighttpd({ host, port: await freePort(host), ...options });
  stops.push(() => peer.stop());
  return { host, port: peer.port };
}

const WEAK = { path: '/admin', username: 'admin', password: 'admin', delaysInvalidCreds: false } as const;
const STRONG = { path: '/admin', username: 'admin', password: 'k7#Vq9!mZ2-pLx', delaysInvalidCreds: false } as const;
/** Each distinct pair of the list is tried once. */
const MIRAI_DISTINCT = resolveCredentials(['mirai']).length;

describe('http-login against lighttpd with Basic auth', () => {
  it('non-conformant: admin/admin is accepted (source mirai), after the three pairs before it are refused; Basic over HTTP is cleartext', async () => {
    const { host, port } = await lighttpd({ basicAuth: WEAK });
    const r = await scan(host, port);
    expect(r.services).toEqual([{ port, transport: 'tcp', protocol: 'http', tls: false }]);
    const challenge = r.one('http.auth-challenge')?.value as { paths: { path: string; status: number; scheme?: string[] }[] };
    expect(challenge.paths.find((p) => p.path === '/admin')).toMatchObject({ status: 401, scheme: ['Basic'] });
    expect(challenge.paths.find((p) => p.path === '/')).toMatchObject({ status: 200 });

    const accepted = r.all('credentials.accepted');
    expect(accepted.map((o) => o.value)).toEqual([{ protocol: 'http', port, username: 'admin', password: 'admin', source: 'mirai' }]);
    const [proof] = r.cited(accepted[0]);
    expect(proof?.sent?.text).toMatch(/^GET \/admin HTTP\/1\.1\r\n/);
    expect(proof?.sent?.text).toContain(`authorization: Basic ${Buffer.from('admin:admin').toString('base64')}\r\n`);
    // lighttpd lets the right credentials through to its directory redirect: a 3xx that is not a login page.
    expect(proof?.received?.text).toMatch(/^HTTP\/1\.1 301 Moved Permanently\r\nLocation: \/admin\/\r\n[\s\S]*\r\n\r\n$/);
    expect(r.one('credentials.tested')?.value).toMatchObject({ protocol: 'http', attempted: 4, accepted: 1, rejected: 3, stoppedBecause: 'first-success' });
    expect(r.all('credentials.rejected').every((o) => r.cited(o)[0]?.received?.text.startsWith('HTTP/1.1 401'))).toBe(true);

    expect(r.all('cleartext.auth').map((o) => o.value)).toEqual([{ protocol: 'http', port, scheme: 'Basic', path: '/admin' }]);
    expect(r.cited(r.one('cleartext.auth'))[0]?.received?.text).toMatch(/WWW-Authenticate: Basic realm="device"/);
    // lighttpd's own index page is a plain landing page, not an admin interface.
    expect(r.all('auth.none')).toEqual([]);
  });

  it('conformant: a strong password refuses every mirai pair', async () => {
    const { host, port } = await lighttpd({ basicAuth: STRONG });
    const r = await scan(host, port);
    expect(r.all('credentials.accepted')).toEqual([]);
    expect(r.all('credentials.rejected')).toHaveLength(MIRAI_DISTINCT);
    expect(r.one('credentials.tested')?.value).toMatchObject({ attempted: MIRAI_DISTINCT, accepted: 0, rejected: MIRAI_DISTINCT, stoppedBecause: 'exhausted' });
  });
});

describe('http-login against lighttpd with Digest auth', () => {
  it.each(['MD5', 'SHA-256'] as const)('non-conformant (%s): admin/admin is accepted with a Digest answer; no password crosses in cleartext', async (algorithm) => {
    const { host, port } = await lighttpd({ digestAuth: { ...WEAK, algorithm } });
    const r = await scan(host, port);
    const challenge = r.one('http.auth-challenge')?.value as { paths: { path: string; scheme?: string[] }[] };
    expect(challenge.paths.find((p) => p.path === '/admin')?.scheme).toEqual([`Digest ${algorithm}`]);
    expect(r.all('credentials.accepted').map((o) => o.value)).toEqual([{ protocol: 'http', port, username: 'admin', password: 'admin', source: 'mirai' }]);
    const sent = r.cited(r.one('credentials.accepted'))[0]?.sent?.text ?? '';
    expect(sent).toMatch(new RegExp(`authorization: Digest username="admin", realm="device", nonce="[^"]+", uri="/admin", algorithm=${algorithm}, qop=auth, nc=00000001, cnonce="[0-9a-f]{32}", response="[0-9a-f]+"`));
    expect(sent).not.toContain('Basic');
    expect(r.one('credentials.tested')?.value).toMatchObject({ attempted: 4, rejected: 3, stoppedBecause: 'first-success' });
    expect(r.all('cleartext.auth')).toEqual([]);
  });

  it('conformant: a strong password refuses every mirai pair', async () => {
    const { host, port } = await lighttpd({ digestAuth: STRONG });
    const r = await scan(host, port);
    expect(r.all('credentials.accepted')).toEqual([]);
    expect(r.one('credentials.tested')?.value).toMatchObject({ attempted: MIRAI_DISTINCT, rejected: MIRAI_DISTINCT, stoppedBecause: 'exhausted' });
    expect(r.all('cleartext.auth')).toEqual([]);
  });
});

describe('http-login over HTTPS', () => {
  it('finds the default credential over TLS and reports no cleartext credentials; every TLS connection is given back', async () => {
    const { host, port } = await lighttpd({ tls: true, basicAuth: WEAK });
    const r = await scan(host, port, 1);
    expect(r.services).toEqual([{ port, transport: 'tcp', protocol: 'https', tls: true }]);
    expect(r.all('credentials.accepted').map((o) => o.value)).toEqual([{ protocol: 'https', port, username: 'admin', password: 'admin', source: 'mirai' }]);
    // The evidence holds the decrypted exchange, not TLS records.
    expect(r.cited(r.one('credentials.accepted'))[0]?.received?.text).toMatch(/^HTTP\/1\.1 301 Moved Permanently\r\n/);
    expect(r.all('cleartext.auth')).toEqual([]);
  });
});

const ADMIN_UI = `<!doctype html><html><head><title>IPCam Web Admin</title><script>var admin = {};</script></head>
<body><h1>IPCam Web Admin</h1><ul><li>Network settings</li><li>Firmware upgrade</li><li>Reboot</li></ul></body></html>\n`;
const LANDING = `<!doctype html><html><head><title>Acme</title></head>
<body><h1>Welcome to Acme</h1><p>Acme makes cameras for homes and shops. See our products or contact support.</p>
<p><a href="/login/">Administrator login</a></p></body></html>\n`;
const LOGIN_FORM = `<!doctype html><html><body><h1>Device login</h1><form method="post" action="/login.cgi">
<p>Administrator settings need a login.</p><input name="user"><input type="password" name="pass"><button>Log in</button></form></body></html>\n`;

describe('http-login without any challenge', () => {
  it('an admin interface served to anyone is auth.none; no credentials are tried when nothing challenges', async () => {
    const { host, port } = await lighttpd({ files: { '/index.html': ADMIN_UI } });
    const r = await scan(host, port);
    expect(r.all('auth.none').map((o) => o.value)).toEqual([{ protocol: 'http', port, path: '/', terms: ['admin', 'settings', 'firmware', 'network', 'reboot', 'upgrade'] }]);
    expect(r.cited(r.one('auth.none'))[0]?.received?.text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(r.one('credentials.tested')).toBeUndefined();
    expect(r.one('http.auth-challenge')?.value).toMatchObject({ protocol: 'http', port, paths: expect.arrayContaining([{ path: '/', status: 200 }]) as unknown });
  });

  it('a public landing page and a login form are not auth.none; the form is noted, and the redirect to it followed once', async () => {
    const { host, port } = await lighttpd({ files: { '/index.html': LANDING, '/login/index.html': LOGIN_FORM } });
    const r = await scan(host, port);
    expect(r.all('auth.none')).toEqual([]);
    const paths = (r.one('http.auth-challenge')?.value as { paths: unknown[] }).paths;
    expect(paths).toContainEqual({ path: '/', status: 200 });
    // lighttpd redirects the directory /login to /login/: one same-host redirect is followed.
    expect(paths).toContainEqual({ path: '/login', status: 301, redirectedTo: '/login/', finalStatus: 200, scheme: ['form'] });
    expect(r.one('credentials.tested')).toBeUndefined();
  });
});

describe('http-login against a hostile server', () => {
  it('an endless body is read up to the cap and dropped: the probe finishes, with nothing judged open', async () => {
    const host = await allocHost([]);
    const peer = await startEndlessHttp(host);
    stops.push(() => peer.stop());
    const r = await scan(host, peer.port, 1);
    const paths = (r.one('http.auth-challenge')?.value as { paths: { status: number }[] }).paths;
    expect(paths).toHaveLength(6);
    expect(paths.every((p) => p.status === 200)).toBe(true);
    const bodies = r.cited(r.one('http.auth-challenge')).map((e) => e.data);
    expect(bodies.every((d) => d?.bodyBytes === BODY_CAP && d.body === `capped at ${BODY_CAP} bytes`)).toBe(true);
    expect(r.all('auth.none')).toEqual([]);
    expect(r.one('credentials.tested')).toBeUndefined();
  });
});
