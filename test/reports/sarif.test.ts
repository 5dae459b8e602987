import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import type { RunModel } from '../../reports/types.js';
import { renderSarif, ruleId, sarifWriter } from '../../reports/sarif.js';
import { fixedRunModel } from './fixed-run-model.js';

// ajv-formats is CommonJS with a default export: under NodeNext the default import is the module.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

const SCHEMA = join(import.meta.dirname, '..', '..', 'reports', 'schemas', 'sarif-schema-2.1.0.json');

/** The shipped schema, unedited: the hash README.md records. */
const SCHEMA_SHA256 = '10666d46649b52e262001e70d43e6c52f7c0279ca3dbdfe9a7dc2e4071556454';

function validator(): ValidateFunction {
  // strictRequired off: the official schema lists `required` names inside anyOf branches that do
  // not repeat the properties, which Ajv's strict mode reports as a schema smell. The data is still
  // checked in full.
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
  addFormats(ajv);
  return ajv.compile(JSON.parse(readFileSync(SCHEMA, 'utf8')) as object);
}

interface Result {
  ruleId: string;
  ruleIndex: number;
  level: string;
  message: { text: string };
  locations: { physicalLocation?: { artifactLocation: { uri: string } }; logicalLocations: { name: string; fullyQualifiedName: string; kind: string }[] }[];
  partialFingerprints: Record<string, string>;
  properties: { target: string; scheme: string; provision: string; verdict: string; evidence: string[]; observations: string[] };
}
interface Rule {
  id: string;
  name: string;
  shortDescription: { text: string };
  help: { text: string };
  defaultConfiguration: { level: string };
}
interface Sarif {
  version: string;
  runs: { tool: { driver: { name: string; version: string; rules: Rule[] } }; results: Result[]; invocations: { executionSuccessful: boolean; toolExecutionNotifications?: unknown[] }[] }[];
}

const run = fixedRunModel();
const validate = validator();
/** Through JSON, as a reader gets it. */
const sarif = JSON.parse(JSON.stringify(renderSarif(run))) as Sarif;

function check(doc: unknown): void {
  const valid = validate(doc);
  expect(valid, JSON.stringify(validate.errors?.slice(0, 10), null, 2)).toBe(true);
}

describe('sarif writer', () => {
  it('ships the official SARIF 2.1.0 schema unedited', () => {
    const text = readFileSync(SCHEMA, 'utf8');
    expect(createHash('sha256').update(text).digest('hex')).toBe(SCHEMA_SHA256);
    const schema = JSON.parse(text) as { $schema: string; title: string };
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.title).toBe('Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema');
  });

  it('validates against the schema, and the schema does reject a broken log', () => {
    check(sarif);
    const broken = structuredClone(sarif) as unknown as { runs: { results: { level: string }[] }[]; version: string };
    const first = broken.runs[0]?.results[0];
    if (first) first.level = 'fatal';
    expect(validate(broken)).toBe(false);
    expect(validate({ ...sarif, version: '2.0.0' })).toBe(false);
  });

  it('has one result per FAIL (error) and INCONCLUSIVE (warning), each pointing at its rule', () => {
    const all = run.report.targets.flatMap((t) => t.verdicts);
    const [r] = sarif.runs;
    expect(sarif.runs).toHaveLength(1);
    expect(r?.tool.driver.name).toBe('iot-harness');
    expect(r?.tool.driver.version).toBe(run.report.run.harness.version);
    const results = r?.results ?? [];
    expect(results.filter((x) => x.level === 'error')).toHaveLength(all.filter((v) => v.verdict === 'FAIL').length);
    expect(results.filter((x) => x.level === 'warning')).toHaveLength(all.filter((v) => v.verdict === 'INCONCLUSIVE').length);
    expect(results).toHaveLength(results.filter((x) => x.level === 'error' || x.level === 'warning').length);
    const rules = r?.tool.driver.rules ?? [];
    const reported = new Set(all.filter((v) => v.verdict === 'FAIL' || v.verdict === 'INCONCLUSIVE').map(ruleId));
    expect(rules.map((x) => x.id).sort()).toEqual([...reported].sort());
    for (const x of results) expect(rules[x.ruleIndex]?.id).toBe(x.ruleId);
    // A fingerprint per device and provision: no two results share one.
    expect(new Set(results.map((x) => x.partialFingerprints['iotHarnessFinding/v1'])).size).toBe(results.length);
  });

  it('reports the weak camera\'s default passwords as an error of rule etsi-en-303-645/5.1-1 on its services', () => {
    const verdict = run.report.targets.find((t) => t.id === 'weak-camera')?.verdicts.find((v) => v.scheme === 'etsi-en-303-645' && v.provision === '5.1-1');
    expect(verdict?.verdict).toBe('FAIL');
    const [r] = sarif.runs;
    const result = r?.results.find((x) => x.ruleId === 'etsi-en-303-645/5.1-1' && x.properties.target === 'weak-camera');
    expect(result?.level).toBe('error');
    expect(result?.message.text).toBe(verdict?.rationale);
    expect(result?.properties.evidence).toEqual(verdict?.evidence);
    expect(result?.properties.observations).toEqual(verdict?.observations);
    const names = result?.locations.flatMap((l) => l.logicalLocations.map((x) => x.fullyQualifiedName));
    expect(names).toContain('weak-camera/telnet on tcp/23');
    expect(result?.locations.every((l) => l.physicalLocation?.artifactLocation.uri === 'report.json')).toBe(true);
    const rule = r?.tool.driver.rules.find((x) => x.id === 'etsi-en-303-645/5.1-1');
    expect(rule?.shortDescription.text).toBe(verdict?.title);
    expect(rule?.name).toBe('NoUniversalDefaultPasswords');
    expect(rule?.defaultConfiguration.level).toBe('error');
    expect(rule?.help.text).toContain(verdict?.rationale);
  });

  it('names a harness error as a tool notification and marks the run unsuccessful', () => {
    const broken: RunModel = structuredClone(run);
    broken.report.errors.push({ code: 'PROBE_CRASHED', message: 'tls-versions threw', target: 'weak-camera', probe: 'tls-versions' });
    const doc = JSON.parse(JSON.stringify(renderSarif(broken))) as Sarif;
    check(doc);
    expect(doc.runs[0]?.invocations[0]?.executionSuccessful).toBe(false);
    expect(doc.runs[0]?.invocations[0]?.toolExecutionNotifications).toHaveLength(1);
  });

  it('writes report.sarif into the run folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iot-harness-sarif-'));
    expect(await sarifWriter.write(run, dir)).toEqual(['report.sarif']);
    const written = JSON.parse(readFileSync(join(dir, 'report.sarif'), 'utf8')) as unknown;
    expect(written).toEqual(sarif);
    check(written);
  });
});
