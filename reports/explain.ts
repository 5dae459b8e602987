import type { EvidenceRecord } from '../harness/evidence.js';
import { ConfigError } from '../harness/errors.js';
import type { RunModel } from './types.js';

export interface ExplainQuery {
  /** Provision id exactly as the standard numbers it, e.g. `5.1-1`, `AUM-5`, `S1.1-02`. */
  provision: string;
  /** Target id (the device name); default: every target with a verdict for the provision. */
  target?: string;
  /** Scheme id; default: every scheme that has the provision. */
  scheme?: string;
}

/** Lines of one captured exchange shown before the rest is left to evidence.jsonl. */
const MAX_LINES = 24;

/** Printable text: CR dropped, other control bytes as \xNN, so a device cannot drive the terminal. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- control bytes are exactly what must not reach the terminal
  return text.replace(/\r/g, '').replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function block(label: string, part: unknown, id: string): string[] {
  if (typeof part !== 'object' || part === null) return [];
  const { bytes, text, truncated } = part as { bytes?: number; text?: string; truncated?: boolean };
  const lines = [`    ${label} (${bytes ?? 0} bytes${truncated ? ', capped' : ''}):`];
  if (typeof text !== 'string' || text === '') return [...lines, '      (no text: binary bytes; see the record in evidence.jsonl)'];
  const all = printable(text).replace(/\n$/, '').split('\n');
  lines.push(...all.slice(0, MAX_LINES).map((l) => `      | ${l}`));
  if (all.length > MAX_LINES) lines.push(`      | ... ${all.length - MAX_LINES} more line(s): record ${id} in evidence.jsonl`);
  return lines;
}

function evidenceLines(record: EvidenceRecord): string[] {
  const r = record;
  const where = r.port === undefined ? '' : ` ${r.transport ?? 'tcp'}/${r.port}`;
  return [
    `  ${r.id}  ${r.time}  ${r.probe} ${r.kind}${where}`,
    `    ${printable(r.summary)}`,
    ...block('sent', r.sent, r.id),
    ...block('received', r.received, r.id),
    `    record #${r.seq}, sha256 ${r.hash.slice(0, 16)}..., chained to the previous record ${r.prev.slice(0, 16)}...`,
  ];
}

/**
 * The verdict for one provision with everything behind it: the rationale, the observations it rests
 * on and the raw exchanges they came from, as a certification lab (or a workshop) reads them.
 */
export function explainProvision(run: RunModel, query: ExplainQuery, runDir: string): string {
  const targets = run.report.targets.filter((t) => query.target === undefined || t.id === query.target);
  if (targets.length === 0) {
    throw new ConfigError(`--target: no target "${query.target ?? ''}" in this run; it has ${run.report.targets.map((t) => t.id).join(', ')}`);
  }
  const schemes: string[] = [...new Set(run.report.targets.flatMap((t) => t.verdicts.map((v) => v.scheme)))];
  if (query.scheme !== undefined && !schemes.includes(query.scheme)) {
    throw new ConfigError(`--scheme: this run has no verdicts for "${query.scheme}"; it has ${schemes.join(', ')}`);
  }
  const byId = new Map(run.evidence.map((e) => [e.id, e]));
  const out: string[] = [];
  for (const target of targets) {
    const verdicts = target.verdicts.filter((v) => v.provision === query.provision && (query.scheme === undefined || v.scheme === query.scheme));
    for (const v of verdicts) {
      out.push(`${target.id} (${target.address}) · ${v.scheme} ${v.provision} ${v.title}`, `${v.verdict} (${v.basis}): ${v.rationale}`, '');
      const observations = target.observations.filter((o) => v.observations.includes(o.id));
      if (observations.length === 0) {
        out.push(v.basis === 'conceptual' ? 'Judged from the declaration: no network observation behind it.' : 'No observation behind it.', '');
        continue;
      }
      out.push('Observations:');
      for (const o of observations) out.push(`  ${o.id}  ${o.probe}  ${o.key}  ${printable(JSON.stringify(o.value))}`, `    evidence: ${o.evidence.join(', ') || 'none'}`);
      out.push('', 'Evidence (raw exchanges, from evidence.jsonl):');
      const ids = [...new Set([...v.evidence, ...observations.flatMap((o) => o.evidence)])];
      for (const id of ids) {
        const record = byId.get(id);
        out.push(...(record ? evidenceLines(record) : [`  ${id}  missing from evidence.jsonl: run \`iot-harness verify ${runDir}\``]));
      }
      out.push('');
    }
  }
  if (out.length === 0) {
    const known = [...new Set(targets.flatMap((t) => t.verdicts.map((v) => v.provision)))];
    throw new ConfigError(`--explain: no verdict for provision "${query.provision}"${query.scheme ? ` in ${query.scheme}` : ''}; this run has ${known.slice(0, 12).join(', ')}${known.length > 12 ? ', ...' : ''}`);
  }
  out.push(`Check that none of it was edited since the run: iot-harness verify ${runDir}`);
  return `${out.join('\n')}\n`;
}
