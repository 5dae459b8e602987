import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { controlId, OSCAL_VERSION, oscalWriter, renderOscal, uuidV5 } from '../../reports/oscal.js';
import type { RunModel } from '../../reports/types.js';
import { fixedRunModel } from './fixed-run-model.js';

// ajv-formats is CommonJS with a default export: under NodeNext the default import is the module.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

const SCHEMA = join(import.meta.dirname, '..', '..', 'reports', 'schemas', 'oscal_assessment-results_schema.json');

/** The shipped schema, unedited: the hash README.md records. */
const SCHEMA_SHA256 = 'd8faf5a7510d66c911c5f88e6875d52e7e8223fb58b2283f1f095366369296f9';

function validator(): ValidateFunction {
  // Strict: the OSCAL schema compiles cleanly. Its \p{L} token patterns need Ajv's default `u` flag.
  const ajv = new Ajv({ allErrors: true, strict: true });
  addFormats(ajv);
  return ajv.compile(JSON.parse(readFileSync(SCHEMA, 'utf8')) as object);
}

interface Prop {
  name: string;
  value: string;
}
interface Finding {
  uuid: string;
  title: string;
  description: string;
  props: Prop[];
  target: { type: string; 'target-id': string; status: { state: string; reason?: string } };
  'related-observations'?: { 'observation-uuid': string }[];
}
interface Observation {
  uuid: string;
  methods: string[];
  types: string[];
  props: Prop[];
  subjects: { 'subject-uuid': string; type: string; title: string }[];
  'relevant-evidence'?: { href: string; description: string }[];
  collected: string;
}
interface Doc {
  'assessment-results': {
    uuid: string;
    metadata: { 'oscal-version': string; 'last-modified': string };
    'import-ap': { href: string };
    results: {
      start: string;
      end: string;
      'local-definitions': { components: { uuid: string; title: string; protocols?: { 'port-ranges': { start: number; transport: string }[] }[] }[] };
      'reviewed-controls': { 'control-selections': { 'include-controls': { 'control-id': string }[] }[] };
      observations: Observation[];
      findings: Finding[];
    }[];
    'back-matter': { resources: { uuid: string }[] };
  };
}

const run = fixedRunModel();
const validate = validator();
const doc = JSON.parse(JSON.stringify(renderOscal(run))) as Doc;
const ar = doc['assessment-results'];
const result = ar.results[0];

function check(d: unknown): void {
  const valid = validate(d);
  expect(valid, JSON.stringify(validate.errors?.slice(0, 10), null, 2)).toBe(true);
}

const prop = (props: readonly Prop[], name: string): string | undefined => props.find((p) => p.name === name)?.value;

describe('oscal writer', () => {
  it('ships the official OSCAL assessment-results schema unedited', () => {
    const text = readFileSync(SCHEMA, 'utf8');
    expect(createHash('sha256').update(text).digest('hex')).toBe(SCHEMA_SHA256);
    const schema = JSON.parse(text) as { $schema: string; $id: string };
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.$id).toBe(`http://csrc.nist.gov/ns/oscal/${OSCAL_VERSION}/oscal-ar-schema.json`);
  });

  it('validates against the schema, and the schema does reject a broken document', () => {
    check(doc);
    expect(ar.metadata['oscal-version']).toBe(OSCAL_VERSION);
    const broken = structuredClone(doc);
    const f = broken['assessment-results'].results[0]?.findings[0];
    if (f) f.target.status.state = 'maybe';
    expect(validate(broken)).toBe(false);
    const noUuid = structuredClone(doc) as unknown as { 'assessment-results': { uuid: string } };
    noUuid['assessment-results'].uuid = 'not-a-uuid';
    expect(validate(noUuid)).toBe(false);
  });

  it('has a finding per verdict and an observation per observation, all cross-references resolving', () => {
    const verdicts = run.report.targets.flatMap((t) => t.verdicts);
    const observations = run.report.targets.flatMap((t) => t.observations);
    expect(result?.findings).toHaveLength(verdicts.length);
    expect(result?.observations).toHaveLength(observations.length);
    const observationUuids = new Set(result?.observations.map((o) => o.uuid));
    for (const f of result?.findings ?? []) for (const r of f['related-observations'] ?? []) expect(observationUuids.has(r['observation-uuid'])).toBe(true);
    const components = new Map(result?.['local-definitions'].components.map((c) => [c.uuid, c.title]));
    expect([...components.values()].sort()).toEqual(run.report.targets.map((t) => t.id).sort());
    for (const o of result?.observations ?? []) {
      // Probed facts are tests; what a declaration claims is examined.
      expect(o.methods).toEqual([prop(o.props, 'probe') === 'declaration' ? 'EXAMINE' : 'TEST']);
      expect(o.types).toContain('discovery');
      expect(o.subjects).toHaveLength(1);
      expect(components.get(o.subjects[0]?.['subject-uuid'] ?? '')).toBe(o.subjects[0]?.title);
      for (const e of o['relevant-evidence'] ?? []) expect(e.href).toMatch(/^evidence\.jsonl#ev-\d+$/);
    }
    expect(result?.observations.filter((o) => o.methods[0] === 'TEST').length).toBeGreaterThan(100);
    // Every UUID is unique in the document.
    const all = JSON.stringify(doc).match(/"uuid":"[^"]+"/g) ?? [];
    expect(new Set(all).size).toBe(all.length);
    // The plan the results import is the back-matter resource naming the profiles.
    expect(ar['back-matter'].resources.map((r) => `#${r.uuid}`)).toContain(ar['import-ap'].href);
    expect(result?.start).toBe(run.report.run.startedAt);
    expect(result?.end).toBe(run.report.run.finishedAt);
  });

  it('reviews one control per provision of each scheme', () => {
    const selections = result?.['reviewed-controls']['control-selections'] ?? [];
    const ids = new Set(selections.flatMap((s) => s['include-controls'].map((c) => c['control-id'])));
    const expected = new Set(run.report.targets.flatMap((t) => t.verdicts.map(controlId)));
    expect(ids).toEqual(expected);
    expect(ids.has('etsi-en-303-645_5.1-1')).toBe(true);
    expect(ids.has('nist-ir-8425_Asset_Identification')).toBe(true);
  });

  it('finds 5.1-1 of the weak camera not satisfied, with the rationale and the observations behind it', () => {
    const verdict = run.report.targets.find((t) => t.id === 'weak-camera')?.verdicts.find((v) => v.scheme === 'etsi-en-303-645' && v.provision === '5.1-1');
    expect(verdict?.verdict).toBe('FAIL');
    const finding = result?.findings.find((f) => f.target['target-id'] === 'etsi-en-303-645_5.1-1' && prop(f.props, 'target') === 'weak-camera');
    expect(finding?.target.type).toBe('objective-id');
    expect(finding?.target.status).toMatchObject({ state: 'not-satisfied', reason: 'fail' });
    expect(prop(finding?.props ?? [], 'verdict')).toBe('FAIL');
    expect(prop(finding?.props ?? [], 'provision')).toBe('5.1-1');
    expect(finding?.description).toBe(verdict?.rationale.replace(/[\\`*_[\]<>|~&#!]/g, (c) => `\\${c}`));
    const related = new Set(finding?.['related-observations']?.map((r) => r['observation-uuid']));
    const cited = result?.observations.filter((o) => related.has(o.uuid)).map((o) => prop(o.props, 'observation-id'));
    expect(cited?.sort()).toEqual([...(verdict?.observations ?? [])].sort());
    // The same provision on the hardened hub is judged independently.
    const hub = result?.findings.find((f) => f.target['target-id'] === 'etsi-en-303-645_5.1-1' && prop(f.props, 'target') === 'hardened-hub');
    expect(hub).toBeDefined();
    expect(hub?.uuid).not.toBe(finding?.uuid);
  });

  it('maps every verdict to satisfied exactly when a label counts it as met', () => {
    for (const f of result?.findings ?? []) {
      const verdict = prop(f.props, 'verdict');
      expect(f.target.status.state, `${f.title}: ${verdict}`).toBe(verdict === 'PASS' || verdict === 'NOT_APPLICABLE' ? 'satisfied' : 'not-satisfied');
    }
  });

  it('is deterministic: the same run renders to the same document, UUIDs included', () => {
    expect(JSON.stringify(renderOscal(fixedRunModel()))).toBe(JSON.stringify(doc));
    // RFC 4122 version-5 UUIDs: the published DNS-namespace example.
    expect(uuidV5('python.org', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe('886313e1-3b8a-5372-9b90-0c9aee199e5d');
  });

  it('stays valid when device text is hostile and the run had harness errors', () => {
    const hostile: RunModel = structuredClone(run);
    const camera = hostile.report.targets.find((t) => t.id === 'weak-camera');
    const v = camera?.verdicts[0];
    if (!camera || !v) throw new Error('fixture has no verdict');
    v.rationale = ' line one\nline two <script>x</script> & ]]> \x01 ';
    v.title = '\n';
    camera.services.push({ port: 9999, transport: 'udp', protocol: ' weird proto\n', tls: false });
    hostile.report.errors.push({ code: 'PROBE_CRASHED', message: 'tls-versions threw', target: 'weak-camera' });
    check(JSON.parse(JSON.stringify(renderOscal(hostile))));
  });

  it('writes oscal-assessment-results.json into the run folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iot-harness-oscal-'));
    expect(await oscalWriter.write(run, dir)).toEqual(['oscal-assessment-results.json']);
    const written = JSON.parse(readFileSync(join(dir, 'oscal-assessment-results.json'), 'utf8')) as unknown;
    expect(written).toEqual(doc);
    check(written);
  });
});
