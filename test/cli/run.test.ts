import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyEvidenceChain } from '../../harness/evidence.js';
import { ReportSchema, type Report } from '../../harness/report-schema.js';
import { allocHost } from '../peers/alias.js';
import { cli, countingServer, type CountingServer, STACK, tmp } from './helpers.js';

const servers: CountingServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function device(greeting?: string): Promise<{ host: string; server: CountingServer }> {
  const host = await allocHost([]);
  const server = await countingServer(host, greeting);
  servers.push(server);
  return { host, server };
}

function readReport(dir: string): Report {
  return ReportSchema.parse(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')));
}

const FAST = ['--timeout', '300', '--scanner', 'builtin'];

describe('scope', () => {
  it('refuses a public target before any packet: exit 2, how to widen, no stack, nothing written', async () => {
    const out = join(tmp('scope-'), 'run');
    const r = await cli(['run', '--target', '203.0.113.5', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/target 203\.0\.113\.5 \(203\.0\.113\.5\) is outside the default scope \(loopback, RFC 1918, link-local, ULA\); nothing was sent to it/);
    expect(r.stderr).toMatch(/add --scope 203\.0\.113\.5\/32/);
    expect(r.stderr).not.toMatch(STACK);
    expect(existsSync(out)).toBe(false);
  });

  it('attempts no connection at all when any target is out of scope', async () => {
    const { host, server } = await device('SSH-2.0-counted\r\n');
    const dir = tmp('scope-');
    writeFileSync(join(dir, 'targets.yaml'), `targets:\n  - { address: ${host}, name: inside }\n  - { address: 127.9.9.9, name: outside }\n`);
    const r = await cli(['run', '--targets', join(dir, 'targets.yaml'), '--scope', `${host}/32`, '--ports', String(server.port), ...FAST]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/target 127\.9\.9\.9 .* is outside the scope/);
    expect(server.connections()).toBe(0);
  });

  it('rejects a malformed --scope', async () => {
    const r = await cli(['run', '--target', '127.0.0.1', '--scope', '10.0.0.0/40']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--scope: "10\.0\.0\.0\/40" has an invalid prefix length/);
  });
});

describe('--exclude-ports', () => {
  it.each(['builtin', 'nmap'])('is honoured by the %s scanner and every later step', async (scanner) => {
    const host = await allocHost([]);
    const kept = await countingServer(host, 'SSH-2.0-kept\r\n');
    const excluded = await countingServer(host, 'SSH-2.0-excluded\r\n');
    servers.push(kept, excluded);
    const out = join(tmp('exclude-'), 'run');
    const r = await cli(['run', '--target', host, '--ports', `${kept.port},${excluded.port}`, '--exclude-ports', String(excluded.port), '--scanner', scanner, '--timeout', '300', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = readReport(out);
    expect(report.targets[0]?.services).toEqual([{ port: kept.port, transport: 'tcp', protocol: 'ssh', tls: false }]);
    expect(excluded.connections()).toBe(0);
    expect(kept.connections()).toBeGreaterThan(0);
  });
});

describe('declarations', () => {
  async function runWith(declaration: string): Promise<{ r: Awaited<ReturnType<typeof cli>>; out: string }> {
    const { host } = await device();
    const dir = tmp('decl-');
    writeFileSync(join(dir, 'cam.yaml'), declaration);
    const out = join(dir, 'run');
    return { r: await cli(['run', '--target', host, '--declaration', join(dir, 'cam.yaml'), '--out', out, ...FAST]), out };
  }

  it.each([
    ['a wrong type', 'interfaces:\n  - { port: 99999, protocol: https }\n', /cam\.yaml: interfaces\[0\]\.port: ports run from 1 to 65535/],
    ['a misspelt field', 'interface:\n  - { port: 443, protocol: https }\n', /cam\.yaml: \(top level\): unknown field\(s\) "interface"; check the spelling/],
    ['a bad URL', 'update:\n  urls: [ftp://updates.example/fw.bin]\n', /cam\.yaml: update\.urls\[0\]: must be an https or http URL/],
    ['a bad enum', 'credentials: { model: default-admin }\n', /cam\.yaml: credentials\.model: /],
    ['broken YAML', 'interfaces: [ { port: 443\n', /cam\.yaml: declaration is not valid YAML at line \d+, column \d+/],
  ])('%s: exit 2, names file and path, writes nothing', async (_name, body, message) => {
    const { r, out } = await runWith(body);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(STACK);
    expect(existsSync(out)).toBe(false);
  });

  it('a missing declaration file is named', async () => {
    const r = await cli(['run', '--target', '127.0.0.1', '--declaration', 'nope.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nope\.yaml: declaration file not found; check the path/);
  });

  it('--declaration needs exactly one --target', async () => {
    const r = await cli(['run', '--target', '127.0.0.1', '--target', '127.0.0.2', '--declaration', 'x.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--declaration goes with exactly one --target/);
  });
});

describe('bad input in general', () => {
  it.each([
    [['run'], /no targets: give --target ADDR/],
    [['run', '--target', '127.0.0.1', '--ports', '22,x'], /--ports: "x" is not a port or range/],
    [['run', '--target', '127.0.0.1', '--concurrency', '0'], /--concurrency must be a whole number from 1 to 1024/],
    [['run', '--target', '127.0.0.1', '--scanner', 'masscan'], /--scanner <kind>' argument 'masscan' is invalid/],
    [['run', '--bogus'], /unknown option '--bogus'/],
    [['run', '--target', '127.0.0.1', '--profile', 'nope'], /unknown profile "nope"; built-in profiles: en-18031-1, etsi-en-303-645, .*uk-psti/],
    [['nonsense'], /unknown command 'nonsense'/],
    [['run', '--target', '127.0.0.1', '--credentials', 'mirai,nope'], /--credentials: "nope" is neither a built-in list \(mirai, vendors\) nor a file/],
    [['run', '--target', '127.0.0.1', '--login-delay', '-5'], /--login-delay must be a whole number from 0 to 60000/],
  ])('%j exits 2 with a message and no stack', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(STACK);
  });

  it('never writes over an earlier run', async () => {
    const out = tmp('existing-');
    writeFileSync(join(out, 'report.json'), 'precious');
    const r = await cli(['run', '--target', '127.0.0.1', '--ports', '1', '--out', out, ...FAST]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/already holds files; give a new or empty folder \(nothing was overwritten\)/);
    expect(readFileSync(join(out, 'report.json'), 'utf8')).toBe('precious');
  });
});

describe('a run', () => {
  it('writes report.json per schema, a valid evidence chain and a manifest; exit 1 when 5.6-1 fails', async () => {
    const { host, server } = await device('SSH-2.0-dropbear_2022.83\r\n');
    const other = await countingServer(host, '220 (vsFTPd 3.0.3)\r\n');
    servers.push(other);
    const dir = tmp('run-');
    writeFileSync(join(dir, 'dut.yaml'), `device: { vendor: Acme, model: Cam-1, firmware: 1.2.3 }\ncredentials:\n  model: unique-per-device\n  test: [{ service: ssh, username: lab, password: s3cret-test }]\ninterfaces:\n  - { port: ${server.port}, protocol: ssh, purpose: maintenance }\n  - { port: 443, protocol: https }\n`);
    const out = join(dir, 'run');
    const r = await cli(['run', '--target', host, '--declaration', join(dir, 'dut.yaml'), '--ports', `${server.port},${other.port}`, '--out', out, ...FAST]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL\s+5\.6-1/);
    expect(r.stdout).toContain(`ftp on tcp/${other.port} is open but not declared`);

    const report = readReport(out);
    expect(report.errors).toEqual([]);
    const t = report.targets[0];
    expect(t?.declaration).toMatchObject({ device: { vendor: 'Acme', model: 'Cam-1', firmware: '1.2.3' } });
    expect(readFileSync(join(out, 'report.json'), 'utf8')).not.toContain('s3cret-test');
    expect(t?.services).toEqual(
      [
        { port: server.port, transport: 'tcp', protocol: 'ssh', tls: false },
        { port: other.port, transport: 'tcp', protocol: 'ftp', tls: false },
      ].sort((a, b) => a.port - b.port),
    );
    const keys = t?.observations.map((o) => o.key);
    expect(keys).toEqual(expect.arrayContaining(['scan.coverage', 'service.open', 'service.undeclared', 'service.absent']));
    expect(t?.observations.find((o) => o.key === 'service.absent')?.value).toMatchObject({ port: 443, protocol: 'https' });
    const ssh = t?.observations.find((o) => o.key === 'service.open' && o.value.port === server.port);
    expect(ssh?.value).toMatchObject({ banner: 'SSH-2.0-dropbear_2022.83', identifiedBy: 'ssh-banner' });

    // Every evidence id a verdict or observation names is in the chain, and the chain is intact.
    const chain = verifyEvidenceChain(join(out, 'evidence.jsonl'));
    expect(chain.ok).toBe(true);
    const ids = new Set(readFileSync(join(out, 'evidence.jsonl'), 'utf8').trimEnd().split('\n').map((l) => (JSON.parse(l) as { id: string }).id));
    for (const o of t?.observations ?? []) for (const e of o.evidence) expect(ids.has(e), e).toBe(true);
    const v = t?.verdicts.find((x) => x.provision === '5.6-1');
    expect(v).toMatchObject({ scheme: 'etsi-en-303-645', verdict: 'FAIL', basis: 'functional' });
    expect(v?.evidence.length).toBeGreaterThan(0);
    for (const e of v?.evidence ?? []) expect(ids.has(e)).toBe(true);
    expect(t?.labels.map((l) => l.scheme).sort()).toEqual(['en-18031-1', 'etsi-en-303-645', 'jc-star', 'nist-ir-8425', 'sg-cls', 'uk-psti']);
    expect(t?.labels.find((l) => l.scheme === 'etsi-en-303-645')).toMatchObject({ ready: false, blocking: expect.arrayContaining(['5.6-1']) as unknown });
    expect(t?.labels.find((l) => l.scheme === 'sg-cls')?.level).toBe(0);

    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { evidence: { records: number; head: string }; files: { path: string; sha256: string }[] };
    expect(manifest.evidence).toEqual({ records: chain.records, head: chain.head });
    for (const f of manifest.files) expect(createHash('sha256').update(readFileSync(join(out, f.path))).digest('hex')).toBe(f.sha256);
    expect(manifest.files.map((f) => f.path)).toEqual(['evidence.jsonl', 'report.json']);
  });

  it('--json prints the report on stdout; exit 0 when nothing mandatory failed', async () => {
    const { host, server } = await device('SSH-2.0-x\r\n');
    const out = join(tmp('json-'), 'run');
    const r = await cli(['run', '--target', host, '--ports', String(server.port), '--json', '--out', out, ...FAST]);
    expect(r.code).toBe(0);
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    expect(report.schema).toBe('iot-harness/report@1');
    expect(report.targets[0]?.verdicts.find((v) => v.provision === '5.6-1')?.verdict).toBe('INCONCLUSIVE');
    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'))).toEqual(report);
  });
});

describe('--waivers', () => {
  it('an unknown provision is bad input; an expired waiver is ignored with a warning', async () => {
    const { host, server } = await device('SSH-2.0-x\r\n');
    const dir = tmp('waive-');
    writeFileSync(join(dir, 'typo.yaml'), 'waivers:\n  - { scheme: etsi-en-303-645, provision: "5.6-11", justification: "a typo in the provision id", expires: 2099-01-01 }\n');
    const typo = await cli(['run', '--target', host, '--ports', String(server.port), '--waivers', join(dir, 'typo.yaml'), '--out', join(dir, 'r1'), ...FAST]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/typo\.yaml: waivers\[0\]: no profile in this run has etsi-en-303-645 provision "5\.6-11"/);
    writeFileSync(join(dir, 'old.yaml'), 'waivers:\n  - { scheme: etsi-en-303-645, provision: "5.6-1", justification: "expired long ago, must not count", expires: 2020-01-01 }\n');
    const old = await cli(['run', '--target', host, '--ports', String(server.port), '--waivers', join(dir, 'old.yaml'), '--out', join(dir, 'r2'), ...FAST]);
    expect(old.stderr).toMatch(/warning: waiver for etsi-en-303-645 5\.6-1 expired on 2020-01-01: ignored/);
    expect(readReport(join(dir, 'r2')).targets[0]?.verdicts.find((v) => v.provision === '5.6-1')?.verdict).not.toBe('NOT_APPLICABLE');
  });
});

describe('--safe', () => {
  it('runs discovery but no probe that sends credentials', async () => {
    const { host, server } = await device('\xff\xfb\x01login: ');
    const out = join(tmp('safe-'), 'run');
    const safe = await cli(['run', '--target', host, '--ports', String(server.port), '--safe', '--out', out, ...FAST]);
    // Telnet has no TLS: 5.5-1 fails whether or not credentials were tried.
    expect(safe.code).toBe(1);
    const t = readReport(out).targets[0];
    expect(t?.services[0]?.protocol).toBe('telnet');
    expect(t?.observations.filter((o) => o.key.startsWith('credentials.') || o.key === 'cleartext.auth')).toEqual([]);
    expect(readReport(out).run.options.allowIntrusive).toBe(false);
    const before = server.connections();
    // Without --safe the telnet login probe does connect and try.
    const full = await cli(['run', '--target', host, '--ports', String(server.port), '--fast', '--credentials', 'mirai', '--out', join(tmp('unsafe-'), 'run'), ...FAST]);
    expect(full.code).toBe(1);
    expect(server.connections() - before).toBeGreaterThan(3);
  });
});

describe('listing commands (no network)', () => {
  it('profiles list, show and check', async () => {
    const list = await cli(['profiles']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/etsi-en-303-645\s+\S+\s+\d+ provisions, 13 probed/);
    const show = await cli(['profiles', 'show', 'etsi-en-303-645']);
    expect(show.stdout).toMatch(/5\.6-1\s+M\s+.*probed: only-declared-interfaces/);
    const dir = tmp('pcheck-');
    mkdirSync(join(dir, 'p'));
    writeFileSync(join(dir, 'p', 'x.yaml'), 'id: x\n');
    const check = await cli(['profiles', 'check', join(dir, 'p', 'x.yaml')]);
    expect(check.code).toBe(2);
    expect(check.stderr).toMatch(/x\.yaml: scheme: /);
  });

  it('probes lists every probe with its options and whether it is intrusive, without touching the network', async () => {
    const r = await cli(['probes', '--json']);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as { id: string; intrusive: boolean; protocols: string[]; options: { properties: Record<string, { default?: unknown }> } }[];
    expect(rows.map((p) => p.id)).toEqual(['tls', 'telnet-login', 'ssh-login', 'http-login', 'mqtt-login', 'mqtt-access', 'rtsp-login', 'ftp-login', 'coap-access', 'update-endpoint']);
    expect(rows[0]).toMatchObject({ id: 'tls', intrusive: false, protocols: ['https', 'mqtts', 'tls'] });
    for (const p of rows.filter((r) => r.id.endsWith('-login'))) {
      expect(p.intrusive).toBe(true);
      expect(p.options.properties.credentials?.default).toEqual(['mirai', 'vendors']);
      expect(p.options.properties.delayMs?.default).toBe(100);
      expect(p.options.properties.bruteForceAttempts?.default).toBe(10);
    }
    const text = await cli(['probes']);
    expect(text.stdout).toMatch(/^tls {2}\[safe\]$/m);
    expect(text.stdout).toMatch(/^telnet-login {2}\[intrusive: sends credentials or writes; off with --safe\]$/m);
    expect(text.stdout).toMatch(/^ {4}stopAtFirstSuccess\s+default true\s+stop trying a service once a default is accepted$/m);
  });

  it('--help and --version exit 0', async () => {
    expect((await cli(['--help'])).code).toBe(0);
    const v = await cli(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
