import { htmlWriter } from './html.js';
import { junitWriter } from './junit.js';
import { markdownWriter } from './markdown.js';
import { oscalWriter } from './oscal.js';
import { sarifWriter } from './sarif.js';
import type { ReportWriter } from './types.js';

/** Every report writer, by `--format` id. `json` (report.json) is always written by the run itself. */
export const WRITERS: readonly ReportWriter[] = [htmlWriter, markdownWriter, junitWriter, sarifWriter, oscalWriter];

export function writerIds(): string[] {
  return WRITERS.map((w) => w.id);
}
