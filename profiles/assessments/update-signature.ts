import { z } from 'zod';
import { asText, byKey, defineAssessment, listText } from './types.js';

/**
 * Update authenticity and integrity (EN 303 645 5.3-9) and verification through a trust relationship
 * (5.3-10), from the declared signing key: every image fetched from a declared URL must carry a
 * signature that verifies. What the device itself does with a bad image cannot be seen from outside.
 */
export default defineAssessment({
  id: 'update-signature',
  description: 'Update images from the declared endpoints carry a signature that verifies with the declared key.',
  params: z.strictObject({}),
  assess({ observations, declaration }) {
    if (!declaration?.update?.urls?.length) return { verdict: 'NOT_ASSESSED', basis: 'conceptual', rationale: 'No update URLs are declared (update.urls).', observations: [] };
    if (!declaration.update.signing) {
      return { verdict: 'INCONCLUSIVE', basis: 'conceptual', rationale: 'The declaration names no signing key (update.signing), so image signatures could not be verified; the device\'s own check needs an assessor.', observations: [] };
    }
    const endpoints = byKey(observations, 'update.endpoint').filter((o) => o.value.inScope !== false);
    if (endpoints.length === 0) return { verdict: 'INCONCLUSIVE', basis: 'functional', rationale: 'No declared update URL could be fetched.', observations: [] };
    const bad = endpoints.filter((o) => o.value.signatureValid !== true);
    if (bad.length) {
      return { verdict: 'FAIL', basis: 'functional', rationale: `${listText(bad.map((o) => `the image at ${asText(o.value.url, '?')} ${o.value.signatureChecked === true ? `fails signature verification (${asText(o.value.signatureError, 'invalid')})` : `has no verifiable signature (${asText(o.value.signatureError, 'not checked')})`}`))}.`, observations: bad.map((o) => o.id) };
    }
    return { verdict: 'PASS', basis: 'functional', rationale: `The image${endpoints.length > 1 ? 's' : ''} at ${listText(endpoints.map((o) => asText(o.value.url, '?')))} verif${endpoints.length > 1 ? 'y' : 'ies'} with the declared ${declaration.update.signing.algorithm} key; the device's own rejection of a bad image needs an assessor.`, observations: endpoints.map((o) => o.id) };
  },
});
