import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ReportSchema } from '../../harness/report-schema.js';
import { LAB_DEVICES } from '../../lab/fleet.js';
import type { LabState } from '../../lab/state.js';
import { allocHost } from '../peers/alias.js';
import { BIN, cli, tmp } from './helpers.js';
import { execa } from 'execa';
import { setTimeout as sleep } from 'node:timers/promises';

// Every lab this file starts has its own folder and its own aliases, so no other suite (the demo on
// 127.0.0.11, the workshop exercises) ever sees these devices, nor these tests theirs.
const started: string[] = [];

async function labUp(args: readonly string[] = []): Promise<{ dir: string; state: LabState; stdout: string }> {
  const dir = tmp('lab-');
  started.push(dir);
  const r = await cli(['lab', 'up', '--dir', dir, ...args]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return { dir, state: JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')) as LabState, stdout: r.stdout };
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

afterAll(async () => {
  // A failed assertion must not leave a lab running behind the suite.
  await Promise.all(started.map((dir) => cli(['lab', 'down', '--dir', dir])));
});

describe('iot-harness lab up | status | down', () => {
  it('keeps the fleet running in the background, prints where each device is, serves runs and the demo, and stops it', async () => {
    const base = await allocHost([]);
    const { dir, state, stdout } = await labUp(['--base-address', base]);

    // Every device, in its default mode, on its own alias, with the commands to probe it.
    expect(state.devices.map((d) => [d.id, d.mode])).toEqual(LAB_DEVICES.map((d) => [d.id, d.defaultMode]));
    expect(state.devices[0]?.address).toBe(base);
    expect(new Set(state.devices.map((d) => d.address)).size).toBe(state.devices.length);
    for (const d of state.devices) {
      expect(stdout).toContain(d.address);
      for (const s of d.services) expect(stdout).toContain(`${s.protocol} ${s.transport}/${s.port}`);
      expect(d.services.some((s) => s.port === 2024)).toBe(false);
    }
    expect(stdout).toContain(`iot-harness run --lab --lab-dir ${dir}`);
    expect(stdout).toContain(`iot-harness lab down --dir ${dir}`);

    // The lab outlives the command that started it: another tool reaches the camera's telnet.
    const camera = state.devices.find((d) => d.id === 'camera');
    const telnet = camera?.services.find((s) => s.protocol === 'telnet');
    expect(await accepts(camera?.address ?? '', telnet?.port ?? 0)).toBe(true);

    const status = await cli(['lab', 'status', '--dir', dir, '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ up: true, pid: state.pid, devices: state.devices });
    const sheet = await cli(['lab', 'status', '--dir', dir, '--weaknesses']);
    for (const d of state.devices) for (const w of d.weaknesses) expect(sheet.stdout).toContain(`- ${w}`);
    expect(sheet.stdout).toContain('Telnet is open and accepts the Mirai factory logins root/xc3511');

    // A second `up` refuses rather than starting a fleet on top of the first.
    const again = await cli(['lab', 'up', '--dir', dir]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already up \(pid \d+/);

    // `run --lab camera` probes the running camera with its declaration; the printed targets file works too.
    const out = join(tmp('lab-run-'), 'run');
    const run = await cli(['run', '--lab', 'camera', '--lab-dir', dir, '--fast', '--profile', 'etsi-en-303-645', '--out', out]);
    expect(run.code).toBe(1);
    const report = ReportSchema.parse(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')));
    expect(report.targets.map((t) => t.id)).toEqual(['camera']);
    expect(report.targets[0]?.declaration?.path).toBe(camera?.declarationPath);
    expect(report.targets[0]?.verdicts.find((v) => v.provision === '5.1-1')?.verdict).toBe('FAIL');
    expect(readFileSync(state.targetsFile, 'utf8')).toContain(`declaration: ${camera?.declarationPath}`);
    // The address-and-declaration command `lab up` printed works as printed, for users of plain `run`.
    const printed = /^ {2}iot-harness (run --target \S+ --declaration \S+ --ports \S+)$/m.exec(stdout)?.[1];
    expect(printed).toBe(`run --target ${camera?.address} --declaration ${camera?.declarationPath} --ports ${camera?.services.map((s) => s.port).join(',')}`);
    const byAddress = await cli([...(printed ?? '').split(' '), '--fast', '--profile', 'etsi-en-303-645', '--json', '--out', join(out, '..', 'by-address')]);
    expect(byAddress.code).toBe(1);
    const services = ReportSchema.parse(JSON.parse(byAddress.stdout)).targets[0]?.services.map((s) => s.protocol).sort();
    expect(services).toEqual(camera?.services.map((s) => s.protocol).sort());

    // The demo uses the running fleet instead of starting its own.
    const demo = await cli(['demo', '--lab-dir', dir, '--out', join(tmp('lab-demo-'), 'run')], { timeoutMs: 120_000 });
    expect(demo.code).toBe(0);
    expect(demo.stderr).toMatch(new RegExp(`Using the running lab \\(pid ${state.pid}, ${state.devices.length} devices`));

    const down = await cli(['lab', 'down', '--dir', dir]);
    expect(down.code).toBe(0);
    expect(down.stdout).toMatch(new RegExp(`The lab is down \\(${state.devices.length} devices stopped\\)`));
    expect(existsSync(join(dir, 'lab.json'))).toBe(false);
    expect(await accepts(camera?.address ?? '', telnet?.port ?? 0)).toBe(false);
    const after = await cli(['lab', 'status', '--dir', dir]);
    expect(after.code).toBe(3);
    expect(after.stdout).toMatch(/The lab is down/);
    const runDown = await cli(['run', '--lab', '--lab-dir', dir]);
    expect(runDown.code).toBe(2);
    expect(runDown.stderr).toMatch(/--lab: no lab is running/);
  }, 240_000);

  it('starts chosen devices in chosen modes, and without aliases puts them all on 127.0.0.1 on distinct ports', async () => {
    const { dir, state } = await labUp(['--devices', 'hub,camera', '--hardened', 'camera', '--weak', 'hub', '--no-aliases']);
    expect(state.usesAliases).toBe(false);
    expect(state.devices.map((d) => [d.id, d.mode, d.address])).toEqual([
      ['camera', 'hardened', '127.0.0.1'],
      ['hub', 'weak', '127.0.0.1'],
    ]);
    const ports = state.devices.flatMap((d) => d.services.map((s) => `${s.transport}/${s.port}`));
    expect(new Set(ports).size).toBe(ports.length);
    // Sharing one address, each device is probed on its own ports only: the hub reports none of the camera's services.
    const out = join(tmp('lab-run-'), 'run');
    const run = await cli(['run', '--lab', 'hub', '--lab-dir', dir, '--fast', '--profile', 'etsi-en-303-645', '--out', out]);
    expect(run.code).toBe(1);
    const hub = ReportSchema.parse(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'))).targets[0];
    const hubPorts = state.devices.find((d) => d.id === 'hub')?.services.map((s) => s.port).sort((a, b) => a - b);
    expect(hub?.services.map((s) => s.port).sort((a, b) => a - b)).toEqual(hubPorts);
    expect(readFileSync(state.targetsFile, 'utf8')).toContain(`ports: ${state.devices.find((d) => d.id === 'hub')?.services.map((s) => s.port).join(',')}`);
    expect((await cli(['lab', 'down', '--dir', dir])).code).toBe(0);
  }, 120_000);

  it('refuses bad input with exit 2 and a message naming the flag, before anything listens', async () => {
    const dir = tmp('lab-bad-');
    const unknown = await cli(['lab', 'up', '--dir', dir, '--hardened', 'toaster']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--hardened: unknown device "toaster"; the lab has camera, .*\(or "all"\)/);
    const both = await cli(['lab', 'up', '--dir', dir, '--hardened', 'camera', '--weak', 'camera']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--hardened and --weak both name camera/);
    // Caught by the lab process itself: its message comes back through `lab up`.
    const outside = await cli(['lab', 'up', '--dir', dir, '--base-address', '10.0.0.1']);
    expect(outside.code).toBe(2);
    expect(outside.stderr).toMatch(/base address "10\.0\.0\.1" is not in 127\.0\.0\.0\/8/);
    expect(existsSync(join(dir, 'lab.json'))).toBe(false);
    expect(outside.stderr).not.toMatch(/\n\s+at /);
  });

  it('treats a state file whose process is gone as a stopped lab, and says so', async () => {
    const dir = tmp('lab-stale-');
    const stale: LabState = { schema: 'iot-harness/lab@1', pid: 2 ** 22 + 7, token: 'gone-gone-gone', startedAt: '2026-01-01T00:00:00.000Z', usesAliases: true, dir, targetsFile: join(dir, 'targets.yaml'), devices: [] };
    writeFileSync(join(dir, 'lab.json'), JSON.stringify(stale));
    const status = await cli(['lab', 'status', '--dir', dir]);
    expect(status.code).toBe(3);
    expect(status.stdout).toMatch(/its process 4194311 had gone; the stale state was removed/);
    expect(existsSync(join(dir, 'lab.json'))).toBe(false);
    writeFileSync(join(dir, 'lab.json'), '{ not json');
    const broken = await cli(['lab', 'down', '--dir', dir]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/lab\.json: not a lab state file .* if no lab is running, delete it/);
  });

  it('--foreground keeps the lab in the terminal, where status sees it and down stops it', async () => {
    const dir = tmp('lab-fg-');
    started.push(dir);
    const fg = execa('node', [BIN, 'lab', 'up', '--foreground', '--dir', dir, '--devices', 'camera', '--base-address', await allocHost([])], { reject: false, env: { CI: '1' } });
    let out = '';
    fg.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    for (let i = 0; i < 300 && !out.includes('Ctrl-C stops the lab'); i++) await sleep(100);
    expect(out).toMatch(/The lab is up \(pid \d+/);
    const status = await cli(['lab', 'status', '--dir', dir]);
    expect(status.code).toBe(0);
    const down = await cli(['lab', 'down', '--dir', dir]);
    expect(down.stdout).toMatch(/The lab is down \(1 devices stopped\)/);
    const ended = await fg;
    expect(ended.exitCode).toBe(0);
    expect(existsSync(join(dir, 'lab.json'))).toBe(false);
  }, 60_000);

  it('of two lab up at once in one folder, one starts and the other is refused: nothing is left running', async () => {
    const dir = tmp('lab-race-');
    started.push(dir);
    const [a, b] = [await allocHost([]), await allocHost([])];
    const results = await Promise.all([a, b].map((base) => cli(['lab', 'up', '--dir', dir, '--devices', 'camera', '--base-address', base])));
    expect(results.map((r) => r.code).sort()).toEqual([0, 2]);
    expect(results.find((r) => r.code === 2)?.stderr).toMatch(/already up|another lab is running or starting in/);
    expect((await cli(['lab', 'down', '--dir', dir])).code).toBe(0);
    for (const base of [a, b]) for (const port of [23, 2323]) expect(await accepts(base, port)).toBe(false);
    expect((await cli(['lab', 'status', '--dir', dir])).code).toBe(3);
  }, 60_000);

  it('never takes over a folder holding other files, nor a file; --lab-dir needs a lab', async () => {
    const project = tmp('lab-project-');
    writeFileSync(join(project, 'targets.yaml'), 'targets: [{ address: 192.168.50.20 }]\n');
    const refused = await cli(['lab', 'up', '--dir', project]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/already holds files that are not a lab's; give an empty or new folder with --dir \(nothing was changed\)/);
    expect(readFileSync(join(project, 'targets.yaml'), 'utf8')).toBe('targets: [{ address: 192.168.50.20 }]\n');
    const file = join(project, 'targets.yaml');
    const notDir = await cli(['lab', 'up', '--dir', file]);
    expect(notDir.code).toBe(2);
    expect(notDir.stderr).toMatch(/is a file; give a folder for the lab/);
    const stray = await cli(['run', '--lab-dir', project, '--target', '127.0.0.1', '--ports', '9']);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toMatch(/--lab-dir goes with --lab/);
    const demo = await cli(['demo', '--lab-dir', tmp('lab-none-')]);
    expect(demo.code).toBe(2);
    expect(demo.stderr).toMatch(/no lab is running there/);
  });
});

