import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { EvidenceRecord } from '../../harness/evidence.js';
import type { Observation } from '../../harness/report-schema.js';
import type { Probe } from '../../probes/types.js';
import { tmp } from '../cli/helpers.js';
import { runProbe } from './run-probe.js';

/** A credential file in the plain `username:password` format. Its name is the observations' `source`. */
export function listFile(name: string, pairs: string[]): string {
  const file = join(tmp('creds-'), name);
  writeFileSync(file, `${pairs.join('\n')}\n`);
  return file;
}

/** What one login probe observed in a whole run. */
export interface Scan {
  all: Observation[];
  of(key: string): Observation[];
  evidence(id: string | undefined): EvidenceRecord;
  errors: unknown[];
}

/**
 * A whole run (discovery, then the probe) against a server-first login service, as `iot-harness run`
 * does it; discovery must identify the port as `protocol` and nothing else.
 */
export async function scanLogin(peer: { host: string; port: number }, probe: Probe, protocol: string, probeOptions: Record<string, unknown>): Promise<Scan> {
  const run = await runProbe({ host: peer.host, ports: [peer.port], probes: [probe], timings: { bannerMs: 1500 }, probeOptions });
  expect(run.target?.services).toEqual([{ port: peer.port, transport: 'tcp', protocol, tls: false }]);
  const all = run.observations.filter((o) => o.probe === probe.meta.id);
  return { all, of: (key) => all.filter((o) => o.key === key), evidence: run.record, errors: run.report.errors };
}
