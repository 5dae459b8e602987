import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import type { Verdict } from '../../harness/report-schema.js';
import { junitWriter, renderJunit, xmlText } from '../../reports/junit.js';
import type { RunModel } from '../../reports/types.js';
import { fixedRunModel } from './fixed-run-model.js';

type Attr = string | undefined;
interface Outcome {
  message: Attr;
  type: Attr;
  '#text'?: string;
}
interface Case {
  classname: Attr;
  name: Attr;
  failure?: Outcome;
  error?: Outcome;
  skipped?: Outcome;
}
interface Suite {
  name: Attr;
  hostname: Attr;
  tests: Attr;
  failures: Attr;
  errors: Attr;
  skipped: Attr;
  properties?: { property: { name: Attr; value: Attr }[] };
  testcase?: Case[];
}
interface Parsed {
  testsuites: { tests: Attr; failures: Attr; errors: Attr; skipped: Attr; testsuite: Suite[] };
}

/** Read junit.xml back the way a CI dashboard does: attributes and entities decoded, nothing trimmed. */
function parse(xml: string): Parsed {
  expect(XMLValidator.validate(xml)).toBe(true);
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    // Numeric character references (&#10; in an attribute) decoded, as every XML parser does.
    htmlEntities: true,
    trimValues: false,
    parseTagValue: false,
    parseAttributeValue: false,
    isArray: (name) => ['testsuite', 'testcase', 'property'].includes(name),
  });
  return parser.parse(xml) as Parsed;
}

const run = fixedRunModel();
const doc = parse(renderJunit(run));

function count(verdicts: readonly { verdict: Verdict }[], ...which: Verdict[]): number {
  return verdicts.filter((v) => which.includes(v.verdict)).length;
}

describe('junit writer', () => {
  it('has a suite per target and scheme whose counts are the verdicts of the report', () => {
    const expected = run.report.targets.flatMap((t) => [...new Set(t.verdicts.map((v) => v.scheme))].map((scheme) => ({ t, scheme, verdicts: t.verdicts.filter((v) => v.scheme === scheme) })));
    expect(expected.length).toBeGreaterThanOrEqual(12);
    expect(doc.testsuites.testsuite).toHaveLength(expected.length);
    for (const { t, scheme, verdicts } of expected) {
      const suite = doc.testsuites.testsuite.find((s) => s.name === `${t.id} ${scheme}`);
      expect(suite, `${t.id} ${scheme}`).toBeDefined();
      if (!suite) continue;
      const cases = suite.testcase ?? [];
      // The attributes say what the report says...
      expect(Number(suite.tests)).toBe(verdicts.length);
      expect(Number(suite.failures)).toBe(count(verdicts, 'FAIL'));
      expect(Number(suite.errors)).toBe(count(verdicts, 'INCONCLUSIVE'));
      expect(Number(suite.skipped)).toBe(count(verdicts, 'NOT_APPLICABLE', 'NOT_ASSESSED'));
      expect(suite.hostname).toBe(t.address);
      // ...and so do the cases counted one by one.
      expect(cases).toHaveLength(verdicts.length);
      expect(cases.filter((c) => c.failure).length).toBe(count(verdicts, 'FAIL'));
      expect(cases.filter((c) => c.error).length).toBe(count(verdicts, 'INCONCLUSIVE'));
      expect(cases.filter((c) => c.skipped).length).toBe(count(verdicts, 'NOT_APPLICABLE', 'NOT_ASSESSED'));
      expect(cases.filter((c) => !c.failure && !c.error && !c.skipped).length).toBe(count(verdicts, 'PASS'));
      const label = t.labels.find((l) => l.scheme === scheme);
      const props = new Map((suite.properties?.property ?? []).map((p) => [p.name, p.value]));
      expect(props.get('target')).toBe(t.id);
      expect(props.get('label.ready')).toBe(String(label?.ready));
    }
    const all = run.report.targets.flatMap((t) => t.verdicts);
    expect(Number(doc.testsuites.tests)).toBe(all.length);
    expect(Number(doc.testsuites.failures)).toBe(count(all, 'FAIL'));
    expect(Number(doc.testsuites.errors)).toBe(count(all, 'INCONCLUSIVE'));
    expect(Number(doc.testsuites.skipped)).toBe(count(all, 'NOT_APPLICABLE', 'NOT_ASSESSED'));
    // The fixture is not trivially green or red: every outcome occurs.
    expect(count(all, 'FAIL') * count(all, 'INCONCLUSIVE') * count(all, 'PASS') * count(all, 'NOT_ASSESSED')).toBeGreaterThan(0);
  });

  it('names each case after its provision, and a failure carries the rationale', () => {
    const camera = run.report.targets.find((t) => t.id === 'weak-camera');
    const verdict = camera?.verdicts.find((v) => v.scheme === 'etsi-en-303-645' && v.provision === '5.1-1');
    expect(verdict?.verdict).toBe('FAIL');
    const suite = doc.testsuites.testsuite.find((s) => s.name === 'weak-camera etsi-en-303-645');
    const c = suite?.testcase?.find((x) => x.name === `5.1-1 ${verdict?.title}`);
    expect(c?.classname).toBe('etsi-en-303-645');
    expect(c?.failure?.message).toBe(verdict?.rationale);
    expect(c?.failure?.type).toBe('FAIL');
    expect(c?.failure?.['#text']).toContain(verdict?.rationale);
    for (const e of verdict?.evidence ?? []) expect(c?.failure?.['#text']).toContain(e);
    const skipped = suite?.testcase?.find((x) => x.skipped);
    expect(skipped?.skipped?.message).toMatch(/^NOT_(ASSESSED|APPLICABLE): /);
  });

  it('keeps a hostile banner intact as text: <, &, ]]>, quotes, line breaks; control bytes shown, never raw', () => {
    const banner = 'IPCam <b>&amp; ]]> "x" \'y\'\ttab\nline2 \x01\x1b[31m\x7f \ud800 login:';
    const shown = 'IPCam <b>&amp; ]]> "x" \'y\'\ttab\nline2 \\x01\\x1b[31m\\x7f \\ud800 login:';
    const hostile: RunModel = structuredClone(run);
    const camera = hostile.report.targets.find((t) => t.id === 'weak-camera');
    const verdict = camera?.verdicts.find((v) => v.verdict === 'FAIL');
    if (!camera || !verdict) throw new Error('fixture has no FAIL on the camera');
    verdict.rationale = `telnet on tcp/23 said ${banner}`;
    verdict.title = `Banner ${banner}`;
    const record = hostile.evidence.find((e) => e.id === verdict.evidence[0]);
    if (!record) throw new Error('fixture evidence missing');
    record.summary = `banner: ${banner}`;

    const xml = renderJunit(hostile);
    // No raw control byte is left: XML 1.0 forbids them, and a parser would stop there.
    expect([...xml].filter((ch) => { const c = ch.charCodeAt(0); return (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0x7f; })).toEqual([]);
    const parsed = parse(xml);
    const c = parsed.testsuites.testsuite.find((s) => s.name === `weak-camera ${verdict.scheme}`)?.testcase?.find((x) => x.name === `${verdict.provision} Banner ${shown}`);
    expect(c, 'case found by its escaped name').toBeDefined();
    expect(c?.failure?.message).toBe(`telnet on tcp/23 said ${shown}`);
    expect(c?.failure?.['#text']).toContain(`${record.id}: banner: ${shown}`);
    // Counting still works on the hostile file.
    expect(Number(parsed.testsuites.failures)).toBe(Number(doc.testsuites.failures));
  });

  it('escapes every XML-significant and XML-invalid character', () => {
    expect(xmlText('<a & b>')).toBe('&lt;a &amp; b&gt;');
    expect(xmlText('"q" \'a\'', true)).toBe('&quot;q&quot; &apos;a&apos;');
    expect(xmlText('a\tb\nc\rd', true)).toBe('a&#9;b&#10;c&#13;d');
    expect(xmlText('a\tb\nc', false)).toBe('a\tb\nc');
    expect(xmlText('\x00\x08\x0b\x1f\x7f\ufffe\udfff')).toBe('\\x00\\x08\\x0b\\x1f\\x7f\\ufffe\\udfff');
    expect(xmlText('😀 é')).toBe('😀 é');
  });

  it('adds a suite of errors when the run had harness errors', () => {
    const broken: RunModel = structuredClone(run);
    broken.report.errors.push({ code: 'PROBE_CRASHED', message: 'tls-versions threw <boom> & stopped', target: 'weak-camera', probe: 'tls-versions' });
    const parsed = parse(renderJunit(broken));
    const suite = parsed.testsuites.testsuite.find((s) => s.name === 'iot-harness run errors');
    expect(suite?.testcase?.[0]?.error?.message).toBe('tls-versions threw <boom> & stopped');
    expect(Number(parsed.testsuites.errors)).toBe(Number(doc.testsuites.errors) + 1);
    expect(Number(parsed.testsuites.tests)).toBe(Number(doc.testsuites.tests) + 1);
  });

  it('writes junit.xml into the run folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iot-harness-junit-'));
    expect(await junitWriter.write(run, dir)).toEqual(['junit.xml']);
    expect(readFileSync(join(dir, 'junit.xml'), 'utf8')).toBe(renderJunit(run));
    expect(junitWriter.id).toBe('junit');
  });
});
