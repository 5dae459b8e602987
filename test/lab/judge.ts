import { expect } from 'vitest';
import { DEMO_TIMINGS } from '../../harness/demo.js';
import type { TargetReport } from '../../harness/report-schema.js';
import { runHarness } from '../../harness/run.js';
import type { RunningDevice } from '../../lab/device.js';

/**
 * Runs the real harness against one lab device, on its own ports only, at the demo's lab-speed
 * settings, and returns the device's target report. The target is named after the device id, the
 * same in both modes: what `iot-harness diff` pairs.
 */
export async function judgeDevice(device: RunningDevice, outDir: string, profiles: string[] = ['etsi-en-303-645']): Promise<TargetReport> {
  const ports = { tcp: device.services.filter((s) => s.transport === 'tcp').map((s) => s.port), udp: device.services.filter((s) => s.transport === 'udp').map((s) => s.port) };
  const outcome = await runHarness({
    targets: [{ address: device.address, name: device.id, declarationPath: device.declarationPath, ports, source: `lab device ${device.id} (${device.mode})` }],
    profiles,
    ports,
    excludePorts: { tcp: [], udp: [] },
    concurrency: 1,
    scanner: 'builtin',
    timings: DEMO_TIMINGS,
    probeOptions: { delayMs: 0 },
    maxLoginsPerDevice: 8,
    outDir,
  });
  expect(outcome.report.errors).toEqual([]);
  const target = outcome.report.targets[0];
  if (!target) throw new Error(`the run has no target for ${device.id}`);
  return target;
}
