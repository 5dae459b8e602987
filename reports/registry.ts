import type { ReportWriter } from './types.js';

/** Every report writer, by `--format` id. `json` (report.json) is always written by the run itself. */
export const WRITERS: readonly ReportWriter[] = [];

export function writerIds(): string[] {
  return WRITERS.map((w) => w.id);
}
