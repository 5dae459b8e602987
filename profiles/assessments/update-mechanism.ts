import { z } from 'zod';
import { byKey, defineAssessment, listText } from './types.js';

/**
 * Secure update mechanism in place (EN 303 645 5.3-2). A network probe sees only the endpoint side:
 * it reports what the endpoint showed and leaves the mechanism itself (how the device fetches,
 * checks and installs) to an assessor.
 */
export default defineAssessment({
  id: 'update-mechanism',
  description: 'What the declared update endpoints show about the update mechanism; the device side needs an assessor.',
  params: z.strictObject({}),
  assess({ observations, declaration }) {
    if (!declaration?.update?.urls?.length) return { verdict: 'NOT_ASSESSED', basis: 'conceptual', rationale: 'No update URLs are declared (update.urls): the update mechanism needs an assessor.', observations: [] };
    const endpoints = byKey(observations, 'update.endpoint');
    const facts = endpoints.map((o) => `${String(o.value.url)} (${o.value.https === true ? 'HTTPS' : 'plain HTTP'}${o.value.certValid === true ? ', valid certificate' : o.value.https === true ? ', invalid certificate' : ''}${o.value.signatureChecked === true ? `, signature ${o.value.signatureValid === true ? 'valid' : 'invalid'}` : ''})`);
    return {
      verdict: 'INCONCLUSIVE',
      basis: 'functional',
      rationale: `Only the endpoint side could be checked${facts.length ? `: ${listText(facts)}` : ''}; how the device fetches, verifies and installs updates needs an assessor.`,
      observations: endpoints.map((o) => o.id),
    };
  },
});
