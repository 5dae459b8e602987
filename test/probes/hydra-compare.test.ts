// hydra (Debian 12: v9.4) and our login probes on the same real fixtures, with the same four pairs.
// Where they agree, and where hydra is wrong: docs/hydra.md states these results and this file keeps
// them true (a different hydra version fails the version check, so the page gets re-checked).
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Observation } from '../../harness/report-schema.js';
import { startSshServer } from '../../lab/servers/ssh.js';
import mqttLogin from '../../probes/mqtt-login.js';
import sshLogin from '../../probes/ssh-login.js';
import telnetLogin from '../../probes/telnet-login.js';
import type { Probe } from '../../probes/types.js';
import { tmp } from '../cli/helpers.js';
import { allocHost, freePort } from '../peers/alias.js';
import { requireBinary } from '../peers/daemon.js';
import { startDropbear } from '../peers/dropbear.js';
import { startMosquitto } from '../peers/mosquitto.js';
import { startTelnetd, type TelnetUser } from '../peers/telnetd.js';
import { runProbe } from './run-probe.js';

/** The pairs both tools get, in this order (all four are Mirai's). */
const PAIRS: TelnetUser[] = [
  { username: 'admin', password: 'admin' },
  { username: 'root', password: 'xc3511' },
  { username: 'root', password: 'vizxv' },
  { username: 'user', password: 'user' },
];

let dir: string;
let credentials: string;
let hydraBin: string;
beforeAll(() => {
  hydraBin = requireBinary('hydra', 'hydra');
  dir = tmp('hydra-compare-');
  credentials = join(dir, 'pairs.txt');
  writeFileSync(credentials, PAIRS.map((p) => `${p.username}:${p.password}\n`).join(''));
});

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

interface HydraRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** Pairs from its JSON output file (`-o FILE -b json`). */
  found: { login: string; password: string }[];
  /** The JSON file's `success`; undefined when hydra wrote no file. */
  success?: boolean;
}

/**
 * hydra as a tester would run it on one service: the colon file, one task, 5 s answer wait (lower
 * waits print "the waittime you set is low"), -I so no restore file from an earlier run is waited on.
 */
async function hydra(service: string, host: string, port: number, pairs: string[] = ['-C', credentials]): Promise<HydraRun> {
  const out = join(dir, `${service}-${port}-${pairs[0] ?? ''}.json`);
  const r = await execa(hydraBin, ['-I', '-t', '1', '-w', '5', ...pairs, '-o', out, '-b', 'json', '-s', String(port), host, service], { cwd: dir, reject: false, timeout: 60_000 });
  const run: HydraRun = { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr), found: [] };
  if (existsSync(out)) {
    const json = JSON.parse(readFileSync(out, 'utf8')) as { results: { login: string; password: string }[]; success: boolean };
    run.found = json.results.map((x) => ({ login: x.login, password: x.password }));
    run.success = json.success;
  }
  return run;
}

/** Our probe in a real run, with the same pairs, not stopping at the first success (as hydra does not). */
async function ours(probe: Probe, host: string, port: number): Promise<{ accepted: { login: string; password: string }[]; of: (key: string) => Observation[] }> {
  const run = await runProbe({ host, ports: [port], probes: [probe], timings: { bannerMs: 500 }, probeOptions: { credentials: [credentials], stopAtFirstSuccess: false } });
  expect(run.report.errors).toEqual([]);
  return { accepted: run.byKey('credentials.accepted').map((o) => ({ login: String(o.value.username), password: String(o.value.password) })), of: run.byKey };
}

/** An ECDSA host key: ssh2's own ed25519 generator now and then makes a key it cannot parse back. */
function hostKey(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256', privateKeyEncoding: { type: 'sec1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey;
}

describe('hydra v9.4 and our probes on the same fixtures', () => {
  it('is hydra v9.4, the version docs/hydra.md describes', async () => {
    const r = await execa(hydraBin, ['-h'], { reject: false });
    expect(String(r.stdout)).toMatch(/^Hydra v9\.4 /);
  });

  it('ssh: both find admin/admin on the weak server and nothing on dropbear; on key-only dropbear hydra stops with an error, we report key-only', async () => {
    const host = await allocHost([]);
    const weak = await startSshServer({ host, port: 0, hostKey: hostKey(), auth: { kind: 'password', credentials: [{ username: 'admin', password: 'admin' }] } });
    cleanup.push(() => weak.close());
    const dropbear = await startDropbear({ host, port: await freePort(host) });
    cleanup.push(() => dropbear.stop());
    const keyOnly = await startDropbear({ host, port: await freePort(host), allowPasswords: false });
    cleanup.push(() => keyOnly.stop());

    const hWeak = await hydra('ssh', host, weak.port);
    expect(hWeak.found).toEqual([{ login: 'admin', password: 'admin' }]);
    expect(hWeak.stdout).toContain(`[${weak.port}][ssh] host: ${host}   login: admin   password: admin`);
    expect((await ours(sshLogin, host, weak.port)).accepted).toEqual([{ login: 'admin', password: 'admin' }]);

    const hDropbear = await hydra('ssh', host, dropbear.port);
    expect(hDropbear.exitCode).toBe(0);
    expect(hDropbear.found).toEqual([]);
    const oDropbear = await ours(sshLogin, host, dropbear.port);
    expect(oDropbear.accepted).toEqual([]);
    expect(oDropbear.of('credentials.rejected')).toHaveLength(PAIRS.length);

    const hKeyOnly = await hydra('ssh', host, keyOnly.port);
    expect(hKeyOnly.exitCode).toBe(255);
    expect(hKeyOnly.stderr).toContain(`[ERROR] target ssh://${host}:${keyOnly.port}/ does not support password authentication (method reply 4).`);
    expect(hKeyOnly.success).toBe(false);
    const oKeyOnly = await ours(sshLogin, host, keyOnly.port);
    expect(oKeyOnly.of('credentials.tested')[0]?.value).toMatchObject({ attempted: 0, stoppedBecause: 'key-only' });
    expect(oKeyOnly.of('ssh.auth-methods')[0]?.value).toMatchObject({ methods: ['publickey'] });
  });

  it('mqtt: hydra v9.4 has no MQTT module; we find admin/admin on the broker', async () => {
    const host = await allocHost([]);
    const broker = await startMosquitto({ host, listeners: [{ port: await freePort(host), users: [{ username: 'admin', password: 'admin' }] }] });
    cleanup.push(() => broker.stop());

    const h = await hydra('mqtt', host, broker.port);
    expect(h.exitCode).toBe(255);
    expect(h.stderr).toContain('[ERROR] Unknown service: mqtt');
    expect(h.found).toEqual([]);
    expect((await ours(mqttLogin, host, broker.port)).accepted).toEqual([{ login: 'admin', password: 'admin' }]);
  });

  it('telnet, busybox telnetd that accepts nothing: neither reports a login, but hydra put only 2 of its 4 pairs to the device', async () => {
    const host = await allocHost([]);
    const device = await startTelnetd({ host, port: await freePort(host), users: [] });
    cleanup.push(() => device.stop());

    const h = await hydra('telnet', host, device.port);
    expect(h.exitCode).toBe(0);
    expect(h.found).toEqual([]);
    expect(h.stdout).toContain('1 of 1 target completed, 0 valid password found');
    // What the device's login program was really asked: after the first refusal on a connection, hydra
    // answers "login:" with an empty line and sends the tail of the previous username as the password.
    expect(await device.attempts()).toEqual([PAIRS[0], { username: '', password: 'dmin' }, { username: '', password: 'dmin' }, PAIRS[1]]);

    const o = await ours(telnetLogin, host, device.port);
    expect(o.accepted).toEqual([]);
    expect(o.of('credentials.rejected')).toHaveLength(PAIRS.length);
  });

  it('telnet, busybox telnetd that accepts only root/xc3511: hydra reports user/user (a false positive) and misses root/xc3511; we report root/xc3511 alone', async () => {
    const host = await allocHost([]);
    const device = await startTelnetd({ host, port: await freePort(host), users: [{ username: 'root', password: 'xc3511' }] });
    cleanup.push(() => device.stop());

    const h = await hydra('telnet', host, device.port);
    expect(h.found).toEqual([{ login: 'user', password: 'user' }]);
    expect(h.stdout).toContain(`[${device.port}][telnet] host: ${host}   login: user   password: user`);
    // The device never saw user/user: the shell hydra got was root/xc3511's, sent on its second connection
    // while hydra believed it was trying its fourth pair.
    const seen = await device.attempts();
    expect(seen).not.toContainEqual(PAIRS[3]);
    expect(seen).toEqual([PAIRS[0], { username: '', password: 'dmin' }, { username: '', password: 'dmin' }, PAIRS[1]]);

    const o = await ours(telnetLogin, host, device.port);
    expect(o.accepted).toEqual([{ login: 'root', password: 'xc3511' }]);
    expect(o.of('credentials.rejected')).toHaveLength(PAIRS.length - 1);
    expect((await device.attempts()).slice(seen.length)).toEqual(PAIRS);
  });

  it('telnet with -l root -P FILE: hydra never sends root/xc3511 at all, and reports nothing', async () => {
    const host = await allocHost([]);
    const device = await startTelnetd({ host, port: await freePort(host), users: [{ username: 'root', password: 'xc3511' }] });
    cleanup.push(() => device.stop());
    const passwords = join(dir, 'passwords.txt');
    writeFileSync(passwords, 'admin\nvizxv\nxc3511\nuser\n');

    const h = await hydra('telnet', host, device.port, ['-l', 'root', '-P', passwords]);
    expect(h.found).toEqual([]);
    expect(h.stdout).toContain('1 of 1 target completed, 0 valid password found');
    const seen = await device.attempts();
    expect(seen).toEqual([
      { username: 'root', password: 'admin' },
      { username: '', password: 'oot' },
      { username: '', password: 'oot' },
      { username: 'root', password: 'vizxv' },
    ]);
  });
});
