import { z } from 'zod';
import { loadYamlFile } from '../harness/input.js';
import type { VerdictRecord } from '../harness/report-schema.js';
import { SCHEME_IDS } from './schema.js';

const isoDate = z.union([z.date().transform((d) => d.toISOString().slice(0, 10)), z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date written YYYY-MM-DD')]);

export const WaiverFileSchema = z.strictObject({
  waivers: z
    .array(
      z.strictObject({
        scheme: z.enum(SCHEME_IDS),
        provision: z.string().min(1).describe('provision id exactly as the profile has it'),
        justification: z.string().min(10, 'give the reason the provision does not apply (at least 10 characters)'),
        expires: isoDate.describe('the waiver is ignored after this date'),
        approvedBy: z.string().optional(),
      }),
    )
    .min(1, 'list at least one waiver'),
});

export type Waiver = z.infer<typeof WaiverFileSchema>['waivers'][number];

export interface WaiverSet {
  /** Waivers in force at the run's start. */
  active: Waiver[];
  /** Waivers past their expiry: ignored, and reported so nobody believes they still hold. */
  expired: Waiver[];
}

export function loadWaivers(file: string, now: Date): WaiverSet {
  const { waivers } = loadYamlFile(file, WaiverFileSchema, 'waivers file');
  const today = now.toISOString().slice(0, 10);
  return { active: waivers.filter((w) => w.expires >= today), expired: waivers.filter((w) => w.expires < today) };
}

/**
 * A waived provision becomes NOT_APPLICABLE with the justification in the rationale, whatever the
 * assessment said: the lab's decision, on record. The observations stay cited so the report still
 * shows what was seen.
 */
export function applyWaivers(verdicts: VerdictRecord[], waivers: readonly Waiver[]): VerdictRecord[] {
  return verdicts.map((v) => {
    const w = waivers.find((x) => x.scheme === v.scheme && x.provision === v.provision);
    if (!w) return v;
    return { ...v, verdict: 'NOT_APPLICABLE', basis: 'conceptual', rationale: `Waived until ${w.expires}${w.approvedBy ? ` by ${w.approvedBy}` : ''}: ${w.justification} (the assessment said ${v.verdict}: ${v.rationale})` };
  });
}
