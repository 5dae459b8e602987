import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPORT_SCHEMA_ID, type Report, type TargetReport, type Verdict } from '../../harness/report-schema.js';
import { classifyChange, diffRuns, type RunDiff } from '../../reports/diff.js';
import { renderDiff } from '../../reports/diff-text.js';
import { cli, countingServer, type CountingServer, STACK, tmp } from '../cli/helpers.js';
import { startTlsServer, type TlsServerFixture } from '../fixtures/tls-servers.js';
import { allocHost, freePort } from '../peers/alias.js';

function report(id: string, targets: TargetReport[], profiles = [{ id: 'etsi-en-303-645', version: '1.0.0' }]): Report {
  const at = '2025-01-01T00:00:00.000Z';
  return { schema: REPORT_SCHEMA_ID, run: { id, startedAt: at, finishedAt: at, harness: { version: '0.1.0' }, profiles, options: {} }, targets, errors: [] };
}

function target(id: string, services: [number, string][], verdicts: [string, Verdict][]): TargetReport {
  return {
    id,
    address: '127.0.0.1',
    services: services.map(([port, protocol]) => ({ port, transport: 'tcp', protocol, tls: protocol === 'https' })),
    observations: [],
    verdicts: verdicts.map(([provision, verdict]) => ({ scheme: 'etsi-en-303-645', provision, title: `title of ${provision}`, verdict, basis: 'functional', rationale: `${provision} is ${verdict}`, observations: [], evidence: [] })),
    labels: [],
  };
}

describe('classifyChange', () => {
  it.each([
    ['PASS', 'FAIL', 'regression'],
    ['PASS', 'INCONCLUSIVE', 'regression'],
    ['NOT_APPLICABLE', 'FAIL', 'regression'],
    ['NOT_APPLICABLE', 'INCONCLUSIVE', 'regression'],
    ['INCONCLUSIVE', 'FAIL', 'regression'],
    ['NOT_ASSESSED', 'FAIL', 'regression'],
    [undefined, 'FAIL', 'regression'],
    ['FAIL', 'PASS', 'improvement'],
    ['FAIL', 'NOT_APPLICABLE', 'improvement'],
    ['INCONCLUSIVE', 'PASS', 'improvement'],
    ['FAIL', 'INCONCLUSIVE', 'other'],
    ['PASS', 'NOT_APPLICABLE', 'other'],
    ['NOT_ASSESSED', 'INCONCLUSIVE', 'other'],
    [undefined, 'PASS', 'other'],
    ['FAIL', undefined, 'other'],
  ] as const)('%s → %s is %s', (before, after, kind) => {
    expect(classifyChange(before, after)).toBe(kind);
  });
});

describe('diffRuns', () => {
  const a = report('run-a', [
    target('cam', [[22, 'ssh'], [80, 'http']], [['5.1-1', 'PASS'], ['5.5-1', 'PASS'], ['5.6-1', 'FAIL'], ['5.10-1', 'INCONCLUSIVE'], ['5.3-2', 'PASS']]),
    target('hub', [[443, 'https']], [['5.5-1', 'PASS']]),
    target('old', [], []),
  ]);
  const b = report('run-b', [
    target('hub', [[443, 'https']], [['5.5-1', 'PASS']]),
    target('cam', [[22, 'ssh'], [80, 'https'], [23, 'telnet']], [['5.1-1', 'PASS'], ['5.5-1', 'FAIL'], ['5.6-1', 'PASS'], ['5.10-1', 'FAIL'], ['5.3-2', 'NOT_APPLICABLE']]),
    target('new', [], []),
  ], [{ id: 'etsi-en-303-645', version: '1.1.0' }]);
  const diff = diffRuns(a, b);

  it('lists per target the services opened and closed, by port, transport and protocol', () => {
    expect(diff.targets.map((t) => t.id)).toEqual(['cam']);
    const cam = diff.targets[0];
    expect(cam?.servicesOpened).toEqual([
      { port: 23, transport: 'tcp', protocol: 'telnet', tls: false },
      { port: 80, transport: 'tcp', protocol: 'https', tls: true },
    ]);
    expect(cam?.servicesClosed).toEqual([{ port: 80, transport: 'tcp', protocol: 'http', tls: false }]);
  });

  it('lists changed verdicts with before and after, regressions first, in provision order', () => {
    expect(diff.targets[0]?.verdicts.map((v) => [v.provision, v.before, v.after, v.kind])).toEqual([
      ['5.5-1', 'PASS', 'FAIL', 'regression'],
      ['5.10-1', 'INCONCLUSIVE', 'FAIL', 'regression'],
      ['5.6-1', 'FAIL', 'PASS', 'improvement'],
      ['5.3-2', 'PASS', 'NOT_APPLICABLE', 'other'],
    ]);
    expect(diff.targets[0]?.verdicts[0]).toMatchObject({ rationaleBefore: '5.5-1 is PASS', rationaleAfter: '5.5-1 is FAIL' });
    expect(diff.counts).toEqual({ regressions: 2, improvements: 1, other: 1, servicesOpened: 2, servicesClosed: 1 });
    expect(diff.regressed).toBe(true);
  });

  it('names targets in one run only, and profile version changes', () => {
    expect(diff.onlyBefore).toEqual(['old']);
    expect(diff.onlyAfter).toEqual(['new']);
    expect(diff.notes).toEqual(['profile etsi-en-303-645 changed from version 1.0.0 to 1.1.0: some changes may come from the profile, not the device']);
  });

  it('renders regressions before everything else', () => {
    const text = renderDiff(diff, { before: 'A', after: 'B' });
    expect(text.indexOf('Regressions')).toBeLessThan(text.indexOf('Services opened'));
    expect(text.indexOf('Services opened')).toBeLessThan(text.indexOf('Improvements'));
    expect(text).toMatch(/ {4}etsi-en-303-645 5\.5-1 {2}PASS → FAIL {2}title of 5\.5-1\n {6}now: 5\.5-1 is FAIL/);
    expect(text).toContain('    + tcp/23 telnet\n');
    expect(text).toContain('    - tcp/80 http\n');
    expect(text).toContain('Targets only in A: old');
    expect(text).toContain('Targets only in B: new');
    expect(text).toMatch(/2 regressions, 1 improvement, 1 other change; 2 services opened, 1 closed\.\n$/);
  });

  it('puts targets with regressions first', () => {
    const better = target('a-better', [], [['5.6-1', 'PASS']]);
    const worse = target('b-worse', [], [['5.6-1', 'FAIL']]);
    const d = diffRuns(
      report('x', [{ ...better, verdicts: [{ ...(better.verdicts[0] as TargetReport['verdicts'][number]), verdict: 'FAIL' }] }, { ...worse, verdicts: [] }]),
      report('y', [better, worse]),
    );
    expect(d.targets.map((t) => t.id)).toEqual(['b-worse', 'a-better']);
  });

  it('finds nothing between a run and itself', () => {
    const same = diffRuns(a, a);
    expect(same).toMatchObject({ targets: [], onlyBefore: [], onlyAfter: [], notes: [], regressed: false });
    expect(renderDiff(same, { before: 'A', after: 'A' })).toMatch(/\nNo differences\.\n$/);
  });
});

describe('iot-harness diff on a device whose configuration changed', () => {
  const stops: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(stops.splice(0).map((s) => s()));
  });

  const FAST = ['--profile', 'etsi-en-303-645', '--scanner', 'builtin', '--timeout', '300'];

  it('lists the opened port and the 5.5-1 regression first, exit 1; a run against itself: nothing, exit 0', async () => {
    const host = await allocHost([]);
    const sshPort = await freePort(host);
    const dir = tmp('diff-');

    // Run A: TLS 1.2 and 1.3 only; nothing on the SSH port yet.
    let tls: TlsServerFixture = await startTlsServer({ host, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' });
    stops.push(() => tls.stop());
    // The declaration anchors the self-signed certificate (without it 5.5-1 could not PASS in run A)
    // and answers the paperwork provisions, so run A passes everything mandatory that it judges.
    writeFileSync(join(dir, 'device.pem'), tls.cert.cert);
    writeFileSync(
      join(dir, 'device.yaml'),
      `trustAnchors: [device.pem]\nsupportPeriod: { end: 2035-01-01 }\nvulnerabilityDisclosure: { url: https://vendor.example/security }\ninterfaces:\n  - { port: ${tls.port}, protocol: tls }\n`,
    );
    const args = ['run', '--target', host, '--declaration', join(dir, 'device.yaml'), '--ports', `${tls.port},${sshPort}`, ...FAST];
    const runA = join(dir, 'a');
    const a = await cli([...args, '--out', runA]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/PASS\s+5\.5-1/);

    // Run B: the same port now also speaks TLS 1.0, and an SSH service appeared.
    await tls.stop();
    // OpenSSL 3 refuses TLS 1.0 below SECLEVEL=0: without it the server would not really offer it.
    tls = await startTlsServer({ host, port: tls.port, minVersion: 'TLSv1', maxVersion: 'TLSv1.3', ciphers: 'DEFAULT@SECLEVEL=0' });
    const ssh: CountingServer = await countingServer(host, 'SSH-2.0-OpenSSH_9.2p1\r\n', sshPort);
    stops.push(() => ssh.close());
    const runB = join(dir, 'b');
    const b = await cli([...args, '--out', runB]);
    expect(b.code, b.stderr).toBe(1);

    const r = await cli(['diff', runA, runB]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    const lines = r.stdout.split('\n');
    const firstChange = lines.findIndex((l) => /^ {4}etsi-en-303-645 /.test(l));
    expect(lines[firstChange - 1]).toBe('  Regressions');
    expect(lines[firstChange]).toMatch(/^ {4}etsi-en-303-645 5\.5-1 {2}PASS → FAIL {2}/);
    expect(lines[firstChange + 1]).toMatch(/now: tls on tcp\/\d+: offers TLSv1\.0/);
    // The new SSH service is undeclared: a second regression, after 5.5-1 in provision order.
    expect(lines[firstChange + 2]).toMatch(/^ {4}etsi-en-303-645 5\.6-1 {2}PASS → FAIL {2}/);
    expect(lines[firstChange + 3]).toContain(`ssh on tcp/${sshPort} is open but not declared`);
    expect(r.stdout).toContain(`  Services opened\n    + tcp/${sshPort} ssh\n`);
    expect(r.stdout.indexOf('Services opened')).toBeGreaterThan(firstChange);
    expect(r.stdout).not.toContain('Services closed');

    const json = await cli(['diff', runA, runB, '--json']);
    expect(json.code).toBe(1);
    const diff = JSON.parse(json.stdout) as RunDiff;
    expect(diff.regressed).toBe(true);
    expect(diff.targets).toHaveLength(1);
    expect(diff.targets[0]?.servicesOpened).toEqual([{ port: sshPort, transport: 'tcp', protocol: 'ssh', tls: false }]);
    expect(diff.targets[0]?.verdicts[0]).toMatchObject({ scheme: 'etsi-en-303-645', provision: '5.5-1', before: 'PASS', after: 'FAIL', kind: 'regression' });

    const self = await cli(['diff', runB, runB]);
    expect(self.code).toBe(0);
    expect(self.stdout).toMatch(/\nNo differences\.$/);
    expect(JSON.parse((await cli(['diff', runA, runA, '--json'])).stdout)).toMatchObject({ targets: [], regressed: false });
    // The report files themselves are what the diff read: both runs are intact.
    expect(JSON.parse(readFileSync(join(runB, 'report.json'), 'utf8'))).toMatchObject({ schema: REPORT_SCHEMA_ID });
  });

  it('bad input: exit 2 naming the folder', async () => {
    const empty = tmp('diff-bad-');
    const r = await cli(['diff', empty, empty]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/report\.json: not a readable report .*give the folder of an iot-harness run/);
    expect(r.stderr).not.toMatch(STACK);
    expect((await cli(['diff', empty])).code).toBe(2);
  });
});
