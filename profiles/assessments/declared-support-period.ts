import { z } from 'zod';
import { defineAssessment } from './types.js';

/** Defined support period published (EN 303 645 5.3-13; PSTI Sch.1 §3), judged from the declaration. */
export default defineAssessment({
  id: 'declared-support-period',
  description: 'The declaration states a support period that has not ended, and where it is published.',
  params: z.strictObject({}),
  assess({ declaration, now }) {
    if (!declaration) return { verdict: 'NOT_ASSESSED', basis: 'conceptual', rationale: 'No declaration: the support period is a manufacturer statement to check against their publication.', observations: [] };
    const period = declaration.supportPeriod;
    if (!period) return { verdict: 'FAIL', basis: 'conceptual', rationale: 'The declaration states no support period (supportPeriod.end).', observations: [] };
    const today = (now ?? new Date()).toISOString().slice(0, 10);
    if (period.end < today) return { verdict: 'FAIL', basis: 'conceptual', rationale: `The declared support period ended on ${period.end}.`, observations: [] };
    if (!period.published) return { verdict: 'INCONCLUSIVE', basis: 'conceptual', rationale: `Support is declared until ${period.end}, but not where it is published (supportPeriod.published).`, observations: [] };
    return { verdict: 'PASS', basis: 'conceptual', rationale: `Support is declared until ${period.end} and published at ${period.published}.`, observations: [] };
  },
});
