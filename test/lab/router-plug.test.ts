// The router and the smart plug, each in both builds, started on their own loopback alias and judged by
// the real harness (built-in scanner, every probe, the EN 303 645 profile) as `demo` would judge them.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDeclaration, type Declaration } from '../../harness/declaration.js';
import type { Observation, TargetReport, Verdict } from '../../harness/report-schema.js';
import type { DeviceDefinition, DeviceMode, RunningDevice } from '../../lab/device.js';
import { plug } from '../../lab/devices/plug.js';
import { router } from '../../lab/devices/router.js';
import { loadProfile } from '../../profiles/loader.js';
import { allocHost } from '../peers/alias.js';
import { basic, httpGet } from './clients.js';
import { judgeDevice } from './judge.js';

const SCHEME = 'etsi-en-303-645';
const AUTOMATED = new Set(loadProfile(SCHEME).provisions.filter((p) => 'assessment' in p.assess).map((p) => p.id));

interface Judged {
  device: RunningDevice;
  declaration: Declaration;
  target: TargetReport;
  /** Automated EN 303 645 verdicts, provision → verdict. */
  verdicts: Record<string, Verdict>;
  rationale(provision: string): string;
  observations(key: string): Observation[];
  port(protocol: string): number;
}

const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  // Every device is stopped and every folder removed, even when one of them fails.
  const results = await Promise.allSettled(cleanups.reverse().map((c) => c()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function start(definition: DeviceDefinition, mode: DeviceMode, address: string, dir: string): Promise<RunningDevice> {
  const device = await definition.start({ address, dir, excludePorts: [], mode });
  cleanups.push(() => device.stop());
  return device;
}

/** Starts one build on a fresh alias and runs the harness against the device's own ports. */
async function judge(definition: DeviceDefinition, mode: DeviceMode): Promise<Judged> {
  const dir = await tempDir(`lab-${definition.id}-${mode}-`);
  const device = await start(definition, mode, await allocHost([]), dir);
  const target = await judgeDevice(device, join(dir, 'run'), [SCHEME]);
  const etsi = target.verdicts.filter((v) => v.scheme === SCHEME && AUTOMATED.has(v.provision));
  return {
    device,
    declaration: loadDeclaration(device.declarationPath),
    target,
    verdicts: Object.fromEntries(etsi.map((v) => [v.provision, v.verdict])),
    rationale: (provision) => etsi.find((v) => v.provision === provision)?.rationale ?? '',
    observations: (key) => target.observations.filter((o) => o.key === key),
    port(protocol) {
      const service = device.services.find((s) => s.protocol === protocol);
      if (!service) throw new Error(`${device.id} has no ${protocol} service`);
      return service.port;
    },
  };
}

/** The harness found exactly the services the device says it bound, and the declaration lists each of them. */
function expectBoundAndDeclared(j: Judged, protocols: string[]): void {
  expect(j.device.services.map((s) => s.protocol).sort()).toEqual([...protocols].sort());
  const found = j.target.services.map((s) => `${s.protocol}/${s.port}`).sort();
  expect(found).toEqual(j.device.services.map((s) => `${s.protocol}/${s.port}`).sort());
  expect(j.declaration.data.interfaces?.map((i) => `${i.protocol}/${i.port}`).sort()).toEqual(found);
}

function explicitPort(url: string): number {
  const u = new URL(url);
  return u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
}

describe('router, weak', () => {
  let j: Judged;
  beforeAll(async () => {
    j = await judge(router, 'weak');
  });

  it('binds SSH and HTTP, all declared, with a plain-HTTP update URL on the bound port and no signing key', () => {
    expect(j.device).toMatchObject({ id: 'router', mode: 'weak', title: router.modes.weak.title });
    expect(j.device.weaknesses.length).toBeGreaterThan(0);
    expectBoundAndDeclared(j, ['ssh', 'http']);
    const update = j.declaration.data.update;
    expect(update?.urls).toHaveLength(1);
    const url = new URL(update?.urls[0] ?? '');
    expect([url.protocol, url.hostname, explicitPort(url.href), url.pathname]).toEqual(['http:', j.device.address, j.port('http'), '/firmware/manifest.json']);
    expect(update?.signing).toBeUndefined();
    expect(j.declaration.data.credentials?.model).toBe('user-defined');
  });

  it('fails 5.1-1 on the factory admin/admin that SSH and the web page accept', () => {
    expect(j.verdicts['5.1-1']).toBe('FAIL');
    expect(j.rationale('5.1-1')).toContain(`ssh on tcp/${j.port('ssh')} accepted admin/admin`);
    expect(j.rationale('5.1-1')).toContain(`http on tcp/${j.port('http')} accepted admin/admin`);
  });

  it('serves the unsigned firmware over plain HTTP: 5.3-7 fails, 5.3-9 and 5.3-10 stay open for want of a key', async () => {
    const [endpoint] = j.observations('update.endpoint');
    expect(endpoint?.value).toMatchObject({ https: false, plaintextReachable: true, httpsAvailable: false, status: 200, signatureChecked: false });
    // The admin page sits behind the login; the firmware is public, and the harness hashed the very manifest served.
    expect((await httpGet(j.device.address, j.port('http'))).status).toBe(401);
    const manifest = await fetch(j.declaration.data.update?.urls[0] ?? '');
    const body = Buffer.from(await manifest.arrayBuffer());
    expect(endpoint?.value.sha256).toBe(createHash('sha256').update(body).digest('hex'));
    expect(JSON.parse(body.toString('utf8'))).toMatchObject({ image: { url: expect.stringMatching(/\.bin$/) as unknown } });
    expect(j.verdicts).toMatchObject({ '5.3-2': 'INCONCLUSIVE', '5.3-7': 'FAIL', '5.3-9': 'INCONCLUSIVE', '5.3-10': 'INCONCLUSIVE' });
    expect(j.rationale('5.3-7')).toMatch(/fetched over plain HTTP/);
  });

  it('fails the cleartext, brute-force and declaration provisions too', () => {
    expect(j.verdicts).toMatchObject({ '5.1-5': 'FAIL', '5.2-1': 'FAIL', '5.3-13': 'FAIL', '5.5-1': 'FAIL', '5.5-4': 'PASS', '5.6-1': 'PASS' });
    expect(j.rationale('5.1-5')).toContain(`ssh on tcp/${j.port('ssh')} took 10 wrong passwords`);
    expect(j.rationale('5.5-1')).toContain(`http on tcp/${j.port('http')}: takes credentials in cleartext`);
  });
});

describe('router, hardened', () => {
  let j: Judged;
  beforeAll(async () => {
    j = await judge(router, 'hardened');
  });

  it('binds key-only SSH and HTTPS, all declared, with a signed HTTPS update URL on the bound port and its key and CA on disk', async () => {
    expect(j.device).toMatchObject({ id: 'router', mode: 'hardened', title: router.modes.hardened.title });
    expectBoundAndDeclared(j, ['ssh', 'https']);
    const update = j.declaration.data.update;
    const url = new URL(update?.urls[0] ?? '');
    expect([url.protocol, url.hostname, explicitPort(url.href), url.pathname]).toEqual(['https:', j.device.address, j.port('https'), '/firmware/manifest.json']);
    expect(update?.signing).toMatchObject({ algorithm: 'ed25519', manifest: true });
    expect(await readFile(update?.signing?.publicKey ?? '', 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(await readFile(j.declaration.data.trustAnchors[0] ?? '', 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(j.declaration.data.supportPeriod).toBeDefined();
    expect(j.declaration.data.vulnerabilityDisclosure).toBeDefined();
  });

  it('passes 5.1-1: SSH offers no password method and HTTPS took none of the defaults', () => {
    const tested = j.observations('credentials.tested').map((o) => [o.value.protocol, o.value.stoppedBecause, o.value.accepted]);
    expect(tested.sort()).toEqual([
      ['https', 'exhausted', 0],
      ['ssh', 'key-only', 0],
    ]);
    expect(j.verdicts['5.1-1']).toBe('PASS');
  });

  it('serves the update over TLS 1.2+ with a valid lab-CA certificate and a signed manifest, and not over plain HTTP', () => {
    const [endpoint] = j.observations('update.endpoint');
    expect(endpoint?.value).toMatchObject({
      https: true,
      certValid: true,
      tlsVersions: ['TLSv1.2', 'TLSv1.3'],
      certificate: { trustedBy: 'declaration', nameMatches: true },
      plaintextReachable: false,
      signatureChecked: true,
      signatureValid: true,
      manifest: { signatureValid: true, hashMatches: true },
    });
    // Every plain-HTTP try (ports 80 and 8080, and the HTTPS port itself) got no 2xx.
    const plaintext = (endpoint?.value.plaintext ?? []) as { status?: number; error?: string }[];
    expect(plaintext.length).toBeGreaterThanOrEqual(3);
    for (const tried of plaintext) expect(tried.status === undefined || tried.status >= 300).toBe(true);
    expect(j.verdicts).toMatchObject({ '5.3-2': 'INCONCLUSIVE', '5.3-7': 'PASS', '5.3-9': 'PASS', '5.3-10': 'PASS' });
  });

  it('passes the rest of what the network shows, the HTTPS lockout included', () => {
    expect(j.verdicts).toMatchObject({ '5.1-5': 'PASS', '5.2-1': 'PASS', '5.3-13': 'PASS', '5.5-1': 'PASS', '5.5-4': 'PASS', '5.5-5': 'PASS', '5.6-1': 'PASS' });
    const [trial] = j.observations('auth.bruteforce');
    expect(trial?.value).toMatchObject({ protocol: 'https', lockoutSignal: '429 Too Many Requests', correctPasswordAcceptedAfter: false });
  });
});

describe('plug, weak', () => {
  let j: Judged;
  beforeAll(async () => {
    j = await judge(plug, 'weak');
  });

  it('binds HTTP and MQTT, all declared, with unique-per-device credentials and a test account for each', () => {
    expect(j.device).toMatchObject({ id: 'plug', mode: 'weak', title: plug.modes.weak.title });
    expectBoundAndDeclared(j, ['http', 'mqtt']);
    expect(j.declaration.data.credentials?.model).toBe('unique-per-device');
    expect(j.declaration.data.credentials?.test.map((t) => t.service).sort()).toEqual(['http', 'mqtt']);
  });

  it('passes 5.1-1: every default was tried on both logins and none was taken', () => {
    const tested = j.observations('credentials.tested');
    expect(tested.map((o) => o.value.protocol).sort()).toEqual(['http', 'mqtt']);
    for (const o of tested) expect(o.value).toMatchObject({ stoppedBecause: 'exhausted', accepted: 0 });
    expect(j.verdicts['5.1-1']).toBe('PASS');
  });

  it('fails 5.5-1: both logins take their unique credentials in cleartext', async () => {
    expect(j.observations('cleartext.auth').map((o) => o.value.port).sort()).toEqual([j.port('http'), j.port('mqtt')].sort());
    expect(j.verdicts['5.5-1']).toBe('FAIL');
    expect(j.rationale('5.5-1')).toContain(`mqtt on tcp/${j.port('mqtt')}: takes credentials in cleartext, carries its traffic without TLS`);
    // The declared test account does log in over plain HTTP: the password really travels in base64.
    const tester = j.declaration.data.credentials?.test.find((t) => t.service === 'http');
    expect((await httpGet(j.device.address, j.port('http'), { Authorization: basic(tester?.username ?? '', tester?.password ?? '') })).status).toBe(200);
  });

  it('fails 5.1-5 (no lockout on either login), passes the declaration provisions (PSTI-ready on paper) and access control', () => {
    const trials = j.observations('auth.bruteforce');
    expect(trials.map((o) => o.value.protocol).sort()).toEqual(['http', 'mqtt']);
    for (const o of trials) expect(o.value).toMatchObject({ wrongAttempts: 10, correctPasswordAcceptedAfter: true });
    expect(j.verdicts).toMatchObject({ '5.1-5': 'FAIL', '5.2-1': 'PASS', '5.3-13': 'PASS', '5.5-4': 'PASS', '5.5-5': 'PASS', '5.6-1': 'PASS', '5.6-2': 'PASS', '5.3-7': 'NOT_ASSESSED' });
  });
});

describe('plug, hardened', () => {
  let j: Judged;
  beforeAll(async () => {
    j = await judge(plug, 'hardened');
  });

  it('binds HTTPS and MQTTS, all declared, with a readable trust anchor and test accounts for both', async () => {
    expect(j.device).toMatchObject({ id: 'plug', mode: 'hardened', title: plug.modes.hardened.title });
    expectBoundAndDeclared(j, ['https', 'mqtts']);
    expect(j.declaration.data.credentials?.test.map((t) => t.service).sort()).toEqual(['https', 'mqtts']);
    expect(await readFile(j.declaration.data.trustAnchors[0] ?? '', 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
  });

  it('passes 5.5-1: TLS 1.2+ with a certificate valid for the declared anchor on both services, nothing in cleartext', () => {
    expect(j.observations('cleartext.auth')).toEqual([]);
    for (const o of j.observations('tls.versions')) expect(o.value.offered).toEqual(['TLSv1.2', 'TLSv1.3']);
    expect(j.observations('tls.certificate').map((o) => o.value.chainValid)).toEqual([true, true]);
    expect(j.verdicts['5.5-1']).toBe('PASS');
  });

  it('passes 5.1-5 because both logins lock the account, and 5.1-1 because the lockout spares names it does not have', () => {
    const trials = j.observations('auth.bruteforce');
    expect(trials.map((o) => o.value.protocol).sort()).toEqual(['https', 'mqtts']);
    for (const o of trials) expect(o.value).toMatchObject({ lockedAfter: expect.any(Number) as unknown, correctPasswordAcceptedAfter: false });
    for (const o of j.observations('credentials.tested')) expect(o.value.stoppedBecause).toBe('exhausted');
    expect(j.verdicts).toMatchObject({ '5.1-1': 'PASS', '5.1-5': 'PASS', '5.2-1': 'PASS', '5.3-13': 'PASS', '5.5-4': 'PASS', '5.5-5': 'PASS', '5.6-1': 'PASS', '5.6-2': 'PASS' });
  });
});

describe('router and plug sharing one address (no loopback aliases)', () => {
  it('pushes the router off the taken HTTP port and declares the update URL on the port it got', async () => {
    const address = await allocHost([]);
    const dir = await tempDir('lab-shared-');
    // Whatever else shares the address holds the mapped port too, so the router falls through to a random one.
    const squatter: Server = createServer();
    await new Promise<void>((resolve, reject) => {
      squatter.once('error', reject);
      squatter.listen({ host: address, port: 8080 }, resolve);
    });
    cleanups.push(() => new Promise((resolve) => squatter.close(() => resolve())));
    const first = await start(plug, 'weak', address, dir);
    const second = await start(router, 'weak', address, dir);
    const plugHttp = first.services.find((s) => s.protocol === 'http')?.port;
    const routerHttp = second.services.find((s) => s.protocol === 'http')?.port;
    expect(routerHttp).not.toBe(plugHttp);
    expect(routerHttp).not.toBe(8080);
    const url = loadDeclaration(second.declarationPath).data.update?.urls[0] ?? '';
    expect(explicitPort(url)).toBe(routerHttp);
    const manifest = await fetch(url);
    expect(manifest.status).toBe(200);
    expect(await manifest.json()).toMatchObject({ product: 'WR-840' });
    // The same path on the plug's port is the plug's admin app, behind its login.
    expect((await fetch(new URL(new URL(url).pathname, `http://${address}:${plugHttp}`))).status).toBe(401);
  });
});
