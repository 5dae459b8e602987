import { existsSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Label, Verdict, VerdictRecord } from '../harness/report-schema.js';
import type { ReportWriter, RunModel } from './types.js';

const ORDER: readonly Verdict[] = ['FAIL', 'INCONCLUSIVE', 'PASS', 'NOT_APPLICABLE', 'NOT_ASSESSED'];

/** The verdicts listed one by one with their rationale: the ones a CI reader has to act on. */
const LISTED: readonly Verdict[] = ['FAIL', 'INCONCLUSIVE'];

/**
 * Inline Markdown text from the run model. Rationales quote what devices said, so every character
 * CommonMark (and GitHub's HTML pass) could read as markup is backslash-escaped, `|` included for
 * table cells, and line breaks fold to spaces so a banner cannot start a heading or a list.
 */
export function mdText(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/[\\`*_[\]<>|~&]/g, (c) => `\\${c}`);
}

/** A code span: nothing inside one is markup, so only a fence longer than any backtick run is needed. */
export function mdCode(text: string): string {
  const flat = text.replace(/\s+/g, ' ');
  const fence = '`'.repeat(Math.max(0, ...[...flat.matchAll(/`+/g)].map((m) => m[0].length)) + 1);
  const pad = flat.startsWith('`') || flat.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${flat}${pad}${fence}`;
}

function count(verdicts: readonly VerdictRecord[], v: Verdict): number {
  return verdicts.filter((x) => x.verdict === v).length;
}

function labelCell(label: Label | undefined): string {
  if (!label) return 'no label result';
  const blocking = label.blocking.length;
  if (label.level === undefined) return label.ready ? '**ready**' : `**not ready**: ${blocking} blocking`;
  const reached = label.level > 0 ? `level ${label.level} reached` : 'no level reached';
  return `${label.ready ? '**ready**' : '**not ready**'}, ${reached}${blocking ? `: ${blocking} blocking the next level` : ''}`;
}

/** The CI job summary: per target a table per scheme, then what failed or could not be decided. */
export function renderMarkdown(run: RunModel, options: { htmlReport?: string } = {}): string {
  const { report } = run;
  const all = report.targets.flatMap((t) => t.verdicts);
  const out: string[] = [`# iot-harness: ${report.targets.length} device(s), ${count(all, 'FAIL')} FAIL`, ''];
  out.push(`Run ${mdCode(report.run.id)}, ${report.run.startedAt} to ${report.run.finishedAt}, harness ${mdText(report.run.harness.version)}; profiles ${report.run.profiles.map((p) => `${mdText(p.id)} ${mdText(p.version)}`).join(', ')}.`);
  if (options.htmlReport) out.push('', `Full report with the evidence behind each verdict: [${options.htmlReport}](${encodeURI(options.htmlReport)})`);
  out.push('', `**Verdicts:** ${ORDER.map((v) => `${count(all, v)} ${v}`).join(', ')}`);
  if (report.errors.length) {
    out.push('', `**Harness errors (${report.errors.length})**, not device findings:`, '');
    for (const e of report.errors) out.push(`- ${mdCode(e.code)} ${e.target ? `${mdText(e.target)}: ` : ''}${mdText(e.message)}`);
  }
  for (const t of report.targets) {
    out.push('', `## ${mdText(t.id)} (${mdText(t.address)})`, '');
    const device = t.declaration?.device ? Object.entries(t.declaration.device).map(([k, v]) => `${mdText(k)} ${mdText(v)}`).join(', ') : '';
    out.push(t.declaration ? `Declaration ${mdCode(t.declaration.path)}${device ? `: ${device}` : ''}.` : 'No declaration.');
    out.push('', `Services: ${t.services.length ? t.services.map((s) => `${mdText(s.protocol)} ${s.transport}/${s.port}${s.tls ? ' (TLS)' : ''}`).join(', ') : 'none found'}.`, '');
    const schemes = [...new Set(t.verdicts.map((v) => v.scheme))];
    out.push(`| Scheme | ${ORDER.join(' | ')} | Label |`, `| --- | ${ORDER.map(() => '---:').join(' | ')} | --- |`);
    for (const scheme of schemes) {
      const verdicts = t.verdicts.filter((v) => v.scheme === scheme);
      out.push(`| ${scheme} | ${ORDER.map((v) => count(verdicts, v)).join(' | ')} | ${labelCell(t.labels.find((l) => l.scheme === scheme))} |`);
    }
    for (const v of LISTED) {
      const listed = t.verdicts.filter((x) => x.verdict === v);
      if (listed.length === 0) continue;
      out.push('', `### ${v} (${listed.length})`, '');
      for (const x of listed) out.push(`- **${x.scheme} ${mdText(x.provision)}** ${mdText(x.title)}: ${mdText(x.rationale)}`);
    }
  }
  return `${out.join('\n')}\n`;
}

export const markdownWriter: ReportWriter = {
  id: 'markdown',
  description: 'summary.md: verdict counts and label readiness per target and scheme, then FAIL and INCONCLUSIVE with rationale, for CI job summaries',
  async write(run, outDir) {
    // Linked only when the page is there: with `--format html,markdown` the html writer ran first.
    const htmlReport = existsSync(join(outDir, 'report.html')) ? 'report.html' : undefined;
    const path = join(outDir, 'summary.md');
    await writeFile(`${path}.tmp`, renderMarkdown(run, htmlReport ? { htmlReport } : {}));
    await rename(`${path}.tmp`, path);
    return ['summary.md'];
  },
};
