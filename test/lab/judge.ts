import { expect } from 'vitest';
import { DEMO_TIMINGS } from '../../harness/demo.js';
import type { TargetReport } from '../../harness/report-schema.js';
import type { RunningDevice } from '../../lab/device.js';
import { runProbe } from '../probes/run-probe.js';

/**
 * Runs the real harness (every probe) against one lab device, on its own ports only, at the demo's
 * lab-speed settings, and returns the device's target report. The target is named after the device
 * id, the same in both modes: what `iot-harness diff` pairs.
 */
export async function judgeDevice(device: RunningDevice, outDir: string, profiles: string[] = ['etsi-en-303-645']): Promise<TargetReport> {
  const portsOf = (transport: 'tcp' | 'udp'): number[] => device.services.filter((s) => s.transport === transport).map((s) => s.port);
  const run = await runProbe({
    host: device.address,
    name: device.id,
    ports: portsOf('tcp'),
    udpPorts: portsOf('udp'),
    declarationPath: device.declarationPath,
    profiles,
    timings: DEMO_TIMINGS,
    maxLoginsPerDevice: 8,
    outDir,
  });
  expect(run.report.errors).toEqual([]);
  if (!run.target) throw new Error(`the run has no target for ${device.id}`);
  return run.target;
}
