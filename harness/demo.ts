import { existsSync, readdirSync } from 'node:fs';
import { cp } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { startFleet } from '../lab/fleet.js';
import { declarationsDir, defaultLabDir, deviceTable, type LabStateDevice, ownPorts, readLabStatus } from '../lab/state.js';
import { ConfigError } from './errors.js';
import type { IdentifyTimings } from './discovery/identify.js';
import { defaultPorts, parsePorts, type PortSet } from './ports.js';
import { newRunId, type ProgressEvent, type RunOutcome, runHarness } from './run.js';
import type { TargetRequest } from './targets.js';

export interface DemoOptions {
  outDir?: string;
  excludePorts: PortSet;
  onProgress?: (event: ProgressEvent) => void;
  /** PKCS#8 PEM ed25519 key that signs manifest.json; default: the user's own. */
  signingKey?: string;
  /** Where the demo says what it started. */
  log: (line: string) => void;
  /** The lab folder to look for a running lab in (`lab up --dir`). Default: ~/.config/iot-harness/lab. */
  labDir?: string;
}

type DemoDevice = Pick<LabStateDevice, 'id' | 'mode' | 'address' | 'services' | 'declarationPath'>;

function targetsFor(devices: readonly DemoDevice[]): TargetRequest[] {
  // Each device on its own ports only: see ownPorts for why.
  return devices.map((d) => ({ address: d.address, name: d.id, declarationPath: d.declarationPath, ports: parsePorts(ownPorts(d), `lab device ${d.id}`), source: `lab device ${d.id}` }));
}


/** Loopback answers in microseconds: shorter waits keep the demo quick without changing what it finds. */
export const DEMO_TIMINGS: IdentifyTimings = { connectMs: 1000, bannerMs: 500, probeMs: 1000 };

/**
 * Start the simulated devices, run every built-in profile against them with the built-in scanner (no
 * Debian peer needed), and stop them again, whatever happens in between.
 */
export async function runDemo(options: DemoOptions): Promise<RunOutcome> {
  const runId = newRunId();
  const outDir = resolve(options.outDir ?? join('runs', runId));
  if (existsSync(outDir) && readdirSync(outDir).length > 0) {
    throw new ConfigError(`--out ${outDir}: the folder already holds files; give a new or empty folder (nothing was overwritten)`);
  }
  // Declarations live in the run folder, so the report's declaration paths stay valid after the demo.
  const declarations = join(outDir, 'declarations');
  const lab = readLabStatus(options.labDir ?? defaultLabDir());
  if (!lab.up && options.labDir !== undefined) {
    throw new ConfigError(`--lab-dir ${options.labDir}: no lab is running there; start one with \`iot-harness lab up --dir ${options.labDir}\`, or leave --lab-dir out and the demo starts its own devices`);
  }
  let targets: TargetRequest[];
  let stop = (): Promise<void> => Promise.resolve();
  if (lab.up) {
    // `lab up` is running: the demo probes that fleet (in the modes it was started with) rather than a second one.
    const { state } = lab;
    await cp(declarationsDir(state.dir), declarations, { recursive: true });
    const devices = state.devices.map((d) => ({ ...d, declarationPath: join(declarations, relative(declarationsDir(state.dir), d.declarationPath)) }));
    options.log(`Using the running lab (pid ${state.pid}, ${devices.length} devices; \`iot-harness lab down\` stops it):`);
    for (const line of deviceTable(devices)) options.log(line);
    targets = targetsFor(devices);
  } else {
    const fleet = await startFleet({ dir: declarations, excludePorts: [...new Set([...options.excludePorts.tcp, ...options.excludePorts.udp])] });
    stop = () => fleet.stop();
    options.log(`Started ${fleet.devices.length} simulated devices${fleet.usesAliases ? '' : ' (no loopback aliases here: they share 127.0.0.1 on distinct ports)'}:`);
    for (const line of deviceTable(fleet.devices)) options.log(line);
    targets = targetsFor(fleet.devices);
  }
  try {
    return await runHarness({
      targets,
      profiles: [],
      ports: defaultPorts(),
      excludePorts: options.excludePorts,
      concurrency: targets.length,
      scanner: 'builtin',
      timings: DEMO_TIMINGS,
      // The devices are the demo's own servers on loopback: the --fast login settings are safe here.
      probeOptions: { delayMs: 0 },
      maxLoginsPerDevice: 8,
      outDir,
      outDirMayHold: ['declarations'],
      runId,
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
      ...(options.signingKey === undefined ? {} : { signingKey: options.signingKey }),
    });
  } finally {
    await stop();
  }
}
