import { createHash } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EvidenceRecord } from '../harness/evidence.js';
import type { Observation, TargetReport, Verdict, VerdictRecord } from '../harness/report-schema.js';
import type { ReportWriter, RunModel } from './types.js';

/** The OSCAL release the document follows: the one whose schema is shipped in reports/schemas/. */
export const OSCAL_VERSION = '1.2.1';

/** `ns` of the properties iot-harness adds (verdict, basis, ...): they are ours, not NIST's. */
export const OSCAL_NS = 'urn:iot-harness:oscal';

/** UUIDv5 namespace of iot-harness (random once, fixed forever). */
const UUID_NAMESPACE = '98803731-62c9-4832-b19f-0d712f5258d6';

/**
 * RFC 4122 version-5 UUID of a name. Every UUID in the document is one, named after the run id and
 * what it identifies: rendering the same run again gives the same document, byte for byte.
 */
export function uuidV5(name: string, namespace = UUID_NAMESPACE): string {
  const b = createHash('sha1').update(Buffer.from(namespace.replace(/-/g, ''), 'hex')).update(name, 'utf8').digest().subarray(0, 16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x50;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * An OSCAL token (an XML NCName: a letter or `_`, then letters, digits, `.`, `-`, `_`) for a
 * provision: `etsi-en-303-645_5.1-1`, `nist-ir-8425_Asset_Identification`. The provision id as the
 * standard writes it stays in the finding's props.
 */
export function controlId(v: Pick<VerdictRecord, 'scheme' | 'provision'>): string {
  const t = `${v.scheme}_${v.provision}`.replace(/[^\p{L}\p{N}._-]/gu, '_');
  return /^[\p{L}_]/u.test(t) ? t : `_${t}`;
}

/** Markdown (OSCAL markup) that shows the text as it is: device words are never markup here. */
function md(text: string): string {
  return text.replace(/[\\`*_[\]<>|~&#!]/g, (c) => `\\${c}`);
}

/** One line of markup (OSCAL markup-line allows no line break). */
function mdLine(text: string): string {
  return md(text.replace(/\s+/g, ' ').trim()) || '-';
}

/** OSCAL string: non-empty, no line break, no leading or trailing whitespace. */
function str(text: string): string {
  return text.replace(/\s+/g, ' ').trim() || '-';
}

function prop(name: string, value: string): { name: string; ns: string; value: string } {
  return { name, ns: OSCAL_NS, value: str(value) };
}

/** A fenced code block longer than any backtick run inside it. */
function codeBlock(text: string, lang: string): string {
  const fence = '`'.repeat(Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length)) + 1);
  return `${fence}${lang}\n${text}\n${fence}`;
}

/** OSCAL's date-time: RFC 3339 with a zone. Run model times are; anything else falls back. */
function dateTime(value: string | undefined, fallback: string): string {
  return value && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value) ? value : fallback;
}

/**
 * A verdict as an objective status. Satisfied is what a label counts as met (PASS, NOT_APPLICABLE);
 * FAIL, INCONCLUSIVE and NOT_ASSESSED are not satisfied, with `reason` telling a failure from an open
 * question, and the iot-harness verdict itself in the finding's props.
 */
const STATUS: Record<Verdict, { state: 'satisfied' | 'not-satisfied'; reason: 'pass' | 'fail' | 'other' }> = {
  PASS: { state: 'satisfied', reason: 'pass' },
  NOT_APPLICABLE: { state: 'satisfied', reason: 'other' },
  FAIL: { state: 'not-satisfied', reason: 'fail' },
  INCONCLUSIVE: { state: 'not-satisfied', reason: 'other' },
  NOT_ASSESSED: { state: 'not-satisfied', reason: 'other' },
};

/**
 * NIST OSCAL assessment-results from the run model: the run is one result; the devices are its local
 * components (with their services as protocols), iot-harness the assessment platform; every probe
 * observation an OSCAL observation (method TEST, or EXAMINE for what a declaration says) whose
 * subject is the device and whose evidence points into evidence.jsonl; every verdict a finding on
 * the provision's objective, satisfied or not; the provisions judged are the reviewed controls. The
 * import-ap points at a back-matter resource: the plan is the profiles the run used.
 */
export function renderOscal(run: RunModel): object {
  const { report } = run;
  const runId = report.run.id;
  const uuid = (what: string): string => uuidV5(`${runId}/${what}`);
  const start = report.run.startedAt;
  const end = dateTime(report.run.finishedAt, start);
  const evidence = new Map<string, EvidenceRecord>(run.evidence.map((e) => [e.id, e]));
  const toolUuid = uuid('component/iot-harness');
  const origins = [{ actors: [{ type: 'tool', 'actor-uuid': toolUuid }] }];
  const profiles = report.run.profiles.map((p) => `${p.id} ${p.version}`).join(', ') || 'none';

  const deviceUuid = (t: TargetReport): string => uuid(`component/device/${t.id}`);
  const observationUuid = (t: TargetReport, o: Observation): string => uuid(`observation/${t.id}/${o.id}`);
  const concluding = (t: TargetReport): Set<string> => new Set(t.verdicts.filter((v) => v.verdict === 'FAIL' || v.verdict === 'INCONCLUSIVE').flatMap((v) => v.observations));

  const components = report.targets.map((t) => {
    const device = t.declaration?.device ? Object.entries(t.declaration.device).map(([k, v]) => `${k} ${v}`).join(', ') : '';
    return {
      uuid: deviceUuid(t),
      type: 'hardware',
      title: mdLine(t.id),
      description: md(`Device under test ${t.id} at ${t.address}${device ? ` (${device})` : ''}${t.declaration ? `, declaration ${t.declaration.path} sha256 ${t.declaration.sha256}` : ', no declaration'}.`),
      props: [prop('address', t.address), ...(t.declaration ? [prop('declaration-sha256', t.declaration.sha256)] : [])],
      status: { state: 'operational' },
      ...(t.services.length
        ? {
            protocols: t.services.map((s) => ({
              uuid: uuid(`protocol/${t.id}/${s.transport}/${s.port}`),
              name: str(s.protocol),
              title: mdLine(`${s.protocol} on ${s.transport}/${s.port}${s.tls ? ' (TLS)' : ''}`),
              'port-ranges': [{ start: s.port, end: s.port, transport: s.transport === 'udp' ? 'UDP' : 'TCP' }],
            })),
          }
        : {}),
    };
  });

  const observations = report.targets.flatMap((t) => {
    const concludes = concluding(t);
    return t.observations.map((o) => {
      const records = o.evidence.map((id) => evidence.get(id));
      const port = typeof o.value.port === 'number' ? ` ${o.value.transport === 'udp' ? 'udp' : 'tcp'}/${o.value.port}` : '';
      return {
        uuid: observationUuid(t, o),
        title: mdLine(`${o.key}${port} on ${t.id}`),
        description: `${md(`${o.key} observed by ${o.probe} on ${t.id} (${o.id}):`)}\n\n${codeBlock(JSON.stringify(o.value, null, 2), 'json')}`,
        props: [prop('observation-id', o.id), prop('observation-key', o.key), prop('probe', o.probe)],
        methods: [o.probe === 'declaration' ? 'EXAMINE' : 'TEST'],
        types: concludes.has(o.id) ? ['discovery', 'finding'] : ['discovery'],
        origins,
        subjects: [{ 'subject-uuid': deviceUuid(t), type: 'component', title: mdLine(t.id) }],
        ...(o.evidence.length
          ? {
              'relevant-evidence': o.evidence.map((id, i) => ({
                href: `evidence.jsonl#${encodeURIComponent(id)}`,
                description: md(records[i] ? `${id}: ${records[i].summary}` : `${id} in evidence.jsonl`),
              })),
            }
          : {}),
        collected: dateTime(records.find((r) => r)?.time, start),
      };
    });
  });

  const findings = report.targets.flatMap((t) => {
    const known = new Set(t.observations.map((o) => o.id));
    return t.verdicts.map((v) => {
      const related = v.observations.filter((id) => known.has(id));
      return {
        uuid: uuid(`finding/${t.id}/${v.scheme}/${v.provision}`),
        title: mdLine(`${t.id}: ${v.scheme} ${v.provision} ${v.title}`),
        description: md(v.rationale || `${v.verdict} for ${v.scheme} ${v.provision}.`),
        props: [prop('target', t.id), prop('scheme', v.scheme), prop('provision', v.provision), prop('verdict', v.verdict), prop('basis', v.basis)],
        origins,
        target: {
          type: 'objective-id',
          'target-id': controlId(v),
          title: mdLine(`${v.scheme} ${v.provision} ${v.title}`),
          status: { ...STATUS[v.verdict], remarks: md(`iot-harness verdict ${v.verdict} (${v.basis}).`) },
          ...(v.verdict === 'NOT_APPLICABLE' ? { 'implementation-status': { state: 'not-applicable' } } : {}),
        },
        ...(related.length ? { 'related-observations': related.map((id) => ({ 'observation-uuid': uuid(`observation/${t.id}/${id}`) })) } : {}),
        ...(v.evidence.length ? { remarks: md(`Evidence in evidence.jsonl: ${v.evidence.join(', ')}.`) } : {}),
      };
    });
  });

  const schemes = [...new Set(report.targets.flatMap((t) => t.verdicts.map((v) => v.scheme)))];
  const selections = schemes.map((scheme) => {
    const verdicts = report.targets.flatMap((t) => t.verdicts.filter((v) => v.scheme === scheme));
    return {
      description: md(`The ${scheme} provisions the run judged.`),
      'include-controls': [...new Set(verdicts.map(controlId))].map((c) => ({ 'control-id': c })),
    };
  });

  const planUuid = uuid('resource/assessment-plan');
  const version = report.run.harness.version;
  return {
    'assessment-results': {
      uuid: uuid('assessment-results'),
      metadata: {
        title: mdLine(`iot-harness assessment results, run ${runId}`),
        published: end,
        'last-modified': end,
        version: str(runId),
        'oscal-version': OSCAL_VERSION,
        props: [prop('harness-version', version), ...report.run.profiles.map((p) => prop('profile', `${p.id} ${p.version}`))],
      },
      'import-ap': {
        href: `#${planUuid}`,
        remarks: md('iot-harness keeps no separate assessment plan: the plan is the profiles the run used, named in the back-matter resource this points to.'),
      },
      results: [
        {
          uuid: uuid('result'),
          title: mdLine(`iot-harness run ${runId}`),
          description: md(`Network probes of ${report.targets.length} device(s) by iot-harness ${version}, judged against the profiles ${profiles}.${report.errors.length ? ` The run had ${report.errors.length} harness error(s): ${report.errors.map((e) => `${e.code}: ${e.message}`).join('; ')}` : ''}`),
          start,
          end,
          'local-definitions': {
            ...(components.length ? { components } : {}),
            'assessment-assets': {
              components: [
                {
                  uuid: toolUuid,
                  type: 'software',
                  title: 'iot-harness',
                  description: md('Conformance test harness for IoT devices: network probes whose observations are judged against baseline standards.'),
                  props: [prop('version', version)],
                  status: { state: 'operational' },
                },
              ],
              'assessment-platforms': [{ uuid: uuid('assessment-platform'), title: mdLine(`iot-harness ${version}`), 'uses-components': [{ 'component-uuid': toolUuid }] }],
            },
          },
          'reviewed-controls': {
            description: md(`Provisions of the profiles ${profiles}, one control per provision; a control id is the scheme id and the provision id.`),
            'control-selections': selections.length ? selections : [{ description: 'No provision was judged.', 'include-all': {} }],
          },
          ...(observations.length ? { observations } : {}),
          ...(findings.length ? { findings } : {}),
        },
      ],
      'back-matter': {
        resources: [
          {
            uuid: planUuid,
            title: mdLine('iot-harness assessment plan: the profiles run'),
            description: md(`Profiles: ${profiles}.`),
            ...(report.run.profiles.length ? { props: report.run.profiles.map((p) => prop('profile', `${p.id} ${p.version}`)) } : {}),
          },
          { uuid: uuid('resource/report.json'), title: 'report.json', description: md('The canonical run model this document is rendered from.'), rlinks: [{ href: 'report.json', 'media-type': 'application/json' }] },
          { uuid: uuid('resource/evidence.jsonl'), title: 'evidence.jsonl', description: md('The hash-chained evidence records observations cite.'), rlinks: [{ href: 'evidence.jsonl', 'media-type': 'application/jsonl' }] },
        ],
      },
    },
  };
}

export const oscalWriter: ReportWriter = {
  id: 'oscal',
  description: `NIST OSCAL ${OSCAL_VERSION} assessment-results (oscal-assessment-results.json): a finding per provision verdict`,
  async write(run, outDir) {
    const path = join(outDir, 'oscal-assessment-results.json');
    await writeFile(`${path}.tmp`, `${JSON.stringify(renderOscal(run), null, 2)}\n`);
    await rename(`${path}.tmp`, path);
    return ['oscal-assessment-results.json'];
  },
};
