import { z } from 'zod';
import { defineAssessment } from './types.js';

/** Vulnerability disclosure policy published (EN 303 645 5.2-1; PSTI Sch.1 §2), judged from the declaration. */
export default defineAssessment({
  id: 'declared-disclosure-policy',
  description: 'The declaration names a published vulnerability disclosure policy and a contact.',
  params: z.strictObject({}),
  assess({ declaration }) {
    if (!declaration) return { verdict: 'NOT_ASSESSED', basis: 'conceptual', rationale: 'No declaration: the disclosure policy is a manufacturer statement to check against their publication.', observations: [] };
    const v = declaration.vulnerabilityDisclosure;
    if (!v || (!v.url && !v.contact)) return { verdict: 'FAIL', basis: 'conceptual', rationale: 'The declaration names no vulnerability disclosure policy or contact (vulnerabilityDisclosure).', observations: [] };
    if (!v.url) return { verdict: 'INCONCLUSIVE', basis: 'conceptual', rationale: `A contact is declared (${v.contact ?? ''}) but no published policy (vulnerabilityDisclosure.url).`, observations: [] };
    return { verdict: 'PASS', basis: 'conceptual', rationale: `The declaration names a published policy at ${v.url}${v.contact ? ` and the contact ${v.contact}` : ''}; an assessor confirms the page says what the scheme asks of a disclosure policy.`, observations: [] };
  },
});
