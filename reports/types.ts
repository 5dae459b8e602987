import type { EvidenceRecord } from '../harness/evidence.js';
import type { Report } from '../harness/report-schema.js';

/** What every writer reads: the finished run model and its evidence records, nothing else. */
export interface RunModel {
  report: Report;
  /** evidence.jsonl, in order. */
  evidence: readonly EvidenceRecord[];
}

/**
 * One report format. `write` renders the run model into `outDir` and returns the file names it wrote
 * (relative to `outDir`). It never probes and never reads anything but the run model.
 */
export interface ReportWriter {
  /** kebab-case, equal to the file name and to the `--format` value. */
  id: string;
  description: string;
  write(run: RunModel, outDir: string): Promise<string[]>;
}
