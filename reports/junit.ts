import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EvidenceRecord } from '../harness/evidence.js';
import type { TargetReport, Verdict, VerdictRecord } from '../harness/report-schema.js';
import type { ReportWriter, RunModel } from './types.js';

/**
 * XML 1.0 text from the run model. Devices put anything in a banner: every character XML 1.0 does
 * not allow (C0 controls other than tab, LF, CR; U+FFFE, U+FFFF; unpaired surrogates) becomes a
 * visible `\xNN` / `\uNNNN`, the same spelling evidence.jsonl uses for bytes, so the file always
 * parses and a reader still sees that the byte was there. Then the five markup characters are
 * escaped; in attributes tab, LF and CR become character references, because a parser would
 * otherwise fold them to spaces.
 */
export function xmlText(text: string, attribute = false): string {
  let out = '';
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    if (c === 0x26) out += '&amp;';
    else if (c === 0x3c) out += '&lt;';
    else if (c === 0x3e) out += '&gt;';
    else if (attribute && c === 0x22) out += '&quot;';
    else if (attribute && c === 0x27) out += '&apos;';
    else if (c === 0x09 || c === 0x0a || c === 0x0d) out += attribute ? `&#${c};` : ch;
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if ((c >= 0xd800 && c <= 0xdfff) || c === 0xfffe || c === 0xffff) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out;
}

type Attrs = Record<string, string | number | undefined>;

function attrs(a: Attrs): string {
  return Object.entries(a)
    .filter((e): e is [string, string | number] => e[1] !== undefined)
    .map(([k, v]) => ` ${k}="${xmlText(String(v), true)}"`)
    .join('');
}

/** The element a verdict becomes inside its `<testcase>`, if any. PASS has none. */
const OUTCOME: Record<Verdict, 'failure' | 'error' | 'skipped' | undefined> = {
  PASS: undefined,
  FAIL: 'failure',
  INCONCLUSIVE: 'error',
  NOT_APPLICABLE: 'skipped',
  NOT_ASSESSED: 'skipped',
};

interface Counts {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
}

function countsOf(verdicts: readonly VerdictRecord[]): Counts {
  const by = (o: 'failure' | 'error' | 'skipped'): number => verdicts.filter((v) => OUTCOME[v.verdict] === o).length;
  return { tests: verdicts.length, failures: by('failure'), errors: by('error'), skipped: by('skipped') };
}

/** How many evidence records a case body lists before it says how many more there are. */
const EVIDENCE_LISTED = 20;

/** The body of a failure/error/skipped element: the rationale, then what it rests on. */
function detail(t: TargetReport, v: VerdictRecord, evidence: ReadonlyMap<string, EvidenceRecord>): string {
  const lines = [v.rationale, '', `${v.verdict} (${v.basis}) for ${v.scheme} ${v.provision} on ${t.id} (${t.address}).`];
  if (v.observations.length) {
    const byId = new Map(t.observations.map((o) => [o.id, o]));
    lines.push(`Observations: ${v.observations.map((id) => (byId.has(id) ? `${id} ${byId.get(id)?.key}` : id)).join(', ')}`);
  }
  if (v.evidence.length) {
    lines.push('Evidence (evidence.jsonl):');
    for (const id of v.evidence.slice(0, EVIDENCE_LISTED)) lines.push(`  ${id}: ${evidence.get(id)?.summary ?? '(not in this run folder)'}`);
    if (v.evidence.length > EVIDENCE_LISTED) lines.push(`  ... and ${v.evidence.length - EVIDENCE_LISTED} more`);
  }
  return lines.join('\n');
}

function testcase(t: TargetReport, v: VerdictRecord, evidence: ReadonlyMap<string, EvidenceRecord>, indent: string): string {
  const open = `${indent}<testcase${attrs({ classname: v.scheme, name: `${v.provision} ${v.title}` })}`;
  const outcome = OUTCOME[v.verdict];
  if (!outcome) return `${open}/>`;
  // The verdict word leads skipped messages so NOT_APPLICABLE and NOT_ASSESSED stay apart in a CI list.
  const message = outcome === 'skipped' ? `${v.verdict}: ${v.rationale}` : v.rationale;
  return [`${open}>`, `${indent}  <${outcome}${attrs({ message, type: v.verdict })}>${xmlText(detail(t, v, evidence))}</${outcome}>`, `${indent}</testcase>`].join('\n');
}

/**
 * JUnit XML (the Jenkins / Surefire dialect CI dashboards read) from the run model: a `<testsuite>`
 * per target and scheme, a `<testcase>` per provision. FAIL is a failure, INCONCLUSIVE an error,
 * NOT_APPLICABLE and NOT_ASSESSED are skipped, PASS is a bare case. Harness errors of the run, if
 * any, come last as one more suite of errors, so a CI job cannot read a broken run as green.
 */
export function renderJunit(run: RunModel): string {
  const { report } = run;
  const evidence = new Map(run.evidence.map((e) => [e.id, e]));
  const suites: { counts: Counts; xml: string }[] = [];
  for (const t of report.targets) {
    const schemes = [...new Set(t.verdicts.map((v) => v.scheme))];
    for (const scheme of schemes) {
      const verdicts = t.verdicts.filter((v) => v.scheme === scheme);
      const counts = countsOf(verdicts);
      const label = t.labels.find((l) => l.scheme === scheme);
      const properties: [string, string][] = [
        ['target', t.id],
        ['address', t.address],
        ['scheme', scheme],
        ...(label ? ([['label.ready', String(label.ready)], ...(label.level === undefined ? [] : [['label.level', String(label.level)]]), ['label.blocking', label.blocking.join(' ')]] as [string, string][]) : []),
      ];
      suites.push({
        counts,
        xml: [
          `  <testsuite${attrs({ name: `${t.id} ${scheme}`, ...counts, timestamp: report.run.startedAt, hostname: t.address })}>`,
          '    <properties>',
          ...properties.map(([name, value]) => `      <property${attrs({ name, value })}/>`),
          '    </properties>',
          ...verdicts.map((v) => testcase(t, v, evidence, '    ')),
          '  </testsuite>',
        ].join('\n'),
      });
    }
  }
  if (report.errors.length) {
    const counts = { tests: report.errors.length, failures: 0, errors: report.errors.length, skipped: 0 };
    const cases = report.errors.map((e) =>
      [
        `    <testcase${attrs({ classname: 'iot-harness', name: `${e.code}${e.target ? ` ${e.target}` : ''}${e.probe ? ` ${e.probe}` : ''}` })}>`,
        `      <error${attrs({ message: e.message, type: e.code })}>${xmlText(e.message)}</error>`,
        '    </testcase>',
      ].join('\n'),
    );
    suites.push({ counts, xml: [`  <testsuite${attrs({ name: 'iot-harness run errors', ...counts, timestamp: report.run.startedAt })}>`, ...cases, '  </testsuite>'].join('\n') });
  }
  const total = suites.reduce<Counts>((a, s) => ({ tests: a.tests + s.counts.tests, failures: a.failures + s.counts.failures, errors: a.errors + s.counts.errors, skipped: a.skipped + s.counts.skipped }), { tests: 0, failures: 0, errors: 0, skipped: 0 });
  const seconds = (Date.parse(report.run.finishedAt) - Date.parse(report.run.startedAt)) / 1000;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs({ name: `iot-harness ${report.run.id}`, ...total, time: Number.isFinite(seconds) ? seconds.toFixed(3) : undefined, timestamp: report.run.startedAt })}>`,
    ...suites.map((s) => s.xml),
    '</testsuites>',
    '',
  ].join('\n');
}

export const junitWriter: ReportWriter = {
  id: 'junit',
  description: 'JUnit XML (junit.xml) for CI dashboards: a suite per device and scheme, a case per provision',
  async write(run, outDir) {
    const path = join(outDir, 'junit.xml');
    // Through a temp file: a failed write never leaves half a file a CI job would read as the result.
    await writeFile(`${path}.tmp`, renderJunit(run));
    await rename(`${path}.tmp`, path);
    return ['junit.xml'];
  },
};
