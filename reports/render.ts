import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EvidenceRecord } from '../harness/evidence.js';
import { ConfigError, ReportError } from '../harness/errors.js';
import { displayPath } from '../harness/input.js';
import { type Report, ReportSchema } from '../harness/report-schema.js';
import { WRITERS, writerIds } from './registry.js';
import type { RunModel } from './types.js';

/** Read a run folder back: report.json validated against its schema, evidence.jsonl parsed. */
export function readRunModel(dir: string): RunModel {
  const where = displayPath(join(dir, 'report.json'));
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
  } catch (cause) {
    throw new ConfigError(`${where}: not a readable report (${(cause as Error).message}); give the folder of an iot-harness run`, { cause });
  }
  const parsed = ReportSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`${where}: not an iot-harness/report@1 file: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  let evidence: EvidenceRecord[] = [];
  try {
    evidence = readFileSync(join(dir, 'evidence.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as EvidenceRecord);
  } catch (cause) {
    throw new ConfigError(`${displayPath(join(dir, 'evidence.jsonl'))}: cannot be read (${(cause as Error).message})`, { cause });
  }
  return { report: parsed.data, evidence };
}

/** Check `--format` values before any work: every one must name a writer. */
export function parseFormats(list: string | undefined): string[] {
  if (list === undefined || list.trim() === '') return [];
  const ids = list.split(',').map((f) => f.trim()).filter((f) => f !== '' && f !== 'json');
  const known = writerIds();
  for (const id of ids) if (!known.includes(id)) throw new ConfigError(`--format: unknown format "${id}"; known: json, ${known.join(', ')}`);
  return ids;
}

export interface RenderOutcome {
  files: string[];
  /** Writers that failed: the others still ran. */
  failures: { format: string; error: Error }[];
}

/**
 * Run the chosen writers over a run model. One failing writer never stops the others; its failure is
 * returned so the caller can exit 3.
 */
export async function render(run: RunModel, outDir: string, formats: readonly string[]): Promise<RenderOutcome> {
  const files: string[] = [];
  const failures: RenderOutcome['failures'] = [];
  for (const id of formats) {
    const writer = WRITERS.find((w) => w.id === id);
    if (!writer) continue;
    try {
      files.push(...(await writer.write(run, outDir)));
    } catch (cause) {
      failures.push({ format: id, error: cause instanceof Error ? cause : new ReportError(String(cause)) });
    }
  }
  return { files, failures };
}

export type { Report };
