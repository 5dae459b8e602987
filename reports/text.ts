import { styleText } from 'node:util';
import type { Report, Verdict } from '../harness/report-schema.js';

/** The order verdicts are listed in: what needs attention first. */
const ORDER: readonly Verdict[] = ['FAIL', 'INCONCLUSIVE', 'PASS', 'NOT_APPLICABLE', 'NOT_ASSESSED'];
const COLOUR: Record<Verdict, Parameters<typeof styleText>[0]> = {
  FAIL: ['bold', 'red'],
  INCONCLUSIVE: 'yellow',
  PASS: 'green',
  NOT_APPLICABLE: 'gray',
  NOT_ASSESSED: 'gray',
};

function wrap(text: string, width: number, indent: string): string {
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line && line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines.map((l) => indent + l).join('\n');
}

/**
 * The verdict table a person reads at the end of a run: per device, its services, then per scheme the
 * label readiness and every verdict that is not NOT_ASSESSED, each with its rationale. Built from the
 * run model only.
 */
export function renderSummary(report: Report, options: { colour: boolean; reportPath?: string }): string {
  const paint = (style: Parameters<typeof styleText>[0], s: string): string => (options.colour ? styleText(style, s) : s);
  const out: string[] = [];
  const totals = new Map<Verdict, number>(ORDER.map((v) => [v, 0]));
  for (const t of report.targets) {
    out.push('');
    const decl = t.declaration ? `declaration ${t.declaration.path}` : 'no declaration';
    out.push(`${paint('bold', t.id)}  ${t.address === t.id ? '' : `${t.address}  `}(${decl})`);
    const services = t.services.map((s) => `${s.protocol} ${s.transport}/${s.port}${s.tls ? ' (TLS)' : ''}`);
    out.push(wrap(`services: ${services.length ? services.join(', ') : 'none found'}`, 100, '  '));
    const schemes = [...new Set(t.verdicts.map((v) => v.scheme))];
    for (const scheme of schemes) {
      const label = t.labels.find((l) => l.scheme === scheme);
      const blocking = label?.blocking ?? [];
      const levelText = label?.level === undefined ? '' : label.level > 0 ? `level ${label.level} reached, ` : 'no level reached, ';
      const readiness = label?.ready && label.level === undefined ? paint('green', 'ready') : `${levelText}${label?.ready && label.level !== undefined ? paint('green', 'ready') : 'not ready'} (${blocking.length} mandatory provision(s) ${label?.level === undefined ? '' : 'for the next level '}not yet PASS)`;
      out.push(`  ${paint('bold', scheme)}  label: ${readiness}`);
      const verdicts = t.verdicts.filter((v) => v.scheme === scheme).sort((a, b) => ORDER.indexOf(a.verdict) - ORDER.indexOf(b.verdict));
      for (const v of verdicts) totals.set(v.verdict, (totals.get(v.verdict) ?? 0) + 1);
      for (const v of verdicts.filter((x) => x.verdict !== 'NOT_ASSESSED')) {
        out.push(`    ${paint(COLOUR[v.verdict], v.verdict.padEnd(14))}${v.provision.padEnd(8)} ${v.title}`);
        out.push(wrap(v.rationale, 84, ' '.repeat(26)));
      }
      const notAssessed = verdicts.filter((v) => v.verdict === 'NOT_ASSESSED').length;
      if (notAssessed) out.push(`    ${paint('gray', 'NOT_ASSESSED'.padEnd(14))}${notAssessed} provision(s) need an assessor (iot-harness profiles show ${scheme})`);
    }
  }
  out.push('');
  out.push(`Verdicts: ${ORDER.map((v) => `${totals.get(v) ?? 0} ${v}`).join(', ')}`);
  if (report.errors.length) {
    out.push(paint('yellow', `Harness errors (${report.errors.length}):`));
    for (const e of report.errors) out.push(`  ${e.code} ${e.target ? `${e.target}: ` : ''}${e.message}`);
  }
  if (options.reportPath) out.push(`Report: ${options.reportPath}`);
  return `${out.join('\n')}\n`;
}
