import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { aliasRange, DEFAULT_BASE_ADDRESS, supportsLoopbackAliases } from './addresses.js';
import { DEVICE_MODES, type DeviceDefinition, type DeviceMode, type RunningDevice } from './device.js';
import { camera } from './devices/camera.js';
import { hub } from './devices/hub.js';
import { plug } from './devices/plug.js';
import { router } from './devices/router.js';
import { sensor } from './devices/sensor.js';
import { LabError } from './errors.js';

export type { DeviceMode, LabService, RunningDevice } from './device.js';

/**
 * Every device kind, in start order. The position is also the device's address slot: with aliases
 * the camera is always base+0 (127.0.0.11), the plug base+1, and so on, whichever devices start, so
 * a workshop handout's addresses stay true.
 */
const DEFINITIONS: readonly DeviceDefinition[] = [camera, plug, hub, sensor, router];

/** The devices `startFleet` can start, for `lab` listings and `--devices` validation. */
export const LAB_DEVICES: readonly { id: string; defaultMode: DeviceMode }[] = DEFINITIONS.map(({ id, defaultMode }) => ({ id, defaultMode }));

/** The running lab: its devices and where their declarations are. */
export interface RunningFleet {
  devices: RunningDevice[];
  /** True when each device has its own 127.0.0.x address; false when all share 127.0.0.1. */
  usesAliases: boolean;
  /** The folder holding each device's `<id>.yaml` declaration and the files it references. */
  dir: string;
  /** Stops every device; removes `dir` too when startFleet created it. */
  stop(): Promise<void>;
}

export interface FleetOptions {
  /** Device ids to start (see LAB_DEVICES). Default: all. */
  devices?: string[];
  /** Where to write declarations. Default: a fresh temporary folder, removed by stop(). */
  dir?: string;
  /** One 127.0.0.x address per device. Default: when the OS supports it. `true` fails where it does not. */
  useAliases?: boolean;
  /** Ports never to bind (the user's `--exclude-ports`); 2024 is always excluded. */
  excludePorts?: number[];
  /** First alias address; each device kind has a fixed slot from it (LAB_DEVICES order). Default: 127.0.0.11. */
  baseAddress?: string;
  /** Mode per device id, overriding the device's default (camera weak, hub hardened, ...). */
  modes?: Readonly<Record<string, DeviceMode>>;
}

function checkModes(modes: Readonly<Record<string, DeviceMode>>): void {
  const known = LAB_DEVICES.map((d) => d.id).join(', ');
  for (const [id, mode] of Object.entries(modes)) {
    if (!DEFINITIONS.some((d) => d.id === id)) throw new LabError(`lab: unknown device "${id}"; the lab has ${known}`, { isInputError: true });
    if (!DEVICE_MODES.includes(mode)) throw new LabError(`lab: mode "${String(mode)}" for ${id} is not one of ${DEVICE_MODES.join(', ')}`, { isInputError: true });
  }
}

function pickDefinitions(ids: readonly string[] | undefined): DeviceDefinition[] {
  if (ids === undefined) return [...DEFINITIONS];
  const known = LAB_DEVICES.map((d) => d.id).join(', ');
  for (const id of ids) {
    if (!DEFINITIONS.some((d) => d.id === id)) throw new LabError(`lab: unknown device "${id}"; the lab has ${known}`, { isInputError: true });
  }
  // Always in start order, whatever order the user listed them in.
  const picked = DEFINITIONS.filter((d) => ids.includes(d.id));
  if (picked.length === 0) throw new LabError(`lab: no device selected; pick from ${known}`, { isInputError: true });
  return picked;
}

async function stopAll(devices: readonly RunningDevice[]): Promise<void> {
  const results = await Promise.allSettled(devices.map((d) => d.stop()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw new LabError('lab: a device did not stop cleanly', { cause: failed.reason });
}

/**
 * Starts the simulated devices on loopback and writes their declarations. Devices start one after
 * the other, so that devices sharing 127.0.0.1 take distinct ports deterministically (the first
 * gets the standard port, the next the mapped one).
 */
export async function startFleet(options: FleetOptions = {}): Promise<RunningFleet> {
  const definitions = pickDefinitions(options.devices);
  checkModes(options.modes ?? {});
  for (const port of options.excludePorts ?? []) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new LabError(`lab: excluded port ${port} is not a port number (1-65535)`, { isInputError: true });
  }
  const aliasesAvailable = await supportsLoopbackAliases();
  if (options.useAliases === true && !aliasesAvailable) {
    throw new LabError('lab: loopback aliases (127.0.0.2 and up) do not exist on this machine; run without useAliases, and devices share 127.0.0.1', { isInputError: true });
  }
  const usesAliases = options.useAliases ?? aliasesAvailable;
  const slots = aliasRange(options.baseAddress ?? DEFAULT_BASE_ADDRESS, DEFINITIONS.length);
  const addressOf = (definition: DeviceDefinition): string => (usesAliases ? (slots[DEFINITIONS.indexOf(definition)] ?? '127.0.0.1') : '127.0.0.1');

  const ownsDir = options.dir === undefined;
  const dir = ownsDir ? await mkdtemp(join(tmpdir(), 'iot-harness-lab-')) : resolve(options.dir ?? '.');
  if (!ownsDir) await mkdir(dir, { recursive: true });
  const removeDir = (): Promise<void> => (ownsDir ? rm(dir, { recursive: true, force: true }) : Promise.resolve());

  const devices: RunningDevice[] = [];
  try {
    for (const definition of definitions) {
      const mode = options.modes?.[definition.id] ?? definition.defaultMode;
      devices.push(await definition.start({ address: addressOf(definition), dir, excludePorts: options.excludePorts ?? [], mode }));
    }
  } catch (error) {
    // Leave nothing listening behind a failed start, and lose neither error if that fails too.
    const [cleanup] = await Promise.allSettled([stopAll(devices).finally(removeDir)]);
    if (cleanup?.status === 'rejected') {
      throw new AggregateError([error, cleanup.reason], 'lab: a device failed to start, and stopping the others failed too');
    }
    throw error;
  }

  let stopping: Promise<void> | undefined;
  return {
    devices,
    usesAliases,
    dir,
    stop() {
      stopping ??= stopAll(devices).finally(removeDir);
      return stopping;
    },
  };
}
