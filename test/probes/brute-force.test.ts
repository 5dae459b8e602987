import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_TIMINGS } from '../../harness/discovery/identify.js';
import { startMqttServer } from '../../lab/servers/mqtt.js';
import type { RunningServer } from '../../lab/servers/listen.js';
import { tmp } from '../cli/helpers.js';
import { allocHost } from '../peers/alias.js';
import type { Daemon } from '../peers/daemon.js';
import { startLighttpd } from '../peers/lighttpd.js';
import { startMosquitto } from '../peers/mosquitto.js';
import { runProbe } from './run-probe.js';

const TEST_PASSWORD = 'Lab-Test-Pa55-9f1c';
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((s) => s()));
});

/** A run with only the brute-force trial's inputs: one service, a declared test account, the ETSI profile. */
async function trial(host: string, port: number, service: string, attempts = 6) {
  const dir = tmp('bf-');
  writeFileSync(join(dir, 'dut.yaml'), `credentials:\n  model: unique-per-device\n  test: [{ service: ${service}, username: labtest, password: "${TEST_PASSWORD}" }]\n`);
  const run = await runProbe({
    host,
    ports: [port],
    declarationPath: join(dir, 'dut.yaml'),
    profiles: ['etsi-en-303-645'],
    timings: { probeMs: 1000 },
    outDir: join(dir, 'out'),
    // A short default list keeps the test on the trial; the trial itself runs at full speed.
    probeOptions: { credentials: [writeList(dir)], bruteForceAttempts: attempts },
  });
  const bf = run.byKey('auth.bruteforce')[0];
  const verdict = run.target?.verdicts.find((v) => v.provision === '5.1-5');
  const files = readFileSync(join(run.outDir, 'evidence.jsonl'), 'utf8') + readFileSync(join(run.outDir, 'report.json'), 'utf8');
  return { bf, verdict, files };
}

function writeList(dir: string): string {
  const file = join(dir, 'two.txt');
  writeFileSync(file, 'admin:admin\nroot:root\n');
  return file;
}

describe('brute-force trial (5.1-5)', () => {
  it('FAILs a broker that takes wrong passwords as fast as they come (mosquitto)', async () => {
    const host = await allocHost([1883]);
    const m = await startMosquitto({ host, listeners: [{ port: 1883, users: [{ username: 'labtest', password: TEST_PASSWORD }] }] });
    stops.push(() => (m as Daemon).stop());
    const { bf, verdict, files } = await trial(host, 1883, 'mqtt');
    expect(bf?.value).toMatchObject({ protocol: 'mqtt', port: 1883, username: 'labtest', wrongAttempts: 6, correctPasswordAcceptedAfter: true });
    expect(bf?.value.lockedAfter).toBeUndefined();
    expect(Number(bf?.value.attemptsPerSecond)).toBeGreaterThan(1.12);
    expect(verdict).toMatchObject({ verdict: 'FAIL', basis: 'functional' });
    expect(verdict?.rationale).toMatch(/^mqtt on tcp\/1883 took 6 wrong passwords at [\d.]+\/s without locking or slowing down\.$/);
    expect(files).not.toContain(TEST_PASSWORD);
  });

  it('PASSes a broker that locks the account, and sees that the right password is refused too', async () => {
    const host = await allocHost([]);
    const s: RunningServer = await startMqttServer({ host, credentials: [{ username: 'labtest', password: TEST_PASSWORD }], lockout: { afterFailures: 3, forMs: 60_000 } });
    stops.push(() => s.close());
    const { bf, verdict, files } = await trial(host, s.port, 'mqtt');
    expect(bf?.value).toMatchObject({ wrongAttempts: 4, lockedAfter: 4 });
    expect(String(bf?.value.lockoutSignal)).toMatch(/stopped answering|locked/);
    expect(bf?.value.correctPasswordAcceptedAfter).toBe(false);
    expect(verdict?.verdict).toBe('PASS');
    expect(files).not.toContain(TEST_PASSWORD);
  });

  it('PASSes a web server that slows every wrong password to about one a second (lighttpd)', async () => {
    const host = await allocHost([8080]);
    const l = await startLighttpd({ host, port: 8080, basicAuth: { path: '/admin', username: 'labtest', password: TEST_PASSWORD } });
    stops.push(() => l.stop());
    const { bf, verdict } = await trial(host, 8080, 'http', 3);
    expect(bf?.value).toMatchObject({ protocol: 'http', wrongAttempts: 3, correctPasswordAcceptedAfter: true });
    expect(Number(bf?.value.attemptsPerSecond)).toBeLessThanOrEqual(1.12);
    expect(verdict?.verdict).toBe('PASS');
    expect(verdict?.rationale).toMatch(/allowed only [\d.]+ attempt\(s\)\/s/);
  });

  it('no declared test account: no trial, and 5.1-5 says how to get one', async () => {
    const host = await allocHost([1883]);
    const m = await startMosquitto({ host, listeners: [{ port: 1883, users: [{ username: 'labtest', password: TEST_PASSWORD }] }] });
    stops.push(() => m.stop());
    const dir = tmp('bf-none-');
    const run = await runProbe({
      host,
      ports: [1883],
      profiles: ['etsi-en-303-645'],
      timings: DEFAULT_TIMINGS,
      outDir: join(dir, 'out'),
      probeOptions: { credentials: [writeList(dir)] },
    });
    const t = run.target;
    expect(t?.observations.some((o) => o.key === 'auth.bruteforce')).toBe(false);
    expect(t?.verdicts.find((v) => v.provision === '5.1-5')).toMatchObject({ verdict: 'INCONCLUSIVE', rationale: expect.stringMatching(/declare a test account/) as unknown });
  });
});
