import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { blob, type EvidenceRecord, GENESIS } from '../../harness/evidence.js';
import { type Observation, REPORT_SCHEMA_ID, type Report, ReportSchema, type Service, type TargetReport } from '../../harness/report-schema.js';
import { evaluateProfile } from '../../profiles/evaluate.js';
import { loadProfile } from '../../profiles/loader.js';
import type { RunModel } from '../../reports/types.js';
import { RUN_MODELS, RUN_NOW } from '../fixtures/run-models/index.js';

/** What the weak camera's telnet banner says here: markup a report must show as text, never run. */
export const HOSTILE_BANNER = 'IPCam <script>window.__pwned = 1</script></pre><img src=x onerror="window.__pwned = 2"> login:';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'run-models');

/** Named, not listed from profiles/: a new or alternative profile (another edition) must not move the snapshot. */
const PROFILES = ['en-18031-1', 'etsi-en-303-645', 'jc-star', 'nist-ir-8425', 'sg-cls', 'uk-psti'];

function services(id: string): Service[] {
  return (JSON.parse(readFileSync(join(FIXTURES, `${id}.json`), 'utf8')) as { services: Service[] }).services;
}

/** The telnet service.open observation of the weak camera, with the hostile banner in place. */
function withHostileBanner(observations: readonly Observation[]): Observation[] {
  return observations.map((o) => (o.key === 'service.open' && o.value.port === 23 ? { ...o, value: { ...o.value, banner: HOSTILE_BANNER } } : o));
}

/**
 * Evidence records for every id the fixture observations cite: the fixtures keep observations only, so
 * the records are made up from them, deterministically (fixed times, a real hash chain), with the
 * hostile banner as what the camera's telnet port sent.
 */
function evidenceFor(targets: readonly TargetReport[]): EvidenceRecord[] {
  const made = new Map<string, { target: string; o: Observation }>();
  for (const t of targets) for (const o of t.observations) for (const e of o.evidence) if (!made.has(e)) made.set(e, { target: t.id, o });
  let prev = GENESIS;
  return [...made.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([id, { target, o }], i) => {
      const port = typeof o.value.port === 'number' ? o.value.port : undefined;
      const isBanner = o.key === 'service.open' && typeof o.value.banner === 'string';
      const body: Omit<EvidenceRecord, 'hash'> = {
        seq: i + 1,
        id,
        time: new Date(RUN_NOW.getTime() + 1000 + i).toISOString(),
        target,
        probe: o.probe,
        kind: o.key === 'scan.coverage' ? 'scan' : isBanner ? 'banner' : 'exchange',
        summary: isBanner ? `banner: ${String(o.value.banner)}` : `${o.probe}: ${o.key}${port === undefined ? '' : ` on tcp/${port}`}`,
        ...(port === undefined ? {} : { port, transport: 'tcp' as const }),
        ...(isBanner ? {} : { sent: blob(`probe ${o.key}\r\n`) }),
        received: blob(isBanner ? Buffer.concat([Buffer.from([0xff, 0xfb, 0x01]), Buffer.from(`\r\n${String(o.value.banner)}`)]) : JSON.stringify(o.value)),
        prev,
      };
      const hash = createHash('sha256').update(JSON.stringify(body)).digest('hex');
      prev = hash;
      return { ...body, hash };
    });
}

function target(id: 'weak-camera' | 'hardened-hub', address: string): TargetReport {
  const input = id === 'weak-camera' ? RUN_MODELS.weakCamera : RUN_MODELS.hardenedHub;
  const observations = id === 'weak-camera' ? withHostileBanner(input.observations) : [...input.observations];
  const evaluations = PROFILES.map((p) => evaluateProfile(loadProfile(p), { ...input, observations }));
  const declaration = input.declaration;
  return {
    id,
    address,
    ...(declaration ? { declaration: { path: `declarations/${id}.yaml`, sha256: createHash('sha256').update(id).digest('hex'), device: declaration.device as Record<string, string> } } : {}),
    services: services(id),
    observations,
    verdicts: evaluations.flatMap((e) => e.verdicts),
    labels: evaluations.map((e) => e.label),
  };
}

/** The demo's two devices judged by every built-in profile, with fixed ids and times: a snapshot input. */
export function fixedRunModel(): RunModel {
  const targets = [target('weak-camera', '127.0.0.11'), target('hardened-hub', '127.0.0.12')];
  const report: Report = ReportSchema.parse({
    schema: REPORT_SCHEMA_ID,
    run: {
      id: 'fixture-run-0001',
      startedAt: RUN_NOW.toISOString(),
      finishedAt: new Date(RUN_NOW.getTime() + 4000).toISOString(),
      harness: { version: '0.1.0' },
      profiles: PROFILES.map((id) => ({ id, version: loadProfile(id).version })),
      options: {},
    },
    targets,
    errors: [],
  } satisfies Report);
  return { report, evidence: evidenceFor(targets) };
}
