import { createHash } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TargetReport, VerdictRecord } from '../harness/report-schema.js';
import type { ReportWriter, RunModel } from './types.js';

/** What `$schema` names: the SARIF 2.1.0 schema as code-scanning UIs (GitHub) expect to see it. */
export const SARIF_SCHEMA_URI = 'https://json.schemastore.org/sarif-2.1.0.json';

/** `ruleId` of a provision: the scheme and the provision id as the standard numbers it. */
export function ruleId(v: Pick<VerdictRecord, 'scheme' | 'provision'>): string {
  return `${v.scheme}/${v.provision}`;
}

/** A rule's `name`: an identifier from the title, as SARIF wants ("NoUniversalDefaultPasswords"). */
function ruleName(title: string): string {
  const name = title
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
  return name || 'Provision';
}

/** A service as a result's location says it: `telnet on tcp/23`. */
interface ServiceRef {
  port: number;
  transport: string;
  protocol: string;
}

/**
 * The services a verdict is about, from the observations behind it (their `port`); a verdict that
 * rests on no service (a declaration, a device-wide fact) is about the device itself.
 */
function servicesOf(t: TargetReport, v: VerdictRecord): ServiceRef[] {
  const byId = new Map(t.observations.map((o) => [o.id, o]));
  const seen = new Map<string, ServiceRef>();
  for (const id of v.observations) {
    const value = byId.get(id)?.value;
    if (!value || typeof value.port !== 'number') continue;
    const transport = value.transport === 'udp' ? 'udp' : 'tcp';
    const known = t.services.find((s) => s.port === value.port && s.transport === transport);
    const protocol = typeof value.protocol === 'string' ? value.protocol : (known?.protocol ?? 'service');
    seen.set(`${transport}/${value.port}`, { port: value.port, transport, protocol });
  }
  return [...seen.values()].sort((a, b) => a.port - b.port || a.transport.localeCompare(b.transport));
}

function locations(t: TargetReport, v: VerdictRecord): unknown[] {
  const services = servicesOf(t, v);
  const logical = services.length
    ? services.map((s) => ({ name: `${s.protocol} on ${s.transport}/${s.port}`, fullyQualifiedName: `${t.id}/${s.protocol} on ${s.transport}/${s.port}`, kind: 'service' }))
    : [{ name: t.id, fullyQualifiedName: t.id, kind: 'device' }];
  // There is no source file: the finding lives on a device. The logical location names it; the
  // physical one points at the record in the run folder, for UIs that insist on a file.
  return logical.map((l) => ({ physicalLocation: { artifactLocation: { uri: 'report.json' } }, logicalLocations: [l] }));
}

const REPORTED = new Set(['FAIL', 'INCONCLUSIVE']);

/** How many distinct rationales a rule's help quotes. */
const HELP_RATIONALES = 5;

/**
 * SARIF 2.1.0 for code-scanning UIs: one run, `iot-harness` as the driver, a rule per (scheme,
 * provision) with a FAIL or INCONCLUSIVE verdict somewhere in the run, a result per such verdict
 * (FAIL `error`, INCONCLUSIVE `warning`) whose message is the rationale and whose location is the
 * device or service. PASS, NOT_APPLICABLE and NOT_ASSESSED are not results: nothing to fix.
 */
export function renderSarif(run: RunModel): object {
  const { report } = run;
  const reported = report.targets.flatMap((t) => t.verdicts.filter((v) => REPORTED.has(v.verdict)).map((v) => ({ t, v })));
  const ruleIds = [...new Set(reported.map(({ v }) => ruleId(v)))];
  const rules = ruleIds.map((id) => {
    const mine = reported.filter(({ v }) => ruleId(v) === id);
    const first = mine[0]?.v as VerdictRecord;
    const rationales = [...new Set(mine.map(({ v }) => v.rationale))];
    const quoted = rationales.slice(0, HELP_RATIONALES);
    const more = rationales.length > quoted.length ? ` (${rationales.length - quoted.length} more)` : '';
    const lead = `${first.scheme} ${first.provision}: ${first.title}. iot-harness reports FAIL (error) when what it observed on a device contradicts the provision, INCONCLUSIVE (warning) when it could not decide; each result's message is the rationale for that device.`;
    return {
      id,
      name: ruleName(first.title),
      shortDescription: { text: first.title },
      fullDescription: { text: `${first.scheme} provision ${first.provision}: ${first.title}.` },
      help: {
        text: `${lead} Rationales in this run: ${quoted.join(' | ')}${more}`,
        markdown: `${lead}\n\nRationales in this run:\n\n${quoted.map((r) => `- ${r.replace(/\s+/g, ' ')}`).join('\n')}${more ? `\n- ...${more}` : ''}`,
      },
      defaultConfiguration: { level: mine.some(({ v }) => v.verdict === 'FAIL') ? 'error' : 'warning' },
      properties: { scheme: first.scheme, provision: first.provision, basis: first.basis, tags: ['security', 'iot', first.scheme] },
    };
  });
  const results = reported.map(({ t, v }) => ({
    ruleId: ruleId(v),
    ruleIndex: ruleIds.indexOf(ruleId(v)),
    level: v.verdict === 'FAIL' ? 'error' : 'warning',
    message: { text: v.rationale || `${v.verdict} for ${v.scheme} ${v.provision}` },
    locations: locations(t, v),
    // Stable across runs of the same device: code-scanning UIs track an alert by it.
    partialFingerprints: { 'iotHarnessFinding/v1': createHash('sha256').update(`${t.id}\n${v.scheme}\n${v.provision}`).digest('hex') },
    properties: { target: t.id, address: t.address, scheme: v.scheme, provision: v.provision, verdict: v.verdict, basis: v.basis, observations: v.observations, evidence: v.evidence },
  }));
  const semver = /^\d+\.\d+\.\d+(?:[-+].*)?$/.test(report.run.harness.version);
  return {
    $schema: SARIF_SCHEMA_URI,
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'iot-harness', version: report.run.harness.version, ...(semver ? { semanticVersion: report.run.harness.version } : {}), rules } },
        automationDetails: { id: `iot-harness/${report.run.id}` },
        invocations: [
          {
            executionSuccessful: report.errors.length === 0,
            startTimeUtc: report.run.startedAt,
            endTimeUtc: report.run.finishedAt,
            ...(report.errors.length
              ? { toolExecutionNotifications: report.errors.map((e) => ({ level: 'error', message: { text: e.message }, descriptor: { id: e.code }, properties: { ...(e.target ? { target: e.target } : {}), ...(e.probe ? { probe: e.probe } : {}) } })) }
              : {}),
          },
        ],
        results,
        properties: { runId: report.run.id, profiles: report.run.profiles, targets: report.targets.map((t) => ({ id: t.id, address: t.address })) },
      },
    ],
  };
}

export const sarifWriter: ReportWriter = {
  id: 'sarif',
  description: 'SARIF 2.1.0 (report.sarif) for code-scanning UIs: a result per FAIL and INCONCLUSIVE',
  async write(run, outDir) {
    const path = join(outDir, 'report.sarif');
    await writeFile(`${path}.tmp`, `${JSON.stringify(renderSarif(run), null, 2)}\n`);
    await rename(`${path}.tmp`, path);
    return ['report.sarif'];
  },
};
