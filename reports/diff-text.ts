import type { Service, Verdict } from '../harness/report-schema.js';
import type { RunDiff, VerdictChange } from './diff.js';

/** Protocol names that already say TLS. */
const TLS_NAMED = new Set(['https', 'mqtts', 'coaps', 'tls']);

const show = (v: Verdict | undefined): string => v ?? '(none)';
const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** The diff as text for a terminal or a CI log: per target, regressions first. */
export function renderDiff(diff: RunDiff, names: { before: string; after: string }): string {
  const lines: string[] = [`Diff: ${names.before} (${diff.before.runId}) → ${names.after} (${diff.after.runId})`];
  for (const n of diff.notes) lines.push(`note: ${n}`);
  const section = (title: string, changes: readonly VerdictChange[]): void => {
    if (changes.length === 0) return;
    lines.push(`  ${title}`);
    for (const c of changes) {
      lines.push(`    ${c.scheme} ${c.provision}  ${show(c.before)} → ${show(c.after)}  ${c.title}`);
      if (c.rationaleAfter !== undefined) lines.push(`      now: ${c.rationaleAfter}`);
      else if (c.rationaleBefore !== undefined) lines.push(`      was: ${c.rationaleBefore}`);
    }
  };
  const service = (s: Service): string => `${s.transport}/${s.port} ${s.protocol}${s.tls && !TLS_NAMED.has(s.protocol) ? ' (TLS)' : ''}`;
  for (const t of diff.targets) {
    const address = t.address.before === t.address.after ? t.address.after : `${t.address.before} → ${t.address.after}`;
    lines.push('', address === t.id ? t.id : `${t.id} (${address})`);
    section('Regressions', t.verdicts.filter((v) => v.kind === 'regression'));
    if (t.servicesOpened.length) lines.push('  Services opened', ...t.servicesOpened.map((s) => `    + ${service(s)}`));
    if (t.servicesClosed.length) lines.push('  Services closed', ...t.servicesClosed.map((s) => `    - ${service(s)}`));
    section('Improvements', t.verdicts.filter((v) => v.kind === 'improvement'));
    section('Other changes', t.verdicts.filter((v) => v.kind === 'other'));
  }
  if (diff.onlyBefore.length) lines.push('', `Targets only in ${names.before}: ${diff.onlyBefore.join(', ')}`);
  if (diff.onlyAfter.length) lines.push('', `Targets only in ${names.after}: ${diff.onlyAfter.join(', ')}`);
  const c = diff.counts;
  const nothing = diff.targets.length === 0 && diff.onlyBefore.length === 0 && diff.onlyAfter.length === 0;
  lines.push(
    '',
    nothing
      ? 'No differences.'
      : `${plural(c.regressions, 'regression')}, ${plural(c.improvements, 'improvement')}, ${plural(c.other, 'other change')}; ${plural(c.servicesOpened, 'service')} opened, ${c.servicesClosed} closed.`,
  );
  return `${lines.join('\n')}\n`;
}
