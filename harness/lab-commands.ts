import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEVICE_MODES, type DeviceMode } from '../lab/device.js';
import { LAB_DEVICES, type RunningFleet, startFleet } from '../lab/fleet.js';
import { claimLabDir, currentOwner, ownerRuns, prepareLabDir, releaseLabDir } from '../lab/lock.js';
import { declarationsDir, defaultLabDir, deviceTable, type LabState, logPath, newToken, ownPorts, readLabStatus, writeLabState } from '../lab/state.js';
import { ConfigError, HarnessError } from './errors.js';
import { packageRoot } from './paths.js';
import { parseExcludePorts, parsePorts } from './ports.js';
import type { TargetRequest } from './targets.js';

interface FleetFlags {
  dir?: string;
  devices?: string;
  hardened?: string[];
  weak?: string[];
  aliases: boolean;
  baseAddress?: string;
  excludePorts?: string;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** How long `lab up` waits for the lab process to say it is listening. */
const START_DEADLINE_MS = 60_000;
/** How long `lab down` waits for the lab process to stop before it is killed. */
const STOP_DEADLINE_MS = 10_000;

function deviceList(values: readonly string[], flag: string): string[] {
  const ids = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  if (ids.includes('all')) return LAB_DEVICES.map((d) => d.id);
  const known = LAB_DEVICES.map((d) => d.id);
  for (const id of ids) {
    if (!known.includes(id)) throw new ConfigError(`${flag}: unknown device "${id}"; the lab has ${known.join(', ')} (or "all")`);
  }
  return ids;
}

/** The user's mode flags as one map; the same device named both weak and hardened is an error. */
export function modesFrom(flags: Pick<FleetFlags, 'hardened' | 'weak'>): Record<string, DeviceMode> {
  const modes: Record<string, DeviceMode> = {};
  for (const mode of DEVICE_MODES) {
    for (const id of deviceList(flags[mode] ?? [], `--${mode}`)) {
      if (modes[id] !== undefined && modes[id] !== mode) throw new ConfigError(`--hardened and --weak both name ${id}; give each device one mode`);
      modes[id] = mode;
    }
  }
  return modes;
}

function fleetOptions(flags: FleetFlags) {
  const exclude = flags.excludePorts ? parseExcludePorts(flags.excludePorts) : { tcp: [], udp: [] };
  return {
    ...(flags.devices === undefined ? {} : { devices: deviceList([flags.devices], '--devices') }),
    modes: modesFrom(flags),
    ...(flags.aliases ? {} : { useAliases: false }),
    ...(flags.baseAddress === undefined ? {} : { baseAddress: flags.baseAddress }),
    excludePorts: [...new Set([...exclude.tcp, ...exclude.udp])],
  };
}

/**
 * `run --lab [ids]`: the running lab's devices as run targets, each with its declaration and on its
 * own ports only (see ownPorts).
 */
export function labTargets(ids: string | undefined, dir: string | undefined): TargetRequest[] {
  const labDir = resolve(dir ?? defaultLabDir());
  const status = readLabStatus(labDir);
  if (!status.up) throw new ConfigError(`--lab: no lab is running${dir === undefined ? '' : ` in ${labDir}`}; start one with \`iot-harness lab up${dir === undefined ? '' : ` --dir ${dir}`}\``);
  const wanted = ids === undefined ? undefined : deviceList([ids], '--lab');
  const devices = status.state.devices.filter((d) => wanted === undefined || wanted.includes(d.id));
  const missing = (wanted ?? []).filter((id) => !devices.some((d) => d.id === id));
  if (missing.length > 0) {
    throw new ConfigError(`--lab: ${missing.join(', ')} not running in the lab (it runs ${status.state.devices.map((d) => d.id).join(', ')}); restart it with \`iot-harness lab down\` and \`iot-harness lab up\``);
  }
  return devices.map((d) => ({
    address: d.address,
    name: d.id,
    declarationPath: d.declarationPath,
    ports: parsePorts(ownPorts(d), `--lab ${d.id}`),
    source: `--lab ${d.id}`,
  }));
}

/** A path as a shell argument: double quotes when it holds spaces or other specials (bash, cmd and PowerShell all take those). */
const arg = (path: string): string => (/^[\w@%+=:,./\\-]+$/.test(path) ? path : `"${path}"`);

/** The lab as a newcomer reads it: what runs where, and the commands to probe and stop it. */
export function describeLab(state: LabState, options: { weaknesses?: boolean } = {}): string {
  const lines = [
    `The lab is up (pid ${state.pid}, since ${state.startedAt}): ${state.devices.length} simulated devices${state.usesAliases ? '' : ', sharing 127.0.0.1 on distinct ports (no loopback aliases here)'}.`,
    '',
  ];
  const rows = deviceTable(state.devices);
  for (const [i, d] of state.devices.entries()) {
    lines.push(rows[i] ?? '');
    if (options.weaknesses) lines.push(`    ${d.title}`, ...d.weaknesses.map((w) => `      - ${w}`), '');
  }
  const dirFlag = state.dir === defaultLabDir() ? '' : ` --lab-dir ${arg(state.dir)}`;
  lines.push('', `Declarations: ${join(state.dir, 'declarations')}`, '', 'Probe every device (or any tool you like, at the addresses above):', `  iot-harness run --lab${dirFlag}`);
  const first = state.devices[0];
  if (first) {
    const ports = ` --ports ${ownPorts(first)}`;
    lines.push('Probe one device:', `  iot-harness run --lab ${first.id}${dirFlag}`, `  iot-harness run --target ${first.address} --declaration ${arg(first.declarationPath)}${ports}`);
    lines.push('All of them with a targets file:', `  iot-harness run --targets ${arg(state.targetsFile)}`);
  }
  lines.push('Stop it:', `  iot-harness lab down${state.dir === defaultLabDir() ? '' : ` --dir ${arg(state.dir)}`}`);
  return `${lines.join('\n')}\n`;
}

function lastLines(file: string, count: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-count).join('\n');
  } catch {
    return '';
  }
}

/**
 * Runs the fleet in this process until SIGINT or SIGTERM: the body of `lab serve` (the detached
 * process `lab up` starts) and of `lab up --foreground`.
 */
async function serve(dir: string, flags: FleetFlags, token: string, onReady: (state: LabState) => void): Promise<void> {
  const owner = currentOwner(token);
  // Exactly one lab per folder: of two `lab up` at once, the second stops here (exit 2).
  claimLabDir(dir, owner);
  const stopped = new Promise<NodeJS.Signals>((done) => {
    process.once('SIGTERM', done);
    process.once('SIGINT', done);
  });
  let fleet: RunningFleet | undefined;
  try {
    // A fresh set of declarations: files of an earlier lab (another mode's keys) must not linger.
    await rm(declarationsDir(dir), { recursive: true, force: true });
    fleet = await startFleet({ dir: declarationsDir(dir), ...fleetOptions(flags) });
    onReady(await writeLabState(dir, fleet, owner));
    const signal = await stopped;
    process.stdout.write(`lab: ${signal}: stopping\n`);
  } finally {
    // Both, whatever happens to the other: a lab that cannot remove its state still closes its servers.
    const results = await Promise.allSettled([Promise.resolve().then(() => releaseLabDir(dir, token, ['lab.json'])), fleet?.stop()]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) process.stderr.write(`lab: stopping: ${String(failed.reason)}\n`);
  }
  // Nothing should outlive the servers; if a stray handle does, it must not keep the lab process up.
  setTimeout(() => process.exit(0), 2000).unref();
}

function serveArgs(dir: string, flags: FleetFlags, token: string): string[] {
  const args = ['lab', 'serve', '--dir', dir, '--token', token];
  if (flags.devices !== undefined) args.push('--devices', flags.devices);
  for (const mode of DEVICE_MODES) for (const v of flags[mode] ?? []) args.push(`--${mode}`, v);
  if (!flags.aliases) args.push('--no-aliases');
  if (flags.baseAddress !== undefined) args.push('--base-address', flags.baseAddress);
  if (flags.excludePorts !== undefined) args.push('--exclude-ports', flags.excludePorts);
  return args;
}

/** Starts `lab serve` detached, waits until it has written lab.json (or died), returns the state. */
async function startDetached(dir: string, flags: FleetFlags): Promise<LabState> {
  prepareLabDir(dir);
  const token = newToken();
  const log = openSync(logPath(dir), 'w');
  const child = spawn(process.execPath, [join(packageRoot(), 'bin', 'iot-harness.js'), ...serveArgs(dir, flags, token)], {
    detached: true,
    windowsHide: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, CI: '1' },
  });
  closeSync(log);
  let exitCode: number | null | undefined;
  child.once('exit', (code) => {
    exitCode = code;
  });
  child.unref();
  const deadline = Date.now() + START_DEADLINE_MS;
  for (;;) {
    const status = readLabStatus(dir);
    if (status.up && status.state.token === token) return status.state;
    if (exitCode !== undefined) {
      const why = lastLines(logPath(dir), 5) || `it exited with code ${exitCode}`;
      // The lab process already printed a clear message for bad input (exit 2); pass it on as ours.
      const message = why.replace(/^iot-harness: /gm, '');
      throw exitCode === 2 ? new ConfigError(message) : new HarnessError('E_LAB', `lab: the lab process stopped while starting (log: ${logPath(dir)}):\n${message}`);
    }
    if (Date.now() > deadline) {
      if (child.pid !== undefined) signal(child.pid, 'SIGTERM');
      throw new HarnessError('E_LAB', `lab: the devices did not start within ${START_DEADLINE_MS / 1000} s; see ${logPath(dir)}`);
    }
    await sleep(100);
  }
}

/** Sends a signal; false when the process is already gone. */
function signal(pid: number, name: NodeJS.Signals): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

async function stopLab(state: LabState): Promise<'stopped' | 'killed'> {
  const done = (): 'stopped' => {
    // The lab removes its own state when it stops; where a signal cannot be caught (Windows), this does.
    releaseLabDir(state.dir, state.token, ['lab.json']);
    return 'stopped';
  };
  if (!signal(state.pid, 'SIGTERM')) return done();
  const deadline = Date.now() + STOP_DEADLINE_MS;
  while (Date.now() < deadline) {
    // ownerRuns, not a bare PID check: an exited lab that nobody reaped (a zombie) has stopped.
    if (!ownerRuns(state)) return done();
    await sleep(100);
  }
  if (ownerRuns(state)) signal(state.pid, 'SIGKILL');
  releaseLabDir(state.dir, state.token, ['lab.json']);
  return 'killed';
}

function fleetFlagOptions(cmd: Command): Command {
  return cmd
    .option('--dir <dir>', 'lab folder: lab.json, targets.yaml, declarations/, lab.log (default: ~/.config/iot-harness/lab)')
    .option('--devices <list>', `devices to start, comma-separated (default: all): ${LAB_DEVICES.map((d) => d.id).join(', ')}`)
    .option('--hardened <list>', 'start these devices hardened (comma-separated ids, or "all"); repeatable', collect)
    .option('--weak <list>', 'start these devices weak (comma-separated ids, or "all"); repeatable', collect)
    .option('--no-aliases', 'put every device on 127.0.0.1 on distinct ports, as on macOS and Windows')
    .option('--base-address <addr>', 'first loopback alias; each device has a fixed slot from it (default 127.0.0.11)')
    .option('--exclude-ports <list>', 'ports the lab must never bind, e.g. 8080,U:5683 (2024 never is)');
}

const DEFAULT_MODES = LAB_DEVICES.map((d) => `${d.id} ${d.defaultMode}`).join(', ');

export function addLabCommands(program: Command, setExit: (code: number) => void): void {
  const lab = program.command('lab').description('simulated devices on loopback for workshops: start them, see them, stop them');

  fleetFlagOptions(lab.command('up'))
    .description(`start the simulated devices in the background and print their addresses and ports (modes: ${DEFAULT_MODES})`)
    .option('--foreground', 'keep the lab in this terminal until Ctrl-C instead of in the background')
    .option('--json', 'print the lab state (lab.json) instead of the table')
    .action(async (flags: FleetFlags & { foreground?: boolean; json?: boolean }) => {
      const dir = resolve(flags.dir ?? defaultLabDir());
      // Flag mistakes are reported here, before a lab process is started.
      fleetOptions(flags);
      const status = readLabStatus(dir);
      if (status.up) {
        const dirFlag = flags.dir === undefined ? '' : ` --dir ${flags.dir}`;
        throw new ConfigError(`lab: already up (pid ${status.state.pid}, since ${status.state.startedAt}); run \`iot-harness lab status${dirFlag}\` to see it, or \`iot-harness lab down${dirFlag}\` first to start it differently`);
      }
      const print = (state: LabState): void => {
        process.stdout.write(flags.json ? `${JSON.stringify(state, null, 2)}\n` : describeLab(state));
      };
      if (flags.foreground) {
        await serve(dir, flags, newToken(), (state) => {
          print(state);
          if (!flags.json) process.stdout.write('\nCtrl-C stops the lab.\n');
        });
        return;
      }
      print(await startDetached(dir, flags));
    });

  fleetFlagOptions(lab.command('serve', { hidden: true }))
    .requiredOption('--token <token>', 'marks the process, so that lab down never signals a stranger')
    .action(async (flags: FleetFlags & { token: string }) => {
      await serve(resolve(flags.dir ?? defaultLabDir()), flags, flags.token, () => process.stdout.write('lab: ready\n'));
    });

  lab
    .command('status')
    .description('show the running lab: devices, modes, addresses, ports (exit 0 when up, 3 when down)')
    .option('--dir <dir>', 'lab folder (default: ~/.config/iot-harness/lab)')
    .option('--json', 'print the lab state (lab.json)')
    .option('--weaknesses', "list each device's weak points (or, hardened, its residual ones): the trainer's answer sheet")
    .action((flags: { dir?: string; json?: boolean; weaknesses?: boolean }) => {
      const status = readLabStatus(resolve(flags.dir ?? defaultLabDir()));
      if (!status.up) {
        setExit(3);
        if (flags.json) process.stdout.write(`${JSON.stringify({ up: false }, null, 2)}\n`);
        else process.stdout.write(`The lab is down${status.stale ? ` (its process ${status.stale.pid} had gone; the stale state was removed)` : ''}. Start it with \`iot-harness lab up\`.\n`);
        return;
      }
      process.stdout.write(flags.json ? `${JSON.stringify({ up: true, ...status.state }, null, 2)}\n` : describeLab(status.state, { weaknesses: flags.weaknesses === true }));
    });

  lab
    .command('down')
    .description('stop the running lab (its declarations stay in the lab folder until the next lab up)')
    .option('--dir <dir>', 'lab folder (default: ~/.config/iot-harness/lab)')
    .action(async (flags: { dir?: string }) => {
      const status = readLabStatus(resolve(flags.dir ?? defaultLabDir()));
      if (!status.up) {
        process.stdout.write('The lab is not running.\n');
        return;
      }
      const how = await stopLab(status.state);
      process.stdout.write(`The lab is down (${status.state.devices.length} devices stopped${how === 'killed' ? '; the lab process did not stop in time and was killed' : ''}).\n`);
    });
}
