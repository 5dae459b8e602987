import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { z } from 'zod';
import { configDir } from '../harness/signing-key.js';
import { LabError } from './errors.js';
import { type LabOwner, ownerRuns } from './lock.js';
import type { RunningFleet } from './fleet.js';

/**
 * What `lab up` leaves behind for `lab status`, `lab down`, `demo` and trainers' scripts:
 * `<dir>/lab.json` (this file's schema), `<dir>/targets.yaml` (for `iot-harness run --targets`),
 * `<dir>/declarations/` and `<dir>/lab.log`. lab.json exists exactly while the lab process runs.
 */
export const LAB_STATE_SCHEMA = 'iot-harness/lab@1';

const ServiceSchema = z.object({
  protocol: z.string(),
  transport: z.enum(['tcp', 'udp']),
  port: z.number().int(),
  standardPort: z.number().int(),
  tls: z.boolean(),
  note: z.string().optional(),
});

const StateSchema = z.object({
  schema: z.literal(LAB_STATE_SCHEMA),
  pid: z.number().int().positive(),
  /** Random per start: which lab.json (and lab.lock) belongs to which lab process. */
  token: z.string().min(8),
  /** The lab process's start time where /proc shows it (see lab/lock.ts): a reused PID is not the lab. */
  procStart: z.string().optional(),
  startedAt: z.string(),
  usesAliases: z.boolean(),
  dir: z.string(),
  targetsFile: z.string(),
  devices: z.array(
    z.object({
      id: z.string(),
      mode: z.enum(['weak', 'hardened']),
      title: z.string(),
      address: z.string(),
      services: z.array(ServiceSchema),
      weaknesses: z.array(z.string()),
      declarationPath: z.string(),
    }),
  ),
});

export type LabState = z.infer<typeof StateSchema>;
export type LabStateDevice = LabState['devices'][number];

/** Default lab folder: `<config dir>/lab` (`~/.config/iot-harness/lab`; tests move it with IOT_HARNESS_CONFIG_DIR). */
export function defaultLabDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'lab');
}

export const statePath = (dir: string): string => join(dir, 'lab.json');
export const declarationsDir = (dir: string): string => join(dir, 'declarations');
export const logPath = (dir: string): string => join(dir, 'lab.log');

export function newToken(): string {
  return randomBytes(9).toString('base64url');
}

export type LabStatus = { up: true; state: LabState } | { up: false; stale?: LabState };

/**
 * Reads `<dir>/lab.json`. A state whose process is gone (killed, machine rebooted) is reported as
 * `stale` and removed, so the next `lab up` starts clean. An unreadable file is an input error that
 * names the file and the fix.
 */
export function readLabStatus(dir: string): LabStatus {
  const file = statePath(resolve(dir));
  if (!existsSync(file)) return { up: false };
  let state: LabState;
  try {
    state = StateSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch (error) {
    throw new LabError(`${file}: not a lab state file written by this iot-harness (${error instanceof z.ZodError ? 'unexpected fields' : 'not JSON'}); if no lab is running, delete it`, {
      isInputError: true,
      cause: error,
    });
  }
  if (ownerRuns(state)) return { up: true, state };
  rmSync(file, { force: true });
  return { up: false, stale: state };
}

/** One line per device: id, mode, address and every service as `protocol transport/port`. */
export function deviceTable(devices: readonly Pick<LabStateDevice, 'id' | 'mode' | 'address' | 'services'>[]): string[] {
  const idWidth = Math.max(0, ...devices.map((d) => d.id.length));
  return devices.map((d) => `  ${d.id.padEnd(idWidth)}  ${d.mode.padEnd(8)}  ${d.address.padEnd(11)}  ${d.services.map((s) => `${s.protocol} ${s.transport}/${s.port}`).join(', ')}`);
}

/**
 * A lab device is probed on its own ports only (`ports:` in targets.yaml, `run --lab`, the demo):
 * devices sharing 127.0.0.1 would otherwise report each other's services, and on an alias a service
 * the machine itself runs on 0.0.0.0 (sshd on 22, a web server on 80, this sandbox's 2024) answers
 * too and would be reported as the device's. The devices have no other ports, so nothing of theirs
 * is missed.
 */
export function ownPorts(device: Pick<LabStateDevice, 'services'>): string {
  const tcp = device.services.filter((s) => s.transport === 'tcp').map((s) => String(s.port));
  const udp = device.services.filter((s) => s.transport === 'udp').map((s) => String(s.port));
  return [...tcp, ...(udp.length > 0 ? [`U:${udp.join(',')}`] : [])].join(',');
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text, 'utf8');
  await rename(tmp, path);
}

/**
 * Writes targets.yaml, then lab.json (last, atomically: its appearance is the "ready" signal `lab up`
 * waits for).
 */
export async function writeLabState(dir: string, fleet: RunningFleet, owner: LabOwner): Promise<LabState> {
  const targetsFile = join(dir, 'targets.yaml');
  const targets = fleet.devices.map((d) => ({
    name: d.id,
    address: d.address,
    declaration: d.declarationPath,
    ports: ownPorts(d),
  }));
  const header = `# The running iot-harness lab (${fleet.devices.length} devices). Probe it with: iot-harness run --targets ${targetsFile}\n`;
  await writeAtomically(targetsFile, header + stringify({ targets }));
  const state: LabState = {
    schema: LAB_STATE_SCHEMA,
    pid: owner.pid,
    token: owner.token,
    ...(owner.procStart === undefined ? {} : { procStart: owner.procStart }),
    startedAt: new Date().toISOString(),
    usesAliases: fleet.usesAliases,
    dir,
    targetsFile,
    devices: fleet.devices.map(({ id, mode, title, address, services, weaknesses, declarationPath }) => ({ id, mode, title, address, services, weaknesses, declarationPath })),
  };
  await writeAtomically(statePath(dir), `${JSON.stringify(state, null, 2)}\n`);
  return state;
}
