import { z } from 'zod';

/** Scheme ids as report.json names them. */
export const SCHEME_IDS = ['etsi-en-303-645', 'nist-ir-8425', 'uk-psti', 'sg-cls', 'en-18031-1', 'jc-star'] as const;
export type SchemeId = (typeof SCHEME_IDS)[number];

/** How a provision is judged: by an assessment over observations, from the declaration, or by a person. */
export const AssessSchema = z.union([
  z.strictObject({
    assessment: z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'assessment ids are kebab-case').describe('id of a function in profiles/assessments/'),
    params: z.record(z.string(), z.unknown()).default({}).describe('parameters passed to the assessment'),
  }),
  z.strictObject({
    manual: z.string().min(10).describe('why a probe cannot judge this provision; shown as the NOT_ASSESSED rationale'),
    basis: z.enum(['functional', 'conceptual']).default('conceptual').describe('what kind of assessment the manual step is'),
  }),
]);

export const ProvisionSchema = z.strictObject({
  id: z.string().min(1).describe('provision id exactly as the standard numbers it, e.g. 5.1-1, AUM-5, S1.1-02'),
  title: z.string().min(3).describe('a short title in our own words (not the standard text)'),
  category: z.enum(['M', 'R', 'C']).describe('M mandatory, R recommended, C conditional (mandatory when its condition holds)'),
  condition: z.string().optional().describe('for C: the condition, as the standard states it, in our words'),
  testGroup: z.string().optional().describe('the TS 103 701 test group (or the scheme\'s own test reference)'),
  unverified: z.string().optional().describe('what of this entry is not confirmed against the official text'),
  level: z.number().int().min(1).max(4).optional().describe('for levelled schemes (Singapore CLS): the lowest label level that requires this provision'),
  crossRef: z.array(z.string()).optional().describe('the same requirement in other schemes, e.g. "etsi-en-303-645 5.1-1"'),
  assess: AssessSchema,
});

export const ProfileSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/).describe('kebab-case, equal to the file name'),
  scheme: z.enum(SCHEME_IDS).describe('the scheme the verdicts are reported under'),
  title: z.string().min(3),
  version: z.string().min(1).describe('this profile\'s version, reported in run.profiles'),
  standard: z.strictObject({
    name: z.string(),
    version: z.string().describe('the edition of the standard the provision set follows, e.g. V2.1.1'),
    assessedPer: z.string().optional().describe('the test specification, e.g. ETSI TS 103 701 V1.1.1'),
  }),
  notes: z.array(z.string()).default([]).describe('caveats shown with the profile, e.g. UNVERIFIED marks from the research'),
  default: z.boolean().default(true).describe('run when no --profile is given; false for alternatives such as another edition of the same standard'),
  levels: z.record(z.string().regex(/^[1-4]$/), z.string()).optional().describe('for levelled schemes: level number to its name; a level is reached when every mandatory provision up to it passes'),
  deemedCompliance: z.array(z.string()).default([]).describe('routes to compliance the research lists (another label or standard that counts), shown with the label'),
  provisions: z.array(ProvisionSchema).min(1),
});

export type Profile = z.infer<typeof ProfileSchema>;
export type Provision = z.infer<typeof ProvisionSchema>;

/**
 * A user's profile built on another one (a vendor baseline): drop provisions, add new ones, re-rate or
 * re-assess existing ones. The scheme and the standard are the base's.
 */
export const ExtendingProfileSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/).describe('kebab-case, equal to the file name'),
  extends: z.string().min(1).describe('a built-in profile id, or a path relative to this file'),
  title: z.string().min(3),
  version: z.string().min(1),
  standard: z.strictObject({ name: z.string(), version: z.string(), assessedPer: z.string().optional() }).optional().describe('when the extension follows another edition of the standard'),
  default: z.boolean().default(false).describe('run when no --profile is given (built-in extensions are opt-in)'),
  notes: z.array(z.string()).default([]),
  drop: z.array(z.string()).default([]).describe('provision ids of the base to leave out'),
  override: z
    .array(
      z.strictObject({
        id: z.string(),
        title: z.string().min(3).optional(),
        category: z.enum(['M', 'R', 'C']).optional(),
        condition: z.string().optional(),
        testGroup: z.string().optional(),
        unverified: z.string().optional(),
        assess: AssessSchema.optional(),
      }),
    )
    .default([])
    .describe('changes to provisions of the base, by id'),
  add: z.array(ProvisionSchema).default([]).describe('provisions the base does not have'),
});
